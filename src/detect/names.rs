//! Name IOCs on the wire: DNS lookups of an IOC name (1010), connections to the addresses its
//! answers returned (1011), TLS SNI (1012) and HTTP Host/URL (1013).
//!
//! Runs per packet right after decode, while the frame is still there (the worker's lookahead
//! keeps only the decoded facts), and costs nothing unless the loaded set has names:
//! - DNS is parsed only on port 53 (UDP, and TCP with its length prefix);
//! - TLS and HTTP only on a TCP segment that starts like a ClientHello or a request line (a
//!   young flow's first client payload), or continues a hello being gathered ([`hello`]);
//! - the binding table ([`bindings`]) is probed only while it holds an address.
//!
//! A match leaves a [`Found`] for the packet's own flow; the worker attaches it when it
//! updates that flow ([`Names::attach`]), so the flow gets one alert and one 1003 summary like
//! any match, with exclusions and severity applied downstream. Everything that is skipped is
//! counted in [`NameStats`].

pub mod bindings;
pub mod hello;
pub mod payload;
pub mod shared;

use std::fmt::Write as _;
use std::sync::Arc;

use crate::decode::dns::{self, DnsError, Message, Name, Rdata};
use crate::decode::http::{self, HttpError};
use crate::decode::tls::{self, TlsError};
use crate::decode::{proto, DecodeError, PacketMeta};
use crate::flow::{AlertState, ClientBasis, Flow, FlowKey, FlowMatch, NameMatch, NameVia};
use crate::ioc::{Ioc, IocSet, MatchKind};
use crate::time::{Nanos, NANOS_PER_SEC};

use bindings::{BindingStats, Bindings, MAX_ADDRS_PER_ANSWER};
use hello::{HelloStats, Hellos, Step};
use shared::{Announce, Peers, DRAIN};

const DNS_PORT: u16 = 53;
/// Names followed through one answer's CNAME chain.
const MAX_CHAIN: usize = 8;
/// Longest URL kept in a record (CEF `request`).
pub const MAX_URL: usize = 1024;
/// `ip_len` of an IPv4 TCP segment without payload (20-byte IP and TCP headers).
const MIN_TCP_IP_LEN: u32 = 40;
/// How often (packet time) expired bindings and stale hellos are swept.
const SWEEP: Nanos = NANOS_PER_SEC;

/// The name side of an IOC set. Implemented by [`IocSet`]; a separate trait so the name path
/// is tested against a small set of its own.
pub trait NameIocs {
    /// True when any name or URL IOC is loaded: otherwise the name path does nothing.
    fn has_names(&self) -> bool;
    /// The IOC for a normalised host name (lower case, no trailing dot).
    fn host_ioc(&self, host: &[u8]) -> Option<Arc<Ioc>>;
    /// The IOC for a URL: `host[:port]` as sent and the path.
    fn url_ioc(&self, host: &[u8], path: &[u8]) -> Option<Arc<Ioc>>;
}

impl NameIocs for IocSet {
    #[inline]
    fn has_names(&self) -> bool {
        IocSet::has_names(self)
    }
    fn host_ioc(&self, host: &[u8]) -> Option<Arc<Ioc>> {
        self.match_host(host).map(|n| Arc::clone(&n.ioc))
    }
    fn url_ioc(&self, host: &[u8], path: &[u8]) -> Option<Arc<Ioc>> {
        self.match_url(host, path).map(|n| Arc::clone(&n.ioc))
    }
}

/// Counters of the name path (plain integers, published with the worker's stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameStats {
    pub dns_messages: u64,
    pub dns_errors: [u64; DnsError::ALL.len()],
    /// Answers past [`dns::MAX_ANSWERS`] in one message, not read.
    pub dns_answers_over_limit: u64,
    pub tls_hellos: u64,
    pub tls_errors: [u64; TlsError::ALL.len()],
    pub http_requests: u64,
    pub http_errors: [u64; HttpError::ALL.len()],
    /// Packets whose name matched, by how: lookup, connection, SNI, HTTP (a flow's first such
    /// packet makes its alert; a bound flow hits on each packet).
    pub hits: [u64; 4],
    pub bindings: BindingStats,
    pub hellos: HelloStats,
}

