//! Markdown IOC tables as detection write-ups carry them
//! (`| ip:port | 138[.]9[.]223[.]13:8015 | botnet_cc | 2026-05-09 | 75% |`). Columns are named
//! by the table header when it has one; otherwise each cell is recognized by its content, so a
//! pasted table without header still loads with its threat type, dates and confidence. Prose
//! and tables without any address are ignored.

use std::borrow::Cow;

use super::plain::{classify, Kind};
use super::reject::RejectReason;
use super::row::{confidence, FeedRow, Location, RowSink, ValueKind};
use super::text::{numbered_lines, FormatError};
use super::timestamp::Timestamp;

/// Which column holds what, from a header row.
#[derive(Debug, Default, Clone, Copy)]
struct Columns {
    value: Option<usize>,
    threat_type: Option<usize>,
    malware: Option<usize>,
    first_seen: Option<usize>,
    last_seen: Option<usize>,
    confidence: Option<usize>,
    reference: Option<usize>,
}

impl Columns {
    fn from_header(cells: &[String]) -> Columns {
        let mut cols = Columns::default();
        for (i, name) in cells.iter().enumerate() {
            let name = name.to_ascii_lowercase();
            let slot = if name.contains("threat") {
                &mut cols.threat_type
            } else if name.contains("type") {
                continue;
            } else if ["ioc", "indicator", "value", "observable", "address"]
                .iter()
                .any(|k| name.contains(k))
                || name == "ip"
            {
                &mut cols.value
            } else if name.contains("malware") || name.contains("family") {
                &mut cols.malware
            } else if name.contains("first") {
                &mut cols.first_seen
            } else if name.contains("last") {
                &mut cols.last_seen
            } else if name.contains("confidence") {
                &mut cols.confidence
            } else if name.contains("reference") || name.contains("link") {
                &mut cols.reference
            } else {
                continue;
            };
            slot.get_or_insert(i);
        }
        cols
    }
}

pub fn parse(text: &str, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let mut columns: Option<Columns> = None;
    let mut pending: Option<(u64, String, Vec<String>)> = None;
    for line in numbered_lines(text) {
        let (number, line) = line?;
        let line = line.trim();
        let is_row = line.starts_with('|');
        if is_row && is_separator(line) {
            // The row above was this table's header.
            columns = pending
                .take()
                .map(|(_, _, cells)| Columns::from_header(&cells));
            continue;
        }
        if let Some((at, raw, cells)) = pending.take() {
            data_row(Location::Line(at), &raw, &cells, columns.as_ref(), sink);
        }
        if is_row {
            pending = Some((number, line.to_string(), split_cells(line)));
        } else {
            columns = None;
        }
    }
    if let Some((at, raw, cells)) = pending {
        data_row(Location::Line(at), &raw, &cells, columns.as_ref(), sink);
    }
    Ok(())
}

fn is_separator(line: &str) -> bool {
    line.contains('-')
        && line
            .bytes()
            .all(|b| matches!(b, b'|' | b'-' | b':' | b' ' | b'\t'))
}

/// Cells between `|`, honoring `\|` escapes and dropping code backticks.
fn split_cells(line: &str) -> Vec<String> {
    let inner = line.strip_prefix('|').unwrap_or(line);
    let inner = inner
        .strip_suffix('|')
        .filter(|s| !s.ends_with('\\'))
        .unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().into_iter().for_each(|cell| cell.push('|'));
            }
            '|' => cells.push(String::new()),
            '`' => {}
            c => cells.last_mut().into_iter().for_each(|cell| cell.push(c)),
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

fn data_row(
    at: Location,
    raw: &str,
    cells: &[String],
    cols: Option<&Columns>,
    sink: &mut dyn RowSink,
) {
    let cell = |i: Option<usize>| {
        i.and_then(|i| cells.get(i))
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    };
    let by_header = cols.and_then(|c| c.value).is_some();
    let value = match cols.and_then(|c| cell(c.value)) {
        Some(v) => Some(v),
        None => find_value(cells),
    };
    let Some(value) = value else {
        if cells.iter().any(|c| classify(c) == Kind::OtherType) {
            sink.other_type(at);
        } else if by_header {
            sink.reject(at, RejectReason::Unparsable, raw);
        }
        return;
    };
    let kind = match classify(value) {
        Kind::Value(kind) => kind,
        Kind::OtherType => return sink.other_type(at),
        Kind::Unknown => return sink.reject(at, RejectReason::Unparsable, raw),
    };
    let mut row = FeedRow {
        kind,
        value: Cow::Borrowed(value),
        ..FeedRow::default()
    };
    match cols {
        Some(c) if by_header => {
            row.threat_type = cell(c.threat_type).map(Cow::Borrowed);
            row.malware = cell(c.malware).map(Cow::Borrowed);
            row.first_seen = cell(c.first_seen).and_then(Timestamp::parse);
            row.last_seen = cell(c.last_seen).and_then(Timestamp::parse);
            row.confidence = cell(c.confidence).and_then(confidence);
            row.reference = cell(c.reference).map(Cow::Borrowed);
        }
        _ => guess_metadata(cells, value, &mut row),
    }
    sink.row(at, row);
}

