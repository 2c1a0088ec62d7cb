//! Hostile input and least privilege, end to end: every bound c2tap documents is hit here and
//! shown to hold with its counter (flow table under a SYN flood, feed and line sizes, config
//! size, an output receiver that never reads, packet time jumping), files others may rewrite are
//! refused, and `run` started as root keeps only what capture needs. Regression inputs found by
//! the fuzz targets in `fuzz/` live at the bottom.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/require.rs"]
mod require;

use c2tap::config::{ConfigError, RawConfig};
use c2tap::ioc::{self, FeedSource, Filters, LoadError, MAX_FEED_BYTES, MAX_LINE_BYTES};
use c2tap::output::format::examples::{ctx, flow_record};
use c2tap::output::{Dispatcher, OutputOptions};
use c2tap::record::RecordSink;

const C2TAP: &str = env!("CARGO_BIN_EXE_c2tap");
const IOC: [u8; 4] = [198, 51, 100, 7];
const IOC_PORT: u16 = 8443;

// ------------------------------------------------------------------ capture files for replay

/// A classic little-endian microsecond pcap of Ethernet frames, written by hand so the test
/// does not depend on the code under test.
struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Pcap {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        Pcap(b)
    }

    /// One IPv4 TCP segment at `secs`.`micros`.
    fn tcp(&mut self, secs: u32, micros: u32, src: ([u8; 4], u16), dst: ([u8; 4], u16), flags: u8) {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.1.to_be_bytes());
        f.extend_from_slice(&dst.1.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        for v in [secs, micros, f.len() as u32, f.len() as u32] {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        self.0.extend_from_slice(&f);
    }

    /// A complete handshake from `client` to the IOC at `secs`.
    fn handshake_to_ioc(&mut self, secs: u32, client: [u8; 4]) {
        let (c, s) = ((client, 40000), (IOC, IOC_PORT));
        self.tcp(secs, 0, c, s, 0x02);
        self.tcp(secs, 1000, s, c, 0x12);
        self.tcp(secs, 2000, c, s, 0x10);
    }
}

struct Replay {
    stdout: String,
    stderr: String,
}

fn replay(dir: &Path, pcap: &Pcap, args: &[&str]) -> Replay {
    let pcap_path = dir.join("in.pcap");
    fs::write(&pcap_path, &pcap.0).unwrap();
    let feed = dir.join("iocs.txt");
    fs::write(&feed, format!("{}:{IOC_PORT}\n", ip(IOC))).unwrap();
    let out = Command::new(C2TAP)
        .arg("replay")
        .arg("--iocs")
        .arg(&feed)
        .args(args)
        .arg(&pcap_path)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "replay failed: {}", text(&out.stderr));
    Replay {
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// The number in front of ` flows in` in the replay summary's first line.
fn flows_created(stderr: &str) -> u64 {
    let before = stderr.split(" flows in").next().unwrap_or_default();
    let number = before.rsplit(' ').next().unwrap_or_default();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no flow count in {stderr}"))
}

/// The number after `key=` in the replay summary.
fn summary_count(stderr: &str, key: &str) -> u64 {
    let at = stderr
        .find(&format!(" {key}="))
        .unwrap_or_else(|| panic!("no {key}= in {stderr}"));
    let digits: String = stderr[at + key.len() + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

fn alerts<'a>(stdout: &'a str, signature: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| l.contains(&format!("|{signature}|")))
        .collect()
}

#[test]
fn syn_flood_with_a_new_flow_per_packet_keeps_the_table_at_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut pcap = Pcap::new();
    const FLOOD: u32 = 20_000;
    const MAX_FLOWS: u64 = 1_000;
    for i in 0..FLOOD {
        let src = [10, 9, (i >> 8) as u8, i as u8];
        pcap.tcp(
            1_700_000_000,
            i % 1_000_000,
            (src, 1024 + (i % 50_000) as u16),
            ([192, 0, 2, 1], 80),
            0x02,
        );
    }
    pcap.handshake_to_ioc(1_700_000_001, [10, 1, 1, 1]);
    let max = MAX_FLOWS.to_string();
    let r = replay(dir.path(), &pcap, &["--max-flows", &max]);
    let flows = flows_created(&r.stderr);
    let evicted = summary_count(&r.stderr, "evicted");
    assert_eq!(flows, u64::from(FLOOD) + 1, "{}", r.stderr);
    // Every flow beyond the bound made room by evicting one: the table never grew past it.
    assert_eq!(evicted, flows - MAX_FLOWS, "{}", r.stderr);
    let hits = alerts(&r.stdout, "1001");
    assert_eq!(hits.len(), 1, "{}", r.stdout);
    assert!(hits[0].contains("act=established"), "{}", hits[0]);
}

