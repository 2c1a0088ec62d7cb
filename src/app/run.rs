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
//! SIGHUP reloads the config (see [`reload`]) and reopens output files; SIGTERM/SIGINT stop
//! capture, summarize every open flow, drain the outputs and exit 0.

mod capture;
mod feeds;
mod reload;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;

use crate::capture::live::{check_capture_permission, LiveOptions};
use crate::config::{ConfigError, RawConfig, Settings};
use crate::exclude::{severity, Exclusions, SharedExclusions, SuppressionCounts, Suppressor};
use crate::metrics::OutputSample;
use crate::metrics::{CountingSink, Metrics, WorkerCounters};
use crate::output::{DispatchSink, Dispatcher, OutputOptions, OutputSpec, RecordSink};
use crate::pipeline::{Claims, Worker};
use crate::privilege::{lock_down, Outcome};
use crate::record::{HealthRecord, Record, SensorContext, Signature};

use capture::{Control, InterfacePlan, Link, LinkState, WorkerSlot};
use feeds::Feeds;
use reload::{Job, Polled, Prepared};

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
    let mut settings = raw.validate()?;
    if flags.user.is_some() {
        settings.user = flags.user.clone();
    }
    Ok(settings)
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

/// Match counting sees every detection; exclusions apply after it, before the outputs.
type Sink = CountingSink<Suppressor<DispatchSink>>;

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
    let outputs = start_outputs(s, ctx, &metrics)?;
    severity::install(s.severity.clone());
    for w in s.exclusions.lint(feeds::epoch_secs()) {
        tracing::warn!("{w}");
    }
    let exclusions: SharedExclusions = Arc::new(arc_swap::ArcSwap::from_pointee(Exclusions {
        set: s.exclusions.clone(),
        counts: SuppressionCounts::new(&s.exclusions, Some(&metrics)),
    }));
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
    let mut all_counters: Vec<(Arc<WorkerCounters>, Arc<std::sync::atomic::AtomicU64>)> =
        Vec::new();
    for (idx, name) in s.capture.interfaces.iter().enumerate() {
        let claims: Arc<Claims> = Arc::new(Claims::default());
        let mut slots = Vec::with_capacity(s.capture.workers);
        for w in 0..s.capture.workers {
            let counters = metrics.worker(name, w);
            let excluding = Suppressor::shared(outputs.sink(), Arc::clone(&exclusions));
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
        let link = Link::new(name, s.capture.workers);
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
    let loop_result = runtime.block_on(control_loop(ControlLoop {
        settings: s.clone(),
        flags,
        prefilter_max,
        exclusions: &exclusions,
        links: &links,
        feeds: &mut feeds,
        outputs: &outputs,
        spool: OutputOptions::from_table(s.outputs.options.clone())
            .is_ok_and(|o| o.spool_dir.is_some()),
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
                alerts = st.matches[0] + st.matches[1],
                summaries = st.summaries,
                shadowed = st.shadowed,
                retro_matches = st.retro_matches,
                "worker finished"
            );
        }
    }
    drop(health_sink);
    for t in exclusions.load().counts.tallies() {
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
    let spool = opts.spool_dir.is_some();
    let d = Dispatcher::start(specs, opts, ctx).context("starting the outputs")?;
    metrics.set_outputs_ok(spool || d.stats().iter().all(|o| o.connected));
    Ok(d)
}

fn sample_outputs(c: &ControlLoop<'_>) {
    let stats = c.outputs.stats();
    let spool = c.spool;
    c.metrics.set_outputs_ok(
        spool
            || stats
                .iter()
                .all(|o| o.connected || o.name.starts_with("file-")),
    );
    let samples = stats
        .into_iter()
        .map(|o| OutputSample {
            name: o.name,
            queued: o.queued,
            sent: o.sent,
            spooled: o.spooled,
            dropped: o.dropped,
            spool_bytes: o.spool_bytes,
            connected: o.connected,
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
    /// The config in force: the start's, then each applied reload's.
    settings: Settings,
    flags: RunFlags,
    prefilter_max: Option<usize>,
    exclusions: &'a SharedExclusions,
    links: &'a [Arc<Link>],
    feeds: &'a mut Feeds,
    outputs: &'a Dispatcher,
    spool: bool,
    control: &'a Control,
    counters: &'a [(Arc<WorkerCounters>, Arc<std::sync::atomic::AtomicU64>)],
    health: &'a Mutex<DispatchSink>,
    metrics: &'a Metrics,
    output_samples: &'a Mutex<Vec<OutputSample>>,
}

/// How often blocked handles are woken to run timers and see reloads; also how often the
/// interfaces' state and a running reload are looked at.
const WAKE_EVERY: Duration = Duration::from_millis(250);
/// A worker silent this long is hung: the watchdog stops being fed.
const HUNG_AFTER_MS: u64 = 15_000;
/// Stands for "never" in timers that are off.
const NEVER: Duration = Duration::from_secs(86_400 * 365);

/// A rebuild running on its own thread.
enum Pending {
    /// SIGHUP: the whole config.
    Config(Job<Result<Prepared, String>>),
    /// A feed file changed: the feeds as configured now.
    Feeds(Job<Result<feeds::Built, String>>),
}

/// The capture state as the control loop last published it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Capture {
    /// `(interface, why)` for each interface that is not capturing.
    down: Vec<(String, String)>,
}

impl Capture {
    fn of(links: &[Arc<Link>]) -> Capture {
        let down = links
            .iter()
            .filter_map(|l| match l.state() {
                LinkState::Up => None,
                LinkState::Down(why) => Some((l.name.clone(), why)),
            })
            .collect();
        Capture { down }
    }

    fn is_up(&self) -> bool {
        self.down.is_empty()
    }

    /// `eth1: absent: ...; eth2: down: ...`, or `None` while every interface captures.
    fn problem(&self) -> Option<String> {
        (!self.is_up()).then(|| {
            self.down
                .iter()
                .map(|(name, why)| format!("{name}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

async fn control_loop(mut c: ControlLoop<'_>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut wake = tokio::time::interval(WAKE_EVERY);
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut dog = tokio::time::interval(watchdog.unwrap_or(NEVER));
    let mut health = health_timer(&c.settings);
    let mut watch = watch_timer(&c.settings);
    let mut published: Option<Capture> = None;
    let mut ready_sent = false;
    let mut pending: Option<Pending> = None;
    // A SIGHUP that came while a reload was running: one more reload after it.
    let mut again = false;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM"); break; }
            _ = int.recv() => { tracing::info!("SIGINT"); break; }
            _ = hup.recv() => {
                c.outputs.reopen_files();
                match pending {
                    Some(Pending::Config(_)) => {
                        tracing::info!("SIGHUP: a config reload is already running; another follows it");
                        again = true;
                    }
                    _ => {
                        tracing::info!("SIGHUP: reloading the config and reopening output files");
                        // systemd knows reloading only for a unit that was ready.
                        if ready_sent {
                            notify(&[NotifyState::Reloading]);
                        }
                        pending = start_config_reload(&c);
                        if pending.is_none() && ready_sent {
                            notify(&[NotifyState::Ready]);
                        }
                    }
                }
            }
            _ = watch.tick(), if c.settings.iocs.watch_interval.is_some() => {
                if pending.is_none() && c.feeds.changed() {
                    pending = start_feed_reload(&c);
                }
            }
            _ = wake.tick() => {
                c.control.wake_all();
                sample_outputs(&c);
                let capture = Capture::of(c.links);
                if published.as_ref() != Some(&capture) {
                    publish_capture(&c, &capture, published.is_none(), &mut ready_sent);
                    published = Some(capture);
                }
                if let Some(job) = pending.take() {
                    let timers = (c.settings.health_interval, c.settings.iocs.watch_interval);
                    let config = matches!(job, Pending::Config(_));
                    pending = finish_reload(&mut c, job);
                    if pending.is_none() {
                        // Restarted only when changed: a feed reload every minute must not
                        // keep pushing a five-minute health record away.
                        if timers.0 != c.settings.health_interval {
                            health = health_timer(&c.settings);
                        }
                        if timers.1 != c.settings.iocs.watch_interval {
                            watch = watch_timer(&c.settings);
                        }
                        if again {
                            again = false;
                            pending = start_config_reload(&c);
                        }
                        if config && pending.is_none() && ready_sent {
                            notify(&[NotifyState::Ready]);
                        }
                    }
                }
            }
            _ = dog.tick(), if watchdog.is_some() => {
                // Fed only from here, so a stuck control loop starves it too.
                let now = capture::now_ms();
                let alive = c.counters.iter().all(|(_, hb)| now.saturating_sub(hb.load(Ordering::Relaxed)) < HUNG_AFTER_MS);
                let capturing = Capture::of(c.links);
                // Not capturing is logged when it starts (`publish_capture`), not per ping.
                if !alive {
                    tracing::error!("a capture thread stopped responding; withholding the watchdog");
                } else if capturing.is_up() {
                    notify(&[NotifyState::Watchdog]);
                }
            }
            _ = health.tick(), if c.settings.health_interval.is_some() => emit_health(&c),
        }
    }
    Ok(())
}

fn health_timer(s: &Settings) -> tokio::time::Interval {
    let every = s.health_interval.unwrap_or(NEVER);
    tokio::time::interval_at(tokio::time::Instant::now() + every, every)
}

fn watch_timer(s: &Settings) -> tokio::time::Interval {
    let every = s.iocs.watch_interval.unwrap_or(NEVER);
    tokio::time::interval_at(tokio::time::Instant::now() + every, every)
}

/// Tells every reader of readiness about a new capture state: metrics (`/readyz`,
/// `c2tap_capture_running`, `c2tap_capture_up`), the log and sd_notify. `READY=1` is sent the
/// first time every interface captures; after that `STATUS=` says when one stops.
fn publish_capture(c: &ControlLoop<'_>, capture: &Capture, first: bool, ready_sent: &mut bool) {
    let up = c
        .links
        .iter()
        .map(|l| {
            let down = capture.down.iter().any(|(name, _)| *name == l.name);
            (l.name.clone(), !down)
        })
        .collect();
    let problem = capture.problem();
    c.metrics
        .set_capture_state(up, problem.as_deref().map(Arc::from));
    match problem {
        None => {
            let status = format!(
                "capturing on {} with {} worker(s) each; {} IOCs",
                c.settings.capture.interfaces.join(","),
                c.settings.capture.workers,
                c.feeds.size
            );
            tracing::info!("{status}; ready");
            if *ready_sent {
                notify(&[NotifyState::Status(&status)]);
            } else {
                notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
                *ready_sent = true;
            }
        }
        Some(problem) => {
            let status = format!("not capturing: {problem}");
            // At start the interfaces are opening: not worth a warning yet.
            if first {
                tracing::info!("{status}");
            } else {
                tracing::warn!("{status}; not ready");
            }
            notify(&[NotifyState::Status(&status)]);
        }
    }
}

fn start_config_reload(c: &ControlLoop<'_>) -> Option<Pending> {
    let flags = c.flags.clone();
    let (prefilter_max, metrics) = (c.prefilter_max, c.metrics.clone());
    let job = Job::spawn("c2tap-reload", reload::RELOAD_LIMIT, move || {
        reload::prepare(&flags, prefilter_max, &metrics)
    });
    match job {
        Ok(job) => Some(Pending::Config(job)),
        Err(e) => {
            reload_refused(c, &format!("cannot start the reload thread: {e}"));
            None
        }
    }
}

fn start_feed_reload(c: &ControlLoop<'_>) -> Option<Pending> {
    let (settings, prefilter_max, metrics) = c.feeds.recipe();
    let job = Job::spawn("c2tap-feeds", reload::RELOAD_LIMIT, move || {
        feeds::build(settings, prefilter_max, &metrics).map_err(|e| e.to_string())
    });
    match job {
        Ok(job) => Some(Pending::Feeds(job)),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the feed reload thread");
            None
        }
    }
}

fn reload_refused(c: &ControlLoop<'_>, why: &str) {
    c.metrics.config_reload_failed();
    tracing::error!("config reload refused: {why}; the running config stays in force");
}

/// Looks at a running rebuild; applies it when done. Returns it while it is still running.
fn finish_reload(c: &mut ControlLoop<'_>, job: Pending) -> Option<Pending> {
    match job {
        Pending::Config(job) => match job.poll() {
            Polled::Running => return Some(Pending::Config(job)),
            Polled::Done(Ok(prepared)) => apply(c, prepared),
            Polled::Done(Err(why)) => reload_refused(c, &why),
            Polled::TimedOut => reload_refused(
                c,
                &format!(
                    "reading the config and its feeds took longer than {:?} (a file that never \
                     finishes reading?)",
                    reload::RELOAD_LIMIT
                ),
            ),
            Polled::Lost => reload_refused(c, "the reload thread failed"),
        },
        Pending::Feeds(job) => match job.poll() {
            Polled::Running => return Some(Pending::Feeds(job)),
            Polled::Done(Ok(built)) => {
                c.feeds.install(built, "reloaded: a feed file changed");
                c.control.wake_all();
            }
            Polled::Done(Err(why)) => c.feeds.keep("a feed file changed", &why),
            Polled::TimedOut => c.feeds.keep("a feed file changed", "timed out"),
            Polled::Lost => c
                .feeds
                .keep("a feed file changed", "the reload thread failed"),
        },
    }
    None
}

/// Puts a prepared config in force: every part a running sensor can change, at once.
fn apply(c: &mut ControlLoop<'_>, new: Prepared) {
    let Prepared {
        settings,
        feeds,
        log_filter,
    } = new;
    let restart = reload::needs_restart(&c.settings, &settings);
    if !restart.is_empty() {
        tracing::warn!(
            "config reload: changes to {} take effect only after a restart (systemctl restart \
             c2tap); they are ignored until then",
            restart.join(", ")
        );
    }
    for w in settings.exclusions.lint(feeds::epoch_secs()) {
        tracing::warn!("{w}");
    }
    c.feeds.install(feeds, "reloaded on SIGHUP");
    c.exclusions.store(Arc::new(Exclusions {
        set: settings.exclusions.clone(),
        counts: SuppressionCounts::new(&settings.exclusions, Some(c.metrics)),
    }));
    severity::install(settings.severity.clone());
    // Keys that need a restart keep their running values.
    let mut applied = settings;
    applied.capture = c.settings.capture.clone();
    applied.worker = c.settings.worker;
    applied.max_flows = c.settings.max_flows;
    applied.outputs = c.settings.outputs.clone();
    applied.metrics = c.settings.metrics.clone();
    applied.user = c.settings.user.clone();
    tracing::info!(
        iocs = c.feeds.size,
        exclusions = applied.exclusions.rules().len(),
        "config reloaded"
    );
    // Last, so the line above is still written at the old level.
    if let (Some(filter), Some(handle)) = (log_filter, LOG_FILTER.get()) {
        if applied.log_level != c.settings.log_level {
            if let Err(e) = handle.reload(filter) {
                tracing::warn!("cannot change the log level: {e}");
            }
        }
    }
    c.settings = applied;
    c.control.wake_all();
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
    let capture_problem = Capture::of(c.links).problem();
    let status = match &capture_problem {
        None => format!(
            "capturing: packets {packets}, kernel drops {drops}, matches {matches}, {} IOCs",
            c.feeds.size
        ),
        Some(problem) => format!("not capturing: {problem}"),
    };
    let rec = HealthRecord {
        time: now.saturating_mul(crate::time::NANOS_PER_SEC),
        packets,
        kernel_drops: drops,
        matches,
        iocs_loaded: c.feeds.size as u64,
        ioc_age_secs: now.saturating_sub(c.feeds.loaded_at),
        capture_problem,
    };
    notify(&[NotifyState::Status(&status)]);
    debug_assert_eq!(Signature::Health.id(), 1004);
    if let Ok(mut sink) = c.health.lock() {
        sink.emit(Record::Health(rec));
    }
}
