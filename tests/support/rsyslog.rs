//! A real rsyslogd for delivery tests: each test starts its own on a free loopback port, with
//! its own config and work directory, writing what it receives to files the test reads. A
//! drop guard stops it, so no daemon outlives a failed test.
#![allow(dead_code)] // each test binary uses a part of it

use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// What the daemon listens with.
#[derive(Clone, Debug)]
pub enum Listen {
    Udp,
    Tcp,
    /// imrelp (package rsyslog-relp): RELP, every message answered once rsyslog took it.
    Relp,
    /// imrelp with TLS: server certificate and key, CA for the chain; clients must show a
    /// certificate that CA signed (`certvalid`, librelp's anonymous mode has no certificates).
    RelpTls {
        ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    },
    /// imtcp with the gtls driver: server certificate and key, CA for the chain.
    Tls {
        ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    },
}

pub struct Rsyslog {
    child: Option<Child>,
    dir: PathBuf,
    conf: PathBuf,
    pub port: u16,
    listen: Listen,
}

/// Whether the tests can run here; they say so and pass when not.
pub fn available() -> bool {
    Path::new(RSYSLOGD).exists()
}

pub fn relp_available() -> bool {
    [
        "/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so",
        "/usr/lib/aarch64-linux-gnu/rsyslog/imrelp.so",
        "/usr/lib/rsyslog/imrelp.so",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

pub fn tls_available() -> bool {
    [
        "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/rsyslog/lmnsd_gtls.so",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

/// A loopback port that was free a moment ago.
pub fn free_port(listen: &Listen) -> u16 {
    match listen {
        Listen::Udp => UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        _ => TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    }
}

impl Rsyslog {
    /// Writes the config into `dir` (received messages go to `dir/raw.log` as sent, and to
    /// `dir/parsed.log` as `HOSTNAME<TAB>TAG<TAB>MSG` after rsyslog's own parsing).
    pub fn new(dir: &Path, listen: Listen, port: u16) -> Rsyslog {
        let work = dir.join("work");
        fs::create_dir_all(&work).unwrap();
        let d = dir.display();
        let (global_tls, module, input) = match &listen {
            Listen::Udp => (String::new(), "module(load=\"imudp\")".to_string(), "imudp"),
            Listen::Tcp => (String::new(), "module(load=\"imtcp\")".to_string(), "imtcp"),
            Listen::Relp => (String::new(), "module(load=\"imrelp\")".to_string(), "imrelp"),
            Listen::RelpTls { .. } => (String::new(), "module(load=\"imrelp\")".to_string(), "imrelp"),
            Listen::Tls { ca, cert, key } => (
                format!(
                    " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\" defaultNetstreamDriverKeyFile=\"{}\"",
                    ca.display(),
                    cert.display(),
                    key.display()
                ),
                "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")".to_string(),
                "imtcp",
            ),
        };
        let input_tls = match &listen {
            Listen::RelpTls { ca, cert, key } => format!(
                " tls=\"on\" tls.authMode=\"certvalid\" tls.caCert=\"{}\" tls.myCert=\"{}\" tls.myPrivKey=\"{}\"",
                ca.display(),
                cert.display(),
                key.display()
            ),
            _ => String::new(),
        };
        let conf = format!(
            "global(workDirectory=\"{d}/work\" maxMessageSize=\"8k\"{global_tls})\n\
             {module}\n\
             main_queue(queue.timeoutShutdown=\"10000\")\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             template(name=\"parsed\" type=\"string\" string=\"%hostname%\\t%syslogtag%\\t%msg%\\n\")\n\
             ruleset(name=\"in\") {{\n\
               action(type=\"omfile\" file=\"{d}/raw.log\" template=\"raw\")\n\
               action(type=\"omfile\" file=\"{d}/parsed.log\" template=\"parsed\")\n\
             }}\n\
             input(type=\"{input}\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"in\"{input_tls})\n"
        );
        let conf_path = dir.join("rsyslog.conf");
        fs::write(&conf_path, conf).unwrap();
        Rsyslog {
            child: None,
            dir: dir.to_path_buf(),
            conf: conf_path,
            port,
            listen,
        }
    }

    /// Starts the daemon and waits until its port is bound.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs::File::create(self.dir.join("stderr.log")).unwrap(),
            ))
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.bound() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "rsyslogd exited with {status}: {}",
                    fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not bind port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Is the port bound (a listening TCP socket, or a UDP socket) in /proc/net?
    fn bound(&self) -> bool {
        let (table, state) = match self.listen {
            Listen::Udp => ("/proc/net/udp", "07"),
            _ => ("/proc/net/tcp", "0A"),
        };
        let local = format!("0100007F:{:04X}", self.port);
        fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.get(1) == Some(&local.as_str()) && cols.get(3) == Some(&state)
            })
    }

    /// SIGTERM (rsyslog writes out its queue) and wait for the exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Lines of `raw.log` (what arrived, as sent).
    pub fn raw_lines(&self) -> Vec<String> {
        read_lines(&self.dir.join("raw.log"))
    }

    pub fn parsed_lines(&self) -> Vec<String> {
        read_lines(&self.dir.join("parsed.log"))
    }

    /// Waits until `raw.log` has at least `n` lines (or `timeout`), then returns them.
    pub fn wait_raw(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.raw_lines();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