/// Counter labels of [`NameStats::events`], a closed set (the `event` label of
/// `c2tap_name_path_total`).
pub const NAME_EVENTS: [&str; 27] = [
    "dns_message",
    "dns_truncated",
    "dns_bad_label",
    "dns_name_too_long",
    "dns_bad_pointer",
    "dns_not_one_question",
    "dns_bad_tcp_length",
    "dns_answers_over_limit",
    "tls_hello",
    "tls_not_hello",
    "tls_incomplete",
    "tls_bad_length",
    "tls_too_long",
    "http_request",
    "http_not_request",
    "http_no_end",
    "http_bad_host",
    "hit_lookup",
    "hit_connection",
    "hit_sni",
    "hit_http",
    "binding_insert",
    "binding_expired",
    "binding_overflow",
    "binding_answer_overflow",
    "hello_gathered",
    "hello_abandoned",
];

impl NameStats {
    /// Every counter in [`NAME_EVENTS`] order (hellos not gathered for lack of room count as
    /// abandoned), for publishing as metrics.
    pub fn events(&self) -> [u64; NAME_EVENTS.len()] {
        let [t, bl, nl, bp, nq, tl] = self.dns_errors;
        let [nh, inc, blen, tlong] = self.tls_errors;
        let [nr, ne, bh] = self.http_errors;
        let [h0, h1, h2, h3] = self.hits;
        let b = &self.bindings;
        [
            self.dns_messages,
            t,
            bl,
            nl,
            bp,
            nq,
            tl,
            self.dns_answers_over_limit,
            self.tls_hellos,
            nh,
            inc,
            blen,
            tlong,
            self.http_requests,
            nr,
            ne,
            bh,
            h0,
            h1,
            h2,
            h3,
            b.inserts,
            b.expired,
            b.overflow,
            b.answer_overflow,
            self.hellos.started,
            self.hellos.abandoned + self.hellos.overflow,
        ]
    }

    /// The inverse of [`NameStats::events`] (binding table size and hello overflow, not
    /// counters, are left at zero).
    pub fn from_events(e: [u64; NAME_EVENTS.len()]) -> NameStats {
        let [dm, t, bl, nl, bp, nq, tl, over, th, nh, inc, blen, tlong, hr, nr, ne, bh, h0, h1, h2, h3, bi, be, bo, ba, hs, ha] =
            e;
        NameStats {
            dns_messages: dm,
            dns_errors: [t, bl, nl, bp, nq, tl],
            dns_answers_over_limit: over,
            tls_hellos: th,
            tls_errors: [nh, inc, blen, tlong],
            http_requests: hr,
            http_errors: [nr, ne, bh],
            hits: [h0, h1, h2, h3],
            bindings: BindingStats {
                inserts: bi,
                expired: be,
                overflow: bo,
                answer_overflow: ba,
                len: 0,
            },
            hellos: HelloStats {
                started: hs,
                overflow: 0,
                abandoned: ha,
            },
        }
    }

    /// Every counted skip: malformed or bounded-out DNS, TLS and HTTP, answers past the
    /// limit, hellos abandoned or not gathered for lack of room.
    pub fn skips(&self) -> u64 {
        let sum = |a: &[u64]| a.iter().sum::<u64>();
        sum(&self.dns_errors)
            + sum(&self.tls_errors)
            + sum(&self.http_errors)
            + self.dns_answers_over_limit
            + self.hellos.abandoned
            + self.hellos.overflow
    }

