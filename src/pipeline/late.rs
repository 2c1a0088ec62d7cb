//! Peer DNS bindings that arrive after a flow they bind was created: the hook that gives such
//! a flow the 1011 it would have had (see `detect::names::recent` for why a lone SYN needs it).
//! Apart from the worker loop: it runs only after a packet that took peer bindings.

use crate::decode::PacketMeta;
use crate::detect;
use crate::detect::names::recent::Entry;
use crate::detect::names::Names;
use crate::flow::{AlertState, Flow, FlowKey};
use crate::record::RecordSink;
use crate::time::Nanos;

use super::worker::Worker;

/// Remember a flow just created, while bindings are shared and names loaded (tracked mode:
/// in alerts-only mode a lone SYN makes no flow to remember).
#[inline]
pub(super) fn remember(
    names: &mut Names,
    key: FlowKey,
    flow: &Flow,
    meta: &PacketMeta,
    from_lo: bool,
) {
    names.remember(Entry {
        key,
        id: flow.id,
        first: flow.first,
        src: meta.src,
        dst: meta.dst,
        from_lo,
    });
}

impl<S: RecordSink> Worker<S> {
    /// Peer bindings were taken: the recent flows they bind that have no match yet get their
    /// 1011 now, held down like any new match (a lone SYN's alert says `blocked` or `observed`
    /// once its hold-down ends). One scan per batch of bindings, newest flows first, stopping
    /// at the first flow older than the batch's oldest answer.
    #[cold]
    #[inline(never)]
    pub(super) fn late_bindings(&mut self) {
        let Some(since) = self.names.take_late() else {
            return;
        };
        let mut visited = 0;
        while let Some(e) = self.names.recent(visited) {
            if e.first < since {
                break;
            }
            visited += 1;
            if !self.names.binds(&e) {
                continue;
            }
            let Some(flow) = self.table.get_mut(&e.key) else {
                continue;
            };
            if flow.id != e.id || flow.matched.is_some() || !self.names.attach_late(flow, &e) {
                continue;
            }
            flow.alert = AlertState::Pending;
            self.out.claim(&e.key, flow);
            self.out.matched(flow, self.now);
            let deadline: Nanos = detect::holddown_deadline(flow, self.cfg.holddown);
            self.pending.push_back((deadline, e.key, flow.id));
            if let Some(action) = detect::outcome_now(flow, e.key.proto) {
                self.out.alert(&e.key, flow, action);
            }
            self.table.requeue(&e.key);
        }
        self.names.scanned(visited);
        if self.pending.len() > self.pending_max() {
            self.hold_down_overflow();
        }
    }
}
