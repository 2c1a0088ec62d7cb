//! CSV feeds that give the C2 address and port in separate columns: abuse.ch Feodo Tracker's
//! blocklist (`first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware`, `#` banner) and
//! the generic `ip,port[,malware]` lists that firewalls, SIEM exports and analysts write, with
//! or without a header. Columns are found by the header's names; without a header the format's
//! known layout applies. A row with more columns than that is rejected as `extra_columns`, one
//! with fewer as `unparsable`: a shifted row would put a date where the address belongs.
//! A `# malware: Remcos` comment names the family of the rows after it when no column does.

use std::borrow::Cow;

use super::reject::RejectReason;
use super::row::{
    confidence, join_endpoint, malware_comment, present, FeedRow, Location, RowSink, ValueKind,
};
use super::text::{numbered_lines, FormatError};
use super::threatfox_csv::{comment_body, split_fields};
use super::timestamp::Timestamp;

/// Which of the two address-column formats a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Feodo Tracker's blocklist; its rows are botnet C2s (`botnet_cc`).
    Feodo,
    /// `ip,port[,malware]`.
    Generic,
}

const FEODO_COLUMNS: [&str; 6] = [
    "first_seen_utc",
    "dst_ip",
    "dst_port",
    "c2_status",
    "last_online",
    "malware",
];
const GENERIC_COLUMNS: [&str; 3] = ["ip", "port", "malware"];

/// Header names of the address column: a header is the first line naming one.
const ADDRESS_NAMES: [&str; 6] = ["dst_ip", "ip", "ip_address", "ipaddress", "address", "ioc"];

impl Layout {
    fn default_columns(self) -> Columns {
        match self {
            Layout::Feodo => Columns::from_names(&FEODO_COLUMNS),
            Layout::Generic => Columns::from_names(&GENERIC_COLUMNS),
        }
        .unwrap_or_default()
    }

    /// Fewest fields a header-less row may have: the generic format's malware is optional.
    fn min_fields(self) -> usize {
        match self {
            Layout::Feodo => FEODO_COLUMNS.len(),
            Layout::Generic => 2,
        }
    }

    fn threat_type(self) -> Option<&'static str> {
        match self {
            Layout::Feodo => Some("botnet_cc"),
            Layout::Generic => None,
        }
    }
}

/// Column positions of the fields c2tap uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Columns {
    count: usize,
    address: usize,
    port: Option<usize>,
    malware: Option<usize>,
    threat_type: Option<usize>,
    confidence: Option<usize>,
    first_seen: Option<usize>,
    last_seen: Option<usize>,
}

impl Columns {
    fn from_names<S: AsRef<str>>(names: &[S]) -> Option<Columns> {
        let find = |wanted: &[&str]| {
            wanted.iter().find_map(|w| {
                names
                    .iter()
                    .position(|n| n.as_ref().trim().eq_ignore_ascii_case(w))
            })
        };
        Some(Columns {
            count: names.len(),
            address: find(&ADDRESS_NAMES)?,
            port: find(&["dst_port", "port"]),
            malware: find(&["malware", "malware_printable", "malware_family", "family"]),
            threat_type: find(&["threat_type"]),
            confidence: find(&["confidence", "confidence_level"]),
            first_seen: find(&["first_seen_utc", "first_seen"]),
            last_seen: find(&["last_online", "last_seen_utc", "last_seen"]),
        })
    }
}

/// Whether a line (a comment or not) is Feodo Tracker's column header: names `dst_ip` and
/// `dst_port` as fields, not merely in prose.
pub fn is_feodo_header(line: &str) -> bool {
    let mut fields = Vec::new();
    let (_, body) = comment_body(line);
    split_fields(body, &mut fields).is_ok()
        && fields.iter().any(|f| f.trim() == "dst_ip")
        && fields.iter().any(|f| f.trim() == "dst_port")
}