    /// The non-zero skip counters as `reason=n` pairs (closed set of reasons).
    pub fn skip_reasons(&self) -> String {
        let mut out = String::new();
        let dns = DnsError::ALL.iter().map(|e| e.kind()).zip(self.dns_errors);
        let tls = TlsError::ALL.iter().map(|e| e.kind()).zip(self.tls_errors);
        let http = HttpError::ALL
            .iter()
            .map(|e| e.kind())
            .zip(self.http_errors);
        let more = [
            ("dns_answers_over_limit", self.dns_answers_over_limit),
            ("tls_hello_abandoned", self.hellos.abandoned),
            ("tls_hello_no_room", self.hellos.overflow),
        ];
        for (kind, n) in dns.chain(tls).chain(http).chain(more) {
            if n > 0 {
                if !out.is_empty() {
                    out.push(' ');
                }
                let _ = write!(out, "{kind}={n}");
            }
        }
        out
    }
}

/// A name match for the packet just decoded, waiting for the worker to update its flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub ioc: Arc<Ioc>,
    pub name: Arc<NameMatch>,
    /// The packet's destination is the server (the IOC side); false when its source is.
    pub server_is_dst: bool,
}

/// Per-worker name state: the binding table, hellos being gathered, the pending match.
#[derive(Default)]
pub struct Names {
    bindings: Bindings,
    hellos: Hellos,
    current: Option<Found>,
    stats: NameStats,
    next_sweep: Nanos,
    /// The other workers of the interface, when there are any ([`shared`]).
    peers: Option<Peers>,
}

impl Names {
    /// Share DNS bindings with the other workers of the interface (live fanout).
    pub fn share(&mut self, peers: Peers) {
        self.peers = Some(peers);
    }

    pub fn stats(&self) -> NameStats {
        NameStats {
            bindings: self.bindings.stats,
            hellos: self.hellos.stats,
            ..self.stats
        }
    }

    /// Look at one decoded packet: its name match, if any. The worker hands it back with
    /// [`Names::arm`] right before it processes that packet (after the frames it holds back),
    /// so [`Names::attach`] gives it to that packet's flow and no other.
    #[inline]
    pub fn inspect(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        frame: &[u8],
        meta: &Result<PacketMeta, DecodeError>,
    ) -> Option<Found> {
        if !set.has_names() {
            return None;
        }
        let Ok(m) = meta else { return None };
        if !m.has_ports || self.skips(m) {
            return None;
        }
        self.inspect_meta(set, ts, frame, m)
    }

    /// The packet cannot match, from what the decoder already knows (no frame read): nothing
    /// is bound, gathered or waiting from a peer, it is not DNS, and it is UDP, a TCP SYN, or a
    /// TCP segment too short to carry payload (`ip_len` ≤ 40: the smallest IPv4 + TCP headers;
    /// an IPv6 one needs 60, so this errs towards looking). The common packet costs these few
    /// branches; [`Names::inspect_meta`] reads the frame for the rest.
    #[inline(always)]
    fn skips(&self, m: &PacketMeta) -> bool {
        let quiet = self.bindings.is_empty()
            && self.hellos.is_empty()
            && !self.peers.as_ref().is_some_and(Peers::waiting);
        let tcp = m.proto == proto::TCP;
        let nothing =
            !tcp || m.tcp_flags & crate::decode::tcp_flags::SYN != 0 || m.ip_len <= MIN_TCP_IP_LEN;
        quiet
            && nothing
            && m.sport != DNS_PORT
            && m.dport != DNS_PORT
            && (tcp || m.proto == proto::UDP)
            || !matches!(m.proto, proto::TCP | proto::UDP)
    }

    /// The match [`Names::inspect`] returned, for the packet about to be processed.
    #[inline]
    pub fn arm(&mut self, found: Option<Found>) {
        self.current = found;
    }

    /// A new IOC set: bindings of names it no longer lists go (their flows would no longer be
    /// C2 connections); hellos being gathered stay (they are matched with the new set).
    pub fn reload(&mut self, set: &impl NameIocs) {
        if self.bindings.is_empty() {
            return;
        }
        self.bindings.retain(|name| set.host_ioc(name.as_bytes()));
    }

    /// The packet just inspected matched a name: its flow is tracked even in alerts-only mode.
    #[inline]
    pub fn pending(&self) -> bool {
        self.current.is_some()
    }

