//! The DNS binding table: which addresses a DNS answer for a name IOC returned, until when.
//! A later flow to such an address is "C2 connection via domain" (1011) even though no feed
//! lists the address.
//!
//! One per worker, fed by its own DNS answers and by its peers' ([`super::shared`]); bounded: at most [`MAX_BINDINGS`] addresses, at most
//! [`MAX_ADDRS_PER_ANSWER`] addresses taken from one answer; each TTL clamped to
//! [[`TTL_MIN`], [`TTL_MAX`]] seconds. Expired entries leave first (a min-heap on expiry); a full
//! table of live entries drops the one expiring soonest. Every insert, expiry and overflow is
//! counted.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use crate::flow::{NameMatch, NameVia};
use crate::ioc::Ioc;
use crate::time::{Nanos, NANOS_PER_SEC};

/// Most bound addresses per worker (about 100 bytes each).
pub const MAX_BINDINGS: usize = 16_384;
/// Most addresses one answer binds (round-robin sets are smaller; more is counted).
pub const MAX_ADDRS_PER_ANSWER: usize = 16;
/// Shortest binding in seconds: a TTL of 0 or 5 still covers the connection that follows.
pub const TTL_MIN: u32 = 30;
/// Longest binding in seconds: a week-long TTL does not keep an address bound all week.
pub const TTL_MAX: u32 = 86_400;

/// Counters of the binding table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindingStats {
    pub inserts: u64,
    /// Entries that left because their (clamped) TTL ran out.
    pub expired: u64,
    /// Live entries dropped because the table was full, and announcements to a peer worker
    /// dropped because its inbox was full ([`super::shared`]).
    pub overflow: u64,
    /// Addresses past [`MAX_ADDRS_PER_ANSWER`] in one answer, not bound.
    pub answer_overflow: u64,
    pub len: u64,
    /// Flows created before a peer's binding arrived, matched when it did
    /// ([`super::recent`]).
    pub late: u64,
    /// Scans of the recent flows for peer bindings (at most one per batch taken), and the
    /// entries they looked at (at most [`RECENT`](super::recent::RECENT) each).
    pub late_scans: u64,
    pub late_visited: u64,
}

/// What an address is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub ioc: Arc<Ioc>,
    /// The name IOC the answer was for (the start of a CNAME chain).
    pub name: Arc<str>,
    pub answered: Nanos,
    /// TTL as sent.
    pub ttl: u32,
    pub expires: Nanos,
    /// What a flow to this address reports (1011), made once here so matching the flow's
    /// packets allocates nothing.
    pub connection: Arc<NameMatch>,
    seq: u64,
}

#[derive(Default)]
pub struct Bindings {
    map: HashMap<IpAddr, Binding, foldhash::fast::RandomState>,
    heap: BinaryHeap<Reverse<(Nanos, u64, IpAddr)>>,
    seq: u64,
    pub stats: BindingStats,
}

/// `ttl` clamped to [[`TTL_MIN`], [`TTL_MAX`]], in nanoseconds.
pub fn clamped(ttl: u32) -> Nanos {
    Nanos::from(ttl.clamp(TTL_MIN, TTL_MAX)) * NANOS_PER_SEC
}

impl Bindings {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live binding of `addr` at `now`.
    #[inline]
    pub fn get(&self, addr: IpAddr, now: Nanos) -> Option<&Binding> {
        self.map
            .get(&addr)
            .filter(|b| b.expires > now && b.answered <= now)
    }

    /// The binding of either endpoint at `now`, `first` tried first; true when it is `first`'s
    /// (that endpoint is the server, the IOC side).
    #[inline]
    pub fn either(&self, first: IpAddr, second: IpAddr, now: Nanos) -> Option<(&Binding, bool)> {
        match self.get(first, now) {
            Some(b) => Some((b, true)),
            None => self.get(second, now).map(|b| (b, false)),
        }
    }

    /// When the binding of `addr` (live or not yet swept) was answered.
    #[inline]
    pub fn answered(&self, addr: IpAddr) -> Option<Nanos> {
        self.map.get(&addr).map(|b| b.answered)
    }

