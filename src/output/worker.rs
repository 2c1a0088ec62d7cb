//! One output's two threads. The intake thread takes records off the capture's hand-off
//! channel, aggregates and formats them, and puts each message in the memory queue or — when
//! the receiver is away, slow (queue full) or a backlog is already spooled — at the back of the
//! on-disk spool; it only ever waits on the disk. The sender thread owns the connection: it
//! sends the memory queue, then the spool, in order; on a lost connection it puts every message
//! that may not have arrived back in front, then reconnects with backoff.
//!
//! Order: the memory queue only takes messages while the spool is empty, so everything in
//! memory is older than everything spooled, and the sender takes memory first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::output::aggregate::Aggregator;
use crate::output::line::Format;
use crate::output::spool::{Spool, SpoolError};
use crate::output::syslog::Envelope;
use crate::output::transport::{Connection, Connector};
use crate::record::{Record, SensorContext};

/// After a connection loss, messages written in this span before it are sent again: a
/// receiver that died may not have read them. Bounds the duplicates of at-least-once delivery.
pub const RESEND_SPAN: Duration = Duration::from_secs(2);
/// At most this many messages are sent again after a connection loss.
pub const RESEND_MAX: usize = 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// A connection that lasted this long resets the backoff when it is lost.
const STABLE_CONNECTION: Duration = Duration::from_secs(1);
const IDLE_TICK: Duration = Duration::from_millis(200);
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// Live counters of one output (atomics: the metrics module reads them from its own thread).
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub spooled: AtomicU64,
    pub dropped: AtomicU64,
    pub oversize: AtomicU64,
    pub aggregated: AtomicU64,
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
    pub mem_queued: AtomicU64,
    pub spool_records: AtomicU64,
    pub spool_bytes: AtomicU64,
    /// Why the last connection attempt failed or the last connection was lost, for reports
    /// (`replay` prints it beside undelivered records).
    pub last_error: Mutex<Option<String>>,
}

impl Counters {
    fn note_error(&self, reason: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
    }
}

/// What the two threads share, behind one short-held lock.
pub struct Shared {
    pub state: Mutex<State>,
    pub wake: Condvar,
    pub counters: Arc<Counters>,
    pub reopen: AtomicBool,
    /// Set by shutdown: the intake finishes once the channel is empty.
    pub closing: AtomicBool,
}

pub struct State {
    mem: VecDeque<Vec<u8>>,
    mem_cap: usize,
    spool: Option<Spool>,
    connected: bool,
    intake_done: bool,
    deadline: Option<Instant>,
    /// Message buffers handed back by the sender for reuse.
    free: Vec<Vec<u8>>,
}

