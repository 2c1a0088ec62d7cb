//! What the name path saw that matched nothing, kept so a later IOC set can still report it
//! (issue 17): a feed may add a C2 domain an hour after the implant opened its one long-lived
//! TLS connection, and that connection will never send another ClientHello.
//!
//! Two rings per worker, filled only while the loaded set holds name IOCs:
//! - [`Client`]: the last [`CLIENT_RING`] TLS SNI / HTTP requests that matched nothing — the
//!   flow key, the packet time (the flow that sent it started at or before it), the normalised
//!   host and, for HTTP, the request's authority and path (at most [`MAX_TARGET`] bytes);
//! - [`Lookup`]: the last [`DNS_RING`] DNS queries and answers that matched nothing — the lookup's
//!   flow key, the packet time, the question name and the CNAME targets its answer reached (at
//!   most [`MAX_NAMES`] bytes), and up to [`MAX_ADDRS`] A/AAAA addresses with their TTLs.
//!
//! Each ring is one allocation made at its first entry and then reused: a new entry overwrites
//! the oldest (counted in `seen_overwritten`), and writing one copies at most its fixed size.
//! An attacker sending names can only rotate the rings (and push a real name out of them):
//! the documented bound is "the last 4,096 names per worker".

use std::net::{IpAddr, Ipv4Addr};

use crate::decode::dns::{Message, Name, Rdata};
use crate::flow::FlowKey;
use crate::time::Nanos;

/// Client names (TLS SNI, HTTP requests) kept per worker.
pub const CLIENT_RING: usize = 4096;
/// DNS queries and answers kept per worker.
pub const DNS_RING: usize = 4096;
/// Longest host kept: longer ones cannot be a name IOC.
pub const MAX_HOST: usize = 253;
/// Most bytes of an HTTP request's authority and path kept; a longer request can still
/// retro-match a host IOC (its URL reported cut), never a URL IOC.
pub const MAX_TARGET: usize = 256;
/// Bytes for the question name and its CNAME targets (each with a length byte); targets past
/// it are not kept.
pub const MAX_NAMES: usize = 384;
/// Addresses kept from one answer.
pub const MAX_ADDRS: usize = 8;

/// Counters of the rings and of what they retro-matched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeenStats {
    /// Entries that replaced an older one (ring churn).
    pub overwritten: u64,
    /// Open flows reported at a reload from these rings (1010-1013).
    pub retro: u64,
}

const NO_KEY: FlowKey = FlowKey {
    lo_addr: 0,
    hi_addr: 0,
    lo_port: 0,
    hi_port: 0,
    proto: 0,
    vlan: 0,
    vni: 0,
};

/// A TLS SNI or HTTP request that matched nothing.
pub(super) struct Client {
    pub key: FlowKey,
    pub at: Nanos,
    pub server_is_lo: bool,
    pub http: bool,
    /// The whole authority and path fit in `target`.
    pub whole: bool,
    host_len: u8,
    authority_len: u16,
    target_len: u16,
    host: [u8; MAX_HOST],
    target: [u8; MAX_TARGET],
}

impl Client {
    const EMPTY: Client = Client {
        key: NO_KEY,
        at: 0,
        server_is_lo: false,
        http: false,
        whole: false,
        host_len: 0,
        authority_len: 0,
        target_len: 0,
        host: [0; MAX_HOST],
        target: [0; MAX_TARGET],
    };

    pub fn host(&self) -> &[u8] {
        self.host.get(..usize::from(self.host_len)).unwrap_or(&[])
    }

    /// The request's `host[:port]` (user info dropped) and its path, as far as kept.
    pub fn authority_path(&self) -> (&[u8], &[u8]) {
        let t = self
            .target
            .get(..usize::from(self.target_len))
            .unwrap_or(&[]);
        let cut = usize::from(self.authority_len).min(t.len());
        t.split_at(cut)
    }
}

/// A DNS query or answer that matched nothing.
pub(super) struct Lookup {
    pub key: FlowKey,
    pub at: Nanos,
    pub server_is_lo: bool,
    pub response: bool,
    names_len: u16,
    n_addrs: u8,
    /// The question name, then the CNAME targets, each after its length byte.
    names: [u8; MAX_NAMES],
    addrs: [IpAddr; MAX_ADDRS],
    ttls: [u32; MAX_ADDRS],
}

impl Lookup {
    const EMPTY: Lookup = Lookup {
        key: NO_KEY,
        at: 0,
        server_is_lo: false,
        response: false,
        names_len: 0,
        n_addrs: 0,
        names: [0; MAX_NAMES],
        addrs: [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_ADDRS],
        ttls: [0; MAX_ADDRS],
    };

