//! TLS ClientHello SNI (RFC 8446 §4.1.2, RFC 6066 §3): the server name a client asks for, read
//! from the first client bytes of a young TCP flow.
//!
//! A hello may span several TCP segments and several TLS records, so [`sni`] reads a
//! caller-owned stream prefix (the first client bytes, at most [`MAX_HELLO`]) and answers
//! "need more" ([`TlsError::Incomplete`]) until the SNI extension is in it. Record payloads are
//! gathered into a fixed stack buffer; every length is checked against what is there, so an
//! absurd length is an error value, never a read past the end or a large allocation.

/// Most client bytes inspected for a hello (records included); a hello whose SNI lies further
/// is counted as [`TlsError::TooLong`].
pub const MAX_HELLO: usize = 2048;
/// A name longer than a DNS name cannot be a host name.
const MAX_SNI: usize = 255;
const RECORD_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST: u8 = 0;

/// Why a client's first bytes gave no SNI. `kind()` is the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsError {
    /// Not a TLS handshake record starting a ClientHello.
    NotHello,
    /// The bytes so far end before the SNI (or the end of the hello): wait for more.
    Incomplete,
    /// A length field that points beyond its enclosing structure, or an empty/oversized name.
    BadLength,
    /// The SNI lies beyond [`MAX_HELLO`] bytes of client data.
    TooLong,
}

impl TlsError {
    pub const ALL: [TlsError; 4] = [
        TlsError::NotHello,
        TlsError::Incomplete,
        TlsError::BadLength,
        TlsError::TooLong,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            TlsError::NotHello => "tls_not_hello",
            TlsError::Incomplete => "tls_incomplete",
            TlsError::BadLength => "tls_bad_length",
            TlsError::TooLong => "tls_too_long",
        }
    }

    pub fn index(self) -> usize {
        TlsError::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

/// Does this segment start like a ClientHello? The cheap test that decides whether a young
/// flow's first payload is worth buffering.
#[inline]
pub fn starts_hello(payload: &[u8]) -> bool {
    matches!(
        payload,
        [RECORD_HANDSHAKE, 3, 0..=4, _, _, HANDSHAKE_CLIENT_HELLO, ..]
    ) || matches!(payload, [RECORD_HANDSHAKE, 3, 0..=4, ..] if payload.len() < 6)
}

/// The SNI host name in the client's first bytes `stream`, `Ok(None)` for a complete hello
/// without one. The returned name is copied into `out` (lengths checked) and borrowed from it.
pub fn sni<'o>(stream: &[u8], out: &'o mut [u8; MAX_SNI]) -> Result<Option<&'o [u8]>, TlsError> {
    let mut hs = [0u8; MAX_HELLO];
    let (hs_len, ended) = gather(stream, &mut hs)?;
    let hs = hs.get(..hs_len).unwrap_or(&[]);
    let more = |e: TlsError| {
        // A read past what was gathered is "need more" while the stream may still grow.
        if e == TlsError::Incomplete && stream.len() >= MAX_HELLO {
            TlsError::TooLong
        } else if e == TlsError::Incomplete && ended {
            TlsError::BadLength
        } else {
            e
        }
    };
    match hello_sni(hs) {
        Ok(Some(name)) => {
            let slot = out.get_mut(..name.len()).ok_or(TlsError::BadLength)?;
            slot.copy_from_slice(name);
            Ok(Some(slot))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(more(e)),
    }
}

/// The handshake bytes of the records in `stream` (record headers stripped) into `hs`;
/// `ended` is true when a non-handshake record follows (the hello cannot grow).
fn gather(stream: &[u8], hs: &mut [u8; MAX_HELLO]) -> Result<(usize, bool), TlsError> {
    let mut at = 0;
    let mut len = 0;
    while let Some(header) = stream.get(at..).and_then(|s| s.first_chunk::<5>()) {
        let [kind, major, _, hi, lo] = *header;
        if kind != RECORD_HANDSHAKE || major != 3 {
            if at == 0 {
                return Err(TlsError::NotHello);
            }
            return Ok((len, true));
        }
        let record_len = usize::from(u16::from_be_bytes([hi, lo]));
        if record_len == 0 || record_len > 1 << 14 {
            if at == 0 {
                return Err(TlsError::BadLength);
            }
            // A bad record after the first ends the hello as gathered so far: what a shorter
            // cut of the stream would have read.
            return Ok((len, true));
        }
        let body_at = at + 5;
        let avail = stream.len().saturating_sub(body_at).min(record_len);
        let body = stream.get(body_at..body_at + avail).unwrap_or(&[]);
        let room = hs.len() - len;
        let take = body.len().min(room);
        if let (Some(dst), Some(src)) = (hs.get_mut(len..len + take), body.get(..take)) {
            dst.copy_from_slice(src);
        }
        len += take;
        at = body_at + record_len;
        if avail < record_len {
            break;
        }
    }
    if at == 0 && stream.len() < 5 {
        return Err(TlsError::Incomplete);
    }
    Ok((len, false))
}

