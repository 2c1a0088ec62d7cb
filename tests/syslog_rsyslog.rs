//! Delivery against a real rsyslogd: records arrive byte-exact over UDP, TCP (LF and octet
//! counting) and TLS, parse back into the CommonSecurityLog fields the hunts read, and survive
//! a receiver that restarts, is absent at start, or whose spool fills; shutdown flushes.
//! Each test skips (passing, with a message) when rsyslogd is not installed.

#[path = "support/pki.rs"]
mod pki;
#[path = "support/require.rs"]
mod require;
#[path = "support/rsyslog.rs"]
mod rsyslog;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use c2tap::exclude::severity::DEFAULT;
use c2tap::ioc::Ioc;
use c2tap::output::format::cef_parse::{cef_part, parse_cef, CefEvent};
use c2tap::output::format::examples::{self, ctx};
use c2tap::output::format::syslog::{Envelope, Facility, Framing};
use c2tap::output::{Dispatcher, OutputOptions, OutputSpec};
use c2tap::record::RecordSink;
use c2tap::record::{Record, Totals};

use rsyslog::{Listen, Rsyslog};

const WAIT: Duration = Duration::from_secs(20);

/// rsyslogd is part of the test.
fn require_rsyslog() {
    require::require(rsyslog::available(), "rsyslogd (package rsyslog)");
}

/// Record number `i`: the worked example, its number in `in=` (bytes to server) so arrival
/// order can be checked, and in its time.
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

fn ioc() -> Ioc {
    examples::ioc()
}

fn options(spool: Option<&Path>) -> OutputOptions {
    OutputOptions {
        spool_dir: spool.map(Path::to_path_buf),
        aggregate_window: Duration::ZERO,
        reconnect_max: Duration::from_millis(300),
        ..OutputOptions::default()
    }
}

/// The syslog message the sensor sends for `rec` with these options (what rsyslog must log).
fn expected(rec: &Record, opts: &OutputOptions) -> String {
    let mut buf = Vec::new();
    Envelope::new(
        opts.facility,
        opts.rfc5424,
        "sensor01",
        opts.max_record_bytes,
    )
    .write(&mut buf, rec, &ctx(), &DEFAULT);
    String::from_utf8(buf).unwrap()
}

fn cef_of(line: &str) -> CefEvent {
    parse_cef(cef_part(line).expect("line has CEF")).expect("line parses as CEF")
}

/// Record numbers in arrival order.
fn numbers(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| cef_of(l).get("in").unwrap().parse().unwrap())
        .collect()
}

/// Arrival order with later copies (at-least-once resends) removed, and how many there were.
fn first_arrivals(numbers: &[u64]) -> (Vec<u64>, usize) {
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<u64> = numbers
        .iter()
        .copied()
        .filter(|n| seen.insert(*n))
        .collect();
    let dups = numbers.len() - firsts.len();
    (firsts, dups)
}

/// Sends `n` records through one output and checks rsyslog logged exactly those bytes, and
/// that rsyslog's own parse sees host `sensor01`, tag `CEF:` and the CEF fields the hunts read.
fn deliver_and_check(listen: Listen, url_scheme: &str, mut opts: OutputOptions, framing: Framing) {
    let dir = tempfile::tempdir().unwrap();
    let port = rsyslog::free_port(&listen);
    let mut daemon = Rsyslog::new(dir.path(), listen, port);
    daemon.start();
    opts.framing = framing;
    let spec: OutputSpec = format!("{url_scheme}://127.0.0.1:{port}").parse().unwrap();
    let dispatcher = Dispatcher::start(vec![spec], opts.clone(), ctx()).unwrap();
    wait_connected(&dispatcher);
    let mut sink = dispatcher.sink();
    let ioc = Arc::new(ioc());
    let records: Vec<Record> = (0..20).map(|i| record(i, &ioc)).collect();
    for rec in &records {
        sink.emit(rec.clone());
        std::thread::sleep(Duration::from_millis(2));
    }
    let report = dispatcher.shutdown(Duration::from_secs(10));
    assert!(report.complete, "{report:?}");
    let raw = daemon.wait_raw(records.len(), WAIT);
    let want: Vec<String> = records.iter().map(|r| expected(r, &opts)).collect();
    assert_eq!(raw, want);
    for line in daemon.parsed_lines() {
        let cols: Vec<&str> = line.splitn(3, '\t').collect();
        assert_eq!(cols[..2], ["sensor01", "CEF:"], "{line}");
        let ev = parse_cef(&format!("CEF:{}", cols[2])).unwrap();
        assert_eq!(ev.signature_id, "1001");
        assert_eq!(ev.name, "Remcos C2 connection");
        for (key, value) in [
            ("src", "10.1.2.3"),
            ("dst", "138.9.223.13"),
            ("dpt", "8015"),
            ("act", "established"),
        ] {
            assert_eq!(ev.get(key), Some(value), "{key} in {line}");
        }
    }
    assert_eq!(daemon.parsed_lines().len(), records.len());
}

