//! `c2tap run`: the live sensor. Wires config, IOC feeds, capture threads, outputs, metrics and
//! systemd together; the packet path itself is the shared [`crate::pipeline::Worker`].
//!
//! ```text
//!  per interface: supervisor ─ N capture threads (fanout HASH|DEFRAG) ─ Worker ─┐
//!  control thread: signals, readiness, health, stats, sd_notify                 ├→ outputs
//!  reload thread (on demand): read + validate the config, compile the feeds     │
//! ```
//! Ready means capture: `/readyz`, `c2tap_capture_running`, sd_notify `READY=1`, the watchdog
//! and the health record all say "capturing" only while every configured interface is open and
//! each of its workers is reading; otherwise they say which interface is not and why.
//! The control thread ([`control`]) publishes that; SIGHUP reloads the config (see [`reload`])
//! and reopens output files; SIGTERM/SIGINT stop capture, summarize every open flow, drain the
//! outputs and exit 0.

mod capture;
mod control;
mod feeds;
mod reload;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;

use crate::capture::live::{check_capture_permission, LiveOptions};
use crate::config::{ConfigError, Settings};
use crate::metrics::{Metrics, WorkerCounters};
use crate::output::{DispatchSink, Dispatcher};
use crate::pipeline::{Claims, Worker};
use crate::privilege::{lock_down, Outcome};
use crate::record::SensorContext;
use crate::transform::chain::{Chain, ChainTables};

use capture::{Control, InterfacePlan, Link, WorkerSlot};
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
    pub user: Option<String>,
}

/// Config file (or defaults) with the flags applied, validated as one, with everything
/// [`super::startup::check`] checks before capture (the feeds are loaded by `run` itself).
pub fn settings(flags: &RunFlags) -> Result<Settings, ConfigError> {
    let now = crate::time::wall_secs();
    super::startup::check(
        flags,
        flags.user.as_deref(),
        super::startup::Feeds::CheckFiles,
        now,
    )
    .map(|checked| checked.settings)
    .map_err(ConfigError::Invalid)
}

/// Logs to stderr for journald: no colours, and no timestamps when journald adds its own.
/// `RUST_LOG`, when set, wins over `level` (here and on reload).
pub fn init_logging(level: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let installed = match journal {
        true => tracing_subscriber::registry()
            .with(filter)
            .with(stderr.without_time())
            .try_init(),
        false => tracing_subscriber::registry()
            .with(filter)
            .with(stderr)
            .try_init(),
    };
    if installed.is_ok() {
        let _ = LOG_FILTER.set(handle);
    }
}

/// Swaps the log filter of [`init_logging`] for a reloaded `[logging] level`.
static LOG_FILTER: std::sync::OnceLock<
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>,
> = std::sync::OnceLock::new();

/// The filter a reload would install for `level`; `None` while `RUST_LOG` decides.
fn log_filter(level: &str) -> Result<Option<tracing_subscriber::EnvFilter>, String> {
    if std::env::var_os("RUST_LOG").is_some() {
        return Ok(None);
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map(Some)
        .map_err(|e| format!("logging.level `{level}`: {e}"))
}

fn notify(states: &[NotifyState<'_>]) {
    // Outside systemd there is no NOTIFY_SOCKET and this is a no-op.
    let _ = sd_notify::notify(states);
}

/// Every worker's chain ends in the outputs' hand-off channels.
type Sink = Chain<DispatchSink>;

struct Interface {
    handle: std::thread::JoinHandle<Vec<WorkerSlot<Sink>>>,
}

/// Runs until SIGTERM/SIGINT. Errors only for what makes starting impossible. `flags` are
/// applied again to the config file on each reload.
pub fn run(settings: Settings, flags: RunFlags) -> Result<()> {
    let s = &settings;
    // Without packet sockets the sensor could only wait, blind, for interfaces that are
    // there: say so and stop. Asked before and after dropping privileges (as root without
    // CAP_NET_RAW the drop itself would fail with a less clear message).
    check_capture_permission()?;
    // First, while no thread exists: every thread started below inherits the reduced rights.
    let privileges = lock_down(s.user.as_deref()).context("dropping privileges")?;
    report_privileges(&privileges);
    check_capture_permission()?;
    let metrics = Metrics::new(s.metrics.ioc_label_threshold);
    let prefilter_max = s.capture.prefilter.then_some(s.capture.prefilter_max_iocs);
    let mut feeds = Feeds::load(s.iocs.clone(), prefilter_max, metrics.clone())
        .context("loading the IOC feeds")?;
    let ctx = SensorContext {
        hostname: super::hostname(),
        replay: false,
    };
    let tables = ChainTables::new(&s.exclusions, s.severity.clone(), Some(&metrics));
    let outputs = start_outputs(s, ctx, &tables, &metrics)?;
    for w in s.exclusions.lint(crate::time::wall_secs()) {
        tracing::warn!("{w}");
    }
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
    let mut links = Vec::new();
    let mut all_counters: Vec<Arc<WorkerCounters>> = Vec::new();
    for (idx, name) in s.capture.interfaces.iter().enumerate() {
        let claims: Arc<Claims> = Arc::new(Claims::default());
        let mut peers = crate::detect::names::shared::share(s.capture.workers).into_iter();
        let mut slots = Vec::with_capacity(s.capture.workers);
        let mut heartbeats = Vec::with_capacity(s.capture.workers);
        for w in 0..s.capture.workers {
            let counters = metrics.worker(name, w);
            let sink = tables.chain(outputs.sink(), Some(counters.clone()));
            let mut worker = Worker::new(w, s.worker, Arc::clone(&feeds.handle), sink);
            if s.capture.workers > 1 {
                worker = worker.with_claims(Arc::clone(&claims));
                if let Some(p) = peers.next() {
                    worker = worker.with_bindings(p);
                }
            }
            let heartbeat = Arc::new(std::sync::atomic::AtomicU64::new(capture::now_ms()));
            all_counters.push(Arc::clone(&counters));
            heartbeats.push(Arc::clone(&heartbeat));
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
        let link = Link::new(name, heartbeats);
        links.push(Arc::clone(&link));
        let handle = std::thread::Builder::new()
            .name(format!("c2tap-if-{name}"))
            .spawn(move || capture::supervise(plan, slots, control, link))
            .context("starting a capture thread")?;
        interfaces.push(Interface { handle });
    }
    let health_sink = Mutex::new(outputs.sink());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the control loop")?;
    let loop_result = runtime.block_on(control::control_loop(control::ControlLoop {
        settings: s.clone(),
        flags,
        prefilter_max,
        tables: &tables,
        links: &links,
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
    metrics.set_capture_state(Vec::new(), Some(Arc::from("stopping")));
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
                alerts = st.matches.iter().sum::<u64>(),
                summaries = st.summaries,
                shadowed = st.shadowed,
                retro_matches = st.retro_matches,
                "worker finished"
            );
        }
    }
    drop(health_sink);
    for t in tables.suppression_counts().tallies() {
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

fn start_outputs(
    s: &Settings,
    ctx: SensorContext,
    tables: &ChainTables,
    metrics: &Metrics,
) -> Result<Dispatcher> {
    let (specs, opts) = (s.outputs.specs.clone(), s.outputs.options.clone());
    let d = Dispatcher::start_with_severity(specs, opts, ctx, tables.severity.clone())
        .context("starting the outputs")?;
    metrics.set_outputs_ok(d.readiness().is_ok());
    Ok(d)
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
