//! Delivery under the failure modes that used to lose alerts silently, against real receivers:
//! rsyslogd (imtcp, imrelp) and plain TCP peers that read slowly, die with unread data in
//! their socket buffers, or never read. Every test ends with the same account: each record
//! emitted either arrived (duplicates allowed, and counted in `resent`) or is in
//! `c2tap_output_records_dropped_total` with its reason; `sent` counts each record once.
//! Shutdown mid-stream (what SIGTERM calls) and a restart on the same spool are part of each.

#[path = "support/pki.rs"]
mod pki;
#[path = "support/require.rs"]
mod require;
#[path = "support/rsyslog.rs"]
mod rsyslog;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use c2tap::ioc::Ioc;
use c2tap::output::format::cef_parse::{cef_part, parse_cef};
use c2tap::output::format::examples::{self, ctx};
use c2tap::output::{Dispatcher, OutputOptions, OutputSpec, OutputStats, ShutdownReport};
use c2tap::record::RecordSink;
use c2tap::record::{Record, Totals};

use rsyslog::{Listen, Rsyslog};

const WAIT: Duration = Duration::from_secs(60);

/// rsyslogd (and imrelp, when `relp`) is part of the test.
fn require_rsyslog(relp: bool) {
    require::require(
        rsyslog::available() && (!relp || rsyslog::relp_available()),
        "rsyslogd with imrelp (packages rsyslog, rsyslog-relp)",
    );
}

fn record(i: u64, ioc: &Arc<Ioc>) -> Record {
    let mut flow = examples::flow(Ioc::clone(ioc));
    flow.ioc = Arc::clone(ioc);
    flow.start = examples::T0 + i * 1_000_000;
    flow.end = flow.start;
    flow.totals = Totals {
        packets_to_server: 1,
        bytes_to_server: i,
        packets_to_client: 0,
        bytes_to_client: 0,
    };
    Record::Flow(flow)
}

fn options(spool: &Path) -> OutputOptions {
    OutputOptions {
        spool_dir: Some(spool.to_path_buf()),
        aggregate_window: Duration::ZERO,
        reconnect_max: Duration::from_millis(300),
        stall_timeout: Duration::from_secs(2),
        queue_records: 50_000,
        ..OutputOptions::default()
    }
}

/// Record number of a received line (its `in=`).
fn number(line: &str) -> Option<u64> {
    parse_cef(cef_part(line)?).ok()?.get("in")?.parse().ok()
}

/// The account every test ends with: all `total` records arrived or were counted as dropped,
/// each counted once in `sent`, duplicates no more than the resends.
fn assert_accounted(total: u64, received: &[u64], runs: &[OutputStats]) {
    let unique: HashSet<u64> = received.iter().copied().collect();
    let dups = received.len() - unique.len();
    let dropped: u64 = runs.iter().map(|s| s.dropped).sum();
    let sent: u64 = runs.iter().map(|s| s.sent).sum();
    let resent: u64 = runs.iter().map(|s| s.resent).sum();
    let missing: Vec<u64> = (0..total).filter(|n| !unique.contains(n)).collect();
    eprintln!(
        "total {total}: received {} ({} unique, {dups} duplicates), sent {sent}, resent {resent}, dropped {dropped}",
        received.len(),
        unique.len()
    );
    assert_eq!(
        missing.len() as u64,
        dropped,
        "records neither received nor counted as dropped: {:?}…",
        &missing[..missing.len().min(10)]
    );
    assert_eq!(
        sent + dropped,
        total,
        "sent counts records, not attempts: {runs:?}"
    );
    assert!(
        dups as u64 <= resent,
        "{dups} duplicates but only {resent} resends"
    );
}

