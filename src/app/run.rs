//! `c2tap run`: the live sensor. Wires config, IOC feeds, capture threads, outputs, metrics and
//! systemd together; the packet path itself is the shared [`crate::pipeline::Worker`].
//!
//! ```text
//!  per interface: supervisor ─ N capture threads (fanout HASH|DEFRAG) ─ Worker ─┐
//!  control thread: signals, IOC reload/watch, health, stats, sd_notify          ├→ outputs
//!                                                                                │
//! ```
//! SIGHUP reloads the IOC set (built aside, swapped atomically) and reopens output files;
//! SIGTERM/SIGINT stop capture, summarize every open flow, drain the outputs and exit 0.

mod capture;
mod feeds;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;

use crate::capture::live::LiveOptions;
use crate::config::{ConfigError, RawConfig, Settings};
use crate::exclude::{severity, SuppressionCounts, Suppressor};
use crate::metrics::OutputSample;
use crate::metrics::{CountingSink, Metrics, WorkerCounters};
use crate::output::{DispatchSink, Dispatcher, OutputOptions, OutputSpec, RecordSink};
use crate::pipeline::{Claims, Worker};
use crate::privilege::{lock_down, Outcome};
use crate::record::{HealthRecord, Record, SensorContext, Signature};

use capture::{Control, InterfacePlan, WorkerSlot};
use feeds::Feeds;

/// Command-line overrides of the config file.
#[derive(Clone, Debug, Default)]
pub struct RunFlags {
    pub config: Option<PathBuf>,
    pub interfaces: Vec<String>,
    pub iocs: Vec<String>,
    pub outputs: Vec<String>,
    pub metrics: Option<String>,
    pub workers: Option<u32>,
    pub bpf: Option<String>,
    pub prefilter: bool,
}

/// Config file (or defaults) with the flags applied, validated as one.
pub fn settings(flags: &RunFlags) -> Result<Settings, ConfigError> {
    let mut raw = match &flags.config {
        Some(path) => RawConfig::read(path)?,
        None => RawConfig::default(),
    };
    if !flags.interfaces.is_empty() {
        raw.capture.interfaces = flags.interfaces.clone();
    }
    if !flags.iocs.is_empty() {
        raw.iocs.feeds = flags.iocs.clone();
    }
    if !flags.outputs.is_empty() {
        raw.outputs.urls = flags.outputs.clone();
    }
    if let Some(m) = &flags.metrics {
        raw.metrics.listen = m.clone();
    }
    if let Some(w) = flags.workers {
        raw.capture.workers = w;
    }
    if let Some(b) = &flags.bpf {
        raw.capture.bpf = Some(b.clone());
    }
    if flags.prefilter {
        raw.capture.prefilter = true;
    }
    raw.validate()
}

