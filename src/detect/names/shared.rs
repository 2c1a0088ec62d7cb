//! DNS bindings shared by the workers of one interface. AF_PACKET fanout hashes flows, so the
//! DNS answer and the connection it leads to (two flows) often reach different workers.
//!
//! Each worker keeps its own [`Bindings`](super::bindings::Bindings) (lock-free reads: the
//! per-packet path probes only its own table) and announces every binding it makes to each
//! peer through a bounded lock-free channel (crossbeam's array flavour). A worker drains its
//! inbox at the start of the name path, which on an empty inbox is two atomic loads.
//!
//! Bounds: an inbox holds [`INBOX`] announcements; one DNS answer sends at most
//! [`MAX_ADDRS_PER_ANSWER`](super::bindings::MAX_ADDRS_PER_ANSWER) per peer; a full inbox drops
//! the announcement and counts it (`binding_overflow`). A packet drains at most [`DRAIN`].

use std::net::IpAddr;
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::ioc::Ioc;
use crate::time::Nanos;

/// Announcements one worker's inbox holds (each about 48 bytes).
pub const INBOX: usize = 4096;
/// Announcements one packet drains (the rest wait for the next packets).
pub const DRAIN: usize = 64;

/// A binding one worker made, for its peers.
#[derive(Clone, Debug)]
pub struct Announce {
    pub addr: IpAddr,
    pub ioc: Arc<Ioc>,
    pub name: Arc<str>,
    pub answered: Nanos,
    pub ttl: u32,
}

/// One worker's end of the sharing: its inbox and its peers' inboxes.
pub struct Peers {
    inbox: Receiver<Announce>,
    peers: Vec<Sender<Announce>>,
}

/// The ends for `workers` workers (index = worker id).
pub fn share(workers: usize) -> Vec<Peers> {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..workers).map(|_| bounded(INBOX)).unzip();
    rxs.into_iter()
        .enumerate()
        .map(|(me, inbox)| Peers {
            inbox,
            peers: txs
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != me)
                .map(|(_, tx)| tx.clone())
                .collect(),
        })
        .collect()
}

impl Peers {
    /// Tell every peer; returns how many announcements were dropped (inbox full or peer gone).
    pub fn announce(&self, a: &Announce) -> u64 {
        let mut lost = 0;
        for tx in &self.peers {
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                tx.try_send(a.clone())
            {
                lost += 1;
            }
        }
        lost
    }

    /// True when the inbox holds announcements (two atomic loads).
    #[inline]
    pub fn waiting(&self) -> bool {
        !self.inbox.is_empty()
    }

    /// The next announcement waiting, if any (never blocks).
    #[inline]
    pub fn next(&self) -> Option<Announce> {
        self.inbox.try_recv().ok()
    }
}
