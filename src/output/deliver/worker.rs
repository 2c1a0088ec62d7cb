//! One output's threads and what they share. The intake thread takes records off the
//! capture's hand-off channel, aggregates and formats them, and puts each message at the back
//! of the memory queue; it never touches the disk and holds the queue's lock only to push.
//! The spooler thread (with a `spool_dir`) moves messages from the front of the memory queue
//! to the back of the on-disk spool while the receiver is away, down or slow, and makes them
//! durable. The sender thread (see `sender`) sends the spool, then the memory queue, in
//! order. Disk I/O happens only in the spooler and the sender, under the spool's own lock.
//!
//! Order: everything spooled is older than everything in memory (the spooler moves from the
//! memory front to the spool back; the sender puts unconfirmed messages back at the spool
//! front), and the sender takes the spool first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::exclude::severity::{SeverityTable, SharedSeverity};
use crate::output::deliver::spool::{Mark, Spool};
use crate::output::format::line::Format;
use crate::output::format::syslog::Envelope;
use crate::record::{Record, SensorContext};
use crate::transform::aggregate::Aggregator;

pub const IDLE_TICK: Duration = Duration::from_millis(200);
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// Why a record was lost: the `reason` label of `c2tap_output_records_dropped_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Hand-off channel or memory queue full (receiver slow or away, disk slower than intake).
    QueueFull,
    /// Memory queue full while the spool was at its byte bound.
    SpoolFull,
    /// The spool could not be written.
    SpoolError,
    /// A spooled message failed its checksum and was skipped.
    Corrupt,
    /// In memory at shutdown with no spool to keep it, or offered after shutdown began.
    Shutdown,
}

