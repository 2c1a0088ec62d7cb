//! The TCP side of [`Names`]: TLS SNI (1012), from one segment or a gathered hello, and HTTP
//! Host/URL (1013). Kept apart from the per-packet dispatch in `names.rs`, which reaches it
//! only for a segment that can start (or continues) a hello or a request.

use std::sync::Arc;

use crate::decode::http;
use crate::decode::tls::{self, TlsError};
use crate::decode::PacketMeta;
use crate::flow::{Dir, FlowKey, NameMatch, NameVia};
use crate::time::Nanos;

use super::gather::{Kind, Step};
use super::payload;
use super::seen::Seen;
use super::{Found, NameIocs, NameStats, Names, MAX_URL};

impl Names {
    pub(super) fn tcp(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        m: &PacketMeta,
        p: payload::Payload<'_>,
    ) -> Option<Found> {
        let (key, dir) = FlowKey::of(m, m.sport, m.dport);
        self.seen.at(key, dir == Dir::HiToLo, ts);
        if !self.gather.is_empty() {
            match self.gather.extend(&key, p.seq, p.bytes, ts) {
                Step::Unknown => {}
                Step::Ignored | Step::Abandoned => return None,
                Step::Bytes(Kind::Hello, stream) => {
                    let mut out = [0u8; 255];
                    let r = tls::sni(stream, &mut out);
                    if r == Err(TlsError::Incomplete) {
                        return None; // Still gathering: not a skip.
                    }
                    self.gather.finish(&key);
                    return self.sni_result(set, r);
                }
                Step::Bytes(Kind::Request, stream) => {
                    let r = http::request_or_more(stream);
                    if r == Ok(None) {
                        return None; // Still gathering: not a skip.
                    }
                    // The request borrows the gathered bytes: its match is made (owned)
                    // before they go back to the pool.
                    let found = http_found(&mut self.stats, &mut self.seen, set, r);
                    self.gather.finish(&key);
                    return found;
                }
            }
        }
        if tls::starts_hello(p.bytes) {
            let mut out = [0u8; 255];
            let r = tls::sni(p.bytes, &mut out);
            if r == Err(TlsError::Incomplete) {
                self.gather.start(key, Kind::Hello, p.seq, p.bytes, ts);
                return None;
            }
            return self.sni_result(set, r);
        }
        if http::starts_request(p.bytes) {
            return match http::request_or_more(p.bytes) {
                Ok(None) => {
                    self.gather.start(key, Kind::Request, p.seq, p.bytes, ts);
                    None
                }
                r => http_found(&mut self.stats, &mut self.seen, set, r),
            };
        }
        None
    }

    pub(super) fn sni_result(
        &mut self,
        set: &impl NameIocs,
        r: Result<Option<&[u8]>, TlsError>,
    ) -> Option<Found> {
        let name = match r {
            Ok(Some(n)) => n,
            Ok(None) => {
                self.stats.tls_hellos += 1;
                return None;
            }
            Err(e) => {
                if let Some(c) = self.stats.tls_errors.get_mut(e.index()) {
                    *c += 1;
                }
                return None;
            }
        };
        self.stats.tls_hellos += 1;
        let mut host = [0u8; 255];
        let host = normalise(name, &mut host);
        let Some(ioc) = set.host_ioc(host) else {
            self.seen.sni(host);
            return None;
        };
        Some(Found {
            ioc,
            name: Arc::new(NameMatch {
                via: NameVia::Sni,
                host: Arc::from(String::from_utf8_lossy(host)),
                url: None,
                answers: None,
                ttl: None,
                answered: None,
            }),
            server_is_dst: true,
        })
    }
}

/// The match of a parsed request head, if its host or URL is an IOC (if not, it is kept in
/// `seen` for a later set); parse errors counted (a head still cut short is neither).
fn http_found(
    stats: &mut NameStats,
    seen: &mut Seen,
    set: &impl NameIocs,
    r: Result<Option<http::Request<'_>>, http::HttpError>,
) -> Option<Found> {
    let req = match r {
        Ok(r) => r?,
        Err(e) => {
            if let Some(c) = stats.http_errors.get_mut(e.index()) {
                *c += 1;
            }
            return None;
        }
    };
    stats.http_requests += 1;
    let raw_host = req.host?;
    let mut buf = [0u8; 255];
    let host = normalise(raw_host, &mut buf);
    let authority = req.authority.unwrap_or(raw_host);
    let authority = authority
        .iter()
        .rposition(|&b| b == b'@')
        .and_then(|at| authority.get(at + 1..))
        .unwrap_or(authority);
    let Some(ioc) = set
        .url_ioc(authority, req.path)
        .or_else(|| set.host_ioc(host))
    else {
        seen.http(host, authority, req.path);
        return None;
    };
    let mut url = String::from("http://");
    url.push_str(&String::from_utf8_lossy(authority).to_ascii_lowercase());
    url.push_str(&String::from_utf8_lossy(req.path));
    if url.len() > MAX_URL {
        let mut cut = MAX_URL;
        while !url.is_char_boundary(cut) {
            cut -= 1;
        }
        url.truncate(cut);
    }
    Some(Found {
        ioc,
        name: Arc::new(NameMatch {
            via: NameVia::Http,
            host: Arc::from(String::from_utf8_lossy(host)),
            url: Some(Arc::from(url)),
            answers: None,
            ttl: None,
            answered: None,
        }),
        server_is_dst: true,
    })
}

/// Lower-case, trailing dot dropped: how name IOCs are kept.
pub(super) fn normalise<'o>(name: &[u8], out: &'o mut [u8; 255]) -> &'o [u8] {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let n = name.len().min(out.len());
    for (o, b) in out.iter_mut().zip(name.iter().take(n)) {
        *o = b.to_ascii_lowercase();
    }
    out.get(..n).unwrap_or(&[])
}
