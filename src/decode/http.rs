//! HTTP/1.x requests as the name path reads them: the request line and the `Host` header of a
//! young TCP flow's first client payload, bounded by [`MAX_REQUEST`] bytes.
//!
//! Only what matching needs is read: the request target (origin-form `/path` or absolute-form
//! `http://host[:port]/path`) and the host. Borrowed slices, no allocation; a request line or
//! header block without an end inside the bound is an error value ([`HttpError::NoEnd`]).
//! [`request_or_more`] tells a head that is merely cut short (more segments may complete it)
//! from one that is malformed or too long.

/// Most bytes of a request inspected (request line and headers up to `Host`).
pub const MAX_REQUEST: usize = 2048;
/// Longest method token accepted (`OPTIONS`, `PROPFIND`, ... are shorter).
const MAX_METHOD: usize = 16;

/// Why a payload gave no request. `kind()` is the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpError {
    /// Not an HTTP/1.x request line.
    NotRequest,
    /// The request line or header block does not end within the bytes there (or the bound).
    NoEnd,
    /// A host that is empty, too long or has bytes no host name has.
    BadHost,
}

impl HttpError {
    pub const ALL: [HttpError; 3] = [HttpError::NotRequest, HttpError::NoEnd, HttpError::BadHost];

    pub fn kind(self) -> &'static str {
        match self {
            HttpError::NotRequest => "http_not_request",
            HttpError::NoEnd => "http_no_end",
            HttpError::BadHost => "http_bad_host",
        }
    }

    pub fn index(self) -> usize {
        HttpError::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

/// A request's matching facts, borrowed from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a [u8],
    /// Host without port, as sent (the matcher normalises case and a trailing dot).
    pub host: Option<&'a [u8]>,
    /// `host[:port]` as sent (absolute URI authority or the Host header).
    pub authority: Option<&'a [u8]>,
    /// Path and query (`/` when the absolute URI has none).
    pub path: &'a [u8],
}

/// Does this payload start like a request line (an upper-case token and a space)? The cheap
/// test before anything is parsed. A payload that is only the start of a method (`GE`, a
/// client that writes its first bytes apart) counts: the rest may follow in the next segments.
#[inline]
pub fn starts_request(payload: &[u8]) -> bool {
    let head = payload.get(..MAX_METHOD + 1).unwrap_or(payload);
    match head.iter().position(|&b| b == b' ') {
        Some(n) => n > 0 && head.iter().take(n).all(u8::is_ascii_uppercase),
        None => {
            !payload.is_empty()
                && payload.len() <= MAX_METHOD
                && payload.iter().all(u8::is_ascii_uppercase)
        }
    }
}

/// [`request`], with a head cut short inside the bound as `Ok(None)`: the payload so far is a
/// prefix of a request that more bytes may complete. A head with no end within
/// [`MAX_REQUEST`] bytes stays [`HttpError::NoEnd`].
pub fn request_or_more(payload: &[u8]) -> Result<Option<Request<'_>>, HttpError> {
    match request(payload) {
        Err(HttpError::NoEnd) if payload.len() < MAX_REQUEST => Ok(None),
        r => r.map(Some),
    }
}

/// Parse the request line and headers up to `Host` from `payload` (bounded by
/// [`MAX_REQUEST`]). An absolute-form target's authority wins over the Host header
/// (RFC 9112 §3.2.2).
pub fn request(payload: &[u8]) -> Result<Request<'_>, HttpError> {
    let bytes = payload.get(..MAX_REQUEST).unwrap_or(payload);
    let (line, mut rest) = split_line(bytes).ok_or(HttpError::NoEnd)?;
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or(&[]);
    let target = parts.next().ok_or(HttpError::NotRequest)?;
    let version = parts.next().ok_or(HttpError::NotRequest)?;
    if method.is_empty()
        || method.len() > MAX_METHOD
        || !method.iter().all(u8::is_ascii_uppercase)
        || !version.starts_with(b"HTTP/1.")
        || parts.next().is_some()
        || target.is_empty()
    {
        return Err(HttpError::NotRequest);
    }
    let (mut authority, path) = match strip_scheme(target) {
        Some(after) => {
            let end = after
                .iter()
                .position(|&b| matches!(b, b'/' | b'?' | b'#'))
                .unwrap_or(after.len());
            let (auth, path) = after.split_at(end);
            (Some(auth), if path.is_empty() { &b"/"[..] } else { path })
        }
        None => (None, target),
    };
    if authority.is_none() {
        loop {
            let (header, after) = split_line(rest).ok_or(HttpError::NoEnd)?;
            if header.is_empty() {
                break;
            }
            rest = after;
            if let Some(value) = header_value(header, b"host") {
                authority = Some(value);
                break;
            }
        }
    }
    let host = match authority {
        Some(a) => Some(host_of(a)?),
        None => None,
    };
    Ok(Request {
        method,
        host,
        authority,
        path,
    })
}

