//! URL IOCs: a feed's `http://host[:port]/path[?query]` reduced to the key the packet path can
//! rebuild from an HTTP request (`Host` header + request target) without allocating.
//!
//! The rules, as the README states them: the scheme is dropped and ports 80 and 443 are
//! treated as "no port" (an HTTP request does not say which scheme its IOC was published
//! with); the host is normalised like a domain; the path is compared exactly and
//! case-sensitively (an empty path is `/`); the fragment is dropped. An IOC without a query
//! matches the path with any query or none; an IOC with a query matches only that query.

use super::normalize::{normalize_name, split_port, wire_name, NameError};

/// Longest request target a URL IOC is compared against; longer targets never match a URL IOC
/// (their host still matches domain IOCs).
pub const MAX_URL_PATH: usize = 2048;

/// Stack room for `host:port` + path.
pub const URL_KEY_BUF: usize = 255 + 6 + MAX_URL_PATH;

/// A parsed URL IOC: `key` is what lookups compare, `display` the canonical URL records show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlIoc {
    pub key: String,
    pub display: String,
}

/// `hxxp` is refanged before this; a value without `scheme://` is read as `host/path`.
pub fn normalize_url(text: &str) -> Result<UrlIoc, NameError> {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("http".to_string(), text),
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    // user:password@host: the credentials are not part of what a request's Host says.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = split_port(authority.as_bytes());
    let host = std::str::from_utf8(host).map_err(|_| NameError::BadUrl)?;
    let port = match port {
        None => None,
        Some(p) => Some(
            std::str::from_utf8(p)
                .ok()
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or(NameError::BadUrl)?,
        ),
    };
    if host.is_empty() {
        return Err(NameError::BadUrl);
    }
    let host = normalize_name(host)?;
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    if path.len() > MAX_URL_PATH || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(NameError::BadUrl);
    }
    let authority = match port.filter(|p| !matches!(p, 80 | 443)) {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    let shown_port = match port {
        Some(p) if !matches!((scheme.as_str(), p), ("http", 80) | ("https", 443)) => {
            format!(":{p}")
        }
        _ => String::new(),
    };
    let display_host = authority.split(':').next().unwrap_or(&authority);
    Ok(UrlIoc {
        display: format!("{scheme}://{display_host}{shown_port}{path}"),
        key: format!("{authority}{path}"),
    })
}

/// Builds the lookup key of a request into `buf`: normalised host, `:port` unless 80/443, then
/// the request target. `None` when it cannot match any URL IOC.
#[inline]
pub fn request_key<'b>(
    host: &[u8],
    path: &[u8],
    buf: &'b mut [u8; URL_KEY_BUF],
) -> Option<&'b [u8]> {
    let (name, port) = split_port(host);
    let mut name_buf = [0u8; 255];
    let name = wire_name(name, &mut name_buf)?;
    let port = port.filter(|p| !matches!(*p, b"80" | b"443") && !p.is_empty());
    if path.len() > MAX_URL_PATH || !path.starts_with(b"/") {
        return None;
    }
    let mut len = 0;
    for part in [
        name,
        port.map_or(&b""[..], |_| b":"),
        port.unwrap_or_default(),
        path,
    ] {
        buf.get_mut(len..len + part.len())?.copy_from_slice(part);
        len += part.len();
    }
    buf.get(..len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> (String, String) {
        let u = normalize_url(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (u.key, u.display)
    }

    #[test]
    fn urls_reduce_to_host_port_and_path() {
        assert_eq!(
            url("http://Evil.Example:8080/Gate.php?id=1#x"),
            (
                "evil.example:8080/Gate.php?id=1".into(),
                "http://evil.example:8080/Gate.php?id=1".into()
            )
        );
        assert_eq!(
            url("https://evil.example:443"),
            ("evil.example/".into(), "https://evil.example/".into())
        );
        assert_eq!(
            url("http://user:pw@evil.example:80/a"),
            ("evil.example/a".into(), "http://evil.example/a".into())
        );
        assert_eq!(url("evil.example/p").0, "evil.example/p");
        assert_eq!(url("http://evil.example?q").0, "evil.example/?q");
        assert_eq!(normalize_url("http:///x"), Err(NameError::BadUrl));
        assert_eq!(normalize_url("http://a.org:99999/"), Err(NameError::BadUrl));
        assert_eq!(normalize_url("http://a..org/"), Err(NameError::EmptyLabel));
    }

    #[test]
    fn request_keys_match_the_ioc_keys() {
        let mut buf = [0u8; URL_KEY_BUF];
        let key = |h: &[u8], p: &[u8], b: &mut [u8; URL_KEY_BUF]| {
            request_key(h, p, b).map(|k| String::from_utf8_lossy(k).into_owned())
        };
        assert_eq!(
            key(b"EVIL.example:80", b"/a?b", &mut buf),
            Some("evil.example/a?b".into())
        );
        assert_eq!(
            key(b"evil.example:8080", b"/a", &mut buf),
            Some("evil.example:8080/a".into())
        );
        assert_eq!(
            key(b"evil.example.", b"/", &mut buf),
            Some("evil.example/".into())
        );
        assert_eq!(key(b"evil.example", b"a", &mut buf), None);
        assert_eq!(
            key(b"evil.example", &[b'/'; MAX_URL_PATH + 1], &mut buf),
            None
        );
        assert!(key(&[b'a'; 253], &[b'/'; MAX_URL_PATH], &mut buf).is_some());
    }
}
