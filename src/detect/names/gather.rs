//! First client payloads that span segments: a young TCP flow's first segment that starts a
//! TLS ClientHello ending before its SNI, or an HTTP/1.x request whose head (request line up
//! to `Host`) is cut short, is kept until the rest is in. One mechanism and one set of bounds
//! for both kinds, so a client (or an attacker who knows the limits) gains nothing by
//! splitting its first write: at most [`MAX_SEGMENTS`] segments and [`MAX_GATHER`] bytes, in
//! sequence order (a retransmission is ignored, a gap abandons), within [`GATHER_WINDOW`] of
//! the first segment. Bounded to [`MAX_PENDING`] flows per worker (both kinds together);
//! buffers are reused, so after warm-up nothing is allocated. Counted per kind.

use std::collections::HashMap;

use crate::decode::{http, tls};
use crate::flow::FlowKey;
use crate::time::{Nanos, NANOS_PER_SEC};

/// Most segments a first payload is gathered from.
pub const MAX_SEGMENTS: u8 = 4;
/// Most flows with a first payload being gathered per worker.
pub const MAX_PENDING: usize = 256;
/// How long after its first segment a first payload may still complete (the flow is young).
pub const GATHER_WINDOW: Nanos = 5 * NANOS_PER_SEC;
/// Most bytes gathered: what the parsers read of a first payload, whichever is longer.
pub const MAX_GATHER: usize = if tls::MAX_HELLO > http::MAX_REQUEST {
    tls::MAX_HELLO
} else {
    http::MAX_REQUEST
};

/// What is being gathered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A TLS ClientHello (its SNI, 1012).
    Hello = 0,
    /// An HTTP/1.x request head (its Host and URL, 1013).
    Request = 1,
}

struct Pending {
    buf: Box<[u8; MAX_GATHER]>,
    kind: Kind,
    len: usize,
    next_seq: u32,
    segments: u8,
    started: Nanos,
}

/// Counters of gathering, indexed by [`Kind`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatherStats {
    pub started: [u64; 2],
    /// No room for another flow: its first payload is not gathered.
    pub overflow: [u64; 2],
    /// Gave up: a gap in sequence, too many segments, or too old.
    pub abandoned: [u64; 2],
}

/// What a segment did to a gathered payload.
pub enum Step<'a> {
    /// Not a flow whose first payload is being gathered.
    Unknown,
    /// A retransmission: nothing changed.
    Ignored,
    /// The bytes so far, this segment included.
    Bytes(Kind, &'a [u8]),
    /// Gathering ended without a complete payload (counted).
    Abandoned,
}

#[derive(Default)]
pub struct Gather {
    map: HashMap<FlowKey, Pending, foldhash::fast::RandomState>,
    /// Buffers of finished payloads, reused: they move between here and `map` as pointers.
    #[allow(clippy::vec_box)]
    free: Vec<Box<[u8; MAX_GATHER]>>,
    pub stats: GatherStats,
}

impl Gather {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Start gathering `key`'s first payload of `kind` with its first segment.
    pub fn start(&mut self, key: FlowKey, kind: Kind, seq: u32, first: &[u8], now: Nanos) {
        let k = kind as usize;
        if self.map.len() >= MAX_PENDING {
            self.sweep(now);
            if self.map.len() >= MAX_PENDING {
                if let Some(c) = self.stats.overflow.get_mut(k) {
                    *c += 1;
                }
                return;
            }
        }
        let mut buf = self.free.pop().unwrap_or_else(|| Box::new([0; MAX_GATHER]));
        let len = first.len().min(MAX_GATHER);
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), first.get(..len)) {
            dst.copy_from_slice(src);
        }
        if let Some(c) = self.stats.started.get_mut(k) {
            *c += 1;
        }
        self.map.insert(
            key,
            Pending {
                buf,
                kind,
                len,
                next_seq: seq.wrapping_add(len as u32),
                segments: 1,
                started: now,
            },
        );
    }

    /// Add a segment of `key`'s flow.
    pub fn extend(&mut self, key: &FlowKey, seq: u32, bytes: &[u8], now: Nanos) -> Step<'_> {
        let Some(p) = self.map.get_mut(key) else {
            return Step::Unknown;
        };
        let ahead = seq.wrapping_sub(p.next_seq);
        if ahead != 0 && ahead > u32::MAX / 2 {
            return Step::Ignored; // Behind: a retransmission.
        }
        if ahead != 0
            || p.segments >= MAX_SEGMENTS
            || p.len >= MAX_GATHER
            || now.saturating_sub(p.started) > GATHER_WINDOW
        {
            let k = p.kind as usize;
            self.finish(key);
            if let Some(c) = self.stats.abandoned.get_mut(k) {
                *c += 1;
            }
            return Step::Abandoned;
        }
        let take = bytes.len().min(MAX_GATHER - p.len);
        if let (Some(dst), Some(src)) = (p.buf.get_mut(p.len..p.len + take), bytes.get(..take)) {
            dst.copy_from_slice(src);
        }
        p.len += take;
        p.segments += 1;
        p.next_seq = p.next_seq.wrapping_add(bytes.len() as u32);
        match self.map.get(key) {
            Some(p) => Step::Bytes(p.kind, p.buf.get(..p.len).unwrap_or(&[])),
            None => Step::Unknown,
        }
    }

    /// The payload is complete (or hopeless): forget it, keep its buffer for the next.
    pub fn finish(&mut self, key: &FlowKey) {
        if let Some(p) = self.map.remove(key) {
            self.free.push(p.buf);
        }
    }

    /// Give up on payloads older than [`GATHER_WINDOW`] (their buffers are dropped; sweeps
    /// run at most once a second).
    pub fn sweep(&mut self, now: Nanos) {
        let abandoned = &mut self.stats.abandoned;
        self.map.retain(|_, p| {
            let keep = now.saturating_sub(p.started) <= GATHER_WINDOW;
            if !keep {
                if let Some(c) = abandoned.get_mut(p.kind as usize) {
                    *c += 1;
                }
            }
            keep
        });
    }
}
