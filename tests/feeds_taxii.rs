//! TAXII 2.1 against a real server: medallion (the OASIS reference implementation, from PyPI,
//! installed into a venv under target/tmp on first use) behind TLS with a test CA, on loopback,
//! with Basic auth and a page size of 2. The test fills the collection over TAXII itself
//! (POST of an envelope) and checks discovery → API root → collection → paginated objects,
//! a refused password, and an indicator added later picked up by the next (incremental) poll.

#[path = "support/https_stub.rs"]
mod https_stub;
#[path = "support/netns.rs"]
mod netns;
#[path = "support/require.rs"]
mod require;
#[path = "support/sensor.rs"]
mod sensor;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use c2tap::feeds::{Fetcher, Reason};
use https_stub::{make_pki, Pki};

const COLLECTION: &str = "365fed99-08fa-fdcd-a1b3-fb247eb41d01";
const MEDIA: &str = "application/taxii+json;version=2.1";
/// 2026-05-11 00:00:00 UTC (the fetcher's clock for full/incremental decisions).
const NOW: u64 = 1_778_457_600;

/// A venv with medallion, made once per target dir (scripts/deps.sh installs python3-venv).
fn medallion_python() -> PathBuf {
    // The tests of this file run in parallel: one makes the venv while the others wait, or a
    // second `python3 -m venv` on a fresh machine races the first and fails.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("medallion-venv");
    let python = venv.join("bin/python");
    let has = |python: &Path| {
        Command::new(python)
            .args(["-c", "import medallion"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        require::require(made, "python3 with the venv module (Debian: python3-venv)");
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "medallion==3.0.0"])
            .status()
            .is_ok_and(|s| s.success());
        require::require(installed, "pip access to PyPI to install medallion 3.0.0");
    }
    require::require(has(&python), "medallion in the test venv");
    python
}

const LAUNCHER: &str = r#"
import json, sys
from medallion import application_instance, register_blueprints, set_config
config = json.load(open(sys.argv[1]))
for part in ("users", "taxii", "backend"):
    set_config(application_instance, part, config)
register_blueprints(application_instance)
application_instance.run(host="127.0.0.1", port=int(sys.argv[2]), ssl_context=(sys.argv[3], sys.argv[4]))
"#;

struct Medallion {
    child: Child,
    port: u16,
    /// The network namespace it listens in (`None`: the test's own).
    netns: Option<String>,
}

