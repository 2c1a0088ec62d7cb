//! ThreatFox JSON: the export (an object keyed by IOC id, each value a list of IOC objects with
//! the CSV's field names) and the API reply (`{"query_status": "ok", "data": [...]}` with the
//! API's names: `ioc`, `first_seen` with a ` UTC` suffix). Fields are borrowed from the file
//! where possible; unknown fields are ignored because both shapes have grown over time.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::reject::RejectReason;
use super::row::{confidence, present, value_kind, FeedRow, Location, RowSink, ValueKind};
use super::text::FormatError;
use super::timestamp::Timestamp;

/// One IOC object in either shape; aliases map the API names onto the export names.
#[derive(Debug, Deserialize)]
struct Record<'a> {
    #[serde(borrow, alias = "ioc")]
    ioc_value: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ioc_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    threat_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    malware_printable: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "first_seen")]
    first_seen_utc: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "last_seen")]
    last_seen_utc: Option<Cow<'a, str>>,
    #[serde(borrow)]
    confidence_level: Option<Scalar<'a>>,
    #[serde(borrow)]
    reference: Option<Cow<'a, str>>,
}

/// A number some producers write as a string; any other JSON value reads as "unknown" rather
/// than failing the whole feed over one odd field.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Scalar<'a> {
    Number(u64),
    Float(f64),
    #[serde(borrow)]
    Text(Cow<'a, str>),
    Other(serde::de::IgnoredAny),
}

impl Scalar<'_> {
    pub fn confidence(&self) -> Option<u8> {
        match self {
            Scalar::Number(n) => u8::try_from(*n).ok().filter(|c| *c <= 100),
            Scalar::Float(f) if (0.0..=100.0).contains(f) => Some(f.round() as u8),
            Scalar::Text(t) => confidence(t),
            Scalar::Float(_) | Scalar::Other(_) => None,
        }
    }
}

/// Export entries in file order; a JSON object would lose the order through a map.
struct Entries<'a>(Vec<Vec<Record<'a>>>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of IOC id → list of IOC objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((_, records)) =
                    map.next_entry::<serde::de::IgnoredAny, Vec<Record<'de>>>()?
                {
                    entries.push(records);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[derive(Debug, Deserialize)]
struct ApiStatus<'a> {
    #[serde(borrow)]
    query_status: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
struct ApiReply<'a> {
    #[serde(borrow)]
    data: Vec<Record<'a>>,
}

/// The export: `{"<id>": [ {...} ], ...}`.
pub fn parse_export(text: &str, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let Entries(entries) = serde_json::from_str(text)?;
    emit_all(entries.into_iter().flatten(), sink);
    Ok(())
}

/// The API reply; any status but `ok` (`no_result`, `unknown_auth_key`, …) is an error so a
/// failed query never loads as an empty feed.
pub fn parse_api(text: &str, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let status: ApiStatus<'_> = serde_json::from_str(text)?;
    if status.query_status != "ok" {
        return Err(FormatError::ApiStatus(
            status.query_status.chars().take(64).collect(),
        ));
    }
    let reply: ApiReply<'_> = serde_json::from_str(text)?;
    emit_all(reply.data, sink);
    Ok(())
}

fn emit_all<'a>(records: impl IntoIterator<Item = Record<'a>>, sink: &mut dyn RowSink) {
    for (record, number) in records.into_iter().zip(1u64..) {
        let at = Location::Record(number);
        let kind = match record.ioc_type.as_deref().and_then(present).map(value_kind) {
            None => ValueKind::Address,
            Some(Some(kind)) => kind,
            Some(None) => {
                sink.other_type(at);
                continue;
            }
        };
        let Some(value) = record.ioc_value.as_deref().and_then(present) else {
            sink.reject(at, RejectReason::Unparsable, "record without ioc value");
            continue;
        };
        sink.row(
            at,
            FeedRow {
                kind,
                value: Cow::Borrowed(value),
                malware: field(&record.malware_printable),
                threat_type: field(&record.threat_type),
                confidence: record
                    .confidence_level
                    .as_ref()
                    .and_then(Scalar::confidence),
                first_seen: record.first_seen_utc.as_deref().and_then(Timestamp::parse),
                last_seen: record.last_seen_utc.as_deref().and_then(Timestamp::parse),
                reference: field(&record.reference),
            },
        );
    }
}

