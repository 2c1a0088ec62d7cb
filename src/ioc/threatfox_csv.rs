//! ThreatFox CSV export (recent, and the zipped full export): banner lines start with `#`, the
//! column header is itself a `#` line, fields are double-quoted and separated by `", "`, and
//! missing values are the literal `None`. The column set has changed (14 columns, then 15 with
//! `is_compromised`), so columns are found by the header's names; a file without header falls
//! back to those two known layouts by field count.

use std::borrow::Cow;

use super::reject::RejectReason;
use super::row::{confidence, present, value_kind, FeedRow, Location, RowSink, ValueKind};
use super::text::{numbered_lines, FormatError};
use super::timestamp::Timestamp;

/// Column positions of the fields c2tap uses.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Columns {
    count: usize,
    value: usize,
    ioc_type: Option<usize>,
    threat_type: Option<usize>,
    malware: Option<usize>,
    first_seen: Option<usize>,
    last_seen: Option<usize>,
    confidence: Option<usize>,
    reference: Option<usize>,
}

const LAYOUT_15: [&str; 15] = [
    "first_seen_utc",
    "ioc_id",
    "ioc_value",
    "ioc_type",
    "threat_type",
    "fk_malware",
    "malware_alias",
    "malware_printable",
    "last_seen_utc",
    "confidence_level",
    "is_compromised",
    "reference",
    "tags",
    "anonymous",
    "reporter",
];

impl Columns {
    fn from_names<S: AsRef<str>>(names: &[S]) -> Option<Columns> {
        let find = |want: &str| {
            names
                .iter()
                .position(|n| n.as_ref().trim().eq_ignore_ascii_case(want))
        };
        Some(Columns {
            count: names.len(),
            value: find("ioc_value").or_else(|| find("ioc"))?,
            ioc_type: find("ioc_type"),
            threat_type: find("threat_type"),
            malware: find("malware_printable"),
            first_seen: find("first_seen_utc").or_else(|| find("first_seen")),
            last_seen: find("last_seen_utc").or_else(|| find("last_seen")),
            confidence: find("confidence_level"),
            reference: find("reference"),
        })
    }

    /// The two published layouts, for a file whose header line was cut off.
    fn by_count(count: usize) -> Option<Columns> {
        match count {
            15 => Columns::from_names(&LAYOUT_15),
            14 => {
                let names: Vec<_> = LAYOUT_15
                    .iter()
                    .filter(|n| **n != "is_compromised")
                    .collect();
                Columns::from_names(&names)
            }
            _ => None,
        }
    }
}

pub fn parse(text: &str, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let mut header: Option<Columns> = None;
    let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(16);
    for line in numbered_lines(text) {
        let (number, line) = line?;
        let at = Location::Line(number);
        let (is_comment, body) = comment_body(line);
        if body.trim().is_empty() {
            continue;
        }
        let split = split_fields(body, &mut fields);
        if header.is_none() && split.is_ok() && fields.iter().any(|f| f == "ioc_value") {
            header = Columns::from_names(&fields);
            continue;
        }
        if is_comment {
            continue;
        }
        let columns = header.or_else(|| Columns::by_count(fields.len()));
        match (split, columns) {
            (Ok(()), Some(cols)) if fields.len() == cols.count => emit(at, &fields, &cols, sink),
            (Ok(()), Some(cols)) if fields.len() > cols.count => {
                sink.reject(at, RejectReason::ExtraColumns, line)
            }
            _ => sink.reject(at, RejectReason::Unparsable, line),
        }
    }
    Ok(())
}

