//! ClientHellos that span segments: the first client bytes of a young TCP flow whose first
//! segment starts a hello but ends before its SNI, kept until the SNI is in (at most
//! [`MAX_SEGMENTS`] segments and [`MAX_HELLO`] bytes, in sequence order, within
//! [`HELLO_WINDOW`] of the first segment). Bounded to [`MAX_PENDING`] flows per worker; buffers
//! are reused, so after warm-up nothing is allocated.

use std::collections::HashMap;

use crate::decode::tls::MAX_HELLO;
use crate::flow::FlowKey;
use crate::time::{Nanos, NANOS_PER_SEC};

/// Most segments a hello is gathered from.
pub const MAX_SEGMENTS: u8 = 4;
/// Most flows with a hello being gathered per worker.
pub const MAX_PENDING: usize = 256;
/// How long after its first segment a hello may still complete (the flow is young).
pub const HELLO_WINDOW: Nanos = 5 * NANOS_PER_SEC;

struct Pending {
    buf: Box<[u8; MAX_HELLO]>,
    len: usize,
    next_seq: u32,
    segments: u8,
    started: Nanos,
}

/// Counters of hello gathering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HelloStats {
    pub started: u64,
    /// No room for another flow: its hello is not gathered.
    pub overflow: u64,
    /// Gave up: a gap in sequence, too many segments, or too old.
    pub abandoned: u64,
}

/// What a segment did to a gathered hello.
pub enum Step<'a> {
    /// Not a flow whose hello is being gathered.
    Unknown,
    /// A retransmission or an out-of-order segment: nothing changed.
    Ignored,
    /// The bytes so far, this segment included.
    Bytes(&'a [u8]),
    /// Gathering ended without a complete hello (counted).
    Abandoned,
}

#[derive(Default)]
pub struct Hellos {
    map: HashMap<FlowKey, Pending, foldhash::fast::RandomState>,
    /// Buffers of finished hellos, reused: they move between here and `map` as pointers.
    #[allow(clippy::vec_box)]
    free: Vec<Box<[u8; MAX_HELLO]>>,
    pub stats: HelloStats,
}

impl Hellos {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Start gathering `key`'s hello with its first segment.
    pub fn start(&mut self, key: FlowKey, seq: u32, first: &[u8], now: Nanos) {
        if self.map.len() >= MAX_PENDING {
            self.sweep(now);
            if self.map.len() >= MAX_PENDING {
                self.stats.overflow += 1;
                return;
            }
        }
        let mut buf = self.free.pop().unwrap_or_else(|| Box::new([0; MAX_HELLO]));
        let len = first.len().min(MAX_HELLO);
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), first.get(..len)) {
            dst.copy_from_slice(src);
        }
        self.stats.started += 1;
        self.map.insert(
            key,
            Pending {
                buf,
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
            || p.len >= MAX_HELLO
            || now.saturating_sub(p.started) > HELLO_WINDOW
        {
            self.finish(key);
            self.stats.abandoned += 1;
            return Step::Abandoned;
        }
        let take = bytes.len().min(MAX_HELLO - p.len);
        if let (Some(dst), Some(src)) = (p.buf.get_mut(p.len..p.len + take), bytes.get(..take)) {
            dst.copy_from_slice(src);
        }
        p.len += take;
        p.segments += 1;
        p.next_seq = p.next_seq.wrapping_add(bytes.len() as u32);
        match self.map.get(key) {
            Some(p) => Step::Bytes(p.buf.get(..p.len).unwrap_or(&[])),
            None => Step::Unknown,
        }
    }

    /// The hello is complete (or hopeless): forget it, keep its buffer for the next.
    pub fn finish(&mut self, key: &FlowKey) {
        if let Some(p) = self.map.remove(key) {
            self.free.push(p.buf);
        }
    }

    /// Give up on hellos older than [`HELLO_WINDOW`] (their buffers are dropped; sweeps run
    /// at most once a second).
    pub fn sweep(&mut self, now: Nanos) {
        let before = self.map.len();
        self.map
            .retain(|_, p| now.saturating_sub(p.started) <= HELLO_WINDOW);
        self.stats.abandoned += (before - self.map.len()) as u64;
    }
}