    /// Forget a match nobody took (the packet's flow was not updated).
    #[inline]
    pub fn clear(&mut self) {
        self.current = None;
    }

    #[inline(never)]
    fn inspect_meta(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        frame: &[u8],
        m: &PacketMeta,
    ) -> Option<Found> {
        if self.peers.as_ref().is_some_and(Peers::waiting) {
            self.receive(set);
        }
        if ts >= self.next_sweep {
            self.next_sweep = ts.saturating_add(SWEEP);
            self.bindings.expire(ts);
            self.hellos.sweep(ts);
        }
        if !self.bindings.is_empty() {
            if let Some(found) = self.bound(m, ts) {
                return Some(self.found(found));
            }
        }
        let dns_port = m.sport == DNS_PORT || m.dport == DNS_PORT;
        if !dns_port {
            // TLS and HTTP: TCP only, never a SYN, and (unless a hello is being gathered) only
            // a segment whose first byte can start a ClientHello or a request line — read at
            // fixed offsets on plain Ethernet, the bulk of a span port's traffic.
            if m.proto != proto::TCP || m.tcp_flags & crate::decode::tcp_flags::SYN != 0 {
                return None;
            }
            if self.hellos.is_empty() {
                match payload::first_byte(frame, m) {
                    payload::First::Byte(b) if b == 0x16 || b.is_ascii_uppercase() => {}
                    payload::First::Unknown => {}
                    payload::First::Byte(_) | payload::First::Empty => return None,
                }
            }
        }
        let payload = payload::locate(frame, m)?;
        if payload.bytes.is_empty() {
            return None;
        }
        let found = if dns_port {
            self.dns(set, ts, m, payload.bytes)
        } else {
            self.tcp(set, ts, m, payload)
        };
        found.map(|f| self.found(f))
    }

    /// Take the bindings peers made (at most [`DRAIN`] per packet). A name the current set no
    /// longer lists is not bound; a newer local binding of the address is kept.
    #[cold]
    #[inline(never)]
    fn receive(&mut self, set: &impl NameIocs) {
        let Some(peers) = &self.peers else { return };
        for _ in 0..DRAIN {
            let Some(a) = peers.next() else { break };
            if self
                .bindings
                .answered(a.addr)
                .is_some_and(|t| t >= a.answered)
            {
                continue;
            }
            if let Some(ioc) = set.host_ioc(a.name.as_bytes()) {
                self.bindings
                    .insert(a.addr, &ioc, &a.name, a.answered, a.ttl);
            }
        }
    }

    /// Count a hit by how it matched.
    fn found(&mut self, f: Found) -> Found {
        let via = match f.name.via {
            NameVia::Lookup => 0,
            NameVia::Connection => 1,
            NameVia::Sni => 2,
            NameVia::Http => 3,
        };
        if let Some(c) = self.stats.hits.get_mut(via) {
            *c += 1;
        }
        f
    }

    /// A flow to (or from) an address a name IOC's answer bound, within its TTL.
    fn bound(&self, m: &PacketMeta, ts: Nanos) -> Option<Found> {
        let (b, server_is_dst) = match self.bindings.get(m.dst, ts) {
            Some(b) => (b, true),
            None => (self.bindings.get(m.src, ts)?, false),
        };
        Some(Found {
            ioc: Arc::clone(&b.ioc),
            name: Arc::clone(&b.connection),
            server_is_dst,
        })
    }