/// Emits `total` records at about `per_ms` per millisecond, calling `at(i)` before record `i`.
fn emit(dispatcher: &Dispatcher, from: u64, to: u64, per_ms: u64, mut at: impl FnMut(u64)) {
    let mut sink = dispatcher.sink();
    let ioc = Arc::new(examples::ioc());
    for i in from..to {
        at(i);
        sink.emit(record(i, &ioc));
        if i % per_ms == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The second run of a spool test: a real rsyslogd on `port` receives what the `first` run
/// spooled, and every one of `total` records is then received or counted lost.
fn drain_to_rsyslog(
    rs_dir: &Path,
    port: u16,
    url: &str,
    opts: &OutputOptions,
    total: u64,
    first: &ShutdownReport,
) {
    let mut daemon = Rsyslog::new(rs_dir, Listen::Tcp, port);
    daemon.start();
    let d = start(url, opts);
    wait_until("spool drained", WAIT, || d.stats()[0].spool_records == 0);
    let second = d.shutdown(Duration::from_secs(30));
    assert!(second.complete, "{second:?}");
    daemon.stop();
    let received: Vec<u64> = daemon
        .raw_lines()
        .iter()
        .filter_map(|l| number(l))
        .collect();
    assert_accounted(
        total,
        &received,
        &[first.outputs[0].clone(), second.outputs[0].clone()],
    );
}

fn start(url: &str, opts: &OutputOptions) -> Dispatcher {
    let spec: OutputSpec = url.parse().unwrap();
    Dispatcher::start(vec![spec], opts.clone(), ctx()).unwrap()
}

/// A TCP receiver in this process: reads lines at `delay` per 4 KiB (zero: as fast as it
/// can), keeps their record numbers, and can be killed (its socket closed with unread data:
/// the kernel resets the connection and what sat in its buffer is gone).
struct Reader {
    got: Arc<Mutex<Vec<u64>>>,
    killed: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    fn start(listener: TcpListener, delay: Duration, read: bool) -> Reader {
        let got = Arc::new(Mutex::new(Vec::new()));
        let killed = Arc::new(AtomicBool::new(false));
        let (g, k) = (Arc::clone(&got), Arc::clone(&killed));
        let thread = std::thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            let mut conns: Vec<TcpStream> = Vec::new();
            let mut pending = Vec::new();
            while !k.load(Ordering::Relaxed) {
                if let Ok((c, _)) = listener.accept() {
                    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                    conns.push(c);
                }
                if !read {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let mut idle = true;
                for c in &mut conns {
                    let mut buf = [0u8; 4096];
                    if let Ok(n) = c.read(&mut buf) {
                        if n > 0 {
                            idle = false;
                            pending.extend_from_slice(&buf[..n]);
                        }
                    }
                }
                while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    if let Some(n) = number(&String::from_utf8_lossy(&line)) {
                        g.lock().unwrap().push(n);
                    }
                }
                if idle || !delay.is_zero() {
                    std::thread::sleep(delay.max(Duration::from_millis(1)));
                }
            }
            // Closing sockets with unread data: RST, the kernel buffer is lost.
            drop(conns);
            drop(listener);
        });
        Reader {
            got,
            killed,
            thread: Some(thread),
        }
    }

    fn received(&self) -> Vec<u64> {
        self.got.lock().unwrap().clone()
    }

    fn kill(mut self) -> Vec<u64> {
        self.killed.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.received()
    }
}

fn bind() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn rebind(port: u16) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => return l,
            Err(e) => {
                assert!(Instant::now() < deadline, "rebind {port}: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn slow_reader_killed_mid_stream_then_restarted_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&dir.path().join("spool"));
    let (listener, port) = bind();
    let slow = Reader::start(listener, Duration::from_millis(2), true);
    let d = start(&format!("tcp://127.0.0.1:{port}"), &opts);
    let total = 20_000;
    emit(&d, 0, total / 2, 20, |_| {});
    // Megabytes now sit in the socket buffers on both sides; the reader dies with them.
    let mut received = slow.kill();
    let fast = Reader::start(rebind(port), Duration::ZERO, true);
    emit(&d, total / 2, total, 20, |_| {});
    let report = d.shutdown(Duration::from_secs(30));
    assert!(report.complete, "{report:?}");
    wait_until("receiver idle", WAIT, || {
        fast.received().iter().collect::<HashSet<_>>().len() + received.len() >= total as usize
    });
    std::thread::sleep(Duration::from_millis(300));
    received.extend(fast.kill());
    assert!(
        report.outputs[0].resent > 0,
        "the dead reader's bytes were sent again"
    );
    assert_accounted(total, &received, &report.outputs);
}

#[test]
fn receiver_that_never_reads_is_down_and_its_records_spooled_then_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let opts = options(&spool);
    let (listener, port) = bind();
    let deaf = Reader::start(listener, Duration::ZERO, false);
    let d = start(&format!("tcp://127.0.0.1:{port}"), &opts);
    let total = 30_000;
    emit(&d, 0, total, 20, |_| {});
    wait_until("output marked down", WAIT, || d.stats()[0].down);
    let stats = &d.stats()[0];
    assert!(!stats.ready() && d.readiness().is_err(), "{stats:?}");
    wait_until("its records in the spool", WAIT, || {
        d.stats()[0].spool_records > 0
    });
    // SIGTERM while down: everything unconfirmed goes to the spool.
    let first = d.shutdown(Duration::from_secs(3));
    assert!(!first.complete);
    let deaf_got = deaf.kill();
    assert!(deaf_got.is_empty());
    // Next run, a real receiver on the same port gets all of it.
    require_rsyslog(false);
    let url = format!("tcp://127.0.0.1:{port}");
    drain_to_rsyslog(
        &dir.path().join("rsyslog"),
        port,
        &url,
        &opts,
        total,
        &first,
    );
}