    pub fn insert(&mut self, addr: IpAddr, ioc: &Arc<Ioc>, name: &Arc<str>, now: Nanos, ttl: u32) {
        if !self.map.contains_key(&addr) && self.map.len() >= MAX_BINDINGS {
            self.expire(now);
            while self.map.len() >= MAX_BINDINGS {
                let Some(Reverse((_, seq, old))) = self.heap.pop() else {
                    break;
                };
                if self.map.get(&old).is_some_and(|b| b.seq == seq) {
                    self.map.remove(&old);
                    self.stats.overflow += 1;
                }
            }
        }
        self.seq += 1;
        let expires = now.saturating_add(clamped(ttl));
        self.map.insert(
            addr,
            Binding {
                ioc: Arc::clone(ioc),
                name: Arc::clone(name),
                answered: now,
                ttl,
                expires,
                connection: Arc::new(NameMatch {
                    via: NameVia::Connection,
                    host: Arc::clone(name),
                    url: None,
                    answers: Some(Arc::from(addr.to_string())),
                    ttl: Some(ttl),
                    answered: Some(now),
                }),
                seq: self.seq,
            },
        );
        self.heap.push(Reverse((expires, self.seq, addr)));
        self.stats.inserts += 1;
        if self.heap.len() > 2 * MAX_BINDINGS {
            // Refreshed addresses leave stale heap entries: rebuild from the live ones.
            self.heap = self
                .map
                .iter()
                .map(|(a, b)| Reverse((b.expires, b.seq, *a)))
                .collect();
        }
        self.stats.len = self.map.len() as u64;
    }

    /// Keep only the bindings whose name `keep` still accepts (a reload removed the others'
    /// IOC); the new IOC's metadata replaces the old for the ones kept.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> Option<Arc<Ioc>>) {
        let before = self.map.len();
        self.map.retain(|_, b| match keep(&b.name) {
            Some(ioc) => {
                b.ioc = ioc;
                true
            }
            None => false,
        });
        self.stats.expired += (before - self.map.len()) as u64;
        self.stats.len = self.map.len() as u64;
    }

    /// Drop every binding whose TTL ran out by `now`.
    pub fn expire(&mut self, now: Nanos) {
        while let Some(&Reverse((expires, seq, addr))) = self.heap.peek() {
            if expires > now {
                break;
            }
            self.heap.pop();
            if self.map.get(&addr).is_some_and(|b| b.seq == seq) {
                self.map.remove(&addr);
                self.stats.expired += 1;
            }
        }
        self.stats.len = self.map.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ioc() -> Arc<Ioc> {
        crate::detect::names::tests::ioc("c2.example.org")
    }

    #[test]
    fn ttl_is_clamped_and_bindings_expire() {
        let (ioc, name) = (ioc(), Arc::<str>::from("c2.example.org"));
        let mut b = Bindings::default();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        b.insert(a, &ioc, &name, NANOS_PER_SEC, 0);
        assert!(b.get(a, 30 * NANOS_PER_SEC).is_some());
        assert!(b.get(a, 31 * NANOS_PER_SEC).is_none());
        b.expire(31 * NANOS_PER_SEC);
        assert_eq!((b.stats.expired, b.stats.len), (1, 0));
        b.insert(a, &ioc, &name, 0, u32::MAX);
        assert!(b.get(a, Nanos::from(TTL_MAX) * NANOS_PER_SEC - 1).is_some());
        assert!(b.get(a, Nanos::from(TTL_MAX) * NANOS_PER_SEC).is_none());
    }

    #[test]
    fn a_full_table_drops_the_soonest_expiring() {
        let (ioc, name) = (ioc(), Arc::<str>::from("x"));
        let mut b = Bindings::default();
        for i in 0..MAX_BINDINGS as u32 + 10 {
            let addr = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            b.insert(addr, &ioc, &name, 0, 100 + i);
        }
        assert_eq!(b.map.len(), MAX_BINDINGS);
        assert_eq!(b.stats.overflow, 10);
        assert!(b.get("10.0.0.0".parse().unwrap(), 1).is_none());
        assert!(b
            .get(IpAddr::from((0x0a00_0000u32 + 10).to_be_bytes()), 1)
            .is_some());
        // Refreshing one address many times keeps the heap bounded.
        for t in 0..3 * MAX_BINDINGS as u64 {
            b.insert("10.0.0.20".parse().unwrap(), &ioc, &name, t, 100);
        }
        assert!(b.heap.len() <= 2 * MAX_BINDINGS + 1);
    }
}