impl Shared {
    pub fn new(mem_cap: usize, spool: Option<Spool>, counters: Arc<Counters>) -> Shared {
        let state = State {
            mem: VecDeque::new(),
            mem_cap,
            spool,
            connected: false,
            intake_done: false,
            deadline: None,
            free: Vec::new(),
        };
        Shared {
            state: Mutex::new(state),
            wake: Condvar::new(),
            counters,
            reopen: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_deadline(&self, deadline: Instant) {
        self.lock().deadline = Some(deadline);
        self.wake.notify_all();
    }

    fn publish(&self, state: &State) {
        let c = &self.counters;
        c.mem_queued
            .store(state.mem.len() as u64, Ordering::Relaxed);
        let (records, bytes) = state
            .spool
            .as_ref()
            .map_or((0, 0), |s| (s.records(), s.bytes()));
        c.spool_records.store(records, Ordering::Relaxed);
        c.spool_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Puts messages that were taken out but may not have arrived back in front, oldest first.
    fn put_back(&self, state: &mut State, msgs: Vec<Vec<u8>>) {
        if msgs.is_empty() && state.mem.is_empty() {
            return;
        }
        match state.spool.as_mut() {
            Some(spool) => {
                let all: Vec<Vec<u8>> = msgs.into_iter().chain(state.mem.drain(..)).collect();
                let dropped = match spool.prepend(all.iter().map(Vec::as_slice)) {
                    Ok(dropped) => dropped,
                    Err(e) => {
                        tracing::error!("spool write failed, {} messages lost: {e}", all.len());
                        all.len() as u64
                    }
                };
                self.counters
                    .spooled
                    .fetch_add(all.len() as u64 - dropped, Ordering::Relaxed);
                self.counters.dropped.fetch_add(dropped, Ordering::Relaxed);
            }
            None => {
                for msg in msgs.into_iter().rev() {
                    state.mem.push_front(msg);
                }
            }
        }
        self.publish(state);
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
    window: u64,
) {
    let mut aggregator = Aggregator::new(window);
    let mut drops = DropLog::new();
    // Live packet time is the wall clock, so a quiet link still closes windows; a replay's is
    // the file's, and its held-back records leave at the end of the input.
    let live = !ctx.replay;
    let mut accept = |rec: Record| accept(&shared, &render, &ctx, rec);
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

fn accept(shared: &Shared, render: &Render, ctx: &SensorContext, rec: Record) {
    let mut msg = shared.lock().free.pop().unwrap_or_default();
    msg.clear();
    match render {
        Render::Syslog(envelope) => {
            if !envelope.write(&mut msg, &rec, ctx) {
                shared.counters.oversize.fetch_add(1, Ordering::Relaxed);
            }
        }
        Render::Lines(format) => format.write(&mut msg, &rec, ctx),
    }
    let mut state = shared.lock();
    let state = &mut *state;
    let backlog = state.spool.as_ref().is_some_and(|s| !s.is_empty());
    let to_spool =
        state.spool.is_some() && (!state.connected || backlog || state.mem.len() >= state.mem_cap);
    if to_spool {
        if let Some(spool) = state.spool.as_mut() {
            match spool.append(&msg) {
                Ok(()) => {
                    shared.counters.spooled.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    if !matches!(e, SpoolError::Full { .. }) {
                        tracing::error!("spool write failed: {e}");
                    }
                    shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        state.free.push(msg);
    } else if state.mem.len() < state.mem_cap {
        state.mem.push_back(msg);
    } else {
        shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
    }
    shared.publish(state);
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
        let dropped = counters.dropped.load(Ordering::Relaxed);
        if dropped > self.logged && (self.logged == 0 || self.at.elapsed() >= DROP_LOG_EVERY) {
            tracing::warn!(
                dropped_total = dropped,
                "output dropped {} records (memory queue and spool full)",
                dropped - self.logged
            );
            self.logged = dropped;
            self.at = Instant::now();
        }
    }
}

/// The next message and where it came from.
enum Source {
    Mem,
    Spool,
}

/// The sender thread's loop; returns when everything is delivered after shutdown, or at the
/// shutdown deadline (the rest is then in the spool).
pub fn run_sender(
    shared: Arc<Shared>,
    connector: Connector,
    reconnect_max: Duration,
    name: String,
) {
    let mut conn: Option<Connection> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut resend: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let keep_for_resend = connector.needs_resend();
    let mut frame = Vec::new();
    let mut msg = Vec::new();
    let mut woke = true;
    let mut connected_at = Instant::now();
    let mut lost = false;
    loop {
        if shared.reopen.swap(false, Ordering::AcqRel) {
            if let Some(old) = conn.take() {
                old.close();
            }
        }
        let Some(c) = conn.as_mut() else {
            if past_deadline(&shared) {
                break;
            }
            if std::mem::take(&mut lost) {
                // A connection that failed soon after it was made (a UDP port that answers
                // "unreachable", a receiver that accepts then drops) backs off like a refusal.
                if connected_at.elapsed() >= STABLE_CONNECTION {
                    backoff = FIRST_BACKOFF;
                }
                if !wait_backoff(&shared, backoff) {
                    break;
                }
                backoff = (backoff * 2).min(reconnect_max);
            }
            match connector.connect() {
                Ok(new) => {
                    tracing::info!(output = %name, "connected");
                    conn = Some(new);
                    connected_at = Instant::now();
                    shared.lock().connected = true;
                    shared.counters.connected.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(output = %name, "cannot connect: {e}; retrying in {backoff:?}");
                    shared.counters.note_error(format!("cannot connect: {e}"));
                    if !wait_backoff(&shared, backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(reconnect_max);
                }
            }
            continue;
        };
        if woke {
            woke = false;
            if let Err(e) = c.probe() {
                lose_connection(&shared, &mut conn, &mut resend, None, &name, &e);
                lost = true;
                continue;
            }
        }
        let source = {
            let mut state = shared.lock();
            if let Some(m) = state.mem.pop_front() {
                state.free.push(std::mem::replace(&mut msg, m));
                Some(Source::Mem)
            } else if let Some(front) = state.spool.as_mut().and_then(|s| s.front().ok().flatten())
            {
                msg.clear();
                msg.extend_from_slice(front);
                Some(Source::Spool)
            } else if state.intake_done || state.deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            } else {
                drop(state);
                let _ = c.flush();
                let state = shared.lock();
                if state.mem.is_empty()
                    && state.spool.as_ref().is_none_or(Spool::is_empty)
                    && !state.intake_done
                {
                    let _ = shared.wake.wait_timeout(state, IDLE_TICK);
                }
                woke = true;
                None
            }
        };
        let Some(source) = source else { continue };
        if past_deadline(&shared) {
            if matches!(source, Source::Mem) {
                let mut state = shared.lock();
                state.mem.push_front(std::mem::take(&mut msg));
            }
            break;
        }
        match c.send(&msg, &mut frame) {
            Ok(()) => {
                shared.counters.sent.fetch_add(1, Ordering::Relaxed);
                if matches!(source, Source::Spool) {
                    let mut state = shared.lock();
                    if let Some(spool) = state.spool.as_mut() {
                        spool.pop_front();
                    }
                    shared.publish(&state);
                }
                if keep_for_resend {
                    remember(&mut resend, &msg);
                }
            }
            Err(e) => {
                let current = matches!(source, Source::Mem).then(|| std::mem::take(&mut msg));
                lose_connection(&shared, &mut conn, &mut resend, current, &name, &e);
                lost = true;
            }
        }
    }
    finish(&shared, conn, &name);
}

/// Waits `backoff` (cut short by a shutdown deadline, not by new records). False when there
/// is nothing left to deliver after shutdown, so retrying is pointless.
fn wait_backoff(shared: &Shared, backoff: Duration) -> bool {
    let mut state = shared.lock();
    if state.intake_done && state.mem.is_empty() && state.spool.as_ref().is_none_or(Spool::is_empty)
    {
        return false;
    }
    let mut until = Instant::now() + backoff;
    loop {
        if let Some(deadline) = state.deadline {
            until = until.min(deadline);
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        state = match shared.wake.wait_timeout(state, until - now) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

fn past_deadline(shared: &Shared) -> bool {
    shared.lock().deadline.is_some_and(|d| Instant::now() >= d)
}

/// Keeps a copy of a sent message for [`RESEND_SPAN`], recycling the oldest copy's buffer.
fn remember(resend: &mut VecDeque<(Instant, Vec<u8>)>, msg: &[u8]) {
    let now = Instant::now();
    let mut copy = match resend.front() {
        Some((at, _)) if resend.len() >= RESEND_MAX || now.duration_since(*at) > RESEND_SPAN => {
            resend.pop_front().map(|(_, buf)| buf).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    copy.clear();
    copy.extend_from_slice(msg);
    resend.push_back((now, copy));
}

fn lose_connection(
    shared: &Shared,
    conn: &mut Option<Connection>,
    resend: &mut VecDeque<(Instant, Vec<u8>)>,
    current: Option<Vec<u8>>,
    name: &str,
    err: &std::io::Error,
) {
    let now = Instant::now();
    let back: Vec<Vec<u8>> = resend
        .drain(..)
        .filter(|(at, _)| now.duration_since(*at) <= RESEND_SPAN)
        .map(|(_, m)| m)
        .chain(current)
        .collect();
    tracing::warn!(output = %name, resent = back.len(), "connection lost: {err}");
    shared
        .counters
        .note_error(format!("connection lost: {err}"));
    *conn = None;
    shared.counters.connected.store(false, Ordering::Relaxed);
    shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
    let mut state = shared.lock();
    state.connected = false;
    shared.put_back(&mut state, back);
}

/// End of the sender: close cleanly and persist whatever is still queued in memory.
fn finish(shared: &Shared, conn: Option<Connection>, name: &str) {
    if let Some(conn) = conn {
        conn.close();
    }
    let mut state = shared.lock();
    let state = &mut *state;
    if state.spool.is_some() {
        shared.put_back(state, Vec::new());
        if let Some(spool) = state.spool.as_mut() {
            if let Err(e) = spool.sync() {
                tracing::error!(output = %name, "spool sync at shutdown failed: {e}");
            }
        }
    } else if !state.mem.is_empty() {
        tracing::error!(output = %name, "{} records not delivered at shutdown (no spool_dir)", state.mem.len());
        shared
            .counters
            .dropped
            .fetch_add(state.mem.len() as u64, Ordering::Relaxed);
        state.mem.clear();
    }
    shared.counters.connected.store(false, Ordering::Relaxed);
    shared.publish(state);
}