/// Whether a line is a generic `ip,port[,malware]` header or row: how detection tells such a
/// file from a plain list.
pub fn looks_generic(line: &str) -> bool {
    let mut fields = Vec::new();
    if split_fields(line, &mut fields).is_err() || fields.len() < 2 {
        return false;
    }
    if Columns::from_names(&fields).is_some_and(|c| c.port.is_some() || c.malware.is_some()) {
        return true;
    }
    let port = fields.get(1).map(|f| f.trim()).unwrap_or_default();
    fields
        .first()
        .is_some_and(|f| super::endpoint::looks_like_address(&super::defang::refang(f)))
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
}

pub fn parse(text: &str, layout: Layout, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let mut header: Option<Columns> = None;
    let mut malware: Option<&str> = None;
    let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(8);
    for line in numbered_lines(text) {
        let (number, line) = line?;
        let at = Location::Line(number);
        if let Some(name) = malware_comment(line) {
            malware = Some(name).filter(|n| !n.is_empty());
            continue;
        }
        let (is_comment, body) = comment_body(line);
        if body.trim().is_empty() {
            continue;
        }
        let split = split_fields(body, &mut fields);
        if header.is_none() && split.is_ok() {
            if let Some(columns) = Columns::from_names(&fields) {
                header = Some(columns);
                continue;
            }
        }
        if is_comment {
            continue;
        }
        let (columns, min) = match header {
            Some(columns) => (columns, columns.count),
            None => (layout.default_columns(), layout.min_fields()),
        };
        match split {
            Err(()) => sink.reject(at, RejectReason::Unparsable, line),
            Ok(()) if fields.len() > columns.count => {
                sink.reject(at, RejectReason::ExtraColumns, line)
            }
            Ok(()) if fields.len() < min => sink.reject(at, RejectReason::Unparsable, line),
            Ok(()) => emit(at, &fields, &columns, layout, malware, sink),
        }
    }
    Ok(())
}