#[test]
fn packet_time_jumping_backwards_and_decades_ahead_keeps_replay_working() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_700_000_000u32;
    let mut pcap = Pcap::new();
    pcap.handshake_to_ioc(t0, [10, 1, 1, 1]);
    // A day back, then forty years ahead (as far as the 32-bit pcap field goes: 2106).
    pcap.tcp(
        t0 - 86_400,
        0,
        ([10, 2, 2, 2], 5000),
        ([192, 0, 2, 9], 53),
        0x02,
    );
    pcap.tcp(
        u32::MAX - 10,
        0,
        ([10, 3, 3, 3], 5000),
        ([192, 0, 2, 9], 53),
        0x02,
    );
    pcap.handshake_to_ioc(t0 + 1, [10, 4, 4, 4]);
    let r = replay(dir.path(), &pcap, &[]);
    assert!(r.stderr.contains(" 8 packets"), "{}", r.stderr);
    let hits = alerts(&r.stdout, "1001");
    // Both C2 connections are still reported, each at its own packet time.
    assert_eq!(hits.len(), 2, "{}", r.stdout);
    for (hit, (client, secs)) in hits.iter().zip([("10.1.1.1", t0), ("10.4.4.4", t0 + 1)]) {
        assert!(hit.contains(&format!("src={client} ")), "{hit}");
        assert!(
            hit.contains(&format!("rt={}", u64::from(secs) * 1000)),
            "{hit}"
        );
    }
}

// ------------------------------------------------------------------ feeds

fn load_one(path: &Path) -> Result<ioc::Loaded, LoadError> {
    ioc::load(
        &[FeedSource::File(path.to_path_buf())],
        &Filters::default(),
        1_700_000_000,
    )
}

#[test]
fn feed_over_its_size_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.txt");
    // Sparse: costs no disk, and the loader must not read (or allocate) a byte of it.
    fs::File::create(&path)
        .unwrap()
        .set_len(MAX_FEED_BYTES + 1)
        .unwrap();
    let started = Instant::now();
    let err = load_one(&path).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string().contains("536870912-byte feed limit"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn feed_line_over_its_limit_is_refused_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.txt");
    let text = format!(
        "1.2.3.4:80\n5.6.7.8:80\n{}\n",
        "9".repeat(MAX_LINE_BYTES + 1)
    );
    fs::write(&path, text).unwrap();
    let err = load_one(&path).unwrap_err().to_string();
    assert!(err.ends_with("line 3 is longer than 65536 bytes"), "{err}");
}

#[test]
fn feed_of_many_rows_loads_every_row() {
    // 200,000 distinct endpoints: well inside the documented bounds, loaded whole.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.txt");
    let mut text = String::new();
    for i in 0..200_000u32 {
        text.push_str(&format!(
            "10.{}.{}.{}:443\n",
            i >> 16,
            (i >> 8) & 0xff,
            i & 0xff
        ));
    }
    fs::write(&path, text).unwrap();
    let loaded = load_one(&path).unwrap();
    assert_eq!(loaded.set.len(), 200_000);
    assert_eq!(loaded.stats.files[0].rows, 200_000);
}

#[test]
fn feed_writable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.txt");
    fs::write(&path, "1.2.3.4:80\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    let err = load_one(&path).unwrap_err().to_string();
    assert!(err.contains("writable by other users (mode 0666)"), "{err}");
    assert!(err.contains("chmod go-w"), "{err}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(load_one(&path).unwrap().set.len(), 1);
}

// ------------------------------------------------------------------ config

/// `c2tap check-config`: whether it passed, and everything it printed.
fn check_config(path: &Path) -> (bool, String) {
    let out: Output = Command::new(C2TAP)
        .arg("check-config")
        .arg("--config")
        .arg(path)
        .output()
        .unwrap();
    let text = [&out.stdout[..], &out.stderr[..]].concat();
    (
        out.status.success(),
        String::from_utf8_lossy(&text).into_owned(),
    )
}

#[test]
fn config_over_its_size_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    fs::File::create(&path)
        .unwrap()
        .set_len(1024 * 1024 + 1)
        .unwrap();
    let err = RawConfig::read(&path).unwrap_err();
    assert!(matches!(err, ConfigError::TooLarge { .. }), "{err}");
    let (ok, text) = check_config(&path);
    assert!(!ok);
    assert!(
        text.contains("larger than 1048576 bytes; not a config file"),
        "{text}"
    );
}