/// Without a header, the IOC cell is the first address; in a row without one, the first host
/// name, else the first URL — unless the row names a hash, whose reference URL is no IOC.
fn find_value(cells: &[String]) -> Option<&str> {
    let of = |want: ValueKind| {
        cells
            .iter()
            .map(String::as_str)
            .find(|c| classify(c) == Kind::Value(want))
    };
    if let Some(address) = of(ValueKind::Address) {
        return Some(address);
    }
    if cells.iter().any(|c| classify(c) == Kind::OtherType) {
        return None;
    }
    of(ValueKind::Domain).or_else(|| of(ValueKind::Url))
}

/// Without a header: a `75%` cell is the confidence, dates are first then last seen, and a
/// `snake_case` word other than an IOC type is the threat type.
fn guess_metadata<'a>(cells: &'a [String], value: &str, row: &mut FeedRow<'a>) {
    for cell in cells.iter().filter(|c| c.as_str() != value) {
        if let Some(ts) = Timestamp::parse(cell) {
            match row.first_seen {
                None => row.first_seen = Some(ts),
                Some(_) => row.last_seen = row.last_seen.or(Some(ts)),
            }
        } else if cell.ends_with('%') {
            row.confidence = row.confidence.or(confidence(cell));
        } else if cell.contains('_')
            && !cell.ends_with("_hash")
            && cell.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            row.threat_type.get_or_insert(Cow::Borrowed(cell));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::plain::tests::Recorder;

    #[test]
    fn reads_a_headerless_write_up_table() {
        let text = "Remcos IOCs:\n\n| ip:port | 138[.]9[.]223[.]13:8015 | botnet_cc | 2026-05-09 | 75% |\n\
                    | ip:port | `138[.]9[.]41[.]254:8015` | botnet_cc | 2026-05-09 | 75% |\n";
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        assert_eq!(
            rec.values(),
            [
                (3, "138[.]9[.]223[.]13:8015"),
                (4, "138[.]9[.]41[.]254:8015")
            ]
        );
        let row = &rec.rows[0].2;
        assert_eq!(row.threat_type.as_deref(), Some("botnet_cc"));
        assert_eq!(row.confidence, Some(75));
        assert_eq!(
            row.first_seen.map(|t| t.to_string()).as_deref(),
            Some("2026-05-09")
        );
        assert_eq!(row.last_seen, None);
    }

    #[test]
    fn reads_columns_by_header_and_skips_other_tables() {
        let text = "| Technique | ID |\n|---|---|\n| C2 | T1071 |\n\n\
                    | Type | IOC | Malware | Threat | First seen | Last seen | Confidence |\n\
                    |:-----|:---:|---|---|---|---|---:|\n\
                    | ip:port | 1.2.3.4:80 | Remcos \\| v4 | botnet_cc | 2026-05-01 | 2026-05-02 | 90 |\n\
                    | domain | evil[.]com | Remcos | botnet_cc | 2026-05-01 | | 90 |\n\
                    | ip:port | n/a | Remcos | botnet_cc | 2026-05-01 | | 90 |\n\
                    | ip | 0.0.0.0 | | | | | |\n";
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        assert_eq!(
            rec.values(),
            [(7, "1.2.3.4:80"), (8, "evil[.]com"), (10, "0.0.0.0")]
        );
        assert_eq!(rec.rows[1].2.kind, ValueKind::Domain);
        let row = &rec.rows[0].2;
        assert_eq!(row.malware.as_deref(), Some("Remcos | v4"));
        assert_eq!(row.threat_type.as_deref(), Some("botnet_cc"));
        assert_eq!(row.confidence, Some(90));
        assert_eq!(
            row.last_seen.map(|t| t.to_string()).as_deref(),
            Some("2026-05-02")
        );
        assert!(rec.other.is_empty());
        assert_eq!(rec.rejected.len(), 1);
        assert_eq!(rec.rejected[0].0, Location::Line(9));
    }

    #[test]
    fn a_headerless_table_gives_names_and_urls_but_no_hash_references() {
        let text = "| domain | evil[.]duckdns[.]org | botnet_cc | 2026-05-09 | 75% |\n\
                    | url | hxxp://evil[.]example/gate.php | payload_delivery | 2026-05-09 | 50% |\n\
                    | sha256_hash | d41d8cd98f00b204e9800998ecf8427ed41d8cd98f00b204e9800998ecf8427e | https://x.example/r |\n";
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        assert_eq!(
            rec.kinds(),
            [
                ("evil[.]duckdns[.]org", ValueKind::Domain),
                ("hxxp://evil[.]example/gate.php", ValueKind::Url)
            ]
        );
        assert_eq!(rec.rows[0].2.confidence, Some(75));
        assert_eq!(rec.other, [Location::Line(3)]);
    }
}
