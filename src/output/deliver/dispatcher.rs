//! The dispatcher: the live sensor's output stage. Detection hands each record to a
//! [`DispatchSink`], which copies it (a few reference counts, no allocation) into the hand-off
//! channel of every output and returns — O(1), never blocking, never waiting on a socket or a
//! disk. Each output then has its own intake and sender threads (see `worker`), its own memory
//! queue and spool, so one dead receiver never delays another.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Sender, TrySendError};

use crate::exclude::severity::{self, SeverityTable, SharedSeverity};
use crate::output::deliver::sender::{run_sender, SenderConfig};
use crate::output::deliver::spool::Spool;
use crate::output::deliver::spooler::run_spooler;
use crate::output::deliver::transport::Connector;
use crate::output::deliver::worker::{run_intake, Counters, DropReason, Render, Shared};
use crate::output::format::syslog::Envelope;
use crate::output::options::{OutputError, OutputOptions, OutputSpec};
use crate::record::RecordSink;
use crate::record::{Record, SensorContext};

/// Counters of one output at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputStats {
    /// `OutputSpec::name()`: a closed set per configuration, fit for a metric label.
    pub name: String,
    /// Records waiting in memory (hand-off channel + memory queue).
    pub queued: u64,
    /// Records the receiver confirmed (kernel ACK for TCP/TLS, `rsp 200` for RELP, the write
    /// for UDP and files), each counted once.
    pub sent: u64,
    /// Sends of records written to a receiver before (after a connection loss): at most this
    /// many duplicates.
    pub resent: u64,
    /// Messages ever written to the spool.
    pub spooled: u64,
    /// Messages in the spool now, and its size.
    pub spool_records: u64,
    pub spool_bytes: u64,
    /// Records lost, all reasons.
    pub dropped: u64,
    /// Records lost by reason, in [`DropReason::ALL`] order (see [`OutputStats::drop_reasons`]).
    pub dropped_by: [u64; 5],
    /// Records that stayed over `max_record_bytes` even with their free text emptied.
    pub oversize: u64,
    /// Records held back by aggregation (each is inside a later record's `cnt`).
    pub aggregated: u64,
    pub reconnects: u64,
    pub connected: bool,
    /// Why the last connection attempt failed or the last connection was lost.
    pub last_error: Option<String>,
    /// The receiver stopped confirming for `stall_timeout` (see the delivery section of the
    /// README); cleared once a connection lasts that long again.
    pub down: bool,
}

impl OutputStats {
    /// Whether the output is delivering: connected (a file: open) and not down. A spool keeps
    /// records, but an output that only spools is not ready.
    pub fn ready(&self) -> bool {
        self.connected && !self.down
    }

    /// Why the output is not ready, for `/readyz` and logs.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        match (self.connected, self.down) {
            (true, false) => None,
            (_, true) => Some("receiver stalled (down)"),
            (false, false) => Some("not connected"),
        }
    }

    /// (reason label, count) pairs for `c2tap_output_records_dropped_total`.
    pub fn drop_reasons(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL
            .iter()
            .zip(self.dropped_by)
            .map(|(r, n)| (r.label(), n))
    }
}

/// What shutdown left behind, per output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    pub outputs: Vec<OutputStats>,
    /// True when every output finished delivering before the deadline.
    pub complete: bool,
}

struct Output {
    name: String,
    tx: Sender<Record>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// Running outputs. Dropping it without [`Dispatcher::shutdown`] leaves the threads to end with
/// the process; call shutdown so queued records reach the receiver or the spool.
pub struct Dispatcher {
    outputs: Vec<Output>,
}

/// The capture side's handle: cheap to clone (one per capture worker), never blocks.
#[derive(Clone)]
pub struct DispatchSink {
    inputs: Arc<[(Sender<Record>, Arc<Shared>)]>,
}

impl Dispatcher {
    /// Starts every output: opens its spool (recovering what a previous run left), loads TLS
    /// material, and spawns its threads. Connecting happens in the background; a receiver that
    /// is down at start is not an error (its records are spooled).
    /// Records are rated by the default severity table.
    pub fn start(
        specs: Vec<OutputSpec>,
        opts: OutputOptions,
        ctx: SensorContext,
    ) -> Result<Dispatcher, OutputError> {
        let severity = severity::shared(SeverityTable::default());
        Dispatcher::start_with_severity(specs, opts, ctx, severity)
    }