/// Read a ClientHello handshake message up to its SNI. Once the whole message is there, a
/// field running past its end is a bad length, not a reason to wait.
fn hello_sni(hs: &[u8]) -> Result<Option<&[u8]>, TlsError> {
    let whole = match hs.get(1..4) {
        Some(&[a, b, c]) => {
            hs.len() >= 4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
        }
        _ => false,
    };
    match hello_fields(hs) {
        Err(TlsError::Incomplete) if whole => Err(TlsError::BadLength),
        r => r,
    }
}

fn hello_fields(hs: &[u8]) -> Result<Option<&[u8]>, TlsError> {
    let mut r = Reader(hs);
    if r.u8()? != HANDSHAKE_CLIENT_HELLO {
        return Err(TlsError::NotHello);
    }
    let body_len = r.u24()?;
    // The body as stated; when less was gathered, reads past it are Incomplete.
    let mut r = Reader(r.0.get(..body_len).unwrap_or(r.0));
    r.skip(2 + 32)?; // legacy_version, random
    let sid = usize::from(r.u8()?);
    if sid > 32 {
        return Err(TlsError::BadLength);
    }
    r.skip(sid)?;
    let suites = usize::from(r.u16()?);
    if suites == 0 || suites % 2 != 0 {
        return Err(TlsError::BadLength);
    }
    r.skip(suites)?;
    let compressions = usize::from(r.u8()?);
    r.skip(compressions)?;
    if r.0.is_empty() && hs.len() >= body_len + 4 {
        return Ok(None); // A hello without extensions.
    }
    let ext_len = usize::from(r.u16()?);
    let complete = r.0.len() >= ext_len && hs.len() >= body_len + 4;
    let mut exts = Reader(r.0.get(..ext_len).unwrap_or(r.0));
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let len = usize::from(exts.u16()?);
        if kind != EXT_SERVER_NAME {
            exts.skip(len)?;
            continue;
        }
        let mut sni = Reader(exts.take(len)?);
        let list = usize::from(sni.u16()?);
        let mut list = Reader(sni.take(list).map_err(|_| TlsError::BadLength)?);
        while !list.0.is_empty() {
            let name_type = list.u8().map_err(|_| TlsError::BadLength)?;
            let n = usize::from(list.u16().map_err(|_| TlsError::BadLength)?);
            let name = list.take(n).map_err(|_| TlsError::BadLength)?;
            if name_type == NAME_TYPE_HOST {
                if name.is_empty() || name.len() > MAX_SNI {
                    return Err(TlsError::BadLength);
                }
                return Ok(Some(name));
            }
        }
        return Ok(None);
    }
    if complete {
        Ok(None)
    } else {
        Err(TlsError::Incomplete)
    }
}

/// Bounds-checked big-endian reads; running out is [`TlsError::Incomplete`].
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(TlsError::Incomplete)?;
        self.0 = rest;
        Ok(head)
    }
    fn skip(&mut self, n: usize) -> Result<(), TlsError> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Result<u8, TlsError> {
        self.take(1)?.first().copied().ok_or(TlsError::Incomplete)
    }
    fn u16(&mut self) -> Result<u16, TlsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }
    fn u24(&mut self) -> Result<usize, TlsError> {
        let b = self.take(3)?;
        let at = |i: usize| usize::from(b.get(i).copied().unwrap_or(0));
        Ok(at(0) << 16 | at(1) << 8 | at(2))
    }
}