/// Runs `f` on a thread in network namespace `netns` (sockets it makes live there).
#[allow(unsafe_code)] // setns has no std wrapper
fn in_netns<T: Send + 'static>(netns: Option<&str>, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = netns.map(|ns| format!("/var/run/netns/{ns}"));
    std::thread::spawn(move || {
        if let Some(path) = path {
            use std::os::fd::AsRawFd;
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: only this short-lived thread changes network namespace.
            let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0);
        }
        f()
    })
    .join()
    .unwrap()
}

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_medallion(dir: &Path, pki: &Pki, netns: Option<&str>) -> Medallion {
    let python = medallion_python();
    let port = free_port();
    let root = format!("https://127.0.0.1:{port}/api1/");
    let data = serde_json::json!({
        "/discovery": {
            "title": "c2tap test TAXII server",
            "default": root,
            "api_roots": [root],
        },
        "api1": {
            "information": {
                "title": "c2 indicators",
                "versions": [MEDIA],
                "max_content_length": 10_485_760,
            },
            "status": [],
            "collections": [{
                "id": COLLECTION,
                "title": "remcos-c2",
                "can_read": true,
                "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": [],
                "manifest": [],
            }],
        },
    });
    let data_path = dir.join("data.json");
    std::fs::write(&data_path, data.to_string()).unwrap();
    let config = serde_json::json!({
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": data_path,
        },
        "users": { "sensor": "s3cret" },
        "taxii": { "max_page_size": 2 },
    });
    let config_path = dir.join("medallion.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let launcher = dir.join("launch.py");
    std::fs::write(&launcher, LAUNCHER).unwrap();
    let log = std::fs::File::create(dir.join("medallion.log")).unwrap();
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(python);
            c
        }
        None => Command::new(python),
    };
    let child = cmd
        .arg(&launcher)
        .arg(&config_path)
        .arg(port.to_string())
        .arg(&pki.cert)
        .arg(&pki.key)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let server = Medallion {
        child,
        port,
        netns: netns.map(str::to_string),
    };
    let until = Instant::now() + Duration::from_secs(60);
    let listening = |ns: Option<&str>| {
        in_netns(ns, move || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
    };
    while !listening(netns) {
        assert!(
            Instant::now() < until,
            "medallion did not start: {}",
            std::fs::read_to_string(dir.join("medallion.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

fn indicator(n: u32, ip: &str, port: u16) -> serde_json::Value {
    serde_json::json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--6d2c3f0a-0000-4000-8000-{n:012}"),
        "created": "2026-05-09T10:00:00.000Z",
        "modified": "2026-05-09T10:00:00.000Z",
        "name": format!("Remcos C2 {ip}:{port}"),
        "indicator_types": ["malicious-activity"],
        "pattern": format!("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '{ip}' AND network-traffic:dst_port = {port}]"),
        "pattern_type": "stix",
        "valid_from": "2026-05-09T10:00:00Z",
        "confidence": 80,
    })
}

/// Adds objects to the collection over TAXII (POST of an envelope), as a publisher would.
fn publish(server: &Medallion, pki: &Pki, objects: Vec<serde_json::Value>) {
    let ca = std::fs::read(&pki.ca).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&ca)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .new_agent();
    let body = serde_json::json!({ "objects": objects }).to_string();
    let url = format!(
        "https://127.0.0.1:{}/api1/collections/{COLLECTION}/objects/",
        server.port
    );
    let (status, text) = in_netns(server.netns.as_deref(), move || {
        let mut reply = agent
            .post(&url)
            .header("Accept", MEDIA)
            .header("Content-Type", MEDIA)
            .header("Authorization", "Basic c2Vuc29yOnMzY3JldA==") // sensor:s3cret
            .send(body.as_bytes())
            .unwrap();
        let text = reply.body_mut().read_to_string().unwrap_or_default();
        (reply.status().as_u16(), text)
    });
    assert_eq!(status, 202, "{text}");
}

fn values(f: &Fetcher) -> Vec<String> {
    let mut v: Vec<String> = f
        .sets()
        .iter()
        .flat_map(|(_, l)| l.set.iter().map(|i| i.value.clone()).collect::<Vec<_>>())
        .collect();
    v.sort();
    v
}

#[test]
fn taxii21_pages_auth_and_an_added_indicator_on_the_next_poll() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(&dir.path().join("pki"));
    let server = start_medallion(dir.path(), &pki, None);
    publish(
        &server,
        &pki,
        vec![
            indicator(1, "138.9.223.13", 8015),
            indicator(2, "138.9.41.254", 8015),
            indicator(3, "45.77.10.20", 2404),
        ],
    );
    for (name, secret) in [("user", "sensor"), ("good", "s3cret"), ("bad", "wrong")] {
        std::fs::write(dir.path().join(name), format!("{secret}\n")).unwrap();
    }
    let source = |name: &str, password: &str| {
        format!(
            "[[iocs.source]]\nname = \"{name}\"\nkind = \"taxii21\"\n\
             url = \"https://127.0.0.1:{}/taxii2/\"\ncollection = \"{COLLECTION}\"\n\
             username_file = \"{}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n\
             interval = \"15m\"\ntimeout = \"20s\"\n",
            server.port,
            dir.path().join("user").display(),
            dir.path().join(password).display(),
            pki.ca.display()
        )
    };
    let state = dir.path().join("state");
    let text = format!(
        "[capture]\ninterfaces = [\"eth0\"]\n[outputs]\nurls = [\"udp://127.0.0.1:514\"]\n\
         [iocs]\nstate_dir = \"{}\"\n{}{}",
        state.display(),
        source("opencti", "good"),
        source("wrong-password", "bad")
    );
    let settings = c2tap::config::RawConfig::parse(&text)
        .unwrap()
        .validate()
        .unwrap_or_else(|e| panic!("{e}"));
    c2tap::feeds::prepare_dir(&state).unwrap();
    let mut f = Fetcher::new(settings.iocs.fetch, settings.iocs.filters, true);

    // Discovery, collections, then two pages (page size 2, three objects).
    let report = f.fetch(0, NOW).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert_eq!(report.requests, 4, "{report:?}");
    assert_eq!(
        values(&f),
        ["138.9.223.13:8015", "138.9.41.254:8015", "45.77.10.20:2404"]
    );
    // The IOCs name their source.
    assert!(f.sets()[0].1.set.iter().all(|i| i.source == "opencti"));

    // A refused password: reason auth, no set for that source.
    let report = f.fetch(1, NOW).unwrap();
    match &report.outcome {
        Err((reason, _)) => assert_eq!(*reason, Reason::Auth, "{report:?}"),
        Ok(_) => panic!("a wrong password must fail: {report:?}"),
    }
    assert_eq!(report.http_status, Some(401));

    // Nothing added: the next poll (added_after) brings nothing and changes nothing.
    let report = f.fetch(0, NOW + 900).unwrap();
    assert_eq!(report.outcome, Ok(false), "{report:?}");
    // The publisher adds an indicator: the next poll asks only for what was added and merges.
    std::thread::sleep(Duration::from_millis(1100));
    publish(&server, &pki, vec![indicator(4, "185.220.101.7", 7777)]);
    let report = f.fetch(0, NOW + 1800).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert_eq!(report.requests, 3, "one page of new objects: {report:?}");
    assert_eq!(values(&f).len(), 4, "{:?}", values(&f));
    assert!(values(&f).contains(&"185.220.101.7:7777".to_string()));
}

/// The sensor polls medallion (in its namespace, over TLS); an indicator published while a
/// flow to it is open is picked up by the next poll and reported against that flow.
#[test]
fn a_running_sensor_reports_an_open_flow_when_its_taxii_collection_names_the_c2() {
    let lab = sensor::lab(true);
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(&dir.path().join("pki"));
    let server = start_medallion(dir.path(), &pki, Some(&lab.sensor));
    // Something to start on (without a set the built-in Remcos set would match at once).
    publish(&server, &pki, vec![indicator(1, "203.0.113.99", 4444)]);
    for (name, secret) in [("user", "sensor"), ("good", "s3cret")] {
        std::fs::write(dir.path().join(name), format!("{secret}\n")).unwrap();
    }
    let setup = sensor::Setup {
        feeds: format!("[]\nstate_dir = \"{}\"", dir.path().join("state").display()),
        health: "0",
        extra: format!(
            "[[iocs.source]]\nname = \"opencti\"\nkind = \"taxii21\"\n\
             url = \"https://127.0.0.1:{}/taxii2/\"\ncollection = \"{COLLECTION}\"\n\
             username_file = \"{}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n\
             interval = \"5s\"\ntimeout = \"10s\"\n",
            server.port,
            dir.path().join("user").display(),
            dir.path().join("good").display(),
            pki.ca.display()
        ),
        ..sensor::Setup::default()
    };
    let s = sensor::Sensor::start(&lab, &setup);
    s.wait_ready(200, Duration::from_secs(30));
    let until = Instant::now() + Duration::from_secs(30);
    // Until the fetched set is in force the built-in set (which names this C2) is matched.
    let in_force = |s: &sensor::Sensor| {
        s.log()
            .lines()
            .any(|l| l.contains("IOC set") && l.contains("\"opencti\""))
    };
    while !in_force(&s) {
        assert!(Instant::now() < until, "no first poll; log:\n{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let alerts = |s: &sensor::Sensor| {
        s.records()
            .into_iter()
            .filter(|r| r["signature_id"] == 1001)
            .collect::<Vec<_>>()
    };
    // A UDP flow to the C2 stays open; nothing matches it yet.
    lab.replay(&sensor::pcap("udp.pcap"));
    std::thread::sleep(Duration::from_millis(800));
    assert!(alerts(&s).is_empty(), "{:?}", alerts(&s));
    std::thread::sleep(Duration::from_millis(1100));
    publish(&server, &pki, vec![indicator(2, "138.9.223.13", 8015)]);
    let until = Instant::now() + Duration::from_secs(40);
    while alerts(&s).is_empty() {
        assert!(
            Instant::now() < until,
            "no retro-matched alert; log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let alert = alerts(&s).remove(0);
    assert!(alert.to_string().contains("138.9.223.13"), "{alert}");
    assert_eq!(s.metric("c2tap_feed_iocs{source=\"opencti\"}"), Some(2.0));
    assert!(
        s.log().contains("reloaded: a fetched feed changed"),
        "{}",
        s.log()
    );
}
