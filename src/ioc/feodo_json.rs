//! abuse.ch Feodo Tracker's JSON blocklist: an array of objects with `ip_address`, `port`,
//! `status`, `hostname`, `as_number`, `as_name`, `country`, `first_seen`, `last_online` and
//! `malware`. Every entry is a botnet C2 (`botnet_cc`). `status` (online/offline) is not a
//! filter: the blocklist already holds only recently active C2s, and `max_age_days` works on
//! `last_online`. Unknown fields are ignored: the shape has grown before.

use std::borrow::Cow;

use serde::Deserialize;

use super::reject::RejectReason;
use super::row::{join_endpoint, present, FeedRow, Location, RowSink, ValueKind};
use super::text::FormatError;
use super::threatfox_json::Scalar;
use super::timestamp::Timestamp;

#[derive(Debug, Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    ip_address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    port: Option<Scalar<'a>>,
    #[serde(borrow)]
    malware: Option<Cow<'a, str>>,
    #[serde(borrow)]
    first_seen: Option<Cow<'a, str>>,
    #[serde(borrow)]
    last_online: Option<Cow<'a, str>>,
}

pub fn parse(text: &str, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let records: Vec<Record<'_>> = serde_json::from_str(text)?;
    for (record, number) in records.iter().zip(1u64..) {
        let at = Location::Record(number);
        let Some(address) = record.ip_address.as_deref().and_then(present) else {
            sink.reject(at, RejectReason::Unparsable, "record without ip_address");
            continue;
        };
        let port = match &record.port {
            None => None,
            Some(Scalar::Number(n)) => Some(Cow::Owned(n.to_string())),
            Some(Scalar::Text(t)) => Some(Cow::Borrowed(t.as_ref())),
            Some(Scalar::Float(_) | Scalar::Other(_)) => {
                sink.reject(at, RejectReason::BadPort, address);
                continue;
            }
        };
        sink.row(
            at,
            FeedRow {
                kind: ValueKind::Address,
                value: Cow::Owned(join_endpoint(address, port.as_deref()).into_owned()),
                malware: record
                    .malware
                    .as_deref()
                    .and_then(present)
                    .map(Cow::Borrowed),
                threat_type: Some(Cow::Borrowed("botnet_cc")),
                confidence: None,
                first_seen: record.first_seen.as_deref().and_then(Timestamp::parse),
                last_seen: record.last_online.as_deref().and_then(Timestamp::parse),
                reference: None,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::plain::tests::Recorder;

    #[test]
    fn reads_the_blocklist_and_refuses_odd_ports() {
        let text = r#"[
          {"ip_address": "51.75.200.204", "port": 443, "status": "online", "hostname": null,
           "as_number": 16276, "as_name": "OVH", "country": "FR",
           "first_seen": "2021-01-17 07:44:46", "last_online": "2026-05-08", "malware": "Emotet"},
          {"ip_address": "2001:db8:c2::1", "port": "8080", "malware": "QakBot"},
          {"ip_address": "198.51.100.9", "port": 1.5},
          {"port": 443},
          {"ip_address": "198.51.100.10"}
        ]"#;
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        assert_eq!(
            rec.values(),
            [
                (1, "51.75.200.204:443"),
                (2, "[2001:db8:c2::1]:8080"),
                (5, "198.51.100.10")
            ]
        );
        let first = &rec.rows[0].2;
        assert_eq!(first.malware.as_deref(), Some("Emotet"));
        assert_eq!(first.threat_type.as_deref(), Some("botnet_cc"));
        assert_eq!(
            first.last_seen.map(|t| t.to_string()).as_deref(),
            Some("2026-05-08")
        );
        let reasons: Vec<_> = rec.rejected.iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(
            reasons,
            [
                (Location::Record(3), RejectReason::BadPort),
                (Location::Record(4), RejectReason::Unparsable)
            ]
        );
    }

    #[test]
    fn a_truncated_blocklist_is_an_error() {
        let err = parse(
            r#"[{"ip_address": "1.2.3.4", "port": 4"#,
            &mut Recorder::default(),
        );
        assert!(matches!(err, Err(FormatError::Json(_))));
    }
}