fn emit(at: Location, fields: &[Cow<'_, str>], cols: &Columns, sink: &mut dyn RowSink) {
    let field = |i: Option<usize>| i.and_then(|i| fields.get(i)).and_then(|f| present(f));
    let kind = match field(cols.ioc_type).map(value_kind) {
        None => ValueKind::Address,
        Some(Some(kind)) => kind,
        Some(None) => return sink.other_type(at),
    };
    let Some(value) = field(Some(cols.value)) else {
        return sink.reject(at, RejectReason::Unparsable, "");
    };
    sink.row(
        at,
        FeedRow {
            kind,
            value: Cow::Borrowed(value),
            malware: field(cols.malware).map(Cow::Borrowed),
            threat_type: field(cols.threat_type).map(Cow::Borrowed),
            confidence: field(cols.confidence).and_then(confidence),
            first_seen: field(cols.first_seen).and_then(Timestamp::parse),
            last_seen: field(cols.last_seen).and_then(Timestamp::parse),
            reference: field(cols.reference).map(Cow::Borrowed),
        },
    );
}

/// A CSV line as `(is it a comment, its text without the `#`)`: abuse.ch writes headers both
/// as comments and as plain lines, so header detection looks at both.
pub(super) fn comment_body(line: &str) -> (bool, &str) {
    match line.trim_start().strip_prefix('#') {
        Some(rest) => (true, rest),
        None => (false, line),
    }
}

/// Splits one CSV line: fields separated by `,` with optional spaces around, quoted with `"`
/// (`""` inside is a quote) or bare. Borrows unless a field holds an escaped quote. Text after a
/// closing quote other than a separator is an error: the row's columns cannot be trusted.
pub(super) fn split_fields<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) -> Result<(), ()> {
    out.clear();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(quoted) = rest.strip_prefix('"') {
            let (field, after) = take_quoted(quoted)?;
            out.push(field);
            rest = after.trim_start_matches([' ', '\t']);
            match rest.strip_prefix(',') {
                Some(next) => rest = next,
                None if rest.is_empty() => return Ok(()),
                None => return Err(()),
            }
        } else {
            match rest.split_once(',') {
                Some((field, next)) => {
                    out.push(Cow::Borrowed(field.trim_end()));
                    rest = next;
                }
                None => {
                    out.push(Cow::Borrowed(rest.trim_end()));
                    return Ok(());
                }
            }
        }
    }
}