#[test]
fn config_writable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c2tap.toml");
    fs::write(&path, "[capture]\ninterfaces = [\"lo\"]\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).unwrap();
    let (ok, text) = check_config(&path);
    assert!(!ok);
    assert!(
        text.contains("writable by other users (mode 0664)"),
        "{text}"
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let (ok, text) = check_config(&path);
    assert!(ok, "{text}");
}

// ------------------------------------------------------------------ outputs

#[test]
fn receiver_that_accepts_and_never_reads_leaves_queue_and_spool_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection without reading a byte.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let state = tempfile::tempdir().unwrap();
    const SPOOL_MAX: u64 = 256 * 1024;
    const QUEUE: usize = 100;
    let opts = OutputOptions {
        queue_records: QUEUE,
        spool_dir: Some(state.path().join("spool")),
        spool_max_bytes: SPOOL_MAX,
        aggregate_window: Duration::ZERO,
        // Marked down soon, so what sat unconfirmed in the socket goes back to the spool.
        stall_timeout: Duration::from_secs(2),
        ..OutputOptions::default()
    };
    let spec = format!("tcp://127.0.0.1:{port}").parse().unwrap();
    let outputs = Dispatcher::start(vec![spec], opts, ctx()).unwrap();
    let mut sink = outputs.sink();
    const RECORDS: u64 = 30_000;
    let mut worst_queue = 0;
    for i in 0..RECORDS {
        sink.emit(flow_record());
        // Paced like a busy sensor, so records reach the memory queue and the spool instead of
        // all being dropped at the hand-off channel (which is counted the same way).
        if i % 50 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if i % 1000 == 0 {
            let s = &outputs.stats()[0];
            worst_queue = worst_queue.max(s.queued);
            assert!(s.spool_bytes <= SPOOL_MAX, "spool {} bytes", s.spool_bytes);
        }
    }
    // Let the worker settle: the socket buffers fill, then the spool, then records drop.
    let deadline = Instant::now() + Duration::from_secs(60);
    let stats = loop {
        let s = outputs.stats().remove(0);
        let accounted = s.sent + s.spool_records + s.dropped + s.queued;
        if (accounted >= RECORDS && s.spool_records > 0) || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(stats.dropped > 0, "{stats:?}");
    assert!(stats.spool_bytes <= SPOOL_MAX, "{stats:?}");
    assert!(stats.spool_records > 0, "{stats:?}");
    // The memory side: the queue plus the hand-off channel, never the whole input.
    assert!(
        worst_queue < RECORDS / 2,
        "queue reached {worst_queue}: {stats:?}"
    );
    let report = outputs.shutdown(Duration::from_millis(500));
    assert!(!report.complete);
    // What the spool wrote is the sensor's alone.
    let spool_dir = fs::read_dir(state.path().join("spool")).unwrap();
    for output_dir in spool_dir.flatten() {
        let mode = output_dir.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{:?} mode {mode:o}", output_dir.path());
        for file in fs::read_dir(output_dir.path()).unwrap().flatten() {
            let mode = file.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{:?}", file.path());
        }
    }
}

// ------------------------------------------------------------------ privilege

use require::{has_nobody, is_root, require};

/// `key:\tvalue` lines of every thread's /proc status.
fn thread_status(pid: u32, key: &str) -> Vec<String> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with(&format!("{key}:")))
                .map(|l| l[key.len() + 1..].trim().to_string())
        })
        .collect()
}

/// Starts `c2tap run` on loopback with `config`, waits until it captures, and returns its
/// per-thread credentials and its log after SIGTERM.
fn run_and_inspect(dir: &Path, config: &str) -> (Vec<(String, Vec<String>)>, String) {
    let path = dir.join("c2tap.toml");
    fs::write(&path, config).unwrap();
    let mut child = Command::new(C2TAP)
        .arg("run")
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while thread_status(pid, "Uid").len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let keys = [
        "Uid",
        "Gid",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
    ];
    let seen = keys
        .iter()
        .map(|k| (k.to_string(), thread_status(pid, k)))
        .collect();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{log}");
    (seen, log)
}