#[test]
fn rsyslog_restarted_under_load_over_tcp_loses_nothing() {
    require_rsyslog(false);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&dir.path().join("spool"));
    let port = rsyslog::free_port(&Listen::Tcp);
    let mut daemon = Rsyslog::new(&dir.path().join("rsyslog"), Listen::Tcp, port);
    daemon.start();
    let d = start(&format!("tcp://127.0.0.1:{port}"), &opts);
    let total = 20_000;
    emit(&d, 0, total, 10, |i| {
        if i == total / 3 {
            daemon.stop();
            daemon.start();
        }
    });
    let report = d.shutdown(Duration::from_secs(30));
    let stderr = std::fs::read_to_string(dir.path().join("rsyslog/stderr.log")).unwrap_or_default();
    assert!(report.complete, "{report:?}\nrsyslogd: {stderr}");
    let lines = daemon.wait_raw(total as usize, WAIT);
    daemon.stop();
    let received: Vec<u64> = lines.iter().filter_map(|l| number(l)).collect();
    assert_accounted(total, &received, &report.outputs);
}

#[test]
fn relp_to_rsyslog_survives_restart_and_sigterm_mid_stream() {
    require_rsyslog(true);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&dir.path().join("spool"));
    let port = rsyslog::free_port(&Listen::Relp);
    let mut daemon = Rsyslog::new(&dir.path().join("rsyslog"), Listen::Relp, port);
    daemon.start();
    let url = format!("relp://127.0.0.1:{port}");
    let d = start(&url, &opts);
    wait_until("connected", WAIT, || d.stats()[0].connected);
    assert!(d.readiness().is_ok());
    let total = 20_000;
    emit(&d, 0, total / 2, 10, |i| {
        if i == total / 4 {
            daemon.stop();
            daemon.start();
        }
    });
    // SIGTERM mid-stream with the receiver away: the rest waits in the spool.
    daemon.stop();
    let first = d.shutdown(Duration::from_secs(2));
    daemon.start();
    let d = start(&url, &opts);
    emit(&d, total / 2, total, 10, |_| {});
    let second = d.shutdown(Duration::from_secs(30));
    assert!(second.complete, "{second:?}");
    let lines = daemon.wait_raw(total as usize, WAIT);
    daemon.stop();
    let received: Vec<u64> = lines.iter().filter_map(|l| number(l)).collect();
    assert_accounted(
        total,
        &received,
        &[first.outputs[0].clone(), second.outputs[0].clone()],
    );
    // RELP confirms per message: a restart leaves at most the unanswered window to resend.
    assert!(first.outputs[0].resent + second.outputs[0].resent <= 2 * 128);
}