    /// [`Dispatcher::start`], rating records by the table in `severity` as it is when each
    /// record is formatted (a reload stores a new one).
    pub fn start_with_severity(
        specs: Vec<OutputSpec>,
        opts: OutputOptions,
        mut ctx: SensorContext,
        severity: SharedSeverity,
    ) -> Result<Dispatcher, OutputError> {
        opts.validate()?;
        if let Some(host) = &opts.hostname {
            ctx.hostname.clone_from(host);
        }
        let mut names: Vec<String> = Vec::new();
        for spec in &specs {
            let name = spec.name();
            if names.contains(&name) {
                return Err(OutputError::Duplicate(name));
            }
            names.push(name);
        }
        let mut dispatcher = Dispatcher {
            outputs: Vec::new(),
        };
        for (spec, name) in specs.into_iter().zip(names) {
            match start_output(&spec, name, &opts, &ctx, &severity) {
                Ok(output) => dispatcher.outputs.push(output),
                Err(e) => {
                    dispatcher.shutdown(Duration::ZERO);
                    return Err(e);
                }
            }
        }
        Ok(dispatcher)
    }

    pub fn sink(&self) -> DispatchSink {
        DispatchSink {
            inputs: self
                .outputs
                .iter()
                .map(|o| (o.tx.clone(), Arc::clone(&o.shared)))
                .collect(),
        }
    }

    pub fn stats(&self) -> Vec<OutputStats> {
        self.outputs.iter().map(stats_of).collect()
    }

    /// True when every output is ready (see [`OutputStats::ready`]); else the names and
    /// reasons of those that are not.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let not: Vec<String> = self
            .stats()
            .iter()
            .filter_map(|o| o.not_ready_reason().map(|why| format!("{}: {why}", o.name)))
            .collect();
        if not.is_empty() {
            Ok(())
        } else {
            Err(not)
        }
    }

    /// SIGHUP: file outputs close and reopen their file (after logrotate moved it).
    pub fn reopen_files(&self) {
        for output in &self.outputs {
            output.shared.reopen.store(true, Ordering::Release);
            output.shared.wake.notify_all();
        }
    }

    /// SIGTERM: stops taking records, delivers what is queued until `deadline` from now, and
    /// spools the rest (records in memory are lost only when no spool is configured; they are
    /// then counted as dropped). Emitting after this counts as dropped.
    pub fn shutdown(self, deadline: Duration) -> ShutdownReport {
        let until = Instant::now() + deadline;
        for output in &self.outputs {
            output.shared.closing.store(true, Ordering::Release);
            output.shared.set_deadline(until);
        }
        let mut complete = true;
        let mut outputs = Vec::new();
        for mut output in self.outputs {
            for thread in output.threads.drain(..) {
                let _ = thread.join();
            }
            let stats = stats_of(&output);
            complete &= stats.queued == 0 && stats.spool_records == 0;
            outputs.push(stats);
        }
        ShutdownReport { outputs, complete }
    }
}