/// The line before the first LF (a CR before it dropped) and the rest.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let (line, rest) = bytes.split_at(end);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, rest.get(1..).unwrap_or(&[])))
}

fn strip_scheme(target: &[u8]) -> Option<&[u8]> {
    for scheme in [&b"http://"[..], b"https://"] {
        if let Some(head) = target.get(..scheme.len()) {
            if head.eq_ignore_ascii_case(scheme) {
                return target.get(scheme.len()..);
            }
        }
    }
    None
}

/// The value of header `name` (lower-case) in `line`, trimmed, when the line is that header.
fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (key, value) = line.split_at(colon);
    if !key.eq_ignore_ascii_case(name) {
        return None;
    }
    Some(value.get(1..).unwrap_or(&[]).trim_ascii())
}

/// The host of an authority: userinfo and port dropped, IPv6 brackets kept as sent.
fn host_of(authority: &[u8]) -> Result<&[u8], HttpError> {
    let after_user = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at + 1..).unwrap_or(&[]),
        None => authority,
    };
    let host = if after_user.first() == Some(&b'[') {
        let end = after_user
            .iter()
            .position(|&b| b == b']')
            .ok_or(HttpError::BadHost)?;
        after_user.get(..=end).unwrap_or(&[])
    } else {
        let end = after_user
            .iter()
            .position(|&b| b == b':')
            .unwrap_or(after_user.len());
        after_user.get(..end).unwrap_or(&[])
    };
    let ok = !host.is_empty()
        && host.len() <= 255
        && host.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        });
    if ok {
        Ok(host)
    } else {
        Err(HttpError::BadHost)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_with_host_header() {
        let r = request(
            b"GET /gate.php?id=1 HTTP/1.1\r\nUser-Agent: x\r\nhOsT:  C2.Example.org:8080 \r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, b"GET");
        assert_eq!(r.path, b"/gate.php?id=1");
        assert_eq!(r.authority, Some(&b"C2.Example.org:8080"[..]));
        assert_eq!(r.host, Some(&b"C2.Example.org"[..]));
    }

    #[test]
    fn absolute_form_wins_over_host() {
        let r =
            request(b"POST http://user@c2.example.org:81 HTTP/1.0\r\nHost: benign.example\r\n\r\n")
                .unwrap();
        assert_eq!(r.host, Some(&b"c2.example.org"[..]));
        assert_eq!(r.authority, Some(&b"user@c2.example.org:81"[..]));
        assert_eq!(r.path, b"/");
    }

    #[test]
    fn no_host_header_is_a_request_without_host() {
        let r = request(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.host, None);
    }

    #[test]
    fn lines_without_end_and_non_requests() {
        assert_eq!(request(b"GET / HTTP/1.1"), Err(HttpError::NoEnd));
        let mut long = b"GET /".to_vec();
        long.extend(vec![b'a'; 5000]);
        long.extend(b" HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(request(&long), Err(HttpError::NoEnd));
        assert_eq!(
            request(b"GET / HTTP/1.1\r\nAccept: x\r\n"),
            Err(HttpError::NoEnd)
        );
        assert_eq!(request(b"\x16\x03\x01\r\n"), Err(HttpError::NotRequest));
        assert_eq!(
            request(b"get / HTTP/1.1\r\n\r\n"),
            Err(HttpError::NotRequest)
        );
        assert_eq!(
            request(b"GET / SIP/2.0\r\n\r\n"),
            Err(HttpError::NotRequest)
        );
        assert_eq!(
            request(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            Err(HttpError::BadHost)
        );
        assert!(starts_request(b"GET / HTTP/1.1"));
        assert!(!starts_request(b"\x16\x03\x01"));
        assert!(!starts_request(b" GET"));
    }

    #[test]
    fn a_head_cut_short_is_told_from_one_without_end() {
        assert!(starts_request(b"GE"));
        assert!(!starts_request(b"GET\r\n"));
        assert!(!starts_request(b""));
        assert_eq!(request_or_more(b"GE"), Ok(None));
        assert_eq!(request_or_more(b"GET /x HTTP/1.1\r\n"), Ok(None));
        assert_eq!(
            request_or_more(b"GET /x HTTP/1.1\r\nAccept: */*\r\nHo"),
            Ok(None)
        );
        let mut long = b"GET /".to_vec();
        long.extend(vec![b'a'; MAX_REQUEST]);
        assert_eq!(request_or_more(&long), Err(HttpError::NoEnd));
        assert_eq!(
            request_or_more(b"GET / SIP/2.0\r\n"),
            Err(HttpError::NotRequest)
        );
        let r = request_or_more(b"GET /x HTTP/1.1\r\nHost: a.example\r\n").unwrap();
        assert_eq!(r.and_then(|r| r.host), Some(&b"a.example"[..]));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
            let _ = request(&bytes);
            let _ = request_or_more(&bytes);
            let _ = starts_request(&bytes);
            let mut req = b"GET ".to_vec();
            req.extend(&bytes);
            let _ = request(&req);
        }
    }
}