const RUN_ON_LO: &str = "[capture]\ninterfaces = [\"lo\"]\n[metrics]\nlisten = \"\"\n";
/// CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
const CAPTURE_CAPS: &str = "0000000000003000";

fn assert_every_thread(seen: &[(String, Vec<String>)], key: &str, want: &str) {
    let (_, values) = seen.iter().find(|(k, _)| k == key).unwrap();
    assert!(values.len() >= 4, "only {} threads", values.len());
    for v in values {
        assert_eq!(v, want, "{key}");
    }
}

#[test]
fn run_as_root_with_a_user_switches_and_keeps_only_capture_capabilities() {
    require(is_root() && has_nobody(), "root and the `nobody` account");
    let dir = tempfile::tempdir().unwrap();
    let (seen, log) = run_and_inspect(dir.path(), &format!("user = \"nobody\"\n{RUN_ON_LO}"));
    assert_every_thread(&seen, "Uid", "65534\t65534\t65534\t65534");
    assert_every_thread(&seen, "Gid", "65534\t65534\t65534\t65534");
    for key in ["CapPrm", "CapEff", "CapBnd"] {
        assert_every_thread(&seen, key, CAPTURE_CAPS);
    }
    assert_every_thread(&seen, "CapInh", "0000000000000000");
    assert_every_thread(&seen, "CapAmb", "0000000000000000");
    assert_every_thread(&seen, "NoNewPrivs", "1");
    assert!(
        log.contains("switched user; kept only CAP_NET_RAW and CAP_NET_ADMIN user=nobody"),
        "{log}"
    );
    assert!(log.contains("capture started interface=lo"), "{log}");
}

#[test]
fn run_as_root_without_a_user_drops_other_capabilities_and_warns_once() {
    require(is_root(), "root");
    let dir = tempfile::tempdir().unwrap();
    let (seen, log) = run_and_inspect(dir.path(), RUN_ON_LO);
    assert_every_thread(&seen, "Uid", "0\t0\t0\t0");
    for key in ["CapPrm", "CapEff", "CapBnd"] {
        assert_every_thread(&seen, key, CAPTURE_CAPS);
    }
    assert_eq!(
        log.matches("running as root without `user`").count(),
        1,
        "{log}"
    );
    assert!(log.contains("capture started interface=lo"), "{log}");
}

#[test]
fn replay_needs_no_privilege() {
    require(
        is_root() && has_nobody(),
        "root (to start a process as `nobody`) and the `nobody` account",
    );
    // The binary and the capture are copied where `nobody` may read them: the build directory
    // need not be readable by other users.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let c2tap = dir.path().join("c2tap");
    fs::copy(C2TAP, &c2tap).unwrap();
    let pcap = dir.path().join("demo-remcos.pcap");
    fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/demo-remcos.pcap"),
        &pcap,
    )
    .unwrap();
    fs::set_permissions(&pcap, fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(&c2tap)
        .arg("replay")
        .arg(&pcap)
        .current_dir(dir.path())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("|1001|"));
}

// ------------------------------------------------------------------ fuzz regressions

/// Scratch file helper for the regression inputs below.
fn scratch(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(bytes).unwrap();
    path
}

#[test]
fn fuzz_seeds_still_read() {
    // The committed corpus is the baseline every fuzz run starts from: each seed must still go
    // through its parser without a panic.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/capture_file");
    let dir = tempfile::tempdir().unwrap();
    let (mut seeds, mut opened, mut packets) = (0, 0, 0);
    for entry in fs::read_dir(corpus).unwrap().flatten() {
        seeds += 1;
        let bytes = fs::read(entry.path()).unwrap();
        let path = scratch(dir.path(), "seed.pcap", &bytes);
        if let Ok(mut file) = c2tap::capture::file::CaptureFile::open(&path) {
            opened += 1;
            while let Ok(Some(p)) = file.next_packet() {
                packets += 1;
                let _ = c2tap::decode::decode(p.link, p.data);
            }
        }
    }
    // An empty or all-garbage corpus would pass the loop above without reading anything.
    assert!(seeds > 0, "the capture_file corpus is empty");
    assert!(
        opened > 0 && packets > 0,
        "no seed of {seeds} opened and yielded a packet ({opened} opened, {packets} packets)"
    );
}
