//! Config reload for `c2tap run` (SIGHUP, `systemctl reload`), beside the data path. The whole
//! config is read, validated and its feeds compiled on a thread of its own with a time bound,
//! so the control loop keeps answering signals, health and the watchdog meanwhile (a feed file
//! that never finishes reading cannot freeze the sensor). The result is applied whole or not at
//! all: a config that does not validate, or whose feeds do not load, leaves the running one in
//! force, is logged with the reason and counted (`c2tap_config_reload_failures_total`).
//!
//! What a reload applies: `[[exclude]]` and `exclude_action`, `[severity]`, `[iocs]` (feeds,
//! filters, per-feed thresholds, watch_interval), `[health]`, `[logging]`. What needs a
//! restart, named in the log when it changed: `[capture]`, `[flow]`, `[outputs]`, `[metrics]`
//! and `user` ([`needs_restart`]).

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::metrics::Metrics;

use super::feeds::{self, Built};
use super::RunFlags;

/// A reload that takes longer is given up (the config in force stays). Generous: a 1.9M-row
/// feed compiles in about 10 s on a small machine.
pub const RELOAD_LIMIT: Duration = Duration::from_secs(120);

/// Work running on a thread of its own, collected by polling.
pub struct Job<T> {
    rx: Receiver<T>,
    deadline: Instant,
}

/// What polling a [`Job`] found.
#[derive(Debug)]
pub enum Polled<T> {
    Done(T),
    Running,
    /// Past its time limit; the thread is left behind (it can only block on a read) and its
    /// late result is thrown away.
    TimedOut,
    /// The thread ended without a result (it panicked).
    Lost,
}

impl<T: Send + 'static> Job<T> {
    pub fn spawn(
        name: &str,
        limit: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<Job<T>> {
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let _ = tx.send(work());
            })?;
        Ok(Job {
            rx,
            deadline: Instant::now() + limit,
        })
    }

    pub fn poll(&self) -> Polled<T> {
        match self.rx.try_recv() {
            Ok(v) => Polled::Done(v),
            Err(TryRecvError::Disconnected) => Polled::Lost,
            Err(TryRecvError::Empty) if Instant::now() >= self.deadline => Polled::TimedOut,
            Err(TryRecvError::Empty) => Polled::Running,
        }
    }
}

/// A new config, checked and with its feeds compiled, ready to apply.
pub struct Prepared {
    pub settings: Settings,
    pub feeds: Built,
    /// The log filter for `[logging] level` (`None` while `RUST_LOG` decides).
    pub log_filter: Option<tracing_subscriber::EnvFilter>,
}

/// Reads and validates the config as `run` would at start, then builds its IOC set. Runs on
/// the reload thread. `prefilter_max` is the running sensor's (the prefilter is a restart key).
pub fn prepare(
    flags: &RunFlags,
    prefilter_max: Option<usize>,
    metrics: &Metrics,
) -> Result<Prepared, String> {
    let settings = super::settings(flags).map_err(|e| format!("the config is invalid: {e}"))?;
    let log_filter = super::log_filter(&settings.log_level)?;
    let feeds = feeds::build(settings.iocs.clone(), prefilter_max, metrics)
        .map_err(|e| format!("its IOC feeds do not load: {e}"))?;
    Ok(Prepared {
        settings,
        feeds,
        log_filter,
    })
}

/// The sections whose change a reload cannot apply: capture handles, flow tables, the user,
/// the metrics listener and the outputs' connections are set up once at start.
pub fn needs_restart(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if old.capture != new.capture {
        keys.push("capture");
    }
    if old.worker != new.worker || old.max_flows != new.max_flows {
        keys.push("flow");
    }
    if old.outputs != new.outputs {
        keys.push("outputs");
    }
    if old.metrics != new.metrics {
        keys.push("metrics");
    }
    if old.user != new.user {
        keys.push("user");
    }
    if old.iocs.fetch != new.iocs.fetch {
        keys.push("iocs.source");
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_returns_its_result() {
        let job = Job::spawn("t", Duration::from_secs(10), || 7).unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match job.poll() {
                Polled::Done(v) => break assert_eq!(v, 7),
                Polled::Running if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_job_that_hangs_times_out_without_blocking_the_caller() {
        let job = Job::spawn("t", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(3600));
        })
        .unwrap();
        let started = Instant::now();
        assert!(matches!(job.poll(), Polled::Running));
        std::thread::sleep(Duration::from_millis(80));
        assert!(matches!(job.poll(), Polled::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[allow(unsafe_code)] // mkfifo has no std wrapper
    fn fifo(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        path
    }

    /// Runs `f` on a thread and fails the test if it does not return within 10 s.
    fn returns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let job = Job::spawn("t", Duration::from_secs(10), f).unwrap();
        loop {
            match job.poll() {
                Polled::Done(v) => return v,
                Polled::Running => std::thread::sleep(Duration::from_millis(10)),
                Polled::TimedOut => panic!("blocked"),
                Polled::Lost => panic!("failed"),
            }
        }
    }

    #[test]
    fn a_fifo_as_config_or_feed_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let config = fifo(dir.path(), "c2tap.toml");
        let flags = RunFlags {
            config: Some(config),
            ..RunFlags::default()
        };
        let metrics = Metrics::new(10);
        let err = returns(move || prepare(&flags, None, &metrics).err().unwrap());
        assert!(err.contains("regular file"), "{err}");

        let feed = fifo(dir.path(), "iocs.txt");
        let mut raw = crate::config::RawConfig::default();
        raw.capture.interfaces = vec!["eth0".into()];
        let feeds = raw.validate().map(|s| s.iocs).unwrap();
        let settings = crate::config::IocSettings {
            feeds: vec![crate::ioc::FeedSource::File(feed)],
            feed_min_confidence: vec![None],
            ..feeds
        };
        let metrics = Metrics::new(10);
        let err = returns(move || feeds::build(settings, None, &metrics).err().unwrap());
        assert!(err.to_string().contains("regular file"), "{err}");
        // A device never ends either.
        let err = crate::privilege::open_regular(std::path::Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_job_that_panics_is_lost() {
        let job: Job<()> = Job::spawn("t", Duration::from_secs(10), || panic!("boom")).unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Polled::Lost = job.poll() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("never reported lost");
    }
}
