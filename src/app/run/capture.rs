//! The capture threads of `c2tap run`: per interface, one supervisor that opens N handles,
//! joins them into one fanout group and runs one OS thread per handle, each driving its own
//! [`Worker`]. The live end of the data path: frames go from the ring straight into the worker.
//!
//! A missing, down or vanished interface is retried with backoff and logged; the workers and
//! their flow tables survive the reopen. Each interface's [`Link`] says whether it is up (open,
//! up with carrier, every worker reading and turning) or why not; the control loop turns that
//! into readiness. The control thread wakes blocked handles with `breakloop` (TPACKET_V3 does
//! not return on its timeout while the ring is empty), so timers, reloads and shutdown never
//! wait for traffic.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pcap::BreakLoop;

use crate::capture::live::{Dispatched, FilterPlacement, LiveCapture, LiveError, LiveOptions};
use crate::capture::prefilter;
use crate::metrics::WorkerCounters;
use crate::pipeline::Worker;
use crate::record::RecordSink;

use super::feeds::PrefilterState;

mod link;

pub use link::{describe, Link, LinkState};

/// How often a worker publishes counters and reads pcap statistics.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// A worker whose loop has not turned this long is stuck: its interface is not up (and so
/// the watchdog is not fed).
const HUNG_AFTER_MS: u64 = 15_000;
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Rejects every packet: handles carry it until all of them joined the fanout group, so
/// nothing reaches a handle outside the group's hashing.
const REJECT_ALL: &str = "less 1";

/// Shared by the control thread and every capture thread.
pub struct Control {
    pub stop: AtomicBool,
    wakers: Mutex<Vec<BreakLoop>>,
    /// Waits between retries; notified on stop.
    sleeper: (Mutex<()>, std::sync::Condvar),
}

impl Control {
    pub fn new() -> Arc<Control> {
        Arc::new(Control {
            stop: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
            sleeper: (Mutex::new(()), std::sync::Condvar::new()),
        })
    }

    /// Makes every blocked `dispatch` return once (timers, reloads, shutdown).
    pub fn wake_all(&self) {
        let mut w = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        // Handles that closed leave dead weak references behind; breakloop on them is a no-op.
        for b in w.iter() {
            b.breakloop();
        }
        if w.len() > 1024 {
            w.clear();
        }
    }

    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake_all();
        self.sleeper.1.notify_all();
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps `d` unless shutdown comes first; true when stopping.
    fn sleep(&self, d: Duration) -> bool {
        let guard = self
            .sleeper
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.stopping() {
            return true;
        }
        let _ = self.sleeper.1.wait_timeout(guard, d);
        self.stopping()
    }
}

/// One worker with what its thread needs besides the handle.
pub struct WorkerSlot<S: RecordSink> {
    pub worker: Worker<S>,
    pub counters: Arc<WorkerCounters>,
    /// Wall-clock ms of the last loop turn; the watchdog checks it.
    pub heartbeat: Arc<AtomicU64>,
}

/// Everything one interface's supervisor needs.
pub struct InterfacePlan {
    pub interface: String,
    pub options: LiveOptions,
    pub fanout_group: Option<u16>,
    pub user_bpf: Option<String>,
    pub prefilter: Option<Arc<Mutex<PrefilterState>>>,
}

pub use crate::time::wall_millis as now_ms;
use crate::time::wall_nanos;