fn start_output(
    spec: &OutputSpec,
    name: String,
    opts: &OutputOptions,
    ctx: &SensorContext,
    severity: &SharedSeverity,
) -> Result<Output, OutputError> {
    let connector = Connector::new(spec, opts)?;
    let spool = match &opts.spool_dir {
        Some(dir) => Some(Spool::open(&dir.join(&name), opts.spool_max_bytes)?),
        None => None,
    };
    let render = match spec {
        OutputSpec::File { format, .. } => Render::Lines(*format),
        _ => Render::Syslog(Envelope::new(
            opts.facility,
            opts.rfc5424,
            &ctx.hostname,
            opts.max_record_bytes,
        )),
    };
    let counters = Arc::new(Counters::default());
    let shared = Arc::new(Shared::new(opts.queue_records, spool, counters));
    // The hand-off channel preallocates its slots: keep it small; the memory queue behind it
    // grows on demand up to queue_records.
    let (tx, rx) = bounded(opts.queue_records.min(HANDOFF_MAX));
    let window = u64::try_from(opts.aggregate_window.as_nanos()).unwrap_or(u64::MAX);
    let intake = {
        let (shared, ctx, severity) = (Arc::clone(&shared), ctx.clone(), Arc::clone(severity));
        std::thread::Builder::new()
            .name(format!("out-in-{}", short(&name)))
            .spawn(move || run_intake(rx, shared, render, ctx, severity, window))
            .map_err(OutputError::Thread)?
    };
    let mut threads = vec![intake];
    if shared.spool.is_some() {
        let (shared, name) = (Arc::clone(&shared), name.clone());
        let spooler = std::thread::Builder::new()
            .name(format!("out-sp-{}", short(&name)))
            .spawn(move || run_spooler(shared, name))
            .map_err(OutputError::Thread)?;
        threads.push(spooler);
    }
    let cfg = SenderConfig {
        name: name.clone(),
        reconnect_max: opts.reconnect_max,
        stall_timeout: opts.stall_timeout,
        window_bytes: opts.resend_window_bytes,
    };
    let sender = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("out-tx-{}", short(&name)))
            .spawn(move || run_sender(shared, connector, cfg))
            .map_err(OutputError::Thread)?
    };
    threads.push(sender);
    Ok(Output {
        name,
        tx,
        shared,
        threads,
    })
}

/// Hand-off channel slots per output: the intake thread empties it at formatting speed.
const HANDOFF_MAX: usize = 16_384;

/// Thread names are cut at 15 bytes by the kernel; keep the informative end.
fn short(name: &str) -> &str {
    name.get(name.len().saturating_sub(8)..).unwrap_or(name)
}

fn stats_of(output: &Output) -> OutputStats {
    let c = &output.shared.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    OutputStats {
        name: output.name.clone(),
        queued: output.tx.len() as u64 + load(&c.mem_queued),
        sent: load(&c.sent),
        resent: load(&c.resent),
        spooled: load(&c.spooled),
        spool_records: load(&c.spool_records),
        spool_bytes: load(&c.spool_bytes),
        dropped: c.dropped_total(),
        dropped_by: c.dropped.each_ref().map(load),
        oversize: load(&c.oversize),
        aggregated: load(&c.aggregated),
        reconnects: load(&c.reconnects),
        connected: c.connected.load(Ordering::Relaxed),
        last_error: c
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
        down: c.down.load(Ordering::Relaxed),
    }
}

impl RecordSink for DispatchSink {
    fn emit(&mut self, record: Record) {
        let Some(((last_tx, last_shared), rest)) = self.inputs.split_last() else {
            return;
        };
        for (tx, shared) in rest {
            offer(tx, shared, record.clone());
        }
        offer(last_tx, last_shared, record);
    }
}

fn offer(tx: &Sender<Record>, shared: &Shared, record: Record) {
    if shared.closing.load(Ordering::Relaxed) {
        shared.counters.lose(DropReason::Shutdown, 1);
        return;
    }
    match tx.try_send(record) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => shared.counters.lose(DropReason::QueueFull, 1),
        Err(TrySendError::Disconnected(_)) => shared.counters.lose(DropReason::Shutdown, 1),
    }
}

#[cfg(test)]
#[path = "dispatcher_tests.rs"]
mod tests;