    /// The question name first, then the chain's targets.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.names.get(..usize::from(self.names_len)).unwrap_or(&[]);
        std::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (name, tail) = tail.split_at_checked(usize::from(len))?;
            rest = tail;
            Some(name)
        })
    }

    pub fn qname(&self) -> &[u8] {
        self.names().next().unwrap_or(&[])
    }

    /// The answer's addresses and their TTLs.
    pub fn answers(&self) -> impl Iterator<Item = (IpAddr, u32)> + '_ {
        self.addrs
            .iter()
            .copied()
            .zip(self.ttls.iter().copied())
            .take(usize::from(self.n_addrs))
    }

    fn push_name(&mut self, name: &[u8]) {
        let at = usize::from(self.names_len);
        let Ok(len) = u8::try_from(name.len()) else {
            return;
        };
        let Some(slot) = self.names.get_mut(at..at + 1 + name.len()) else {
            return;
        };
        if let Some((first, rest)) = slot.split_first_mut() {
            *first = len;
            rest.copy_from_slice(name);
            self.names_len += u16::from(len) + 1;
        }
    }
}

/// A fixed-size ring: one allocation at the first entry, then the oldest slot is reused.
pub(super) struct Ring<T> {
    slots: Vec<T>,
    cap: usize,
    next: usize,
}

impl<T> Ring<T> {
    fn new(cap: usize) -> Ring<T> {
        Ring {
            slots: Vec::new(),
            cap,
            next: 0,
        }
    }

    /// The slot for a new entry (the oldest one once full) and whether it held an entry.
    fn slot(&mut self, empty: impl FnOnce() -> T) -> Option<(&mut T, bool)> {
        if self.slots.len() < self.cap {
            if self.slots.capacity() == 0 {
                self.slots.reserve_exact(self.cap);
            }
            self.slots.push(empty());
            return self.slots.last_mut().map(|s| (s, false));
        }
        let i = self.next;
        self.next = (i + 1) % self.cap.max(1);
        self.slots.get_mut(i).map(|s| (s, true))
    }

    /// Entries, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &T> {
        let (old, new) = self.slots.split_at(self.next.min(self.slots.len()));
        old.iter().rev().chain(new.iter().rev())
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Bytes the ring holds (allocated once).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<T>()
    }
}

/// Where the packet being inspected belongs: set before its payload is parsed.
#[derive(Clone, Copy)]
struct Context {
    key: FlowKey,
    at: Nanos,
    server_is_lo: bool,
}

/// The two rings of one worker.
pub struct Seen {
    pub(super) clients: Ring<Client>,
    pub(super) lookups: Ring<Lookup>,
    context: Option<Context>,
    pub stats: SeenStats,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            clients: Ring::new(CLIENT_RING),
            lookups: Ring::new(DNS_RING),
            context: None,
            stats: SeenStats::default(),
        }
    }
}

impl Seen {
    /// A set without names: the rings go (their memory with them); they are made again at the
    /// first entry of a set that has names. Counters stay.
    pub fn release(&mut self) {
        *self = Seen {
            stats: self.stats,
            ..Seen::default()
        };
    }

    /// The TCP segment about to be parsed for a hello or a request: its flow and time.
    #[inline]
    pub(super) fn at(&mut self, key: FlowKey, server_is_lo: bool, at: Nanos) {
        self.context = Some(Context {
            key,
            at,
            server_is_lo,
        });
    }

    fn client(&mut self, host: &[u8]) -> Option<&mut Client> {
        let cx = self.context.take()?;
        let len = u8::try_from(host.len())
            .ok()
            .filter(|&l| usize::from(l) <= MAX_HOST)?;
        let (slot, old) = self.clients.slot(|| Client::EMPTY)?;
        self.stats.overwritten += u64::from(old);
        slot.key = cx.key;
        slot.at = cx.at;
        slot.server_is_lo = cx.server_is_lo;
        slot.http = false;
        slot.whole = true;
        slot.host_len = len;
        slot.host.get_mut(..host.len())?.copy_from_slice(host);
        slot.authority_len = 0;
        slot.target_len = 0;
        Some(slot)
    }

    /// A ClientHello whose (normalised) SNI matched nothing.
    pub(super) fn sni(&mut self, host: &[u8]) {
        self.client(host);
    }

    /// An HTTP request whose host and URL matched nothing.
    pub(super) fn http(&mut self, host: &[u8], authority: &[u8], path: &[u8]) {
        let Some(slot) = self.client(host) else {
            return;
        };
        slot.http = true;
        let a = authority.len().min(MAX_TARGET);
        let p = path.len().min(MAX_TARGET - a);
        slot.whole = a == authority.len() && p == path.len();
        if let (Some(da), Some(sa)) = (slot.target.get_mut(..a), authority.get(..a)) {
            da.copy_from_slice(sa);
        }
        if let (Some(dp), Some(sp)) = (slot.target.get_mut(a..a + p), path.get(..p)) {
            dp.copy_from_slice(sp);
        }
        slot.authority_len = a as u16;
        slot.target_len = (a + p) as u16;
    }

