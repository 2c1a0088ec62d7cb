//! Feed rows: what every format parser hands on. Parsers only understand structure (columns,
//! JSON fields, STIX patterns); the loader's [`RowSink`] validates the value, filters and merges
//! it, so each rule about what enters the set exists once.

use std::borrow::Cow;
use std::fmt;

use super::reject::RejectReason;
use super::timestamp::Timestamp;

/// Where in a feed a row sits: a line for line-based formats, the n-th record (1-based) for JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Line(u64),
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// What a row's value names, as its format says (a ThreatFox `ioc_type`, a STIX path) or, for
/// loose formats, as its text reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValueKind {
    /// An address, `ip:port` or CIDR.
    #[default]
    Address,
    /// A host name; `*.example.org` asks for a suffix match.
    Domain,
    /// A URL (`http://host[:port]/path`).
    Url,
}

/// One indicator as the feed wrote it. `value` may still be defanged or carry URL noise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeedRow<'a> {
    pub kind: ValueKind,
    pub value: Cow<'a, str>,
    pub malware: Option<Cow<'a, str>>,
    pub threat_type: Option<Cow<'a, str>>,
    pub confidence: Option<u8>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub reference: Option<Cow<'a, str>>,
}

/// Receives a parser's output in file order.
pub trait RowSink {
    /// An address or name indicator to validate and load.
    fn row(&mut self, at: Location, row: FeedRow<'_>);
    /// An indicator of a type c2tap does not match on (hashes, e-mail addresses, …).
    fn other_type(&mut self, at: Location);
    /// A row the parser could not read at all; `text` is the raw row for the report.
    fn reject(&mut self, at: Location, reason: RejectReason, text: &str);
}

/// ThreatFox-style `ioc_type` values that carry an address.
const IP_TYPES: [&str; 9] = [
    "ip:port",
    "ip",
    "ipv4",
    "ipv6",
    "ip-dst",
    "ip-src",
    "ip-dst|port",
    "ip-src|port",
    "cidr",
];

/// `ioc_type` values that carry a host name, and those that carry a URL.
const DOMAIN_TYPES: [&str; 4] = ["domain", "domain-name", "hostname", "fqdn"];
const URL_TYPES: [&str; 2] = ["url", "uri"];

/// Is `ioc_type` (any case, padded) one of `types`? Compared in place: this runs for every
/// row of a feed, so it allocates nothing.
fn is_one_of(ioc_type: &str, types: &[&str]) -> bool {
    let ioc_type = ioc_type.trim();
    types.iter().any(|t| t.eq_ignore_ascii_case(ioc_type))
}

/// Does a ThreatFox-style `ioc_type` carry an address?
pub fn is_ip_type(ioc_type: &str) -> bool {
    is_one_of(ioc_type, &IP_TYPES)
}

/// What a ThreatFox-style `ioc_type` names; `None` for a type c2tap does not match on.
pub fn value_kind(ioc_type: &str) -> Option<ValueKind> {
    if is_ip_type(ioc_type) {
        Some(ValueKind::Address)
    } else if is_one_of(ioc_type, &DOMAIN_TYPES) {
        Some(ValueKind::Domain)
    } else if is_one_of(ioc_type, &URL_TYPES) {
        Some(ValueKind::Url)
    } else {
        None
    }
}

/// ThreatFox writes missing values as the literal `None` (CSV) or `null`/`""` (JSON).
pub fn present(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty() && text != "None" && text != "null").then_some(text)
}

/// The family a `# malware: Remcos` comment names for the lines after it: how a plain list or an
/// `ip,port` CSV says whose C2 it lists, so records do not read "Unknown C2". Case-insensitive
/// key; an empty name ends the previous one.
pub fn malware_comment(line: &str) -> Option<&str> {
    let body = line.trim_start().strip_prefix('#')?.trim_start();
    let key = body.get(..8)?;
    key.eq_ignore_ascii_case("malware:")
        .then(|| body.get(8..).unwrap_or_default().trim())
}

/// `ip:port` text for an address and a port from separate columns; IPv6 gets brackets so the
/// port stays separable. No port → the address alone (an address-only IOC).
pub fn join_endpoint<'a>(addr: &'a str, port: Option<&str>) -> Cow<'a, str> {
    match port.map(str::trim).filter(|p| !p.is_empty()) {
        None => Cow::Borrowed(addr),
        Some(port) if addr.contains(':') && !addr.starts_with('[') => {
            Cow::Owned(format!("[{addr}]:{port}"))
        }
        Some(port) => Cow::Owned(format!("{addr}:{port}")),
    }
}

/// A 0..=100 confidence from `75`, `"75"` or a write-up's `75%`; anything else is unknown.
pub fn confidence(text: &str) -> Option<u8> {
    let text = text.trim().trim_end_matches('%').trim();
    text.parse::<u8>().ok().filter(|c| *c <= 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_feed_scalars() {
        assert!(is_ip_type("ip:port"));
        assert!(is_ip_type(" IPv6 "));
        assert!(!is_ip_type("domain"));
        assert!(!is_ip_type("sha256_hash"));
        assert_eq!(value_kind("ip:port"), Some(ValueKind::Address));
        assert_eq!(value_kind(" Domain "), Some(ValueKind::Domain));
        assert_eq!(value_kind("url"), Some(ValueKind::Url));
        assert_eq!(value_kind("sha256_hash"), None);
        assert_eq!(present("None"), None);
        assert_eq!(present(" "), None);
        assert_eq!(present(" x "), Some("x"));
        assert_eq!(confidence("75%"), Some(75));
        assert_eq!(confidence("100"), Some(100));
        assert_eq!(confidence("101"), None);
        assert_eq!(confidence("high"), None);
        assert_eq!(Location::Line(3).to_string(), "line 3");
        assert_eq!(Location::Record(4).to_string(), "record 4");
        assert_eq!(malware_comment("# Malware:  Remcos "), Some("Remcos"));
        assert_eq!(malware_comment("#malware:"), Some(""));
        assert_eq!(malware_comment("# malware family list"), None);
        assert_eq!(malware_comment("1.2.3.4 # malware: x"), None);
        assert_eq!(join_endpoint("1.2.3.4", Some("80")), "1.2.3.4:80");
        assert_eq!(
            join_endpoint("2001:db8::1", Some("443")),
            "[2001:db8::1]:443"
        );
        assert_eq!(join_endpoint("1.2.3.4", Some(" ")), "1.2.3.4");
        assert_eq!(join_endpoint("1.2.3.4", None), "1.2.3.4");
    }
}
