//! The sender thread of one output: owns the connection, sends the spool and then the memory
//! queue in order, and keeps every message in its resend window until the receiver confirmed
//! it (see `transport`). A lost connection puts the window back in front of the queue; a
//! receiver that confirms nothing for `stall_timeout` is given up the same way and the output
//! is marked down until a later connection lasts that long without stalling.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::output::deliver::transport::{Connection, Connector, Watch};
use crate::output::deliver::worker::{DropReason, Msg, Shared, IDLE_TICK};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// A connection that lasted this long resets the backoff when it is lost.
const STABLE_CONNECTION: Duration = Duration::from_secs(1);
/// While sending back to back, how often the receiver's progress is read.
const CHECK_EVERY: u32 = 32;
/// UDP cannot be confirmed: after an "unreachable" only this much is sent again.
const UDP_RESEND_BYTES: u64 = 64 * 1024;

/// How the sender behaves; from the output options.
#[derive(Clone, Debug)]
pub struct SenderConfig {
    pub name: String,
    pub reconnect_max: Duration,
    pub stall_timeout: Duration,
    pub window_bytes: u64,
}

/// Messages written on the current connection and not released yet, oldest first.
#[derive(Default)]
struct Window {
    entries: VecDeque<(u64, Msg)>,
    bytes: u64,
    /// The first this many entries are confirmed (so release starts after them).
    confirmed: usize,
}

impl Window {
    fn push(&mut self, pos: u64, msg: Msg) {
        self.bytes += msg.buf.len() as u64;
        self.entries.push_back((pos, msg));
    }

    /// Counts what the receiver newly confirmed as sent, then releases confirmed messages the
    /// transport need not keep (all of them, or those beyond `keep` bytes).
    fn release(&mut self, confirmed: u64, keep: u64, shared: &Shared) {
        let mut counted = 0;
        for (pos, msg) in self.entries.iter_mut().skip(self.confirmed) {
            if *pos > confirmed {
                break;
            }
            self.confirmed += 1;
            if !msg.mark.counted {
                msg.mark.counted = true;
                counted += 1;
            }
        }
        shared.counters.sent.fetch_add(counted, Ordering::Relaxed);
        let mut freed = Vec::new();
        while let Some((pos, msg)) = self.entries.front() {
            if *pos > confirmed || self.bytes <= keep {
                break;
            }
            self.bytes -= msg.buf.len() as u64;
            self.confirmed = self.confirmed.saturating_sub(1);
            if let Some((_, msg)) = self.entries.pop_front() {
                freed.push(msg.buf);
            }
        }
        if !freed.is_empty() {
            shared.lock().free.extend(freed);
        }
    }

    fn unconfirmed(&self, confirmed: u64) -> bool {
        self.entries.back().is_some_and(|(pos, _)| *pos > confirmed)
    }

    /// Everything (confirmed copies too: the receiver may have lost them with its buffers).
    fn take_all(&mut self) -> Vec<Msg> {
        self.bytes = 0;
        self.confirmed = 0;
        self.entries.drain(..).map(|(_, m)| m).collect()
    }

    fn take_unconfirmed(&mut self, confirmed: u64) -> Vec<Msg> {
        self.bytes = 0;
        self.confirmed = 0;
        self.entries
            .drain(..)
            .filter(|(pos, _)| *pos > confirmed)
            .map(|(_, m)| m)
            .collect()
    }
}

enum Next {
    Msg(Msg),
    Idle,
    Done,
}