/// Reads up to the closing quote of a field whose opening quote is already consumed.
fn take_quoted(text: &str) -> Result<(Cow<'_, str>, &str), ()> {
    let mut owned: Option<String> = None;
    let mut start = 0;
    let mut search = 0;
    loop {
        // A byte search: `str::find` with a char pattern costs a compare call per candidate.
        let close = text
            .as_bytes()
            .get(search..)
            .and_then(|t| t.iter().position(|&b| b == b'"'))
            .ok_or(())?
            + search;
        let piece = text.get(start..close).ok_or(())?;
        if text.get(close + 1..close + 2) == Some("\"") {
            let buf = owned.get_or_insert_with(String::new);
            buf.push_str(piece);
            buf.push('"');
            start = close + 2;
            search = start;
            continue;
        }
        let after = text.get(close + 1..).ok_or(())?;
        let field = match owned {
            Some(mut buf) => {
                buf.push_str(piece);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(piece),
        };
        return Ok((field, after));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::plain::tests::Recorder;

    const HEADER_15: &str = "# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"is_compromised\",\"reference\",\"tags\",\"anonymous\",\"reporter\"";

    fn split(line: &str) -> Result<Vec<String>, ()> {
        let mut out = Vec::new();
        split_fields(line, &mut out).map(|()| out.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(
            split(r#""a", "b,c", "", "d""e", x ,"#),
            Ok(vec![
                "a".into(),
                "b,c".into(),
                "".into(),
                "d\"e".into(),
                "x".into(),
                "".into()
            ])
        );
        assert_eq!(split(r#""a","b""#), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(split(r#""a" junk, "b""#), Err(()));
        assert_eq!(split(r#""unterminated"#), Err(()));
    }

    #[test]
    fn reads_the_15_column_export_by_header() {
        let text = format!(
            "################\n# ThreatFox IOCs: CSV export\n#\n{HEADER_15}\n\
             \"2026-05-09 10:00:00\", \"1\", \"138.9.223.13:8015\", \"ip:port\", \"botnet_cc\", \"win.remcos\", \"None\", \"Remcos\", \"\", \"75\", \"False\", \"None\", \"RAT\", \"0\", \"abuse_ch\"\n\
             \"2026-05-09 10:00:00\", \"2\", \"evil.example\", \"domain\", \"botnet_cc\", \"win.remcos\", \"None\", \"Remcos\", \"\", \"75\", \"False\", \"None\", \"RAT\", \"0\", \"abuse_ch\"\n\
             \"2026-05-09 10:00:00\", \"3\", \"1.2.3.4:80\", \"ip:port\"\n\
             # Number of entries: 2\n"
        );
        let mut rec = Recorder::default();
        assert!(parse(&text, &mut rec).is_ok());
        assert_eq!(
            rec.values(),
            [(5, "138.9.223.13:8015"), (6, "evil.example")]
        );
        assert_eq!(rec.rows[1].2.kind, ValueKind::Domain);
        let row = &rec.rows[0].2;
        assert_eq!(row.malware.as_deref(), Some("Remcos"));
        assert_eq!(row.threat_type.as_deref(), Some("botnet_cc"));
        assert_eq!(row.confidence, Some(75));
        assert_eq!(
            row.first_seen.map(|t| t.to_string()).as_deref(),
            Some("2026-05-09 10:00:00")
        );
        assert_eq!((row.last_seen, row.reference.as_deref()), (None, None));
        assert!(rec.other.is_empty());
        assert_eq!(
            rec.rejected.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            [(Location::Line(7), RejectReason::Unparsable)]
        );
    }

    #[test]
    fn a_row_with_more_columns_than_the_header_is_rejected_as_extra_columns() {
        let row = "\"2026-05-09 10:00:00\", \"1\", \"138.9.223.13:8015\", \"ip:port\", \"botnet_cc\", \"win.remcos\", \"None\", \"Remcos\", \"\", \"75\", \"False\", \"None\", \"RAT\", \"0\", \"abuse_ch\"";
        let text = format!("{HEADER_15}\n{row}\n{row}, \"extra\"\n");
        let mut rec = Recorder::default();
        assert!(parse(&text, &mut rec).is_ok());
        assert_eq!(rec.values(), [(2, "138.9.223.13:8015")]);
        assert_eq!(
            rec.rejected.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            [(Location::Line(3), RejectReason::ExtraColumns)]
        );
    }

    #[test]
    fn reads_14_columns_with_and_without_header() {
        let header_14 = HEADER_15.replace(",\"is_compromised\"", "");
        let row = "\"2024-07-16 05:25:36\", \"1301610\", \"8.134.12.90:7777\", \"ip:port\", \"botnet_cc\", \"win.cobalt_strike\", \"Agentemis,BEACON\", \"Cobalt Strike\", \"2024-07-17 00:00:00\", \"100\", \"https://example.org/r\", \"CobaltStrike\", \"0\", \"abuse_ch\"";
        for text in [format!("{header_14}\n{row}\n"), format!("{row}\n")] {
            let mut rec = Recorder::default();
            assert!(parse(&text, &mut rec).is_ok());
            assert_eq!(rec.rows.len(), 1, "{text}");
            let r = &rec.rows[0].2;
            assert_eq!(r.value, "8.134.12.90:7777");
            assert_eq!(r.malware.as_deref(), Some("Cobalt Strike"));
            assert_eq!(r.confidence, Some(100));
            assert_eq!(
                r.last_seen.map(|t| t.to_string()).as_deref(),
                Some("2024-07-17 00:00:00")
            );
            assert_eq!(r.reference.as_deref(), Some("https://example.org/r"));
        }
    }
}
