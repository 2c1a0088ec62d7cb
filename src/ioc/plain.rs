//! Plain IOC lists: one value per line as analysts keep them — `ip:port`, `ip`, `[v6]:port`,
//! CIDR, host names and URLs (`evil[.]duckdns[.]org`, `hxxps[:]//…`), defanged or not, with
//! `#` comments and blank lines. The first token
//! of a line is the IOC; anything after it is the analyst's note and ignored. A comment
//! `# malware: Remcos` names the family of the lines after it. A token holding a comma is a
//! CSV row in a plain list: rejected as `extra_columns`, never guessed at.

use std::borrow::Cow;

use super::defang::{refang, strip_url};
use super::endpoint::looks_like_address;
use super::reject::RejectReason;
use super::row::{malware_comment, FeedRow, Location, RowSink, ValueKind};
use super::text::{numbered_lines, FormatError};

pub fn parse(text: &str, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let mut malware: Option<&str> = None;
    for line in numbered_lines(text) {
        let (number, line) = line?;
        let line = line.trim();
        if let Some(name) = malware_comment(line) {
            malware = Some(name).filter(|n| !n.is_empty());
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let token = line.split([' ', '\t']).next().unwrap_or(line);
        let at = Location::Line(number);
        if token.contains(',') {
            sink.reject(at, RejectReason::ExtraColumns, line);
            continue;
        }
        hand_on(token, at, line, malware, sink);
    }
    Ok(())
}

/// Sends one token to the sink as an address or name row (of `malware`, if named), another IOC
/// type, or an unreadable row.
fn hand_on(token: &str, at: Location, raw: &str, malware: Option<&str>, sink: &mut dyn RowSink) {
    let kind = match classify(token) {
        Kind::Value(kind) => kind,
        Kind::OtherType => return sink.other_type(at),
        Kind::Unknown => return sink.reject(at, RejectReason::Unparsable, raw),
    };
    sink.row(
        at,
        FeedRow {
            kind,
            value: Cow::Borrowed(token),
            malware: malware.map(Cow::Borrowed),
            ..FeedRow::default()
        },
    )
}

#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// An address, host name or URL: goes to validation (so `999.1.1.1` or `a..b.org` is
    /// reported with its reason).
    Value(ValueKind),
    /// A hash: another IOC type.
    OtherType,
    Unknown,
}

/// What a loose token (plain line, table cell) names once refanged: an address (also inside
/// `hxxp://1.2.3.4:80/x`), a URL (a scheme, or a host name followed by a path), a host name
/// (a dot and a letter, `*.` allowed), or a hash.
pub fn classify(token: &str) -> Kind {
    let refanged = refang(token);
    let value = strip_url(&refanged);
    if looks_like_address(value) {
        return Kind::Value(ValueKind::Address);
    }
    let is_hash =
        matches!(value.len(), 32 | 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hash {
        return Kind::OtherType;
    }
    let is_name = value.contains('.') && value.chars().any(char::is_alphabetic);
    if !is_name {
        return Kind::Unknown;
    }
    let trimmed = refanged.trim();
    match trimmed.contains("://") || trimmed.contains('/') {
        true => Kind::Value(ValueKind::Url),
        false => Kind::Value(ValueKind::Domain),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Records what a parser emitted, for every format's tests.
    #[derive(Debug, Default)]
    pub struct Recorder {
        pub rows: Vec<(Location, String, FeedRow<'static>)>,
        pub other: Vec<Location>,
        pub rejected: Vec<(Location, RejectReason, String)>,
    }

    impl RowSink for Recorder {
        fn row(&mut self, at: Location, row: FeedRow<'_>) {
            let owned = FeedRow {
                value: Cow::Owned(row.value.to_string()),
                malware: row.malware.map(|m| Cow::Owned(m.into_owned())),
                threat_type: row.threat_type.map(|m| Cow::Owned(m.into_owned())),
                reference: row.reference.map(|m| Cow::Owned(m.into_owned())),
                ..row
            };
            self.rows.push((at, owned.value.to_string(), owned));
        }
        fn other_type(&mut self, at: Location) {
            self.other.push(at);
        }
        fn reject(&mut self, at: Location, reason: RejectReason, text: &str) {
            self.rejected.push((at, reason, text.to_string()));
        }
    }

    impl Recorder {
        pub fn kinds(&self) -> Vec<(&str, ValueKind)> {
            self.rows
                .iter()
                .map(|(_, v, r)| (v.as_str(), r.kind))
                .collect()
        }

        pub fn values(&self) -> Vec<(u64, &str)> {
            self.rows
                .iter()
                .map(|(at, v, _)| match at {
                    Location::Line(n) | Location::Record(n) => (*n, v.as_str()),
                })
                .collect()
        }
    }

    #[test]
    fn reads_plain_lines_with_comments_and_defanged_forms() {
        let text = "# C2 list\n\n138[.]9[.]223[.]13:8015 remcos\r\nhxxp://138.9.41.254:8015/x\n  2001:db8::1\n\
                    evil[.]example[.]com\nd41d8cd98f00b204e9800998ecf8427e\n999.1.1.1\n???\n198.51.100.0/24\n";
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        assert_eq!(
            rec.values(),
            [
                (3, "138[.]9[.]223[.]13:8015"),
                (4, "hxxp://138.9.41.254:8015/x"),
                (5, "2001:db8::1"),
                (6, "evil[.]example[.]com"),
                (8, "999.1.1.1"),
                (10, "198.51.100.0/24"),
            ]
        );
        assert_eq!(rec.other, [Location::Line(7)]);
        assert_eq!(
            rec.rejected,
            [(
                Location::Line(9),
                RejectReason::Unparsable,
                "???".to_string()
            )]
        );
    }

    #[test]
    fn a_malware_comment_names_the_lines_after_it_and_commas_are_refused() {
        let text = "1.2.3.4:80\n# malware: Remcos\n1.2.3.5:80\n1.2.3.6:80,AsyncRAT\n\
                    # malware:\n1.2.3.7:80\n";
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        let malware: Vec<_> = rec
            .rows
            .iter()
            .map(|(_, v, r)| (v.as_str(), r.malware.as_deref()))
            .collect();
        assert_eq!(
            malware,
            [
                ("1.2.3.4:80", None),
                ("1.2.3.5:80", Some("Remcos")),
                ("1.2.3.7:80", None)
            ]
        );
        assert_eq!(
            rec.rejected,
            [(
                Location::Line(4),
                RejectReason::ExtraColumns,
                "1.2.3.6:80,AsyncRAT".to_string()
            )]
        );
        assert!(rec.other.is_empty());
    }

    #[test]
    fn names_and_urls_are_rows_of_their_kind() {
        let text = "evil[.]duckdns[.]org\n*.duckdns.org\nhxxps[:]//evil.example/gate.php\n\
                    evil.example/p?x=1\nhxxp://1.2.3.4:80/x\nbücher.example\nlocalhost\n";
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        assert_eq!(
            rec.kinds(),
            [
                ("evil[.]duckdns[.]org", ValueKind::Domain),
                ("*.duckdns.org", ValueKind::Domain),
                ("hxxps[:]//evil.example/gate.php", ValueKind::Url),
                ("evil.example/p?x=1", ValueKind::Url),
                ("hxxp://1.2.3.4:80/x", ValueKind::Address),
                ("bücher.example", ValueKind::Domain),
            ]
        );
        assert_eq!(
            rec.rejected.len(),
            1,
            "a dotless word is no name: {:?}",
            rec.rejected
        );
    }
}
