//! A `c2tap run` process in a [`Lab`]'s sensor namespace, watched the way an operator's tools
//! watch it: its sd_notify messages (a unix datagram socket as `NOTIFY_SOCKET`, with a
//! watchdog), its metrics endpoint (`/readyz`, `/metrics`), its log and the records of its file
//! output. Killed on drop if a test fails before stopping it.

// Each test binary uses its own part of this harness.
#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::netns::Lab;

/// Where the sensor serves metrics, on its own namespace's loopback.
pub const METRICS: &str = "127.0.0.1:9917";
/// The watchdog interval handed to the sensor (it pings every half of it).
pub const WATCHDOG: Duration = Duration::from_secs(1);

pub fn pcap(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps")
        .join(name)
}

/// The namespaces; a machine that cannot make them cannot run these tests (we run as root).
pub fn lab(plugged: bool) -> Lab {
    let lab = match plugged {
        true => Lab::new(),
        false => Lab::unplugged(),
    };
    lab.unwrap_or_else(|e| panic!("network namespaces are needed (run as root): {e}"))
}

/// What goes into the config besides the fixed parts.
pub struct Setup {
    /// TOML array, e.g. `["builtin"]`.
    pub feeds: String,
    pub health: &'static str,
    pub aggregate_window: &'static str,
    /// Appended at the end (`[severity]`, `[[exclude]]` ...).
    pub extra: String,
    /// `RUST_LOG` for the sensor; `None` leaves the level to `[logging]`.
    pub rust_log: Option<&'static str>,
    /// `capture.workers`.
    pub workers: u32,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            feeds: "[\"builtin\"]".into(),
            health: "1s",
            aggregate_window: "0s",
            extra: String::new(),
            rust_log: Some("info"),
            workers: 1,
        }
    }
}

pub struct Sensor {
    child: Child,
    pub dir: tempfile::TempDir,
    iface: String,
    /// Every sd_notify datagram with the time it arrived.
    notes: Arc<Mutex<Vec<(Instant, String)>>>,
    /// The sensor's network namespace, where its metrics endpoint listens.
    netns: String,
}

fn write_config(path: &Path, iface: &str, records: &Path, setup: &Setup) {
    let config = format!(
        r#"
[capture]
interfaces = ["{iface}"]
workers = {workers}
buffer_size = "4MiB"
timeout = "20ms"
[iocs]
feeds = {feeds}
watch_interval = "0"
[outputs]
urls = ["file://{out}?format=json"]
[outputs.options]
aggregate_window = "{agg}"
[metrics]
listen = "{METRICS}"
[health]
interval = "{health}"
{extra}
"#,
        feeds = setup.feeds,
        out = records.display(),
        agg = setup.aggregate_window,
        health = setup.health,
        extra = setup.extra,
        workers = setup.workers,
    );
    std::fs::write(path, config).expect("write config");
}

impl Sensor {
    pub fn start(lab: &Lab, setup: &Setup) -> Sensor {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock_path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&sock_path).expect("notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let notes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&notes);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        sink.lock().unwrap().push((Instant::now(), text));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return,
                }
                if Arc::strong_count(&sink) == 1 {
                    return;
                }
            }
        });
        let config = dir.path().join("c2tap.toml");
        write_config(
            &config,
            &lab.sensor_if,
            &dir.path().join("records.json"),
            setup,
        );
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log");
        let mut cmd = lab.in_sensor(env!("CARGO_BIN_EXE_c2tap"));
        match setup.rust_log {
            Some(level) => cmd.env("RUST_LOG", level),
            None => cmd.env_remove("RUST_LOG"),
        };
        let child = cmd
            .arg("run")
            .arg("--config")
            .arg(&config)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start c2tap run");
        Sensor {
            child,
            iface: lab.sensor_if.clone(),
            dir,
            notes,
            netns: lab.sensor.clone(),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("c2tap.toml")
    }

    pub fn records_path(&self) -> PathBuf {
        self.dir.path().join("records.json")
    }

    /// (Re)writes the config file, e.g. before a SIGHUP.
    pub fn write_config(&self, setup: &Setup) {
        write_config(
            &self.config_path(),
            &self.iface,
            &self.records_path(),
            setup,
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Waits for `needle` to appear in the log `n` times.
    pub fn wait_log_count(&self, needle: &str, n: usize, within: Duration) {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if self.log().matches(needle).count() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "sensor never logged {needle:?} {n} time(s); log:\n{}",
            self.log()
        );
    }

    pub fn wait_log(&self, needle: &str, within: Duration) {
        self.wait_log_count(needle, 1, within)
    }

    /// sd_notify messages so far, each with when it came.
    pub fn notes(&self) -> Vec<(Instant, String)> {
        self.notes.lock().unwrap().clone()
    }

    /// `(status, body)` of a GET on the metrics endpoint.
    #[allow(unsafe_code)] // setns has no std wrapper
    pub fn http(&self, path: &str) -> (u16, String) {
        let path = path.to_string();
        let netns = format!("/var/run/netns/{}", self.netns);
        let got = std::thread::spawn(move || -> Result<(u16, String), String> {
            use std::io::{Read, Write};
            use std::os::fd::AsRawFd;
            let ns = std::fs::File::open(&netns).map_err(|e| e.to_string())?;
            // SAFETY: only this short-lived thread changes network namespace.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            let mut s = std::net::TcpStream::connect(METRICS).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(|e| e.to_string())?;
            write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").map_err(|e| e.to_string())?;
            let mut text = String::new();
            s.read_to_string(&mut text).map_err(|e| e.to_string())?;
            let status = text
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let body = text
                .split("\r\n\r\n")
                .nth(1)
                .unwrap_or_default()
                .to_string();
            Ok((status, body))
        })
        .join()
        .expect("http thread");
        got.unwrap_or((0, String::new()))
    }

    /// One sample of `/metrics`, e.g. `c2tap_capture_up{interface="x"}`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.http("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Polls `/readyz` until it answers `status`; returns its body.
    pub fn wait_ready(&self, status: u16, within: Duration) -> String {
        let until = Instant::now() + within;
        loop {
            let (s, body) = self.http("/readyz");
            if s == status {
                return body;
            }
            assert!(
                Instant::now() < until,
                "/readyz never answered {status} (last {s}: {body}); log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every JSON record written so far.
    pub fn records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.records_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn health_records(&self) -> Vec<serde_json::Value> {
        self.records()
            .into_iter()
            .filter(|r| r["signature_id"] == 1004)
            .collect()
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait")
    }

    /// SIGTERM; waits (at most `within`) for the exit and returns its status.
    pub fn stop(&mut self, within: Duration) -> ExitStatus {
        self.signal("TERM");
        let until = Instant::now() + within;
        loop {
            if let Some(s) = self.exited() {
                return s;
            }
            assert!(
                Instant::now() < until,
                "sensor did not stop within {within:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
