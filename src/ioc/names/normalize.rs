//! Name normalisation, twice: at load time a feed's name (any case, trailing dot, Unicode) is
//! validated and turned into its canonical ASCII form with a reason when it cannot be; on the
//! packet path a wire name (DNS qname, SNI, HTTP `Host`) is lowercased into a stack buffer, so
//! a lookup allocates nothing.

use std::fmt;

/// Longest name in presentation form without the trailing dot (RFC 1035: 255 octets on the
/// wire, 253 characters as text).
pub const MAX_NAME: usize = 253;

/// Longest label (RFC 1035).
pub const MAX_LABEL: usize = 63;

/// Why a feed's name is not loaded; the label is the report's reason and a metric-safe word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameError {
    Empty,
    EmptyLabel,
    LabelTooLong,
    NameTooLong,
    BadChar,
    /// Unicode that IDNA (UTS #46) refuses to map to punycode.
    Idna,
    /// A single label (`localhost`, `com`): never a C2 name, and a suffix on it would match a TLD.
    SingleLabel,
    /// A URL without a host, or with an unreadable port.
    BadUrl,
}

impl NameError {
    pub fn label(self) -> &'static str {
        match self {
            NameError::Empty => "empty name",
            NameError::EmptyLabel => "empty label",
            NameError::LabelTooLong => "label longer than 63",
            NameError::NameTooLong => "name longer than 253",
            NameError::BadChar => "character not allowed in a host name",
            NameError::Idna => "IDN not convertible to punycode",
            NameError::SingleLabel => "single-label name",
            NameError::BadUrl => "URL without a readable host or port",
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The canonical form of a feed's host name: ASCII lowercase, no trailing dot, Unicode labels
/// as punycode (`xn--`). Letters, digits, `-` and `_` (seen in real C2 names) are allowed;
/// a label may not start or end with `-`.
pub fn normalize_name(text: &str) -> Result<String, NameError> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Err(NameError::Empty);
    }
    let ascii = match text.is_ascii() {
        true => text.to_ascii_lowercase(),
        false => idna::domain_to_ascii(text).map_err(|_| NameError::Idna)?,
    };
    check_name(&ascii)?;
    Ok(ascii)
}

fn check_name(name: &str) -> Result<(), NameError> {
    if name.len() > MAX_NAME {
        return Err(NameError::NameTooLong);
    }
    let mut labels = 0;
    for label in name.split('.') {
        labels += 1;
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong);
        }
        let ok = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok || label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::BadChar);
        }
    }
    match labels {
        1 => Err(NameError::SingleLabel),
        _ => Ok(()),
    }
}

/// A wire host name lowercased into a caller's stack buffer: `:port` and one trailing dot cut,
/// ASCII case folded. `None` when it cannot be an IOC name (empty, longer than [`MAX_NAME`]).
/// Non-ASCII bytes are kept as they are: every loaded name is ASCII, so they simply miss.
#[inline]
pub fn wire_name<'b>(host: &[u8], buf: &'b mut [u8; 255]) -> Option<&'b [u8]> {
    let host = strip_port(host);
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() || host.len() > MAX_NAME {
        return None;
    }
    let out = buf.get_mut(..host.len())?;
    for (o, b) in out.iter_mut().zip(host) {
        *o = b.to_ascii_lowercase();
    }
    Some(out)
}

/// `host:8080` → `host`; an IPv6 literal (`[::1]:80`, `::1`) is left alone (it is no name).
#[inline]
pub fn strip_port(host: &[u8]) -> &[u8] {
    split_port(host).0
}

/// `host:8080` → (`host`, `Some(b"8080")`). Only an all-digit tail after the last colon counts
/// as a port, and only when the host part has no other colon.
#[inline]
pub fn split_port(host: &[u8]) -> (&[u8], Option<&[u8]>) {
    let Some(colon) = host.iter().rposition(|&b| b == b':') else {
        return (host, None);
    };
    let (name, port) = (
        host.get(..colon).unwrap_or_default(),
        host.get(colon + 1..).unwrap_or_default(),
    );
    match !name.contains(&b':') && port.iter().all(u8::is_ascii_digit) {
        true => (name, Some(port)),
        false => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_names_become_canonical() {
        assert_eq!(
            normalize_name("Evil.DuckDNS.org."),
            Ok("evil.duckdns.org".into())
        );
        assert_eq!(
            normalize_name("c2_x.example.org"),
            Ok("c2_x.example.org".into())
        );
        assert_eq!(
            normalize_name("bücher.example"),
            Ok("xn--bcher-kva.example".into())
        );
        assert_eq!(
            normalize_name("BÜCHER.example"),
            Ok("xn--bcher-kva.example".into())
        );
        assert_eq!(normalize_name(""), Err(NameError::Empty));
        assert_eq!(normalize_name("."), Err(NameError::Empty));
        assert_eq!(normalize_name("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(normalize_name("localhost"), Err(NameError::SingleLabel));
        assert_eq!(normalize_name("a b.org"), Err(NameError::BadChar));
        assert_eq!(normalize_name("-a.org"), Err(NameError::BadChar));
        assert_eq!(normalize_name("a/b.org"), Err(NameError::BadChar));
        let long_label = format!("{}.org", "a".repeat(64));
        assert_eq!(normalize_name(&long_label), Err(NameError::LabelTooLong));
        let ok = format!("{}.org", "a".repeat(63));
        assert!(normalize_name(&ok).is_ok());
        let long_name = vec!["abcdefghi"; 26].join(".");
        assert_eq!(long_name.len(), 259);
        assert_eq!(normalize_name(&long_name), Err(NameError::NameTooLong));
    }

    #[test]
    fn wire_names_fold_into_the_stack_buffer() {
        let mut buf = [0u8; 255];
        assert_eq!(
            wire_name(b"EVIL.duckdns.ORG.", &mut buf),
            Some(&b"evil.duckdns.org"[..])
        );
        assert_eq!(
            wire_name(b"evil.org:8080", &mut buf),
            Some(&b"evil.org"[..])
        );
        assert_eq!(wire_name(b"evil.org.:80", &mut buf), Some(&b"evil.org"[..]));
        assert_eq!(wire_name(b"[::1]:80", &mut buf), Some(&b"[::1]:80"[..]));
        assert_eq!(wire_name(b"", &mut buf), None);
        assert_eq!(wire_name(b".", &mut buf), None);
        assert_eq!(wire_name(&[b'a'; 254], &mut buf), None);
        assert!(wire_name(&[b'a'; 253], &mut buf).is_some());
        assert_eq!(split_port(b"a.org:x"), (&b"a.org:x"[..], None));
        assert_eq!(split_port(b"::1"), (&b"::1"[..], None));
    }
}