/// ClientHello builders for tests, fuzz seeds and the fixture generator.
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::indexing_slicing)]
pub mod build {
    /// A TLS 1.2-style ClientHello handshake message (no record header) with an SNI for
    /// `server_name` (none when empty) after an extension of `padding` bytes.
    pub fn hello(server_name: &str, padding: usize) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([0x11; 32]);
        body.push(0);
        body.extend([0, 2, 0x13, 0x01]);
        body.extend([1, 0]);
        let mut exts = Vec::new();
        if padding > 0 {
            exts.extend(21u16.to_be_bytes());
            exts.extend((padding as u16).to_be_bytes());
            exts.extend(vec![0; padding]);
        }
        if !server_name.is_empty() {
            let n = server_name.as_bytes();
            exts.extend(0u16.to_be_bytes());
            exts.extend(((n.len() + 5) as u16).to_be_bytes());
            exts.extend(((n.len() + 3) as u16).to_be_bytes());
            exts.push(0);
            exts.extend((n.len() as u16).to_be_bytes());
            exts.extend(n);
        }
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut hs = vec![1];
        hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        hs
    }

    /// `handshake` split into TLS records of at most `max` bytes each.
    pub fn records(handshake: &[u8], max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in handshake.chunks(max.max(1)) {
            out.extend([22, 3, 1]);
            out.extend((chunk.len() as u16).to_be_bytes());
            out.extend(chunk);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::build::*;
    use super::*;

    fn name(stream: &[u8]) -> Result<Option<String>, TlsError> {
        let mut out = [0; MAX_SNI];
        sni(stream, &mut out).map(|n| n.map(|n| String::from_utf8_lossy(n).into_owned()))
    }

    #[test]
    fn sni_in_one_record() {
        let s = records(&hello("c2.example.org", 0), 1 << 14);
        assert!(starts_hello(&s));
        assert_eq!(name(&s), Ok(Some("c2.example.org".into())));
    }

    #[test]
    fn sni_across_records_and_segments() {
        let s = records(&hello("c2.example.org", 600), 100);
        assert_eq!(name(&s), Ok(Some("c2.example.org".into())));
        // Every prefix is either "need more" or the same answer, never another name.
        for cut in 0..s.len() {
            match name(&s[..cut]) {
                Err(TlsError::Incomplete) => {}
                Ok(Some(n)) => assert_eq!(n, "c2.example.org"),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn no_sni_and_not_a_hello() {
        let s = records(&hello("", 10), 1 << 14);
        assert_eq!(name(&s), Ok(None));
        assert_eq!(name(b"GET / HTTP/1.1\r\n"), Err(TlsError::NotHello));
        assert!(!starts_hello(b"GET / HTTP/1.1\r\n"));
    }

    #[test]
    fn absurd_lengths_are_errors() {
        let mut hs = hello("c2.example.org", 0);
        // Session id length 200.
        hs[38] = 200;
        assert_eq!(name(&records(&hs, 1 << 14)), Err(TlsError::BadLength));
        // SNI name length larger than its list.
        let mut hs = hello("c2.example.org", 0);
        let n = hs.len();
        hs[n - 15] = 0xff;
        assert_eq!(name(&records(&hs, 1 << 14)), Err(TlsError::BadLength));
        // A record claiming 60 KiB.
        assert_eq!(
            name(&[22, 3, 1, 0xf0, 0, 1, 0, 0]),
            Err(TlsError::BadLength)
        );
    }

    #[test]
    fn sni_beyond_the_bound_is_too_long() {
        let s = records(&hello("c2.example.org", 3000), 1 << 14);
        assert_eq!(name(&s[..MAX_HELLO]), Err(TlsError::TooLong));
    }

    proptest::proptest! {
        /// What the fuzz target checks: whatever follows, a cut that names an SNI names the
        /// one the whole stream names.
        #[test]
        fn a_prefix_never_names_another_sni(
            pad in 0usize..900,
            chunk in 1usize..400,
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let mut s = records(&hello("c2.example.org", pad), chunk);
            s.extend(tail);
            s.truncate(MAX_HELLO);
            let whole = name(&s);
            if let Ok(Some(n)) = name(&s[..cut.index(s.len() + 1)]) {
                proptest::prop_assert_eq!(whole, Ok(Some(n)));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
            let _ = name(&bytes);
            let mut framed = vec![22, 3, 1];
            framed.extend(&bytes);
            let _ = name(&framed);
        }
    }
}