    /// A DNS message whose names matched nothing: the question and chain, and (for an
    /// answer) the addresses the chain's names were given.
    pub(super) fn lookup(
        &mut self,
        (key, server_is_lo, at): (FlowKey, bool, Nanos),
        msg: &Message<'_>,
        chain: &[Name],
    ) {
        let Some((slot, old)) = self.lookups.slot(|| Lookup::EMPTY) else {
            return;
        };
        self.stats.overwritten += u64::from(old);
        slot.key = key;
        slot.at = at;
        slot.server_is_lo = server_is_lo;
        slot.response = msg.is_response;
        slot.names_len = 0;
        slot.n_addrs = 0;
        for name in chain {
            slot.push_name(name.as_bytes());
        }
        if !msg.is_response {
            return;
        }
        let mut owner = Name::default();
        for a in msg.answers() {
            let Ok(a) = a else { break };
            let Rdata::Addr(addr) = a.data else { continue };
            if msg.name_at(a.name_at, &mut owner).is_err() || !chain.contains(&owner) {
                continue;
            }
            let n = usize::from(slot.n_addrs);
            if slot.addrs.get(..n).unwrap_or(&[]).contains(&addr) {
                continue;
            }
            let (Some(s), Some(t)) = (slot.addrs.get_mut(n), slot.ttls.get_mut(n)) else {
                break;
            };
            (*s, *t) = (addr, a.ttl);
            slot.n_addrs += 1;
        }
    }

    /// Bytes both rings hold.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.clients.bytes() + self.lookups.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_is_one_allocation_and_counts_what_it_overwrites() {
        let mut r: Ring<u32> = Ring::new(4);
        for i in 0..10u32 {
            let (s, _) = r.slot(|| 0).unwrap();
            *s = i;
        }
        assert_eq!(r.len(), 4);
        assert_eq!(r.slots.capacity(), 4, "allocated once, exactly");
        assert_eq!(r.newest_first().copied().collect::<Vec<_>>(), [9, 8, 7, 6]);
        let mut rec = Seen::default();
        for i in 0..CLIENT_RING + 5 {
            rec.at(NO_KEY, false, i as Nanos);
            rec.sni(b"a.example");
        }
        assert_eq!(rec.clients.len(), CLIENT_RING);
        assert_eq!(rec.stats.overwritten, 5);
        assert_eq!(
            rec.clients.newest_first().next().unwrap().at,
            (CLIENT_RING + 4) as Nanos
        );
        // Without a context (no TCP segment being parsed) nothing is written.
        rec.sni(b"b.example");
        assert_eq!(rec.stats.overwritten, 5);
        // A set without names frees the rings and keeps the counters.
        assert!(rec.bytes() > 0);
        rec.release();
        assert_eq!(
            (rec.bytes(), rec.clients.len(), rec.stats.overwritten),
            (0, 0, 5)
        );
    }

    #[test]
    fn entries_are_bounded_and_memory_is_fixed() {
        let mut rec = Seen::default();
        rec.at(NO_KEY, false, 1);
        rec.sni(&[b'a'; MAX_HOST + 1]);
        assert_eq!(
            rec.clients.len(),
            0,
            "a host too long for any IOC is not kept"
        );
        rec.at(NO_KEY, false, 1);
        let path = [b'/'; 400];
        rec.http(b"c2.example", b"c2.example:8080", &path);
        let c = rec.clients.newest_first().next().unwrap();
        let (auth, p) = c.authority_path();
        assert_eq!(
            (auth, p.len(), c.whole),
            (&b"c2.example:8080"[..], MAX_TARGET - 15, false)
        );
        assert!(
            std::mem::size_of::<Client>() <= 576,
            "{}",
            std::mem::size_of::<Client>()
        );
        assert!(
            std::mem::size_of::<Lookup>() <= 640,
            "{}",
            std::mem::size_of::<Lookup>()
        );
        // Measured: both rings full take this many bytes per worker.
        for _ in 0..DNS_RING {
            rec.lookups.slot(|| Lookup::EMPTY);
        }
        assert_eq!(rec.bytes(), 4_915_200);
    }

    #[test]
    fn lookup_names_stop_at_their_buffer() {
        let mut l = Lookup::EMPTY;
        for _ in 0..3 {
            l.push_name(&[b'x'; 200]);
        }
        assert_eq!(
            l.names().count(),
            1,
            "a second 200-byte name does not fit in 384"
        );
        l.push_name(b"cdn.example");
        assert_eq!(l.names().collect::<Vec<_>>()[1], b"cdn.example");
    }
}