#[test]
fn relp_receiver_that_never_answers_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&dir.path().join("spool"));
    let (listener, port) = bind();
    // Accepts and reads nothing: the RELP open is never answered.
    let deaf = Reader::start(listener, Duration::ZERO, false);
    let d = start(&format!("relp://127.0.0.1:{port}"), &opts);
    emit(&d, 0, 100, 10, |_| {});
    std::thread::sleep(Duration::from_secs(4));
    let stats = &d.stats()[0];
    assert!(
        !stats.connected && !stats.ready() && stats.sent == 0,
        "{stats:?}"
    );
    let report = d.shutdown(Duration::from_secs(1));
    assert_eq!(report.outputs[0].spool_records, 100);
    drop(deaf.kill());
}

#[test]
fn file_output_that_cannot_be_opened_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let opts = OutputOptions {
        aggregate_window: Duration::ZERO,
        ..OutputOptions::default()
    };
    let d = start(
        &format!("file://{}/missing-dir/out.cef", dir.path().display()),
        &opts,
    );
    emit(&d, 0, 10, 10, |_| {});
    std::thread::sleep(Duration::from_millis(500));
    let why = d.readiness().unwrap_err();
    assert!(why[0].contains("not connected"), "{why:?}");
    std::fs::create_dir(dir.path().join("missing-dir")).unwrap();
    wait_until("file opened", WAIT, || d.readiness().is_ok());
    let report = d.shutdown(Duration::from_secs(10));
    assert_accounted(10, &(0..10).collect::<Vec<_>>(), &report.outputs);
    let lines =
        BufReader::new(std::fs::File::open(dir.path().join("missing-dir/out.cef")).unwrap())
            .lines()
            .count();
    assert_eq!(lines, 10);
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_under_the_spool_is_counted_and_the_rest_delivered() {
    require_rsyslog(false);
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "256k") else {
        panic!("this test needs root (CAP_SYS_ADMIN) to mount a tmpfs");
    };
    let opts = OutputOptions {
        spool_max_bytes: 64 << 20,
        queue_records: 1_000,
        ..options(&fs.0)
    };
    let port = rsyslog::free_port(&Listen::Tcp);
    let url = format!("tcp://127.0.0.1:{port}");
    // Receiver away: everything goes to a spool on a disk that fills after ~700 records.
    let d = start(&url, &opts);
    let total = 3_000;
    emit(&d, 0, total, 5, |_| {});
    wait_until("the disk to fill", WAIT, || {
        let s = d.stats().remove(0);
        s.spooled + s.dropped + 1_000 >= total
    });
    let full = d.stats().remove(0);
    let spool_error = full
        .drop_reasons()
        .find(|(r, _)| *r == "spool_error")
        .map_or(0, |(_, n)| n);
    assert!(spool_error > 0 && full.spool_records > 0, "{full:?}");
    // SIGTERM with a full disk: what does not fit is counted, not lost silently.
    let first = d.shutdown(Duration::from_secs(1));
    drain_to_rsyslog(
        &dir.path().join("rsyslog"),
        port,
        &url,
        &opts,
        total,
        &first,
    );
    drop(fs);
}

#[test]
fn relp_over_tls_to_rsyslog_with_a_test_ca() {
    require_rsyslog(true);
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::make_pki(&dir.path().join("pki"));
    let listen = Listen::RelpTls {
        ca: pki.ca.clone(),
        cert: pki.cert,
        key: pki.key,
    };
    let port = rsyslog::free_port(&listen);
    let mut daemon = Rsyslog::new(&dir.path().join("rsyslog"), listen, port);
    daemon.start();
    let opts = OutputOptions {
        tls_ca: Some(pki.ca),
        tls_cert: Some(pki.client_cert),
        tls_key: Some(pki.client_key),
        ..options(&dir.path().join("spool"))
    };
    let d = start(&format!("relp+tls://127.0.0.1:{port}"), &opts);
    let total = 2_000;
    emit(&d, 0, total, 10, |_| {});
    let report = d.shutdown(Duration::from_secs(30));
    let stderr = std::fs::read_to_string(dir.path().join("rsyslog/stderr.log")).unwrap_or_default();
    assert!(report.complete, "{report:?}\nrsyslogd: {stderr}");
    let lines = daemon.wait_raw(total as usize, WAIT);
    daemon.stop();
    let received: Vec<u64> = lines.iter().filter_map(|l| number(l)).collect();
    assert_accounted(total, &received, &report.outputs);
}
