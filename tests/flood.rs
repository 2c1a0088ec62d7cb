//! Floods aimed at the IOC path (issue 13): 1,000,000 spoofed SYNs "from" the Remcos C2
//! 138.9.223.13:8015 to as many internal host:ports, each one a matched flow, replayed with a
//! small flow table. Before the fix every eviction stepped over all protected (matched) flows
//! and the replay did not finish; now it must cost about what the same flood from a benign
//! address costs, in time and memory, come out as contact-storm records (1005) whose counts add
//! up to every spoofed flow, and still report the real C2 session woven into its middle.
//!
//! The captures are generated at run time (80 MB each) by c2tap-pcapgen into a temporary
//! directory. CPU times are compared within the test (same machine, same load), with a
//! generous margin for a loaded 2-core runner.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use c2tap::app::replay::replay_records;
use c2tap::detect::storm::StormConfig;
use c2tap::flow::FlowConfig;
use c2tap::output::format::cef_parse::{parse_cef, CefEvent};
use c2tap::pipeline::{WorkerConfig, PENDING_MAX};
use c2tap::record::{Action, Record, Signature};
use c2tap_pcapgen::bench::{BENIGN_SOURCE, C2_SOURCE};
use c2tap_pcapgen::{write_flood, FloodSpec};

const FLOOD: u64 = 1_000_000;
const MAX_FLOWS: &str = "10000";
/// How much slower the matched flood may be than the benign one.
const SLOWDOWN: f64 = 3.0;

struct Run {
    wall: Duration,
    /// User + system CPU time of the child: what the flood cost, less sensitive than wall
    /// time to other load on the machine.
    cpu: Duration,
    max_rss_kib: i64,
    records: Vec<CefEvent>,
}

fn generate(path: &Path, from: ([u8; 4], u16)) {
    let file = File::create(path).expect("create capture");
    let spec = FloodSpec {
        packets: FLOOD,
        from,
        genuine: true,
    };
    let s = write_flood(BufWriter::with_capacity(1 << 20, file), &spec).expect("write flood");
    assert_eq!(s.packets, FLOOD + 8);
}

/// `c2tap replay --max-flows 10000 FILE`: wall time, peak RSS of the child (from wait4's
/// rusage, so no other process's memory counts) and the records it printed.
#[allow(clippy::zombie_processes)] // reaped by wait4, which std's Child::wait cannot replace
#[allow(unsafe_code)] // wait4 (for the child's rusage) has no std wrapper
fn replay(file: &Path, out: &Path) -> Run {
    let stdout = File::create(out).expect("stdout file");
    let child = Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(["replay", "--hostname", "flood", "--max-flows", MAX_FLOWS])
        .arg(file)
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::null())
        .spawn()
        .expect("run c2tap");
    let started = Instant::now();
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(reaped, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "c2tap replay failed (status {status:#x})"
    );
    let text = std::fs::read_to_string(out).expect("records");
    let records = text
        .lines()
        .map(|l| parse_cef(l).unwrap_or_else(|e| panic!("not CEF ({e:?}): {l}")))
        .collect();
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Run {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
        records,
    }
}

fn with_id<'a>(run: &'a Run, id: &str) -> Vec<&'a CefEvent> {
    run.records
        .iter()
        .filter(|r| r.signature_id == id)
        .collect()
}

/// The genuine session's 1001 and 1003, exactly.
fn assert_genuine_session_reported(run: &Run, what: &str) {
    for (id, act) in [("1001", "established"), ("1003", "closed")] {
        let got: Vec<_> = with_id(run, id)
            .into_iter()
            .filter(|r| r.get("src") == Some("10.200.0.1"))
            .collect();
        assert_eq!(got.len(), 1, "{what}: {id} of the real session: {got:?}");
        let r = got[0];
        assert_eq!(
            (r.get("spt"), r.get("dst"), r.get("dpt"), r.get("act")),
            (Some("40001"), Some("138.9.223.13"), Some("8015"), Some(act)),
            "{what}: {id}"
        );
        assert_eq!(r.get("cs1"), Some("138.9.223.13:8015"));
    }
}