fn emit(
    at: Location,
    fields: &[Cow<'_, str>],
    cols: &Columns,
    layout: Layout,
    malware: Option<&str>,
    sink: &mut dyn RowSink,
) {
    let field = |i: Option<usize>| i.and_then(|i| fields.get(i)).and_then(|f| present(f));
    let Some(address) = field(Some(cols.address)) else {
        return sink.reject(at, RejectReason::Unparsable, "row without an address");
    };
    sink.row(
        at,
        FeedRow {
            kind: ValueKind::Address,
            value: join_endpoint(address, field(cols.port)),
            malware: field(cols.malware).or(malware).map(Cow::Borrowed),
            threat_type: field(cols.threat_type)
                .or(layout.threat_type())
                .map(Cow::Borrowed),
            confidence: field(cols.confidence).and_then(confidence),
            first_seen: field(cols.first_seen).and_then(Timestamp::parse),
            last_seen: field(cols.last_seen).and_then(Timestamp::parse),
            reference: None,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::plain::tests::Recorder;

    fn read(text: &str, layout: Layout) -> Recorder {
        let mut rec = Recorder::default();
        assert!(parse(text, layout, &mut rec).is_ok());
        rec
    }

    /// (value, malware, threat type) of each row.
    fn described(rec: &Recorder) -> Vec<(&str, Option<&str>, Option<&str>)> {
        rec.rows
            .iter()
            .map(|(_, v, r)| (v.as_str(), r.malware.as_deref(), r.threat_type.as_deref()))
            .collect()
    }

    fn reasons(rec: &Recorder) -> Vec<(Location, RejectReason)> {
        rec.rejected.iter().map(|r| (r.0, r.1)).collect()
    }

    #[test]
    fn reads_the_feodo_blocklist_with_and_without_its_header() {
        let rows = "\"2021-01-17 07:44:46\",\"51.75.200.204\",\"443\",\"online\",\"2026-05-08\",\"Emotet\"\n\
                    2024-02-01 10:00:00,2001:db8:c2::1,8080,offline,2026-04-01,QakBot\n";
        let with_header = format!(
            "#####\n# abuse.ch Feodo Tracker\n#\n\
             \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\
             {rows}# Number of entries: 2\n"
        );
        for text in [
            with_header,
            format!("# first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n{rows}"),
            rows.to_string(),
        ] {
            let rec = read(&text, Layout::Feodo);
            let got = described(&rec);
            assert_eq!(
                got,
                [
                    ("51.75.200.204:443", Some("Emotet"), Some("botnet_cc")),
                    ("[2001:db8:c2::1]:8080", Some("QakBot"), Some("botnet_cc"))
                ],
                "{text}"
            );
            let first = &rec.rows[0].2;
            assert_eq!(
                first.first_seen.map(|t| t.to_string()).as_deref(),
                Some("2021-01-17 07:44:46")
            );
            assert_eq!(
                first.last_seen.map(|t| t.to_string()).as_deref(),
                Some("2026-05-08")
            );
            assert!(rec.rejected.is_empty() && rec.other.is_empty(), "{rec:?}");
        }
    }

    #[test]
    fn feodo_rows_with_extra_or_missing_columns_are_rejected_with_their_reason() {
        let text = "first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n\
                    2021-01-17 07:44:46,51.75.200.204,443,online,2026-05-08,Emotet,extra\n\
                    2021-01-17 07:44:46,51.75.200.204,443\n\
                    \"2021-01-17 07:44:46\" x,\"51.75.200.204\",\"443\",\"online\",\"2026-05-08\",\"Emotet\"\n";
        let rec = read(text, Layout::Feodo);
        assert!(rec.rows.is_empty());
        assert_eq!(
            reasons(&rec),
            [
                (Location::Line(2), RejectReason::ExtraColumns),
                (Location::Line(3), RejectReason::Unparsable),
                (Location::Line(4), RejectReason::Unparsable)
            ]
        );
    }

    #[test]
    fn reads_generic_ip_port_malware_lists() {
        let text = "# malware: Remcos\n198.51.100.7,8015\n198.51.100.8,8015,AsyncRAT\n\
                    198.51.100.9,,\n198.51.100.10,8015,AsyncRAT,extra\n";
        let rec = read(text, Layout::Generic);
        let got = described(&rec);
        assert_eq!(
            got,
            [
                ("198.51.100.7:8015", Some("Remcos"), None),
                ("198.51.100.8:8015", Some("AsyncRAT"), None),
                ("198.51.100.9", Some("Remcos"), None)
            ]
        );
        assert_eq!(
            reasons(&rec),
            [(Location::Line(5), RejectReason::ExtraColumns)]
        );

        let with_header =
            "IP,Port,Malware,Confidence\n198.51.100.7,8015,Remcos,80\n198.51.100.8,8015\n";
        let rec = read(with_header, Layout::Generic);
        assert_eq!(rec.values(), [(2, "198.51.100.7:8015")]);
        assert_eq!(rec.rows[0].2.confidence, Some(80));
        assert_eq!(
            reasons(&rec),
            [(Location::Line(3), RejectReason::Unparsable)]
        );
    }

    #[test]
    fn a_feodo_header_is_fields_not_prose() {
        assert!(is_feodo_header(
            "\"first_seen_utc\",\"dst_ip\",\"dst_port\""
        ));
        assert!(is_feodo_header("# first_seen_utc,dst_ip,dst_port,malware"));
        assert!(!is_feodo_header(
            "# our list: dst_ip and dst_port of Remcos C2s"
        ));
    }

    #[test]
    fn tells_generic_rows_from_plain_lines() {
        assert!(looks_generic("1.2.3.4,8015"));
        assert!(looks_generic("ip,port"));
        assert!(looks_generic("ip,malware"));
        assert!(looks_generic("\"dst_ip\",\"port\",\"malware\""));
        assert!(looks_generic("1[.]2[.]3[.]4, 8015, Remcos"));
        assert!(!looks_generic("1.2.3.4:8015"));
        assert!(!looks_generic("1.2.3.4:8015 remcos, seen twice"));
        assert!(!looks_generic("1.2.3.4,Remcos"));
    }
}