fn field<'r>(value: &'r Option<Cow<'_, str>>) -> Option<Cow<'r, str>> {
    value.as_deref().and_then(present).map(Cow::Borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::plain::tests::Recorder;

    #[test]
    fn reads_the_export_in_file_order() {
        let text = r#"{
          "9": [{"ioc_value": "138.9.223.13:8015", "ioc_type": "ip:port", "threat_type": "botnet_cc",
                 "malware_printable": "Remcos", "first_seen_utc": "2026-05-09 10:00:00",
                 "last_seen_utc": null, "confidence_level": 75, "reference": null, "tags": "a,b"}],
          "3": [{"ioc_value": "evil.example", "ioc_type": "domain"}],
          "5": [{"ioc_value": "1.2.3.4:80", "ioc_type": "ip:port", "confidence_level": "90",
                 "malware_printable": "Remcos \"x\""}],
          "7": [{"ioc_type": "ip:port"}],
          "8": [{"ioc_value": "5.6.7.8:80", "confidence_level": 80.4}],
          "9": [{"ioc_value": "5.6.7.9:80", "confidence_level": [1]}]
        }"#;
        let mut rec = Recorder::default();
        assert!(parse_export(text, &mut rec).is_ok());
        assert_eq!(
            rec.values(),
            [
                (1, "138.9.223.13:8015"),
                (2, "evil.example"),
                (3, "1.2.3.4:80"),
                (5, "5.6.7.8:80"),
                (6, "5.6.7.9:80")
            ]
        );
        assert_eq!(rec.rows[1].2.kind, ValueKind::Domain);
        let rows = [&rec.rows[0], &rec.rows[2], &rec.rows[3], &rec.rows[4]];
        assert_eq!(
            (rows[2].2.confidence, rows[3].2.confidence),
            (Some(80), None)
        );
        let first = &rec.rows[0].2;
        assert_eq!(first.confidence, Some(75));
        assert_eq!(
            first.first_seen.map(|t| t.to_string()).as_deref(),
            Some("2026-05-09 10:00:00")
        );
        assert_eq!(rows[1].2.confidence, Some(90));
        assert_eq!(rows[1].2.malware.as_deref(), Some("Remcos \"x\""));
        assert!(rec.other.is_empty());
        assert_eq!(rec.rejected.len(), 1);
    }

    #[test]
    fn reads_the_api_reply_and_refuses_failed_queries() {
        let text = r#"{"query_status": "ok", "data": [{"id": "41", "ioc": "8.219.229.99:4433",
            "threat_type": "botnet_cc", "ioc_type": "ip:port", "malware_printable": "Cobalt Strike",
            "confidence_level": 50, "first_seen": "2020-12-08 13:36:27 UTC", "last_seen": null,
            "reference": "https://example.org/r", "tags": ["cs"]}]}"#;
        let mut rec = Recorder::default();
        assert!(parse_api(text, &mut rec).is_ok());
        assert_eq!(rec.values(), [(1, "8.219.229.99:4433")]);
        let row = &rec.rows[0].2;
        assert_eq!(
            row.first_seen.map(|t| t.to_string()).as_deref(),
            Some("2020-12-08 13:36:27")
        );
        assert_eq!(row.reference.as_deref(), Some("https://example.org/r"));

        let failed =
            r#"{"query_status": "no_result", "data": "Your search did not yield any results"}"#;
        let err = parse_api(failed, &mut Recorder::default());
        assert!(matches!(err, Err(FormatError::ApiStatus(s)) if s == "no_result"));
    }

    #[test]
    fn truncated_json_is_an_error() {
        let err = parse_export(
            r#"{"1": [{"ioc_value": "1.2.3.4:80""#,
            &mut Recorder::default(),
        );
        assert!(matches!(err, Err(FormatError::Json(_))));
    }
}