#[test]
fn a_matched_syn_flood_costs_what_a_benign_one_costs_and_hides_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (c2, benign) = (dir.path().join("c2.pcap"), dir.path().join("benign.pcap"));
    generate(&c2, C2_SOURCE);
    generate(&benign, BENIGN_SOURCE);
    let out = dir.path().join("out");
    // Benign first and last: the matched run is compared with the faster of the two, so a
    // burst of load from elsewhere during one benign run does not hide a regression.
    let base_a = replay(&benign, &out);
    let flood = replay(&c2, &out);
    let base_b = replay(&benign, &out);
    let base = base_a.cpu.min(base_b.cpu);
    eprintln!(
        "1,000,008 packets, --max-flows {MAX_FLOWS}: benign flood {:.2} / {:.2} s wall, \
         {:.2} / {:.2} s CPU, {} / {} KiB peak RSS; matched flood {:.2} s wall, {:.2} s CPU, \
         {} KiB",
        base_a.wall.as_secs_f64(),
        base_b.wall.as_secs_f64(),
        base_a.cpu.as_secs_f64(),
        base_b.cpu.as_secs_f64(),
        base_a.max_rss_kib,
        base_b.max_rss_kib,
        flood.wall.as_secs_f64(),
        flood.cpu.as_secs_f64(),
        flood.max_rss_kib
    );
    assert!(
        flood.cpu.as_secs_f64() <= SLOWDOWN * base.as_secs_f64() + 0.5,
        "matched flood took {:?} CPU, benign {:?}",
        flood.cpu,
        base
    );
    // Memory: the table is bounded by --max-flows and the hold-down queue by the same; what
    // the matched flood adds (claims, pending alerts, storm state) stays small.
    let base_rss = base_a.max_rss_kib.max(base_b.max_rss_kib);
    assert!(
        flood.max_rss_kib <= 2 * base_rss + 64 * 1024,
        "matched flood peaked at {} KiB, benign at {base_rss} KiB",
        flood.max_rss_kib
    );

    // The benign flood: only the real session alerts.
    assert_genuine_session_reported(&base_a, "benign flood");
    assert_eq!(base_a.records.len(), 2, "{:?}", base_a.records);

    // The matched flood: the real session as usual, and every spoofed flow inside the count
    // of a 1005 — not a million 1001s and 1003s, and none lost.
    assert_genuine_session_reported(&flood, "matched flood");
    let storms = with_id(&flood, "1005");
    assert!(!storms.is_empty() && storms.len() <= 4, "{storms:?}");
    let folded: u64 = storms
        .iter()
        .map(|r| r.get("cnt").and_then(|c| c.parse::<u64>().ok()).unwrap())
        .sum();
    assert_eq!(folded, FLOOD);
    for s in &storms {
        assert_eq!(s.get("act"), Some("storm"));
        assert_eq!(s.get("cs1"), Some("138.9.223.13:8015"));
        let clients: f64 = s.get("c2tapClients").unwrap().parse().unwrap();
        let cnt: f64 = s.get("cnt").unwrap().parse().unwrap();
        assert!(
            (clients - cnt).abs() / cnt < 0.2,
            "each spoofed SYN went to a new host: {clients} vs {cnt}"
        );
    }
    assert_eq!(flood.records.len(), 2 + storms.len());
}

/// The hold-down queue is bounded: past [`PENDING_MAX`] waiting alerts, the oldest leaves
/// early (counted) with the outcome known so far. None is dropped: with storms off, every
/// spoofed flow still gets its 1001 and its 1003.
#[test]
fn a_full_hold_down_queue_sends_alerts_early_and_drops_none() {
    let flows = PENDING_MAX as u64 + 5_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("c2.pcap");
    let spec = FloodSpec {
        packets: flows,
        from: C2_SOURCE,
        genuine: false,
    };
    let out = BufWriter::new(File::create(&file).expect("create"));
    write_flood(out, &spec).expect("write flood");
    let cfg = WorkerConfig {
        flow: FlowConfig {
            max_flows: 200_000,
            ..FlowConfig::default()
        },
        storm: StormConfig {
            flows: 0,
            ..StormConfig::default()
        },
        ..WorkerConfig::default()
    };
    let iocs = c2tap::ioc::load(&[], &c2tap::ioc::Filters::default(), 1_780_000_000)
        .expect("built-in IOCs")
        .set;
    let (records, stats, _) = replay_records(&[file], iocs, cfg).expect("replay");
    assert_eq!(stats.alerts_early, 5_000);
    let count = |sig: Signature, act: Action| {
        records
            .iter()
            .filter(|r| matches!(r, Record::Flow(f) if f.signature == sig && f.action == act))
            .count() as u64
    };
    assert_eq!(count(Signature::IocMatch, Action::Attempted), flows);
    assert_eq!(count(Signature::FlowSummary, Action::Shutdown), flows);
    assert_eq!(records.len() as u64, 2 * flows);
}