    fn dns(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        m: &PacketMeta,
        payload: &[u8],
    ) -> Option<Found> {
        let bytes = if m.proto == proto::TCP {
            match dns::tcp_message(payload) {
                Ok(b) => b,
                Err(e) => return self.dns_error(e),
            }
        } else {
            payload
        };
        let mut qname = Name::default();
        let msg = match Message::parse(bytes, &mut qname) {
            Ok(msg) => msg,
            Err(e) => return self.dns_error(e),
        };
        self.stats.dns_messages += 1;
        if usize::from(msg.answer_count) > dns::MAX_ANSWERS && msg.is_response {
            self.stats.dns_answers_over_limit +=
                u64::from(msg.answer_count) - dns::MAX_ANSWERS as u64;
        }
        // The chain: the question name, then every CNAME target reached from a name in it.
        let mut chain = [Name::default(); MAX_CHAIN];
        let mut chain_len = 1;
        chain[0] = qname;
        let mut ioc = set.host_ioc(qname.as_bytes());
        let mut owner = Name::default();
        let mut target = Name::default();
        if msg.is_response {
            // CNAMEs may come in any order: a few passes reach a fixed point.
            for _ in 0..MAX_CHAIN {
                let before = chain_len;
                for a in msg.answers() {
                    let Ok(a) = a else { break };
                    let Rdata::Cname(at) = a.data else { continue };
                    if msg.name_at(a.name_at, &mut owner).is_err()
                        || msg.name_at(at, &mut target).is_err()
                    {
                        continue;
                    }
                    let in_chain = |n: &Name, chain: &[Name]| chain.iter().any(|c| c == n);
                    if in_chain(&owner, chain.get(..chain_len).unwrap_or(&[]))
                        && !in_chain(&target, chain.get(..chain_len).unwrap_or(&[]))
                    {
                        if let Some(slot) = chain.get_mut(chain_len) {
                            *slot = target;
                            chain_len += 1;
                            if ioc.is_none() {
                                ioc = set.host_ioc(target.as_bytes());
                            }
                        }
                    }
                }
                if chain_len == before {
                    break;
                }
            }
        }
        let ioc = ioc?;
        let host: Arc<str> = Arc::from(String::from_utf8_lossy(qname.as_bytes()));
        let mut answers = String::new();
        let mut ttl = None;
        let mut bound = 0;
        let mut bound_addrs = [std::net::IpAddr::from([0u8; 4]); MAX_ADDRS_PER_ANSWER];
        if msg.is_response {
            for a in msg.answers() {
                let Ok(a) = a else {
                    if let Err(e) = a {
                        self.dns_error(e);
                    }
                    break;
                };
                let Rdata::Addr(addr) = a.data else { continue };
                if msg.name_at(a.name_at, &mut owner).is_err()
                    || !chain.get(..chain_len).unwrap_or(&[]).contains(&owner)
                {
                    continue;
                }
                let seen = bound_addrs.get(..bound).unwrap_or(&[]);
                if seen.contains(&addr) {
                    continue;
                }
                let Some(slot) = bound_addrs.get_mut(bound) else {
                    self.bindings.stats.answer_overflow += 1;
                    continue;
                };
                *slot = addr;
                bound += 1;
                self.bindings.insert(addr, &ioc, &host, ts, a.ttl);
                if let Some(peers) = &self.peers {
                    self.bindings.stats.overflow += peers.announce(&Announce {
                        addr,
                        ioc: Arc::clone(&ioc),
                        name: Arc::clone(&host),
                        answered: ts,
                        ttl: a.ttl,
                    });
                }
                if !answers.is_empty() {
                    answers.push(',');
                }
                let _ = write!(answers, "{addr}");
                ttl = Some(ttl.map_or(a.ttl, |t: u32| t.min(a.ttl)));
            }
        }
        // The client is the query's sender: the response goes to it.
        let server_is_dst = !msg.is_response;
        Some(Found {
            ioc,
            name: Arc::new(NameMatch {
                via: NameVia::Lookup,
                host,
                url: None,
                answers: msg.is_response.then(|| Arc::from(answers)),
                ttl,
                answered: msg.is_response.then_some(ts),
            }),
            server_is_dst,
        })
    }

    fn dns_error(&mut self, e: DnsError) -> Option<Found> {
        if let Some(c) = self.stats.dns_errors.get_mut(e.index()) {
            *c += 1;
        }
        None
    }