/// The sender thread's loop; returns when everything is delivered after shutdown, or at the
/// shutdown deadline (the rest is then in the spool).
pub fn run_sender(shared: Arc<Shared>, connector: Connector, cfg: SenderConfig) {
    let name = cfg.name.as_str();
    let mut conn: Option<Connection> = None;
    let mut watch = Watch::new(cfg.stall_timeout);
    let mut window = Window::default();
    let mut backoff = FIRST_BACKOFF;
    let mut frame = Vec::new();
    let mut connected_at = Instant::now();
    let mut lost = false;
    let mut since_check = 0u32;
    // Whether the last step sent a message (else the connection is checked every step).
    let mut busy = false;
    loop {
        if shared.reopen.swap(false, Ordering::AcqRel) {
            if let Some(old) = conn.take() {
                shared.put_back(window.take_unconfirmed(watch.confirmed));
                old.close();
                set_connected(&shared, false);
            }
        }
        let deadline = shared.lock().deadline;
        watch.set_deadline(deadline);
        let Some(c) = conn.as_mut() else {
            if deadline.is_some_and(|d| Instant::now() >= d) || nothing_left(&shared) {
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
                backoff = (backoff * 2).min(cfg.reconnect_max);
            }
            match connector.connect() {
                Ok(new) => {
                    tracing::info!(output = %name, "connected");
                    conn = Some(new);
                    connected_at = Instant::now();
                    watch = Watch::new(cfg.stall_timeout);
                    shared.counters.failing.store(false, Ordering::Relaxed);
                    set_connected(&shared, true);
                }
                Err(e) => {
                    shared.counters.failing.store(true, Ordering::Relaxed);
                    tracing::warn!(output = %name, "cannot connect: {e}; retrying in {backoff:?}");
                    shared.counters.note_error(format!("cannot connect: {e}"));
                    if !wait_backoff(&shared, backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(cfg.reconnect_max);
                }
            }
            continue;
        };
        let keep = match (c.keeps_confirmed(), c.is_datagram()) {
            (false, _) => 0,
            (true, true) => UDP_RESEND_BYTES,
            (true, false) => cfg.window_bytes,
        };
        // What the receiver confirmed meanwhile (asked every few messages: it costs system
        // calls); a closed or stalled receiver ends here.
        since_check += 1;
        let checked = if since_check >= CHECK_EVERY || !busy {
            since_check = 0;
            c.confirmed()
                .and_then(|pos| watch.observe(pos, c.sent()).map(|()| pos))
        } else {
            Ok(watch.confirmed)
        };
        let step = checked.and_then(|confirmed| {
            window.release(confirmed, keep, &shared);
            if connected_at.elapsed() >= cfg.stall_timeout
                && shared.counters.down.swap(false, Ordering::Relaxed)
            {
                tracing::info!(output = %name, "receiver is taking records again; output up");
                set_connected(&shared, true);
            }
            // Full window: wait for the receiver before sending more.
            if window.bytes > keep.max(cfg.window_bytes) && window.unconfirmed(confirmed) {
                std::thread::sleep(Duration::from_millis(20));
                return Ok(Next::Idle);
            }
            let next = take_next(&shared);
            if let Next::Msg(mut msg) = next {
                if msg.mark.tried {
                    shared.counters.resent.fetch_add(1, Ordering::Relaxed);
                }
                msg.mark.tried = true;
                return match c.send(&msg.buf, &mut frame, &mut watch) {
                    Ok(pos) => {
                        window.push(pos, msg);
                        Ok(Next::Msg(Msg::default()))
                    }
                    Err(e) => {
                        window.push(u64::MAX, msg);
                        Err(e)
                    }
                };
            }
            if matches!(next, Next::Done) {
                if !window.unconfirmed(confirmed) {
                    return Ok(Next::Done);
                }
                std::thread::sleep(Duration::from_millis(20));
                return Ok(Next::Idle);
            }
            idle_wait(&shared);
            Ok(Next::Idle)
        });
        busy = matches!(step, Ok(Next::Msg(_)));
        match step {
            Ok(Next::Done) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => break,
            Err(e) => {
                let down = watch.stalled;
                let back = window.take_all();
                tracing::warn!(output = %name, resent = back.len(), "connection lost: {e}");
                shared.counters.note_error(format!("connection lost: {e}"));
                if down && !shared.counters.down.swap(true, Ordering::Relaxed) {
                    tracing::error!(output = %name, "output down: {e}; its records go to the spool");
                }
                if let Some(old) = conn.take() {
                    drop(old);
                }
                set_connected(&shared, false);
                shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                shared.put_back(back);
                lost = true;
            }
        }
    }
    finish(&shared, conn, &mut window, watch.confirmed, name);
}

fn set_connected(shared: &Shared, connected: bool) {
    shared
        .counters
        .connected
        .store(connected, Ordering::Relaxed);
    let up = connected && !shared.counters.down.load(Ordering::Relaxed);
    shared.lock().up = up;
    shared.wake.notify_all();
}

/// The next message: the spool's front while the spool holds any, else the memory front.
fn take_next(shared: &Shared) -> Next {
    let mut state = shared.lock();
    if !shared.spool_first(&state) {
        if let Some(msg) = state.mem.pop_front() {
            shared.publish_mem(&state);
            return Next::Msg(msg);
        }
        let done = state.intake_done && state.moving == 0;
        return if done { Next::Done } else { Next::Idle };
    }
    let mut buf = state.free.pop().unwrap_or_default();
    drop(state);
    let Some(mut spool) = shared.lock_spool() else {
        return Next::Idle;
    };
    let front = match spool.front() {
        Ok(Some((msg, mark))) => {
            buf.clear();
            buf.extend_from_slice(msg);
            Some(mark)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!("spool read failed: {e}");
            None
        }
    };
    if front.is_some() {
        spool.pop_front();
    }
    shared.publish_spool(&mut spool);
    match front {
        Some(mark) => Next::Msg(Msg { buf, mark }),
        None => Next::Idle,
    }
}

/// Nothing to do: wait for the intake (or a tick, to watch the connection).
fn idle_wait(shared: &Shared) {
    let state = shared.lock();
    if state.mem.is_empty() && !shared.spool_first(&state) && !state.intake_done {
        let _ = shared.wake.wait_timeout(state, IDLE_TICK);
    }
}

fn nothing_left(shared: &Shared) -> bool {
    let state = shared.lock();
    state.intake_done && state.mem.is_empty() && !shared.spool_first(&state)
}

/// Waits `backoff` (cut short by a shutdown deadline, not by new records). False when there
/// is nothing left to deliver after shutdown, so retrying is pointless.
fn wait_backoff(shared: &Shared, backoff: Duration) -> bool {
    if nothing_left(shared) {
        return false;
    }
    let mut state = shared.lock();
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

/// End of the sender: unconfirmed messages go in front of the spool, the memory queue at its
/// back (or, without a spool, both are counted as dropped), then the connection closes.
fn finish(
    shared: &Shared,
    conn: Option<Connection>,
    window: &mut Window,
    confirmed: u64,
    name: &str,
) {
    // A receiver that is down or did not confirm everything by the deadline may lose what
    // its kernel acknowledged too: keep every copy then (duplicates, never a loss).
    let clean = !window.unconfirmed(confirmed) && !shared.counters.down.load(Ordering::Relaxed);
    let unconfirmed = if clean {
        window.take_unconfirmed(confirmed)
    } else {
        window.take_all()
    };
    if let Some(conn) = conn {
        conn.close();
    }
    // Wait out a batch the spooler is writing (it is older than the memory queue), then stop
    // it and take the memory queue in one step.
    let give_up = Instant::now() + Duration::from_secs(5);
    let rest: Vec<Msg> = loop {
        let mut state = shared.lock();
        if state.moving == 0 || Instant::now() >= give_up {
            state.sender_done = true;
            state.up = false;
            let rest = state.mem.drain(..).collect();
            shared.publish_mem(&state);
            break rest;
        }
        drop(state);
        std::thread::sleep(Duration::from_millis(10));
    };
    shared.wake.notify_all();
    match shared.lock_spool() {
        Some(mut spool) => {
            let n = (unconfirmed.len() + rest.len()) as u64;
            let mut kept = 0;
            match spool.prepend(unconfirmed.iter().map(|m| (m.buf.as_slice(), m.mark))) {
                Ok(dropped) => kept += unconfirmed.len() as u64 - dropped,
                Err(e) => tracing::error!(output = %name, "spool write at shutdown failed: {e}"),
            }
            for msg in &rest {
                if spool.append(&msg.buf, msg.mark).is_ok() {
                    kept += 1;
                }
            }
            if let Err(e) = spool.sync() {
                tracing::error!(output = %name, "spool sync at shutdown failed: {e}");
            }
            shared.publish_spool(&mut spool);
            shared.counters.spooled.fetch_add(kept, Ordering::Relaxed);
            if kept < n {
                tracing::error!(output = %name, "{} records did not fit the spool at shutdown", n - kept);
                shared.counters.lose(DropReason::SpoolFull, n - kept);
            }
        }
        None => {
            let n = (unconfirmed.len() + rest.len()) as u64;
            if n > 0 {
                tracing::error!(output = %name, "{n} records not delivered at shutdown (no spool_dir)");
                shared.counters.lose(DropReason::Shutdown, n);
            }
        }
    }
    shared.counters.connected.store(false, Ordering::Relaxed);
}