/// Whether an `outputs.urls` entry can be used.
pub fn check_output_url(url: &str) -> Result<(), String> {
    url.parse::<OutputSpec>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether the `[outputs.options]` table is acceptable.
pub fn check_output_options(options: &toml::Table) -> Result<(), String> {
    OutputOptions::from_table(options.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Logs to stderr for journald: no colours, and no timestamps when journald adds its own.
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match std::env::var_os("JOURNAL_STREAM") {
        Some(_) => builder.without_time().try_init(),
        None => builder.try_init(),
    };
}

fn notify(states: &[NotifyState<'_>]) {
    // Outside systemd there is no NOTIFY_SOCKET and this is a no-op.
    let _ = sd_notify::notify(states);
}

/// Match counting sees every detection; exclusions apply after it, before the outputs.
type Sink = CountingSink<Suppressor<DispatchSink>>;

struct Interface {
    handle: std::thread::JoinHandle<Vec<WorkerSlot<Sink>>>,
}

/// Runs until SIGTERM/SIGINT. Errors only for what makes starting impossible.
pub fn run(settings: Settings) -> Result<()> {
    let s = &settings;
    // First, while no thread exists: every thread started below inherits the reduced rights.
    let privileges = lock_down(s.user.as_deref()).context("dropping privileges")?;
    report_privileges(&privileges);
    let metrics = Metrics::new(s.metrics.ioc_label_threshold);
    let prefilter_max = s.capture.prefilter.then_some(s.capture.prefilter_max_iocs);
    let mut feeds = Feeds::load(s.iocs.clone(), prefilter_max, metrics.clone())
        .context("loading the IOC feeds")?;
    let ctx = SensorContext {
        hostname: super::hostname(),
        replay: false,
    };
    let outputs = start_outputs(s, ctx, &metrics)?;
    severity::install(s.severity.clone());
    for w in s.exclusions.lint(feeds::epoch_secs()) {
        tracing::warn!("{w}");
    }
    let suppressed = SuppressionCounts::new(&s.exclusions, Some(&metrics));
    let output_samples = Arc::new(Mutex::new(Vec::new()));
    let samples = Arc::clone(&output_samples);
    metrics.outputs(Box::new(move || {
        samples.lock().map(|s| s.clone()).unwrap_or_default()
    }));
    let metrics_server = match s.metrics.listen {
        Some(addr) => Some(
            crate::metrics::serve(metrics.clone(), addr)
                .with_context(|| format!("metrics endpoint on {addr}"))?,
        ),
        None => None,
    };
    let control = Control::new();
    let mut interfaces = Vec::new();
    let mut all_counters: Vec<(Arc<WorkerCounters>, Arc<std::sync::atomic::AtomicU64>)> =
        Vec::new();
    for (idx, name) in s.capture.interfaces.iter().enumerate() {
        let claims: Arc<Claims> = Arc::new(Claims::default());
        let mut slots = Vec::with_capacity(s.capture.workers);
        for w in 0..s.capture.workers {
            let counters = metrics.worker(name, w);
            let excluding = Suppressor::new(
                outputs.sink(),
                s.exclusions.clone(),
                Arc::clone(&suppressed),
            );
            let sink = CountingSink::new(excluding, Arc::clone(&counters));
            let mut worker = Worker::new(w, s.worker, Arc::clone(&feeds.handle), sink);
            if s.capture.workers > 1 {
                worker = worker.with_claims(Arc::clone(&claims));
            }
            let heartbeat = Arc::new(std::sync::atomic::AtomicU64::new(capture::now_ms()));
            all_counters.push((Arc::clone(&counters), Arc::clone(&heartbeat)));
            slots.push(WorkerSlot {
                worker,
                counters,
                heartbeat,
            });
        }
        let plan = InterfacePlan {
            interface: name.clone(),
            options: LiveOptions {
                snaplen: s.capture.snaplen,
                buffer_size: s.capture.buffer_size,
                promiscuous: s.capture.promiscuous,
                immediate: s.capture.immediate,
                timeout: s.capture.timeout,
            },
            fanout_group: s
                .capture
                .fanout_group
                .map(|g| g.wrapping_add(u16::try_from(idx).unwrap_or(0))),
            user_bpf: s.capture.bpf.clone(),
            prefilter: prefilter_max.map(|_| Arc::clone(&feeds.prefilter_state)),
        };
        let control = Arc::clone(&control);
        let handle = std::thread::Builder::new()
            .name(format!("c2tap-if-{name}"))
            .spawn(move || capture::supervise(plan, slots, control))
            .context("starting a capture thread")?;
        interfaces.push(Interface { handle });
    }
    metrics.set_capture_running(true);
    let health_sink = Mutex::new(outputs.sink());
    let status = format!(
        "capturing on {} with {} worker(s) each; {} IOCs",
        s.capture.interfaces.join(","),
        s.capture.workers,
        feeds.size
    );
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
    tracing::info!("{status}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the control loop")?;
    let loop_result = runtime.block_on(control_loop(ControlLoop {
        settings: s,
        feeds: &mut feeds,
        outputs: &outputs,
        control: &control,
        counters: &all_counters,
        health: &health_sink,
        metrics: &metrics,
        output_samples: &output_samples,
    }));

    notify(&[NotifyState::Stopping, NotifyState::Status("flushing")]);
    tracing::info!("stopping capture");
    control.shutdown();
    metrics.set_capture_running(false);
    let mut flushed = 0u64;
    for iface in interfaces {
        let Ok(slots) = iface.handle.join() else {
            tracing::error!("a capture thread panicked");
            continue;
        };
        for mut slot in slots {
            slot.worker.finish();
            let st = slot.worker.stats();
            slot.counters.publish(&st);
            flushed += st.summaries;
            tracing::info!(
                interface = %slot.counters.interface(),
                worker = slot.counters.worker(),
                packets = st.packets,
                flows_created = st.flows_created,
                alerts = st.matches[0] + st.matches[1],
                summaries = st.summaries,
                shadowed = st.shadowed,
                retro_matches = st.retro_matches,
                "worker finished"
            );
        }
    }
    drop(health_sink);
    for t in suppressed.tallies() {
        tracing::info!(rule = %t.rule, alerts = t.alerts, summaries = t.summaries, "exclusion rule");
    }
    let report = outputs.shutdown(SHUTDOWN_DEADLINE);
    for o in &report.outputs {
        tracing::info!(output = %o.name, sent = o.sent, spooled = o.spool_records, dropped = o.dropped, "output closed");
    }
    if !report.complete {
        tracing::warn!("some records could not be delivered before the deadline; see the spool");
    }
    if let Some(server) = metrics_server {
        server.shutdown();
    }
    tracing::info!(summaries = flushed, "stopped");
    loop_result
}

/// How long shutdown waits for receivers before spooling what is left.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

fn start_outputs(s: &Settings, ctx: SensorContext, metrics: &Metrics) -> Result<Dispatcher> {
    let mut specs = Vec::with_capacity(s.outputs.urls.len());
    for url in &s.outputs.urls {
        specs.push(url.parse::<OutputSpec>()?);
    }
    let opts = OutputOptions::from_table(s.outputs.options.clone())?;
    let d = Dispatcher::start(specs, opts, ctx).context("starting the outputs")?;
    metrics.set_outputs_ok(d.readiness().is_ok());
    Ok(d)
}

fn sample_outputs(c: &ControlLoop<'_>) {
    let stats = c.outputs.stats();
    c.metrics.set_outputs_ok(stats.iter().all(|o| o.ready()));
    let samples = stats
        .into_iter()
        .map(|o| OutputSample {
            name: o.name.clone(),
            queued: o.queued,
            sent: o.sent,
            resent: o.resent,
            spooled: o.spooled,
            dropped: o.drop_reasons().collect(),
            spool_bytes: o.spool_bytes,
            connected: o.connected,
            down: o.down,
        })
        .collect();
    if let Ok(mut s) = c.output_samples.lock() {
        *s = samples;
    }
}

/// One line about the rights the sensor runs with; the root case is the one to fix.
fn report_privileges(outcome: &Outcome) {
    match outcome {
        Outcome::Switched(a) => tracing::info!(
            user = %a.name,
            uid = a.uid,
            gid = a.gid,
            "switched user; kept only CAP_NET_RAW and CAP_NET_ADMIN"
        ),
        Outcome::RootWithoutUser => tracing::warn!(
            "running as root without `user`: dropped every capability but CAP_NET_RAW and \
             CAP_NET_ADMIN, but files are still accessed as uid 0; set `user` (or --user) to \
             run as an unprivileged user"
        ),
        Outcome::NotRoot => {}
    }
}

struct ControlLoop<'a> {
    settings: &'a Settings,
    feeds: &'a mut Feeds,
    outputs: &'a Dispatcher,
    control: &'a Control,
    counters: &'a [(Arc<WorkerCounters>, Arc<std::sync::atomic::AtomicU64>)],
    health: &'a Mutex<DispatchSink>,
    metrics: &'a Metrics,
    output_samples: &'a Mutex<Vec<OutputSample>>,
}

/// How often blocked handles are woken to run timers and see reloads.
const WAKE_EVERY: Duration = Duration::from_millis(250);
/// A worker silent this long is hung: the watchdog stops being fed.
const HUNG_AFTER_MS: u64 = 15_000;

async fn control_loop(c: ControlLoop<'_>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut wake = tokio::time::interval(WAKE_EVERY);
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut dog = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let health_every = c
        .settings
        .health_interval
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let mut health =
        tokio::time::interval_at(tokio::time::Instant::now() + health_every, health_every);
    let watch_every = c
        .settings
        .iocs
        .watch_interval
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let mut watch =
        tokio::time::interval_at(tokio::time::Instant::now() + watch_every, watch_every);
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM"); break; }
            _ = int.recv() => { tracing::info!("SIGINT"); break; }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading IOCs and reopening output files");
                notify(&[NotifyState::Reloading]);
                c.feeds.reload("reloaded on SIGHUP");
                c.outputs.reopen_files();
                c.control.wake_all();
                notify(&[NotifyState::Ready]);
            }
            _ = watch.tick(), if c.settings.iocs.watch_interval.is_some() => {
                if c.feeds.changed() {
                    c.feeds.reload("reloaded: a feed file changed");
                    c.control.wake_all();
                }
            }
            _ = wake.tick() => {
                c.control.wake_all();
                sample_outputs(&c);
            }
            _ = dog.tick(), if watchdog.is_some() => {
                let now = capture::now_ms();
                let alive = c.counters.iter().all(|(_, hb)| now.saturating_sub(hb.load(Ordering::Relaxed)) < HUNG_AFTER_MS);
                if alive {
                    notify(&[NotifyState::Watchdog]);
                } else {
                    tracing::error!("a capture thread stopped responding; withholding the watchdog");
                }
            }
            _ = health.tick(), if c.settings.health_interval.is_some() => emit_health(&c),
        }
    }
    Ok(())
}

fn emit_health(c: &ControlLoop<'_>) {
    let (mut packets, mut drops, mut matches) = (0u64, 0u64, 0u64);
    for (w, _) in c.counters {
        let s = w.snapshot();
        packets = packets.saturating_add(s.packets);
        matches = matches
            .saturating_add(s.matches[0])
            .saturating_add(s.matches[1]);
        if let Some(k) = w.kernel_snapshot() {
            drops = drops.saturating_add(k.dropped).saturating_add(k.if_dropped);
        }
    }
    let now = feeds::epoch_secs();
    let rec = HealthRecord {
        time: now.saturating_mul(crate::time::NANOS_PER_SEC),
        packets,
        kernel_drops: drops,
        matches,
        iocs_loaded: c.feeds.size as u64,
        ioc_age_secs: now.saturating_sub(c.feeds.loaded_at),
    };
    let status = format!(
        "packets {packets}, kernel drops {drops}, matches {matches}, {} IOCs",
        c.feeds.size
    );
    notify(&[NotifyState::Status(&status)]);
    debug_assert_eq!(Signature::Health.id(), 1004);
    if let Ok(mut sink) = c.health.lock() {
        sink.emit(Record::Health(rec));
    }
}
