//! The control thread of `c2tap run`: beside the data path, it owns everything that happens
//! on a timer or a signal — readiness (the interfaces' state published to `/readyz`, metrics,
//! sd_notify and the watchdog), health records, output sampling, and reloads (started on a
//! thread of their own, collected here and applied whole). It never reads a file itself, so
//! nothing it waits for can stop signals, health or the watchdog.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;

use crate::config::Settings;
use crate::metrics::{Metrics, OutputSample, WorkerCounters};
use crate::output::{DispatchSink, Dispatcher};
use crate::transform::chain::ChainTables;

mod report;

use report::{emit_health, sample_outputs};

use super::capture::{Control, Link, LinkState};
use super::feeds::{self, Feeds};
use super::reload::{self, Job, Polled, Prepared};
use super::{notify, RunFlags, LOG_FILTER};

/// What the control loop works with; the rest of the sensor is reached through it.
pub(super) struct ControlLoop<'a> {
    /// The config in force: the start's, then each applied reload's.
    pub settings: Settings,
    pub flags: RunFlags,
    pub prefilter_max: Option<usize>,
    /// The exclusion rules and severity table every worker's chain and the outputs read.
    pub tables: &'a ChainTables,
    pub links: &'a [Arc<Link>],
    pub feeds: &'a mut Feeds,
    pub outputs: &'a Dispatcher,
    pub control: &'a Control,
    pub counters: &'a [Arc<WorkerCounters>],
    pub health: &'a Mutex<DispatchSink>,
    pub metrics: &'a Metrics,
    pub output_samples: &'a Mutex<Vec<OutputSample>>,
}

/// How often blocked handles are woken to run timers and see reloads; also how often the
/// interfaces' state and a running reload are looked at.
const WAKE_EVERY: Duration = Duration::from_millis(250);
/// Least time between two health records sent because capture stopped or resumed.
const HEALTH_GAP: Duration = Duration::from_secs(10);
/// Stands for "never" in timers that are off.
const NEVER: Duration = Duration::from_secs(86_400 * 365);

/// A rebuild running on its own thread.
enum Pending {
    /// SIGHUP: the whole config.
    Config(Job<Result<Prepared, String>>),
    /// A feed file changed or a fetched source published a new set: the feeds as configured
    /// now, with the cause for the log lines.
    Feeds(Job<Result<feeds::Built, String>>, String),
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

/// Runs until SIGTERM/SIGINT.
pub(super) async fn control_loop(mut c: ControlLoop<'_>) -> Result<()> {
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
    // Whether the last health record said "capturing" (before the first: not yet, so the
    // moment capture starts is reported), and when one was last sent early.
    let mut reported = false;
    let mut last_extra: Option<std::time::Instant> = None;
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
                // A fetched feed published a new set: swapped in like a changed feed file.
                if pending.is_none() && c.feeds.fetched_changed() {
                    pending = start_feed_reload(&c);
                }
                let capture = Capture::of(c.links);
                if published.as_ref() != Some(&capture) {
                    publish_capture(&c, &capture, published.is_none(), &mut ready_sent);
                    published = Some(capture);
                }
                // Sentinel hears that capture stopped or resumed at once, not at the next
                // health interval; a flapping link gives at most one record per HEALTH_GAP.
                let up = published.as_ref().is_some_and(Capture::is_up);
                let quiet = last_extra.is_none_or(|t| t.elapsed() >= HEALTH_GAP);
                if c.settings.health_interval.is_some() && reported != up && quiet {
                    reported = emit_health(&c);
                    last_extra = Some(std::time::Instant::now());
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
                // Fed only from here, so a stuck control loop starves it too; a stuck capture
                // thread makes its interface not up. Not capturing is logged when it starts
                // (`publish_capture`), not per ping.
                if Capture::of(c.links).is_up() {
                    notify(&[NotifyState::Watchdog]);
                }
            }
            _ = health.tick(), if c.settings.health_interval.is_some() => {
                reported = emit_health(&c);
            }
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
    let cause = c.feeds.reload_cause();
    let job = Job::spawn("c2tap-feeds", reload::RELOAD_LIMIT, move || {
        feeds::build(settings, prefilter_max, &metrics).map_err(|e| e.to_string())
    });
    match job {
        Ok(job) => Some(Pending::Feeds(job, cause)),
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
        Pending::Feeds(job, cause) => match job.poll() {
            Polled::Running => return Some(Pending::Feeds(job, cause)),
            Polled::Done(Ok(built)) => {
                c.feeds.install(built, &format!("reloaded: {cause}"));
                c.control.wake_all();
            }
            Polled::Done(Err(why)) => c.feeds.keep(&cause, &why),
            Polled::TimedOut => c.feeds.keep(&cause, "timed out"),
            Polled::Lost => c.feeds.keep(&cause, "the reload thread failed"),
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
    for w in settings.exclusions.lint(crate::time::wall_secs()) {
        tracing::warn!("{w}");
    }
    c.feeds.install(feeds, "reloaded on SIGHUP");
    c.tables.replace(
        &settings.exclusions,
        settings.severity.clone(),
        Some(c.metrics),
    );
    // Keys that need a restart keep their running values.
    let mut applied = settings;
    applied.capture = c.settings.capture.clone();
    applied.worker = c.settings.worker;
    applied.max_flows = c.settings.max_flows;
    applied.outputs = c.settings.outputs.clone();
    applied.metrics = c.settings.metrics.clone();
    applied.user = c.settings.user.clone();
    applied.iocs.fetch = c.settings.iocs.fetch.clone();
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
