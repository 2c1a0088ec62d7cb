//! A running `c2tap run` fetching its own feed: the real binary on a veth pair between two
//! namespaces (tcpreplay), a local HTTPS publisher in the sensor's namespace. An IOC the
//! publisher adds while a flow to it is open is reported against that flow (retro-match),
//! staleness shows in metrics, `/readyz` and the 1004 health record, and a restart with the
//! publisher gone starts on the cached copy and says how old it is.

#[path = "support/https_stub.rs"]
mod https_stub;
#[path = "support/netns.rs"]
mod netns;
#[path = "support/sensor.rs"]
mod sensor;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use https_stub::{make_pki, Pki, Reply, Stub};
use sensor::{lab, pcap, Sensor, Setup};

/// Starts the stub inside network namespace `ns` (its listening socket lives there).
#[allow(unsafe_code)] // setns has no std wrapper
fn stub_in(ns: &str, pki: &Pki, port: u16) -> Stub {
    let path = format!("/var/run/netns/{ns}");
    let pki = pki.clone();
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: only this short-lived thread changes network namespace.
        let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(entered, 0);
        Stub::start(&pki, port)
    })
    .join()
    .unwrap()
}

fn wait_for(what: &str, s: &Sensor, within: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < until, "{what}; log:\n{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

const C2: &str = "138.9.223.13:8015";

#[test]
fn a_fetched_ioc_is_retro_matched_staleness_is_visible_and_the_cache_survives_a_restart() {
    let lab = lab(true);
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(&dir.path().join("pki"));
    let port = 18_443;
    let stub = stub_in(&lab.sensor, &pki, port);
    let feed = Arc::new(Mutex::new("203.0.113.99:4444\n".to_string()));
    let served = feed.clone();
    stub.answer(move |_| Reply::ok("text/plain", served.lock().unwrap().clone()));
    let state = dir.path().join("state");
    let setup = Setup {
        // `feeds` lands in the [iocs] table: no file feed, the cache dir beside it.
        feeds: format!("[]\nstate_dir = \"{}\"", state.display()),
        health: "1s",
        extra: format!(
            "[[iocs.source]]\nname = \"mirror\"\nkind = \"https\"\nurl = \"https://127.0.0.1:{port}/iocs.txt\"\n\
             ca_file = \"{ca}\"\ninterval = \"5s\"\ntimeout = \"3s\"\nmax_shrink = 0\n\
             [[iocs.source]]\nname = \"dead\"\nkind = \"https\"\nurl = \"https://127.0.0.1:1/x\"\n\
             ca_file = \"{ca}\"\ninterval = \"5s\"\ntimeout = \"2s\"\n",
            ca = pki.ca.display()
        ),
        ..Setup::default()
    };
    let mut s = Sensor::start(&lab, &setup);
    s.wait_ready(200, Duration::from_secs(30));
    // Until the fetched set is in force the built-in set (which names this C2) is matched.
    wait_for(
        "the fetched set in force",
        &s,
        Duration::from_secs(20),
        || {
            s.log()
                .lines()
                .any(|l| l.contains("IOC set") && l.contains("\"mirror\""))
        },
    );
    assert_eq!(s.metric("c2tap_feed_iocs{source=\"mirror\"}"), Some(1.0));
    // Readiness stays capture-based; its detail names the source that never succeeded.
    let (status, body) = s.http("/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("feeds never fetched since start: dead"),
        "{body}"
    );
    assert!(
        s.log()
            .contains("fetched feed has never succeeded since start"),
        "{}",
        s.log()
    );

    // A UDP flow to the C2 stays open; no IOC matches it yet.
    lab.replay(&pcap("udp.pcap"));
    std::thread::sleep(Duration::from_millis(500));
    let alerts = |s: &Sensor| {
        s.records()
            .iter()
            .filter(|r| r["signature_id"] == 1001)
            .count()
    };
    assert_eq!(alerts(&s), 0);
    // The publisher adds it; the next poll (5 s) brings it, the open flow is reported.
    *feed.lock().unwrap() = format!("203.0.113.99:4444\n{C2}\n");
    wait_for("a retro-matched alert", &s, Duration::from_secs(30), || {
        alerts(&s) > 0
    });
    assert!(
        s.log().contains("reloaded: a fetched feed changed"),
        "{}",
        s.log()
    );
    let rec = s
        .records()
        .into_iter()
        .find(|r| r["signature_id"] == 1001)
        .unwrap();
    assert!(rec.to_string().contains("138.9.223.13"), "{rec}");
    let last = s.metric("c2tap_feed_last_success_timestamp_seconds{source=\"mirror\"}");
    assert!(last.is_some_and(|t| t > 1.7e9), "{}", s.http("/metrics").1);
    assert!(
        s.metric("c2tap_feed_fetch_failures_total{reason=\"connect\",source=\"dead\"}")
            .is_some_and(|n| n >= 1.0),
        "{}",
        s.http("/metrics").1
    );
    // The health record names the stale source (never succeeded) and not the fresh one.
    let stale: Vec<String> = s
        .health_records()
        .iter()
        .filter_map(|r| r["stale_feeds"].as_str().map(str::to_string))
        .collect();
    assert_eq!(stale.last().map(String::as_str), Some("dead"), "{stale:?}");

    // The publisher goes away: after 2 x interval without success the source is stale too.
    drop(stub);
    wait_for(
        "mirror stale in the 1004 record",
        &s,
        Duration::from_secs(40),
        || {
            s.health_records()
                .last()
                .and_then(|r| r["stale_feeds"].as_str().map(str::to_string))
                .is_some_and(|v| v.split(',').any(|n| n == "mirror"))
        },
    );
    assert!(s.stop(Duration::from_secs(30)).success(), "{}", s.log());

    // Restart with the publisher still gone: the cached copy is the set, with its age.
    let s = Sensor::start(&lab, &setup);
    s.wait_ready(200, Duration::from_secs(30));
    s.wait_log("starting on the cached copy", Duration::from_secs(10));
    let line = s
        .log()
        .lines()
        .find(|l| l.contains("starting on the cached copy"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("source=mirror") && line.contains("age_secs="),
        "{line}"
    );
    assert!(line.contains("iocs=2"), "{line}");
    assert_eq!(s.metric("c2tap_feed_iocs{source=\"mirror\"}"), Some(2.0));
}