/// Runs one interface until shutdown: open, capture, and on failure retry with backoff.
/// Returns the workers so the caller can `finish()` them.
pub fn supervise<S: RecordSink + Send>(
    plan: InterfacePlan,
    mut slots: Vec<WorkerSlot<S>>,
    control: Arc<Control>,
    link: Arc<Link>,
) -> Vec<WorkerSlot<S>> {
    let mut backoff = BACKOFF_FIRST;
    let mut waiting_logged = false;
    while !control.stopping() {
        for s in &slots {
            s.heartbeat.store(now_ms(), Ordering::Relaxed);
        }
        let handles = match open_group(&plan, slots.len()) {
            Ok(h) => h,
            Err(e) => {
                link.set_problem(Some(describe(&e)));
                if !waiting_logged {
                    tracing::warn!(interface = %plan.interface, error = %e, "capture not possible; retrying with backoff");
                } else {
                    tracing::debug!(interface = %plan.interface, error = %e, retry_in = ?backoff, "still waiting for the interface");
                }
                waiting_logged = true;
                if sleep_alive(&control, &slots, backoff) {
                    break;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_FIRST;
        waiting_logged = false;
        link.set_problem(None);
        let failed = AtomicBool::new(false);

        let mut handles = handles;
        {
            let mut w = control
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for h in handles.iter_mut() {
                w.push(h.breaker());
            }
        }
        tracing::info!(interface = %plan.interface, workers = slots.len(), link = handles.first().map(|h| h.link().0), "capture started");
        std::thread::scope(|scope| {
            for (slot, handle) in slots.iter_mut().zip(handles) {
                let ends = Ends {
                    control: &control,
                    failed: &failed,
                    link: &link,
                };
                let plan = &plan;
                let name = format!("c2tap-cap-{}", plan.interface);
                let spawned = std::thread::Builder::new()
                    .name(name)
                    .spawn_scoped(scope, move || capture_loop(plan, slot, handle, ends));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a capture thread");
                    link.fail(format!("cannot start a capture thread: {e}"));
                    failed.store(true, Ordering::SeqCst);
                }
            }
        });
        if failed.load(Ordering::SeqCst) && !control.stopping() {
            link.fail("capture lost".into());
            tracing::warn!(interface = %plan.interface, retry_in = ?backoff, "capture lost; reopening");
            if sleep_alive(&control, &slots, backoff) {
                break;
            }
        }
    }
    slots
}

/// Sleeps in one-second steps, keeping the heartbeats fresh: waiting for an interface is
/// not a hang. True when stopping.
fn sleep_alive<S: RecordSink>(control: &Control, slots: &[WorkerSlot<S>], d: Duration) -> bool {
    let until = Instant::now() + d;
    loop {
        for s in slots {
            s.heartbeat.store(now_ms(), Ordering::Relaxed);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return control.stopping();
        }
        if control.sleep(left.min(Duration::from_secs(1))) {
            return true;
        }
    }
}

/// Opens `n` handles, parks them behind a reject-all filter, joins them into one fanout
/// group, then sets the real filter on each.
fn open_group(plan: &InterfacePlan, n: usize) -> Result<Vec<LiveCapture>, LiveError> {
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let mut h = LiveCapture::open(&plan.interface, &plan.options)?;
        if n > 1 {
            h.set_filter(Some(REJECT_ALL))?;
        }
        handles.push(h);
    }
    if n > 1 {
        let mut group = plan.fanout_group;
        for h in &handles {
            match group {
                Some(g) => h.join_fanout(g)?,
                None => group = Some(h.create_fanout()?),
            }
        }
        tracing::debug!(interface = %plan.interface, group = ?group, "fanout group joined (hash, defrag)");
    }
    let expr = current_filter(plan).1;
    for h in handles.iter_mut() {
        apply_filter(plan, h, expr.as_deref())?;
    }
    Ok(handles)
}

/// The generation and filter expression to apply now.
fn current_filter(plan: &InterfacePlan) -> (u64, Option<String>) {
    let (generation, pre) = match &plan.prefilter {
        Some(state) => {
            let s = state.lock().unwrap_or_else(PoisonError::into_inner);
            (s.generation, s.expr.clone())
        }
        None => (0, None),
    };
    let expr = prefilter::combine(plan.user_bpf.as_deref(), pre.as_deref());
    (generation, expr)
}

/// Sets the filter; when the kernel refuses a prefilter, falls back to the operator's filter.
fn apply_filter(
    plan: &InterfacePlan,
    h: &mut LiveCapture,
    expr: Option<&str>,
) -> Result<(), LiveError> {
    match h.set_filter(expr)? {
        FilterPlacement::Kernel { instructions } => {
            tracing::debug!(interface = %plan.interface, instructions, "filter attached in the kernel");
            Ok(())
        }
        FilterPlacement::None => Ok(()),
        FilterPlacement::Userspace => {
            tracing::warn!(interface = %plan.interface, "the kernel refused the filter (too long for BPF or net.core.optmem_max); prefilter off, matching in userspace");
            h.set_filter(plan.user_bpf.as_deref()).map(|_| ())
        }
    }
}

/// What a capture thread shares with its siblings and supervisor.
#[derive(Clone, Copy)]
struct Ends<'a> {
    control: &'a Control,
    /// Set by the first thread whose read fails: the whole group reopens.
    failed: &'a AtomicBool,
    link: &'a Link,
}

fn capture_loop<S: RecordSink>(
    plan: &InterfacePlan,
    slot: &mut WorkerSlot<S>,
    mut handle: LiveCapture,
    ends: Ends<'_>,
) {
    let Ends {
        control,
        failed,
        link,
    } = ends;
    link.reading.fetch_add(1, Ordering::SeqCst);
    let worker = &mut slot.worker;
    worker.set_interface(&plan.interface);
    let mut applied = current_filter(plan).0;
    let mut next_publish = Instant::now();
    loop {
        // Look ahead within one ring block (prefetching each packet's flow slot), then settle
        // the held packets before waiting again, so nothing is held while traffic pauses.
        let res = handle
            .dispatch(|ts, link, frame, wire_len| worker.packet_ahead(ts, link, frame, wire_len));
        worker.flush();
        match res {
            Ok(Dispatched::Packets(_)) | Ok(Dispatched::Stopped) => {}
            Err(e) => {
                if !control.stopping() {
                    tracing::warn!(error = %e, "capture read failed");
                    link.fail(describe(&e));
                }
                failed.store(true, Ordering::SeqCst);
            }
        }
        if control.stopping() || failed.load(Ordering::SeqCst) {
            break;
        }
        // Timers run on wall-clock time when idle; packet time is the kernel's wall clock.
        worker.idle(wall_nanos());
        slot.heartbeat.store(now_ms(), Ordering::Relaxed);
        if plan.prefilter.is_some() {
            let (generation, expr) = current_filter(plan);
            if generation != applied {
                applied = generation;
                if let Err(e) = apply_filter(plan, &mut handle, expr.as_deref()) {
                    tracing::error!(error = %e, "cannot apply the new prefilter; keeping the old one");
                }
            }
        }
        if Instant::now() >= next_publish {
            next_publish = Instant::now() + PUBLISH_EVERY;
            publish(&slot.counters, worker, &mut handle);
        }
    }
    publish(&slot.counters, worker, &mut handle);
    // Make the sibling handles return too: the group restarts (or stops) as one.
    link.reading.fetch_sub(1, Ordering::SeqCst);
    control.wake_all();
}

fn publish<S: RecordSink>(counters: &WorkerCounters, worker: &Worker<S>, handle: &mut LiveCapture) {
    counters.publish(&worker.stats());
    if let Ok(k) = handle.stats() {
        counters.kernel(k.received, k.dropped, k.if_dropped);
    }
}

#[cfg(test)]
#[path = "capture_tests.rs"]
mod tests;
