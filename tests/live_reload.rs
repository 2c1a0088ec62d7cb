//! SIGHUP reloads the whole config of a running `c2tap run` — feeds, `[[exclude]]`,
//! `[severity]` — or refuses it, keeps the running one and counts the refusal; a FIFO where a
//! feed should be never freezes the sensor; held-back aggregated alerts leave on a quiet link.
//! The real binary on a veth pair between two namespaces, fed by tcpreplay.

#[path = "support/netns.rs"]
mod netns;
#[path = "support/sensor.rs"]
mod sensor;

use std::process::Command;
use std::time::{Duration, Instant};

use sensor::{lab, pcap, Sensor, Setup};

const RELOAD_FAILURES: &str = "c2tap_config_reload_failures_total";

/// 1001 alerts as (client address, severity, count).
fn alerts(s: &Sensor) -> Vec<(String, u64, u64)> {
    s.records()
        .iter()
        .filter(|r| r["signature_id"] == 1001)
        .map(|r| {
            (
                r["src"].as_str().unwrap_or_default().to_string(),
                r["severity"].as_u64().unwrap_or(u64::MAX),
                r["count"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

fn send_demo(lab: &netns::Lab) {
    lab.replay(&pcap("demo-remcos.pcap"));
    lab.replay(&pcap("two-connections.pcap"));
}

fn feed_setup(feed: &std::path::Path, extra: &str) -> Setup {
    Setup {
        feeds: format!("[\"{}\"]", feed.display()),
        health: "0",
        extra: extra.to_string(),
        ..Setup::default()
    }
}

#[test]
fn sighup_applies_new_feeds_exclusions_and_severity() {
    let lab = lab(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let old_feed = dir.path().join("old.txt");
    let new_feed = dir.path().join("new.txt");
    std::fs::write(&old_feed, "203.0.113.99:4444\n").expect("feed");
    std::fs::write(&new_feed, "138.9.223.13:8015\n").expect("feed");
    let mut s = Sensor::start(&lab, &feed_setup(&old_feed, ""));
    s.wait_ready(200, Duration::from_secs(20));
    send_demo(&lab);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(alerts(&s), [], "the old feed matches nothing here");

    s.write_config(&feed_setup(
        &new_feed,
        r#"
[severity]
exact = [[0, 10]]

[[exclude]]
name = "lab-host"
reason = "the lab's own beacon simulator"
client = ["10.1.5.2"]
"#,
    ));
    // A key a running sensor cannot change: applied at the next start, and the log says so.
    let text = std::fs::read_to_string(s.config_path()).expect("config");
    std::fs::write(
        s.config_path(),
        text.replace("buffer_size = \"4MiB\"", "buffer_size = \"8MiB\""),
    )
    .expect("config");
    s.signal("HUP");
    s.wait_log("config reloaded", Duration::from_secs(20));
    assert!(
        s.log()
            .lines()
            .any(|l| l.contains("changes to capture take effect only after a restart")),
        "{}",
        s.log()
    );
    assert_eq!(s.metric(RELOAD_FAILURES), Some(0.0));
    send_demo(&lab);
    let until = Instant::now() + Duration::from_secs(15);
    while !alerts(&s).iter().any(|(src, ..)| src == "10.1.2.3") {
        assert!(Instant::now() < until, "no alert; log:\n{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let got = alerts(&s);
    // The new feed matches, the new severity table applies, the new rule drops 10.1.5.2.
    assert!(!got.is_empty());
    for (src, severity, _) in &got {
        assert_eq!(src, "10.1.2.3", "{got:?}");
        assert_eq!(*severity, 10, "{got:?}");
    }
    let suppressed = s.metric("c2tap_suppressed_total{rule=\"lab-host\"}");
    assert!(
        suppressed.is_some_and(|n| n >= 2.0),
        "{}",
        s.http("/metrics").1
    );
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
}

#[test]
fn sighup_with_a_bad_config_keeps_the_running_one_and_counts_the_refusal() {
    let lab = lab(true);
    let mut s = Sensor::start(&lab, &Setup::default());
    s.wait_ready(200, Duration::from_secs(20));
    let good = std::fs::read_to_string(s.config_path()).expect("config");
    let bad = [
        // not TOML at all
        "[capture\ninterfaces = [".to_string(),
        // valid TOML, invalid value: the last severity step must start at 0
        format!("{good}\n[severity]\nexact = [[50, 10]]\n"),
        // valid config whose feed cannot be loaded
        good.replace("[\"builtin\"]", "[\"/nonexistent/c2tap-feed.txt\"]"),
    ];
    for (i, text) in bad.iter().enumerate() {
        std::fs::write(s.config_path(), text).expect("write");
        s.signal("HUP");
        s.wait_log_count("config reload refused", i + 1, Duration::from_secs(20));
        assert_eq!(s.metric(RELOAD_FAILURES), Some((i + 1) as f64));
        s.wait_ready(200, Duration::from_secs(5));
    }
    // The running config still detects, with its own severity table.
    send_demo(&lab);
    let until = Instant::now() + Duration::from_secs(15);
    while alerts(&s).len() < 3 {
        assert!(Instant::now() < until, "no alerts; log:\n{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(alerts(&s).iter().all(|(_, sev, _)| *sev != 10));
    assert!(!s.log().contains("config reloaded"), "{}", s.log());
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
}

#[test]
fn sighup_applies_a_new_log_level() {
    let lab = lab(true);
    let info = Setup {
        rust_log: None,
        extra: "[logging]\nlevel = \"info\"\n".into(),
        ..Setup::default()
    };
    let mut s = Sensor::start(&lab, &info);
    s.wait_ready(200, Duration::from_secs(20));
    s.write_config(&Setup {
        extra: "[logging]\nlevel = \"warn\"\n".into(),
        ..info
    });
    s.signal("HUP");
    s.wait_log("config reloaded", Duration::from_secs(20));
    assert_eq!(s.log().matches("SIGHUP: reloading").count(), 1);
    // At warn, the next SIGHUP's info line is gone; its refusal (an error) is there.
    std::fs::write(s.config_path(), "not toml [").expect("write");
    s.signal("HUP");
    s.wait_log("config reload refused", Duration::from_secs(20));
    assert_eq!(
        s.log().matches("SIGHUP: reloading").count(),
        1,
        "{}",
        s.log()
    );
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
}

fn mkfifo(path: &std::path::Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn a_fifo_at_the_feed_path_never_freezes_the_sensor() {
    let lab = lab(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = dir.path().join("iocs.txt");
    std::fs::write(&feed, "138.9.223.13:8015\n").expect("feed");
    let setup = Setup {
        health: "1s",
        ..feed_setup(&feed, "")
    };
    let mut s = Sensor::start(&lab, &setup);
    s.wait_ready(200, Duration::from_secs(20));

    std::fs::remove_file(&feed).expect("rm");
    mkfifo(&feed);
    s.signal("HUP");
    s.wait_log("config reload refused", Duration::from_secs(20));
    assert!(s.log().contains("regular file"), "{}", s.log());
    assert_eq!(s.metric(RELOAD_FAILURES), Some(1.0));
    // Still alive over time: health records keep coming, readiness answers, SIGHUP again.
    let n = s.health_records().len();
    std::thread::sleep(Duration::from_secs(4));
    assert!(s.health_records().len() >= n + 2, "health records stopped");
    s.wait_ready(200, Duration::from_secs(5));
    s.signal("HUP");
    s.wait_log_count("config reload refused", 2, Duration::from_secs(20));
    let started = Instant::now();
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
    assert!(started.elapsed() < Duration::from_secs(15));

    // At start a FIFO is refused with the reason, at once.
    let mut s = Sensor::start(&lab, &setup);
    let until = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = s.exited() {
            break st;
        }
        assert!(
            Instant::now() < until,
            "start hangs on a FIFO:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    assert!(s.log().contains("regular file"), "{}", s.log());
}

#[test]
fn a_held_back_alert_leaves_when_its_window_closes_on_a_quiet_link() {
    let lab = lab(true);
    let setup = Setup {
        health: "0",
        aggregate_window: "5s",
        ..Setup::default()
    };
    let mut s = Sensor::start(&lab, &setup);
    s.wait_ready(200, Duration::from_secs(20));
    // Two C2 connections of 10.1.5.2 within the window: the second is held back.
    lab.replay(&pcap("two-connections.pcap"));
    let sent = Instant::now();
    while alerts(&s).is_empty() {
        assert!(sent.elapsed() < Duration::from_secs(4), "{}", s.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(alerts(&s), [("10.1.5.2".to_string(), 8, 1)], "{}", s.log());
    // Nothing else arrives; the held-back alert must leave by window + 1 s (+ margin for a
    // loaded machine), not wait for another record or the shutdown.
    let until = sent + Duration::from_secs(5 + 1 + 3);
    while alerts(&s).len() < 2 {
        assert!(
            Instant::now() < until,
            "held-back alert still waiting: {:?}; log:\n{}",
            alerts(&s),
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(alerts(&s).len(), 2);
    eprintln!(
        "held-back alert left {:?} after the replay ended (window 5 s, bound 6 s + margin)",
        sent.elapsed()
    );
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());
}