/// A running rsyslogd on a TCP port (in `dir`) and a dispatcher sending to it.
fn tcp_pair(dir: &Path, opts: &OutputOptions) -> (Rsyslog, Dispatcher) {
    let port = rsyslog::free_port(&Listen::Tcp);
    let mut daemon = Rsyslog::new(dir, Listen::Tcp, port);
    daemon.start();
    (daemon, start_tcp(port, opts))
}

fn start_tcp(port: u16, opts: &OutputOptions) -> Dispatcher {
    let spec: OutputSpec = format!("tcp://127.0.0.1:{port}").parse().unwrap();
    Dispatcher::start(vec![spec], opts.clone(), ctx()).unwrap()
}

fn wait_connected(dispatcher: &Dispatcher) {
    let deadline = Instant::now() + WAIT;
    while !dispatcher.stats().iter().all(|s| s.connected) {
        assert!(
            Instant::now() < deadline,
            "never connected: {:?}",
            dispatcher.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn udp_arrives_byte_exact_and_parses() {
    require_rsyslog();
    deliver_and_check(Listen::Udp, "udp", options(None), Framing::Lf);
}

#[test]
fn tcp_lf_framing() {
    require_rsyslog();
    deliver_and_check(Listen::Tcp, "tcp", options(None), Framing::Lf);
}

#[test]
fn tcp_octet_counting_and_rfc5424() {
    require_rsyslog();
    deliver_and_check(Listen::Tcp, "tcp", options(None), Framing::OctetCounting);
    let opts = OutputOptions {
        rfc5424: true,
        facility: Facility::Local0,
        ..options(None)
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, dispatcher) = tcp_pair(dir.path(), &opts);
    let rec = record(7, &Arc::new(ioc()));
    dispatcher.sink().emit(rec.clone());
    assert!(dispatcher.shutdown(Duration::from_secs(10)).complete);
    let raw = daemon.wait_raw(1, WAIT);
    assert_eq!(raw, [expected(&rec, &opts)]);
    assert!(
        raw[0].starts_with("<132>1 2026-05-09T14:03:27.130Z sensor01 c2tap - - - CEF:0|"),
        "{}",
        raw[0]
    );
}

#[test]
fn tls_with_test_ca() {
    require_rsyslog();
    require::require(
        rsyslog::tls_available(),
        "rsyslog's gtls driver (package rsyslog-gnutls)",
    );
    let dir = tempfile::tempdir().unwrap();
    let pki::Pki {
        ca: ca_path,
        cert: cert_path,
        key: key_path,
        ..
    } = pki::make_pki(&dir.path().join("pki"));
    let listen = Listen::Tls {
        ca: ca_path.clone(),
        cert: cert_path,
        key: key_path,
    };
    let opts = OutputOptions {
        tls_ca: Some(ca_path),
        ..options(None)
    };
    deliver_and_check(listen.clone(), "tls", opts.clone(), Framing::Lf);
    deliver_and_check(listen, "tls", opts, Framing::OctetCounting);

    // Verification is on: a CA that did not sign the server's certificate never connects.
    let other_dir = tempfile::tempdir().unwrap();
    let other_ca = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let other_ca_path = other_dir.path().join("other.pem");
    std::fs::write(&other_ca_path, other_ca.pem()).unwrap();
    let pki = dir.path().join("pki");
    let listen = Listen::Tls {
        ca: pki.join("ca.pem"),
        cert: pki.join("server.pem"),
        key: pki.join("server.key"),
    };
    let port = rsyslog::free_port(&listen);
    let mut daemon = Rsyslog::new(other_dir.path(), listen, port);
    daemon.start();
    let opts = OutputOptions {
        tls_ca: Some(other_ca_path),
        ..options(None)
    };
    let dispatcher = Dispatcher::start(
        vec![format!("tls://127.0.0.1:{port}").parse().unwrap()],
        opts,
        ctx(),
    )
    .unwrap();
    dispatcher.sink().emit(record(1, &Arc::new(ioc())));
    std::thread::sleep(Duration::from_secs(1));
    let stats = dispatcher.stats();
    assert!(!stats[0].connected && stats[0].sent == 0, "{stats:?}");
    let report = dispatcher.shutdown(Duration::from_millis(200));
    assert_eq!(
        report.outputs[0].dropped, 1,
        "no spool: the undelivered record is counted"
    );
    assert!(daemon.raw_lines().is_empty());
}

#[test]
fn receiver_restart_mid_stream_loses_nothing() {
    require_rsyslog();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("state");
    let (mut daemon, dispatcher) = tcp_pair(&dir.path().join("rsyslog"), &options(Some(&spool)));
    wait_connected(&dispatcher);
    let mut sink = dispatcher.sink();
    let ioc = Arc::new(ioc());
    let total = 600;
    for i in 0..total {
        if i == 200 {
            daemon.stop();
        }
        if i == 400 {
            daemon.start();
        }
        sink.emit(record(i, &ioc));
        std::thread::sleep(Duration::from_millis(3));
    }
    let report = dispatcher.shutdown(Duration::from_secs(15));
    assert!(report.complete, "{report:?}");
    let stats = &report.outputs[0];
    assert_eq!(stats.dropped, 0);
    assert!(stats.spooled > 0 && stats.reconnects >= 1, "{stats:?}");
    let raw = daemon.wait_raw(total as usize, WAIT);
    let (firsts, dups) = first_arrivals(&numbers(&raw));
    assert_eq!(
        firsts,
        (0..total).collect::<Vec<_>>(),
        "every record, in order"
    );
    assert!(
        dups as u64 <= stats.resent,
        "{dups} duplicates, {} resent",
        stats.resent
    );
    assert_eq!(stats.sent, total, "sent counts records, not attempts");
    eprintln!(
        "restart: {} records, {dups} duplicates, stats {stats:?}",
        raw.len()
    );
}

#[test]
fn absent_at_start_then_started_gets_the_spool() {
    require_rsyslog();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("state");
    let port = rsyslog::free_port(&Listen::Tcp);
    let dispatcher = start_tcp(port, &options(Some(&spool)));
    let mut sink = dispatcher.sink();
    let ioc = Arc::new(ioc());
    for i in 0..300 {
        sink.emit(record(i, &ioc));
    }
    let deadline = Instant::now() + WAIT;
    while dispatcher.stats()[0].spool_records < 300 {
        assert!(Instant::now() < deadline, "{:?}", dispatcher.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        std::fs::read_dir(spool.join("tcp-127.0.0.1-".to_string() + &port.to_string()))
            .unwrap()
            .count()
            > 0
    );
    let mut daemon = Rsyslog::new(dir.path(), Listen::Tcp, port);
    daemon.start();
    let raw = daemon.wait_raw(300, WAIT);
    assert_eq!(numbers(&raw), (0..300).collect::<Vec<_>>());
    let report = dispatcher.shutdown(Duration::from_secs(10));
    assert!(
        report.complete && report.outputs[0].spool_records == 0,
        "{report:?}"
    );
}

#[test]
fn full_spool_drops_and_counts() {
    require_rsyslog();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("state");
    let port = rsyslog::free_port(&Listen::Tcp);
    let opts = OutputOptions {
        spool_max_bytes: 64 * 1024,
        queue_records: 100,
        ..options(Some(&spool))
    };
    let dispatcher = start_tcp(port, &opts);
    let mut sink = dispatcher.sink();
    let ioc = Arc::new(ioc());
    let total = 500;
    for i in 0..total {
        sink.emit(record(i, &ioc));
        // The intake formats far faster than the disk; give the spooler its turn.
        if i % 50 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let deadline = Instant::now() + WAIT;
    let settled = |s: &c2tap::output::OutputStats| s.spooled + s.dropped + s.queued >= total;
    while !settled(&dispatcher.stats()[0]) {
        assert!(Instant::now() < deadline, "{:?}", dispatcher.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    // Settled: the intake has taken everything off the hand-off channel.
    let mut stats = dispatcher.stats().remove(0);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = dispatcher.stats().remove(0);
        if now == stats {
            break;
        }
        assert!(Instant::now() < deadline, "{now:?}");
        stats = now;
    }
    // Spool full, then the memory queue full: the newest records are dropped, as spool_full.
    let spool_full = stats
        .drop_reasons()
        .find(|(r, _)| *r == "spool_full")
        .map_or(0, |(_, n)| n);
    assert!(
        stats.dropped > 0 && stats.dropped == spool_full,
        "{stats:?}"
    );
    assert!(stats.spool_bytes <= 64 * 1024);
    let kept = total - stats.dropped;
    let mut daemon = Rsyslog::new(dir.path(), Listen::Tcp, port);
    daemon.start();
    let raw = daemon.wait_raw(kept as usize, WAIT);
    // The oldest records were kept, in order; the ones that found no room were dropped.
    assert_eq!(
        numbers(&raw),
        (0..kept).collect::<Vec<_>>(),
        "{stats:?} then {:?}",
        dispatcher.stats()
    );
    let report = dispatcher.shutdown(Duration::from_secs(10));
    assert_eq!(report.outputs[0].dropped, stats.dropped);
    assert_eq!(report.outputs[0].sent, kept);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        daemon.raw_lines().len() as u64,
        kept,
        "nothing more arrives"
    );
}

#[test]
fn shutdown_flushes_everything_queued() {
    require_rsyslog();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, dispatcher) = tcp_pair(dir.path(), &options(Some(&dir.path().join("state"))));
    let mut sink = dispatcher.sink();
    let ioc = Arc::new(ioc());
    // Emitted in a burst, then shut down at once: the queue is still full.
    for i in 0..3000 {
        sink.emit(record(i, &ioc));
    }
    let report = dispatcher.shutdown(Duration::from_secs(20));
    assert!(report.complete, "{report:?}");
    assert_eq!(report.outputs[0].dropped, 0);
    let raw = daemon.wait_raw(3000, WAIT);
    let (firsts, _) = first_arrivals(&numbers(&raw));
    assert_eq!(firsts, (0..3000).collect::<Vec<_>>());
}

#[test]
fn hostile_ioc_metadata_stays_one_record() {
    require_rsyslog();
    let nasty = "a=b|c\\d\r\ne CEF:0|x|y|z|1|n|9|src=6.6.6.6";
    let dir = tempfile::tempdir().unwrap();
    let opts = options(None);
    let (daemon, dispatcher) = tcp_pair(dir.path(), &opts);
    let mut hostile = ioc();
    hostile.value = nasty.into();
    hostile.malware = nasty.into();
    hostile.threat_type = nasty.into();
    hostile.source = nasty.into();
    hostile.reference = Some(nasty.into());
    let rec = record(42, &Arc::new(hostile));
    dispatcher.sink().emit(rec.clone());
    assert!(dispatcher.shutdown(Duration::from_secs(10)).complete);
    let raw = daemon.wait_raw(1, WAIT);
    std::thread::sleep(Duration::from_millis(300));
    let raw_again = daemon.raw_lines();
    assert_eq!(raw_again.len(), 1, "one record, not split: {raw:?}");
    assert_eq!(raw_again[0], expected(&rec, &opts));
    let ev = cef_of(&raw_again[0]);
    assert_eq!(
        ev.name,
        "a=b|c\\d  e CEF:0|x|y|z|1|n|9|src=6.6.6.6 C2 connection"
    );
    for key in ["cs1", "cs2", "cs3", "cs4", "cs5"] {
        assert_eq!(ev.get(key), Some(nasty), "{key}");
    }
    for (key, value) in [
        ("src", "10.1.2.3"),
        ("dst", "138.9.223.13"),
        ("dpt", "8015"),
        ("act", "established"),
        ("in", "42"),
    ] {
        assert_eq!(ev.get(key), Some(value), "{key}");
    }
    assert_eq!(daemon.parsed_lines().len(), 1);
}

/// `c2tap replay --syslog` sends exactly the records it prints: the operator's validation run
/// lands in the SIEM the same way live alerts do.
#[test]
fn replay_sends_the_records_it_prints_to_rsyslog() {
    require_rsyslog();
    let dir = tempfile::tempdir().unwrap();
    let port = rsyslog::free_port(&Listen::Tcp);
    let mut daemon = Rsyslog::new(dir.path(), Listen::Tcp, port);
    daemon.start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(["replay", "--hostname", "sensor01", "--syslog"])
        .arg(format!("tcp://127.0.0.1:{port}"))
        .args(["pcaps/demo-remcos.pcap", "pcaps/icmp.pcap"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(printed.len(), 6, "alert and summary for three flows");
    let raw = daemon.wait_raw(printed.len(), WAIT);
    let arrived: Vec<&str> = raw.iter().filter_map(|l| cef_part(l)).collect();
    assert_eq!(
        arrived,
        printed.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        raw.iter()
            .all(|l| l.starts_with("<164>") && l.contains(" sensor01 CEF:0|")),
        "{raw:?}"
    );
    assert!(
        stderr.contains("delivered tcp-127.0.0.1-") && stderr.contains("sent=6 dropped=0"),
        "{stderr}"
    );
}