    fn tcp(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        m: &PacketMeta,
        p: payload::Payload<'_>,
    ) -> Option<Found> {
        let key = FlowKey::of(m, m.sport, m.dport).0;
        if !self.hellos.is_empty() {
            match self.hellos.extend(&key, p.seq, p.bytes, ts) {
                Step::Unknown => {}
                Step::Ignored | Step::Abandoned => return None,
                Step::Bytes(stream) => {
                    let mut out = [0u8; 255];
                    let r = tls::sni(stream, &mut out);
                    if r == Err(TlsError::Incomplete) {
                        return None; // Still gathering: not a skip.
                    }
                    self.hellos.finish(&key);
                    return self.sni_result(set, r);
                }
            }
        }
        if tls::starts_hello(p.bytes) {
            let mut out = [0u8; 255];
            let r = tls::sni(p.bytes, &mut out);
            if r == Err(TlsError::Incomplete) {
                self.hellos.start(key, p.seq, p.bytes, ts);
                return None;
            }
            return self.sni_result(set, r);
        }
        if http::starts_request(p.bytes) {
            return self.http(set, p.bytes);
        }
        None
    }

    fn sni_result(
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
        let ioc = set.host_ioc(host)?;
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

    fn http(&mut self, set: &impl NameIocs, payload: &[u8]) -> Option<Found> {
        let req = match http::request(payload) {
            Ok(r) => r,
            Err(e) => {
                if let Some(c) = self.stats.http_errors.get_mut(e.index()) {
                    *c += 1;
                }
                return None;
            }
        };
        self.stats.http_requests += 1;
        let raw_host = req.host?;
        let mut buf = [0u8; 255];
        let host = normalise(raw_host, &mut buf);
        let authority = req.authority.unwrap_or(raw_host);
        let authority = authority
            .iter()
            .rposition(|&b| b == b'@')
            .and_then(|at| authority.get(at + 1..))
            .unwrap_or(authority);
        let ioc = set
            .url_ioc(authority, req.path)
            .or_else(|| set.host_ioc(host))?;
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

    /// Attach the packet's name match to its flow (which matched nothing yet). True when it
    /// did: the worker then holds the alert like any new match.
    pub fn attach(&mut self, flow: &mut Flow, from_lo: bool) -> bool {
        let Some(f) = self.current.take() else {
            return false;
        };
        if f.name.via == NameVia::Connection && f.name.answered.is_some_and(|t| flow.first < t) {
            // The flow was open before the answer: not a connection the answer led to.
            return false;
        }
        let server_is_lo = f.server_is_dst != from_lo;
        if flow.basis == ClientBasis::Inferred {
            flow.client_is_lo = !server_is_lo;
        }
        flow.matched = Some(FlowMatch {
            kind: MatchKind::Exact,
            ioc: f.ioc,
            ioc_is_lo: server_is_lo,
        });
        flow.name = Some(f.name);
        true
    }

    /// A DNS answer for a lookup whose flow already matched: the answers join its match (and
    /// its still pending 1010 leaves with them).
    pub fn update(&mut self, flow: &mut Flow) {
        let Some(f) = self.current.take() else {
            return;
        };
        if let Some(old) = &flow.name {
            if old.via == NameVia::Lookup
                && f.name.via == NameVia::Lookup
                && old.answered.is_none()
                && f.name.answered.is_some()
            {
                flow.name = Some(f.name);
            }
        }
    }
}

/// A 1010 alert waits for the DNS answer (or the hold-down) so it reports the answers.
pub fn awaits_answer(flow: &Flow) -> bool {
    flow.alert == AlertState::Pending
        && flow
            .name
            .as_ref()
            .is_some_and(|n| n.via == NameVia::Lookup && n.answered.is_none())
}

/// Lower-case, trailing dot dropped: how name IOCs are kept.
fn normalise<'o>(name: &[u8], out: &'o mut [u8; 255]) -> &'o [u8] {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let n = name.len().min(out.len());
    for (o, b) in out.iter_mut().zip(name.iter().take(n)) {
        *o = b.to_ascii_lowercase();
    }
    out.get(..n).unwrap_or(&[])
}

#[cfg(test)]
mod tests;
