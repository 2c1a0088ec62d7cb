//! The worker's timers, on packet time: the clock that only moves forward, hold-down deadlines,
//! flow timeouts, the fragment cache's expiry, storm windows, and the IOC reload check.

use crate::detect;
use crate::flow::{AlertState, Flow, FlowKey};
use crate::record::RecordSink;
use crate::time::{Nanos, NANOS_PER_MILLI};

use super::emitter::Emitter;
use super::worker::Worker;
use super::{TIME_JUMP, TIME_STEP_BACK};

/// Most alerts waiting for their hold-down per worker (64 bytes each: 4 MiB). A full queue
/// sends its oldest alert early (counted) rather than grow with a flood of matched flows.
pub const PENDING_MAX: usize = 1 << 16;

/// How often (packet time) timers run: hold-down deadlines and flow timeouts.
const TICK: Nanos = 100 * NANOS_PER_MILLI;

impl<S: RecordSink> Worker<S> {
    /// Bound of the hold-down queue: at most one entry per flow the table can hold, and at
    /// most [`PENDING_MAX`].
    pub(super) fn pending_max(&self) -> usize {
        self.table.config().max_flows.clamp(1, PENDING_MAX)
    }

    /// The hold-down queue is full (a flood of matched flows): its oldest alert leaves now,
    /// with the outcome known so far, instead of the queue growing with the flood.
    #[cold]
    pub(super) fn hold_down_overflow(&mut self) {
        while self.pending.len() > self.pending_max() {
            let Some((_, key, id)) = self.pending.pop_front() else {
                return;
            };
            if let Some(flow) = self.table.get_mut(&key) {
                if flow.id == id && flow.alert == AlertState::Pending {
                    let action = detect::outcome_final(flow, key.proto);
                    self.out.stats.alerts_early += 1;
                    self.out.alert(&key, flow, action);
                }
            }
        }
    }

    /// Move packet time forward and run timers that are due. Time never runs backwards here
    /// (files replayed out of order, clock steps): the newest timestamp wins.
    #[inline]
    pub fn advance(&mut self, ts: Nanos) {
        if ts > self.now {
            if self.now != 0 && ts - self.now > TIME_JUMP {
                self.out.stats.time_jumps += 1;
            }
            self.now = ts;
        } else if self.now - ts > TIME_STEP_BACK {
            self.out.stats.time_steps_back += 1;
        }
        if self.now >= self.next_tick {
            self.tick();
        }
    }

    /// Timers on a quiet link (wall-clock time) and a reload that arrived meanwhile.
    pub fn idle(&mut self, now: Nanos) {
        self.advance(now);
        self.reload_if_due();
    }

    /// Take a new IOC set before a packet is looked at: its name path then reads the peers'
    /// bindings (made with the new set) with the new set too, and the frames held back are
    /// processed first, with the set they were read with.
    #[inline(always)]
    pub(super) fn reload_if_due(&mut self) {
        if self.iocs.generation() != self.generation {
            self.flush();
            self.reload();
        }
    }

    pub(super) fn tick(&mut self) {
        let now = self.now;
        self.next_tick = now.saturating_add(TICK);
        while let Some(&(deadline, key, id)) = self.pending.front() {
            if deadline > now {
                break;
            }
            self.pending.pop_front();
            if let Some(flow) = self.table.get_mut(&key) {
                if flow.id == id && flow.alert == AlertState::Pending {
                    let action = detect::outcome_final(flow, key.proto);
                    self.out.alert(&key, flow, action);
                }
            }
        }
        let out = &mut self.out;
        self.table.expire(now, &mut |k, f, r| out.ended(k, f, r));
        self.fragments.expire(now);
        self.out.storm_tick(now);
    }

    /// A new IOC set arrived: flows already open that now match are flagged with their true
    /// start time and counters so far.
    pub(super) fn reload(&mut self) {
        self.generation = self.iocs.generation();
        self.set = self.iocs.current();
        self.names.reload(&*self.set);
        for key in self.table.keys_by_age() {
            let Some(flow) = self.table.get_mut(&key) else {
                continue;
            };
            if flow.matched.is_some() {
                continue;
            }
            let Some(h) = detect::check_flow(&self.set, &key) else {
                continue;
            };
            if detect::attach(flow, &self.set, h, h.on_first) {
                retro_alert(&mut self.out, &key, flow);
                self.table.requeue(&key);
            }
        }
        self.reload_names();
    }

    /// The names seen before the new set (TLS SNI, HTTP, DNS) that it lists: their open flows
    /// are reported like an address retro-match, and open flows to the addresses their kept
    /// answers gave (one walk of the table for all of them).
    fn reload_names(&mut self) {
        let retro = self.names.retro(&*self.set, self.now);
        for m in retro.flows {
            let key = m.key;
            let Some(flow) = self.table.get_mut(&key) else {
                continue;
            };
            if self.names.attach_retro(flow, m) {
                retro_alert(&mut self.out, &key, flow);
                self.table.requeue(&key);
            }
        }
        if !retro.bound {
            return;
        }
        for key in self.table.keys_by_age() {
            let Some(flow) = self.table.get_mut(&key) else {
                continue;
            };
            if self.names.bound_retro(&key, flow) {
                retro_alert(&mut self.out, &key, flow);
                self.table.requeue(&key);
            }
        }
    }
}

/// A flow open before the set that now matches it: its alert leaves now, with its true start
/// and the outcome known so far.
fn retro_alert<S: RecordSink>(out: &mut Emitter<S>, key: &FlowKey, flow: &mut Flow) {
    out.stats.retro_matches += 1;
    out.claim(key, flow);
    let action = detect::outcome_final(flow, key.proto);
    out.alert(key, flow, action);
}
