//! Readiness tells the truth: `c2tap run` is ready (`/readyz` 200, `c2tap_capture_running` 1,
//! `c2tap_capture_up{interface}` 1, sd_notify `READY=1` and `WATCHDOG=1`, health records with
//! `capture=ok`) only while its interface is open and its worker reads — checked over time
//! while the interface appears late, disappears and comes back, with the real binary on a veth
//! pair between two namespaces, and a start without the capture capability.

#[path = "support/netns.rs"]
mod netns;
#[path = "support/sensor.rs"]
mod sensor;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sensor::{lab, pcap, Sensor, Setup, WATCHDOG};

/// Longest wait for the sensor to notice an interface that came back (backoff up to 8 s here).
const RECOVERY: Duration = Duration::from_secs(40);

fn up_series(s: &Sensor) -> String {
    format!("c2tap_capture_up{{interface=\"{}\"}}", s.iface())
}

/// The last `STATUS=` the sensor sent.
fn last_status(s: &Sensor) -> String {
    s.notes()
        .iter()
        .rev()
        .find_map(|(_, n)| {
            n.lines()
                .find_map(|l| l.strip_prefix("STATUS="))
                .map(String::from)
        })
        .unwrap_or_default()
}

/// Asserts the sensor says "not capturing" everywhere, naming the interface and `why` (each
/// signal is given a few seconds to catch up on a loaded machine).
fn assert_blind(s: &Sensor, why: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = s.http("/readyz");
        let named = body.contains("capture not running") && body.contains(s.iface());
        if status == 503 && named && body.contains(why) {
            break;
        }
        assert!(Instant::now() < until, "/readyz: {status} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.metric("c2tap_capture_running"), Some(0.0));
    assert_eq!(s.metric(&up_series(s)), Some(0.0));
    loop {
        let status = last_status(s);
        if status.starts_with("not capturing") && status.contains(s.iface()) {
            break;
        }
        assert!(Instant::now() < until, "STATUS={status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_capturing(s: &Sensor) {
    s.wait_ready(200, RECOVERY);
    assert_eq!(s.metric("c2tap_capture_running"), Some(1.0));
    assert_eq!(s.metric(&up_series(s)), Some(1.0));
}

/// Watchdog pings that arrived in `[from, to)`.
fn pings(s: &Sensor, from: Instant, to: Instant) -> usize {
    s.notes()
        .iter()
        .filter(|(at, n)| *at >= from && *at < to && n.lines().any(|l| l == "WATCHDOG=1"))
        .count()
}

fn ready_sent(s: &Sensor) -> bool {
    s.notes()
        .iter()
        .any(|(_, n)| n.lines().any(|l| l == "READY=1"))
}

/// Waits for a health record newer than `after_n` records that says `capture`.
fn wait_health(s: &Sensor, after_n: usize, capture: &str) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(25);
    loop {
        let h = s.health_records();
        if let Some(r) = h.iter().skip(after_n).find(|r| r["capture"] == capture) {
            return r.clone();
        }
        assert!(
            Instant::now() < until,
            "no health record with capture={capture} after #{after_n}: {h:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for a health record newer than `after_n` records that says capture is down on this
/// sensor's interface because of `why`.
fn wait_blind_health(s: &Sensor, after_n: usize, why: &str) {
    let h = wait_health(s, after_n, "down");
    let problem = h["capture_problem"].as_str().unwrap_or("");
    assert!(problem.contains(s.iface()) && problem.contains(why), "{h}");
}

/// Sends the demo capture and waits for its C2 alert: capture really works.
fn assert_detects(lab: &netns::Lab, s: &Sensor) {
    let before = alerts(s);
    lab.replay(&pcap("demo-remcos.pcap"));
    let until = Instant::now() + Duration::from_secs(15);
    while alerts(s) == before {
        assert!(Instant::now() < until, "no alert; log:\n{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alerts(s: &Sensor) -> usize {
    s.records()
        .iter()
        .filter(|r| r["signature_id"] == 1001)
        .count()
}

#[test]
fn an_interface_created_after_start_is_not_ready_until_it_exists() {
    let lab = lab(false);
    let mut s = Sensor::start(&lab, &Setup::default());
    // Blind for a while: every signal says so, over several seconds.
    std::thread::sleep(Duration::from_secs(1));
    let blind_from = Instant::now();
    for _ in 0..3 {
        assert_blind(&s, "absent");
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(!ready_sent(&s), "READY=1 while blind: {:?}", s.notes());
    assert_eq!(
        pings(&s, blind_from, Instant::now()),
        0,
        "watchdog fed while blind"
    );
    wait_blind_health(&s, 0, "");
    assert!(s.exited().is_none(), "exited; log:\n{}", s.log());

    lab.plug().expect("plug");
    assert_capturing(&s);
    assert!(ready_sent(&s), "no READY=1: {:?}", s.notes());
    let since = Instant::now();
    std::thread::sleep(WATCHDOG * 3);
    assert!(pings(&s, since, Instant::now()) >= 2, "watchdog not fed");
    let n = s.health_records().len();
    wait_health(&s, n, "ok");
    assert_detects(&lab, &s);
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
}

/// Breaks the running sensor's interface with `break_it`, checks every signal says blind (with
/// `why`) for a while, repairs it with `fix_it` and checks the sensor recovers on its own.
fn blind_then_back(
    break_it: impl FnOnce(&netns::Lab),
    why: &str,
    fix_it: impl FnOnce(&netns::Lab),
) {
    let lab = lab(true);
    let mut s = Sensor::start(&lab, &Setup::default());
    assert_capturing(&s);
    assert!(ready_sent(&s));
    assert_detects(&lab, &s);

    break_it(&lab);
    let broken = Instant::now();
    assert_blind(&s, why);
    assert!(
        s.log().contains("not capturing") && s.log().contains(s.iface()),
        "{}",
        s.log()
    );
    let n = s.health_records().len();
    wait_blind_health(&s, n, why);
    // Stays blind (and unfed) while the interface is away; a ping in flight at the moment
    // it broke is allowed.
    std::thread::sleep(Duration::from_secs(3));
    assert_blind(&s, why);
    assert_eq!(
        pings(&s, broken + WATCHDOG, Instant::now()),
        0,
        "watchdog fed while blind"
    );

    fix_it(&lab);
    assert_capturing(&s);
    let since = Instant::now();
    std::thread::sleep(WATCHDOG * 3);
    assert!(
        pings(&s, since, Instant::now()) >= 2,
        "watchdog not fed again"
    );
    let n = s.health_records().len();
    wait_health(&s, n, "ok");
    assert_detects(&lab, &s);
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
}

fn link_set(lab: &netns::Lab, state: &str) {
    let ok = Command::new("ip")
        .args(["-n", &lab.sensor, "link", "set", &lab.sensor_if, state])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip link set {state}");
}

#[test]
fn an_interface_deleted_and_re_created_while_running_is_blind_until_back() {
    blind_then_back(
        |lab| lab.unplug().expect("unplug"),
        "absent",
        |lab| lab.plug().expect("plug"),
    );
}

#[test]
fn an_interface_set_down_while_running_is_blind_until_up() {
    blind_then_back(
        |lab| link_set(lab, "down"),
        "down",
        |lab| link_set(lab, "up"),
    );
}

/// Runs `c2tap run` under `setpriv` with the given rights and returns (exit success, stderr).
fn run_without_capture_rights(lab: &netns::Lab, setpriv: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    // The output directory must be the ordinary user's own (root's for root), or start-up
    // stops at the output check before it reaches capture.
    if setpriv.iter().any(|a| a.starts_with("--reuid=")) {
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).expect("chown");
    }
    let mut cmd = lab.in_sensor("setpriv");
    cmd.args(setpriv)
        .arg(env!("CARGO_BIN_EXE_c2tap"))
        .args(["run", "--interface", &lab.sensor_if, "--metrics", ""])
        .arg("--syslog")
        .arg(format!("file://{}/r.json", dir.path().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("setpriv (util-linux) is needed");
    let started = Instant::now();
    let out = child.wait_with_output().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(20), "took too long");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_start_without_the_capture_capability_is_fatal_and_says_what_to_grant() {
    let lab = lab(true);
    for rights in [
        // root, but with CAP_NET_RAW/CAP_NET_ADMIN gone from the bounding set
        &[
            "--inh-caps=-all",
            "--bounding-set=-net_raw,-net_admin",
            "--",
        ][..],
        // an ordinary user
        &["--reuid=65534", "--regid=65534", "--clear-groups", "--"][..],
    ] {
        let (ok, stderr) = run_without_capture_rights(&lab, rights);
        assert!(!ok, "{rights:?}: started anyway:\n{stderr}");
        for needle in ["CAP_NET_RAW", "CAP_NET_ADMIN", "AmbientCapabilities"] {
            assert!(
                stderr.contains(needle),
                "{rights:?}: {needle} missing:\n{stderr}"
            );
        }
        assert!(!stderr.contains("retrying with backoff"), "{stderr}");
    }
    // The same command with the rights starts (and is stopped by us).
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = lab
        .in_sensor(env!("CARGO_BIN_EXE_c2tap"))
        .args(["run", "--interface", &lab.sensor_if, "--metrics", ""])
        .arg("--syslog")
        .arg(format!("file://{}/r.json", dir.path().display()))
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(matches!(child.try_wait(), Ok(None)), "root run exited");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(child.wait().expect("wait").success());
}

#[test]
fn capture_stopping_and_resuming_reach_the_outputs_before_the_next_health_interval() {
    let lab = lab(true);
    let setup = Setup {
        health: "1h",
        ..Setup::default()
    };
    let mut s = Sensor::start(&lab, &setup);
    assert_capturing(&s);
    // The start of capture is announced at once.
    wait_health(&s, 0, "ok");
    let n = s.health_records().len();
    lab.unplug().expect("unplug");
    wait_blind_health(&s, n, "");
    let n = s.health_records().len();
    lab.plug().expect("plug");
    assert_capturing(&s);
    // At most one early record per 10 s, so a flapping link cannot flood the outputs.
    wait_health(&s, n, "ok");
    assert!(s.health_records().len() <= 4, "{:?}", s.health_records());
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
}