impl DropReason {
    pub const ALL: [DropReason; 5] = [
        DropReason::QueueFull,
        DropReason::SpoolFull,
        DropReason::SpoolError,
        DropReason::Corrupt,
        DropReason::Shutdown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::SpoolFull => "spool_full",
            DropReason::SpoolError => "spool_error",
            DropReason::Corrupt => "corrupt",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// Live counters of one output (atomics: the metrics module reads them from its own thread).
#[derive(Debug, Default)]
pub struct Counters {
    /// Records the receiver confirmed, each counted once however often it was sent.
    pub sent: AtomicU64,
    /// Sends of records written to a receiver before (after a connection loss): at most this
    /// many duplicates reach the receiver.
    pub resent: AtomicU64,
    pub spooled: AtomicU64,
    /// By [`DropReason`], in [`DropReason::ALL`] order.
    pub dropped: [AtomicU64; 5],
    pub oversize: AtomicU64,
    pub aggregated: AtomicU64,
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
    /// The receiver stopped confirming for `stall_timeout`; cleared after a connection lasts
    /// that long again without stalling.
    pub down: AtomicBool,
    /// Set when the output cannot be opened at all (e.g. a file:// path it may not write).
    pub failing: AtomicBool,
    pub mem_queued: AtomicU64,
    pub spool_records: AtomicU64,
    pub spool_bytes: AtomicU64,
    /// Why the last connection attempt failed or the last connection was lost, for reports
    /// (`replay` prints it beside undelivered records).
    pub last_error: Mutex<Option<String>>,
}

impl Counters {
    pub fn note_error(&self, reason: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
    }
}

impl Counters {
    pub fn lose(&self, reason: DropReason, n: u64) {
        if let Some(c) = self.dropped.get(reason as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// One formatted message and what it went through ([`Mark`]): a record confirmed once is not
/// counted as sent again, and a second send of it is counted as a possible duplicate.
#[derive(Debug, Default)]
pub struct Msg {
    pub buf: Vec<u8>,
    pub mark: Mark,
}

/// What the threads share.
pub struct Shared {
    pub state: Mutex<State>,
    pub wake: Condvar,
    /// The spool, under its own lock: only the spooler and the sender take it.
    pub spool: Option<Mutex<Spool>>,
    pub counters: Arc<Counters>,
    pub reopen: AtomicBool,
    /// Set by shutdown: the intake finishes once the channel is empty.
    pub closing: AtomicBool,
}

/// The memory queue and the flags; never held across I/O.
pub struct State {
    pub mem: VecDeque<Msg>,
    pub(super) mem_cap: usize,
    /// Connected and not down: the spooler may leave messages in memory.
    pub up: bool,
    pub intake_done: bool,
    pub sender_done: bool,
    pub deadline: Option<Instant>,
    /// Messages the spooler took from memory and has not appended yet.
    pub moving: usize,
    /// The spool refused a message for lack of room; retry once it shrank below this.
    pub(super) spool_full_at: Option<u64>,
    /// Message buffers handed back by the sender for reuse.
    pub free: Vec<Vec<u8>>,
}

impl Shared {
    pub fn new(mem_cap: usize, spool: Option<Spool>, counters: Arc<Counters>) -> Shared {
        let state = State {
            mem: VecDeque::new(),
            mem_cap,
            up: false,
            intake_done: false,
            sender_done: false,
            deadline: None,
            moving: 0,
            spool_full_at: None,
            free: Vec::new(),
        };
        let shared = Shared {
            state: Mutex::new(state),
            wake: Condvar::new(),
            spool: spool.map(Mutex::new),
            counters,
            reopen: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        };
        if let Some(mut spool) = shared.lock_spool() {
            shared.publish_spool(&mut spool);
        }
        shared
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn lock_spool(&self) -> Option<MutexGuard<'_, Spool>> {
        self.spool
            .as_ref()
            .map(|s| s.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn set_deadline(&self, deadline: Instant) {
        self.lock().deadline = Some(deadline);
        self.wake.notify_all();
    }

    pub fn publish_mem(&self, state: &State) {
        self.counters
            .mem_queued
            .store(state.mem.len() as u64, Ordering::Relaxed);
    }

    /// Publishes the spool's size and counts the records it found damaged.
    pub fn publish_spool(&self, spool: &mut Spool) {
        let c = &self.counters;
        c.spool_records.store(spool.records(), Ordering::Relaxed);
        c.spool_bytes.store(spool.bytes(), Ordering::Relaxed);
        c.lose(DropReason::Corrupt, spool.take_corrupt());
    }

    /// Whether the spool holds messages (or the spooler is moving some there): the sender
    /// must take those before the memory queue.
    pub fn spool_first(&self, state: &State) -> bool {
        state.moving > 0 || self.counters.spool_records.load(Ordering::Relaxed) > 0
    }

    /// Puts messages that were taken out but not confirmed back in front, oldest first: at
    /// the spool's front (written and synced) or, without a spool, the memory queue's.
    pub fn put_back(&self, msgs: Vec<Msg>) {
        if msgs.is_empty() {
            return;
        }
        if let Some(mut spool) = self.lock_spool() {
            let n = msgs.len() as u64;
            let (kept, err) = match spool.prepend(msgs.iter().map(|m| (m.buf.as_slice(), m.mark))) {
                Ok(dropped) => (n - dropped, None),
                Err(e) => (0, Some(e)),
            };
            self.publish_spool(&mut spool);
            drop(spool);
            match err {
                Some(e) => {
                    tracing::error!("spool write failed, {n} messages lost: {e}");
                    self.counters.lose(DropReason::SpoolError, n);
                }
                None => self.counters.lose(DropReason::SpoolFull, n - kept),
            }
            self.counters.spooled.fetch_add(kept, Ordering::Relaxed);
        } else {
            let mut state = self.lock();
            for msg in msgs.into_iter().rev() {
                state.mem.push_front(msg);
            }
            self.publish_mem(&state);
        }
        self.wake.notify_all();
    }
}

/// How the intake turns a record into a message.
pub enum Render {
    Syslog(Envelope),
    Lines(Format),
}

/// The intake thread's loop; returns when the channel is closed or shutdown has drained it.
pub fn run_intake(
    rx: Receiver<Record>,
    shared: Arc<Shared>,
    render: Render,
    ctx: SensorContext,
    severity: SharedSeverity,
    window: u64,
) {
    let mut aggregator = Aggregator::new(window);
    let mut drops = DropLog::new();
    // Live packet time is the wall clock, so a quiet link still closes windows; a replay's is
    // the file's, and its held-back records leave at the end of the input.
    let live = !ctx.replay;
    let mut accept = |rec: Record| accept(&shared, &render, &ctx, &severity.load(), rec);
    loop {
        match rx.recv_timeout(IDLE_TICK) {
            Ok(rec) => aggregator.offer(rec, &mut accept),
            Err(RecvTimeoutError::Timeout) if shared.closing.load(Ordering::Acquire) => break,
            Err(RecvTimeoutError::Timeout) if live => aggregator.idle(Instant::now(), &mut accept),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        drops.maybe_log(&shared.counters);
    }
    aggregator.flush(&mut accept);
    shared
        .counters
        .aggregated
        .store(aggregator.held_back(), Ordering::Relaxed);
    drops.maybe_log(&shared.counters);
    shared.lock().intake_done = true;
    shared.wake.notify_all();
}

/// Formats one record and queues it: a short lock, no I/O, never a wait.
fn accept(
    shared: &Shared,
    render: &Render,
    ctx: &SensorContext,
    severity: &SeverityTable,
    rec: Record,
) {
    let mut buf = shared.lock().free.pop().unwrap_or_default();
    buf.clear();
    match render {
        Render::Syslog(envelope) => {
            if !envelope.write(&mut buf, &rec, ctx, severity) {
                shared.counters.oversize.fetch_add(1, Ordering::Relaxed);
            }
        }
        Render::Lines(format) => format.write(&mut buf, &rec, ctx, severity),
    }
    let mut state = shared.lock();
    if state.mem.len() < state.mem_cap {
        state.mem.push_back(Msg {
            buf,
            mark: Mark::default(),
        });
        shared.publish_mem(&state);
    } else {
        let reason = if state.spool_full_at.is_some() {
            DropReason::SpoolFull
        } else {
            DropReason::QueueFull
        };
        shared.counters.lose(reason, 1);
        state.free.push(buf);
    }
    drop(state);
    shared.wake.notify_all();
}

/// Logs drops as they happen, at most every ten seconds, never per record.
struct DropLog {
    logged: u64,
    at: Instant,
}

impl DropLog {
    fn new() -> DropLog {
        DropLog {
            logged: 0,
            at: Instant::now(),
        }
    }

    fn maybe_log(&mut self, counters: &Counters) {
        let dropped = counters.dropped_total();
        if dropped > self.logged && (self.logged == 0 || self.at.elapsed() >= DROP_LOG_EVERY) {
            let by: Vec<String> = DropReason::ALL
                .iter()
                .map(|r| {
                    (
                        r.label(),
                        counters.dropped[*r as usize].load(Ordering::Relaxed),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .map(|(l, n)| format!("{l}={n}"))
                .collect();
            tracing::warn!(
                dropped_total = dropped,
                "output dropped {} records ({})",
                dropped - self.logged,
                by.join(" ")
            );
            self.logged = dropped;
            self.at = Instant::now();
        }
    }
}
