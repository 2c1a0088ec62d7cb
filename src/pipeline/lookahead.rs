//! Lookahead of the worker loop: frames are decoded on arrival and processed a few frames
//! later, in arrival order. In between, their flows' index slots and entries are prefetched,
//! so the cache misses of many packets overlap instead of being paid one after the other —
//! on a table of ~10^5 flows those misses, not decoding, are a packet's cost.

use std::collections::VecDeque;

use crate::decode::{DecodeError, PacketMeta};
use crate::flow::{Dir, FlowHash, FlowKey, FlowTable};
use crate::time::Nanos;

/// Frames held back: at a few tens of nanoseconds of work per frame, 8 frames between the
/// slot prefetch and the entry prefetch, and 8 more before the update, cover a miss to memory
/// each (`benches/flow.rs` compares depths).
const DEPTH: usize = 16;
/// How far from the front the entry prefetch happens: the slot prefetched at arrival has
/// had `DEPTH - ENTRY_AT` frames of time to arrive.
const ENTRY_AT: usize = DEPTH / 2;

/// A frame decoded ahead of its turn: everything later stages need, without the frame bytes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Decoded {
    pub ts: Nanos,
    pub wire_len: u32,
    pub meta: Result<PacketMeta, DecodeError>,
    /// Key, direction and hash of the flow when they depend on the frame alone.
    pub flow: Option<(FlowKey, Dir, FlowHash)>,
}

pub(super) struct Lookahead {
    held: VecDeque<Decoded>,
}

impl Lookahead {
    pub fn new() -> Lookahead {
        Lookahead {
            held: VecDeque::with_capacity(DEPTH + 1),
        }
    }

    /// Hold `d`; returns the oldest frame once `DEPTH` are held. Never allocates: the ring
    /// never holds more than `DEPTH + 1`.
    #[inline(always)]
    pub fn push(&mut self, d: Decoded, table: &FlowTable) -> Option<Decoded> {
        if let Some((_, _, hash)) = d.flow {
            table.prefetch_slot(hash);
        }
        self.held.push_back(d);
        let len = self.held.len();
        if let Some((_, _, hash)) = len
            .checked_sub(ENTRY_AT + 1)
            .and_then(|i| self.held.get(i))
            .and_then(|d| d.flow)
        {
            table.prefetch_flow(hash);
        }
        if len > DEPTH {
            self.held.pop_front()
        } else {
            None
        }
    }

    pub fn pop(&mut self) -> Option<Decoded> {
        self.held.pop_front()
    }
}
