//! Fetched feeds against a local HTTPS stand-in for ThreatFox (its API and its exports): real
//! TLS with a test CA, real HTTP, the replies kept as fixtures in tests/feeds/ (README there).
//! Every way a publisher can fail — a revoked key, an HTML error page, nothing, a stall, a
//! cut download, a body too large, a sudden shrink — must leave the last good set in place and
//! say why; the cache must survive a restart and refuse a corrupt copy.

#[path = "support/https_stub.rs"]
mod https_stub;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use c2tap::feeds::{FetchSettings, Fetcher, Reason};
use c2tap::ioc::Filters;
use https_stub::{make_pki, Pki, Reply, Stub};

/// 2026-05-11 00:00:00 UTC: the fixtures' IOCs are days old, not months.
const NOW: u64 = 1_778_457_600;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/feeds")
            .join(name),
    )
    .unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    pki: Pki,
    stub: Stub,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(&dir.path().join("pki"));
    let stub = Stub::start(&pki, 0);
    std::fs::write(dir.path().join("tf.key"), "test-key-123\n").unwrap();
    Setup { dir, pki, stub }
}

impl Setup {
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The config text for `sources` (TOML with `URL`, `CA` and `KEY` placeholders).
    fn config(&self, sources: &str) -> String {
        let sources = sources
            .replace("URL", &self.stub.url(""))
            .replace("CA", &self.pki.ca.display().to_string())
            .replace("KEY", &self.dir.path().join("tf.key").display().to_string());
        format!(
            "[capture]\ninterfaces = [\"eth0\"]\n[outputs]\nurls = [\"udp://127.0.0.1:514\"]\n\
             [iocs]\nstate_dir = \"{}\"\n{sources}",
            self.state().display()
        )
    }

    fn settings(&self, sources: &str) -> (FetchSettings, Filters) {
        let raw = c2tap::config::RawConfig::parse(&self.config(sources)).unwrap();
        let s = raw.validate().unwrap_or_else(|e| panic!("{e}"));
        (s.iocs.fetch, s.iocs.filters)
    }

    fn fetcher(&self, sources: &str) -> Fetcher {
        c2tap::feeds::prepare_dir(&self.state()).unwrap();
        let (fetch, filters) = self.settings(sources);
        Fetcher::new(fetch, filters, true)
    }
}

const API: &str = r#"
[[iocs.source]]
name = "tf-api"
kind = "threatfox-api"
url = "URL/api/v1/"
auth_key_file = "KEY"
query = { query = "get_iocs", days = 7 }
ca_file = "CA"
interval = "1h"
timeout = "3s"
min_confidence = 75
"#;

fn values(fetcher: &Fetcher) -> Vec<String> {
    let mut v: Vec<String> = fetcher
        .sets()
        .iter()
        .flat_map(|(_, l)| l.set.iter().map(|i| i.value.clone()).collect::<Vec<_>>())
        .collect();
    v.sort();
    v
}

fn failure(report: &c2tap::feeds::Report) -> Reason {
    match &report.outcome {
        Err((reason, _)) => *reason,
        Ok(_) => panic!("expected a failure: {report:?}"),
    }
}

#[test]
fn threatfox_api_ok_then_every_bad_answer_keeps_the_last_good_set() {
    let t = setup();
    t.stub
        .answer(|_| Reply::ok("application/json", fixture("threatfox-api-get_iocs.json")));
    let mut f = t.fetcher(API);
    let report = f.fetch(0, NOW).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert_eq!(report.http_status, Some(200));
    // Three ip:port rows pass min_confidence 75; the fourth and the domain (a name IOC) have 50.
    let good = vec![
        "138.9.223.13:8015".to_string(),
        "138.9.41.254:8015".into(),
        "45.77.10.20:2404".into(),
    ];
    assert_eq!(values(&f), good);
    let status = &f.status()[0];
    assert_eq!(status.stats.as_ref().map(|s| s.filtered.total()), Some(2));
    assert_eq!(status.stats.as_ref().map(|s| s.other_types), Some(0));
    // What was sent: a POST with the key and the configured query.
    let seen = t.stub.take_seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("auth-key"), Some("test-key-123"));
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body, serde_json::json!({"query": "get_iocs", "days": 7}));

    // Each bad answer: counted with its reason, the set stays.
    let cases: Vec<(&str, Reply, Reason)> = vec![
        (
            "unknown_auth_key",
            Reply::ok(
                "application/json",
                fixture("threatfox-api-unknown_auth_key.json"),
            ),
            Reason::Auth,
        ),
        ("HTTP 401", Reply::status(401), Reason::Auth),
        (
            "HTML error page",
            Reply::ok("text/html", fixture("not-a-feed.html")),
            Reason::NotAFeed,
        ),
        ("HTTP 502", Reply::status(502), Reason::HttpStatus),
        (
            "empty body",
            Reply::ok("application/json", ""),
            Reason::NotAFeed,
        ),
        (
            "cut download",
            Reply {
                declared_len: Some(4000),
                ..Reply::ok(
                    "application/json",
                    fixture("threatfox-api-get_iocs.json")[..900].to_vec(),
                )
            },
            Reason::Truncated,
        ),
        (
            "stalled",
            Reply {
                delay: Duration::from_secs(6),
                ..Reply::ok("application/json", fixture("threatfox-api-get_iocs.json"))
            },
            Reason::Timeout,
        ),
    ];
    for (what, reply, reason) in cases {
        t.stub.answer(move |_| reply.clone());
        let started = Instant::now();
        let report = f.fetch(0, NOW + 3600).unwrap();
        assert_eq!(failure(&report), reason, "{what}: {report:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: the timeout bounds it"
        );
        assert_eq!(values(&f), good, "{what}: the last good set stays");
        let status = &f.status()[0];
        assert_eq!(status.last_success, Some(NOW), "{what}");
        assert_eq!(
            status.last_error.as_ref().map(|e| e.0),
            Some(reason),
            "{what}"
        );
    }
    // A valid but empty answer to a full query is refused too.
    t.stub
        .answer(|_| Reply::ok("application/json", fixture("threatfox-api-no_result.json")));
    let report = f.fetch(0, NOW + 2 * 86_400).unwrap();
    assert_eq!(failure(&report), Reason::Empty, "{report:?}");
    assert_eq!(values(&f), good);
}

#[test]
fn threatfox_incremental_merges_a_day_and_a_full_fetch_drops_deleted_iocs() {
    let t = setup();
    let day = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = day.clone();
    t.stub.answer(move |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        match (
            body["days"].as_u64(),
            d.load(std::sync::atomic::Ordering::SeqCst),
        ) {
            (Some(1), false) => {
                Reply::ok("application/json", fixture("threatfox-api-no_result.json"))
            }
            (Some(1), true) => Reply::ok(
                "application/json",
                fixture("threatfox-api-get_iocs-day.json"),
            ),
            _ => Reply::ok("application/json", fixture("threatfox-api-get_iocs.json")),
        }
    });
    let sources = format!("{API}full_interval = \"1d\"\nmax_shrink = 0\n");
    let mut f = t.fetcher(&sources);
    assert_eq!(f.fetch(0, NOW).unwrap().outcome, Ok(true));
    assert_eq!(values(&f).len(), 3);
    // An hour later: days = 1, nothing new: a success that changes nothing.
    let report = f.fetch(0, NOW + 3600).unwrap();
    assert_eq!(report.outcome, Ok(false), "{report:?}");
    assert_eq!(f.status()[0].last_success, Some(NOW + 3600));
    // Two hours later: a new IOC, merged into the set.
    day.store(true, std::sync::atomic::Ordering::SeqCst);
    let report = f.fetch(0, NOW + 7200).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert!(
        values(&f).contains(&"185.220.101.7:7777".to_string()),
        "{:?}",
        values(&f)
    );
    assert_eq!(values(&f).len(), 4);
    let days: Vec<u64> = t
        .stub
        .take_seen()
        .iter()
        .map(|s| {
            serde_json::from_slice::<serde_json::Value>(&s.body).unwrap()["days"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(days, [7, 1, 1]);
    // A day after the first: the full query again; ThreatFox no longer lists the new IOC
    // (deleted as a false positive): it is gone.
    let report = f.fetch(0, NOW + 86_400 + 10).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert_eq!(values(&f).len(), 3);
    assert!(!values(&f).contains(&"185.220.101.7:7777".to_string()));
}

const EXPORT: &str = r#"
[[iocs.source]]
name = "tf-export"
kind = "https"
url = "URL/export/csv/recent/"
ca_file = "CA"
interval = "1h"
timeout = "3s"
max_bytes = 100000
max_shrink = 0.5
"#;

#[test]
fn https_export_conditional_gzip_oversized_and_shrink() {
    let t = setup();
    let csv = fixture("threatfox-recent.csv");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &csv).unwrap();
    let gz = gz.finish().unwrap();
    t.stub.answer(move |seen| {
        if seen.header("if-none-match") == Some("\"v1\"") {
            return Reply::status(304);
        }
        Reply::ok("text/csv", gz.clone())
            .header("Content-Encoding", "gzip")
            .header("ETag", "\"v1\"")
    });
    let mut f = t.fetcher(EXPORT);
    let report = f.fetch(0, NOW).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    let full = values(&f);
    assert!(full.len() >= 3, "{full:?}");
    // Not modified: conditional on the ETag, nothing changes, the source is fresh.
    let report = f.fetch(0, NOW + 3600).unwrap();
    assert_eq!(report.outcome, Ok(false), "{report:?}");
    assert_eq!(report.http_status, Some(304));
    assert_eq!(f.status()[0].last_success, Some(NOW + 3600));
    let seen = t.stub.take_seen();
    assert!(seen[0]
        .header("accept-encoding")
        .unwrap_or("")
        .contains("gzip"));
    assert_eq!(seen[1].header("if-none-match"), Some("\"v1\""));

    // Larger than max_bytes: refused before it is all read.
    t.stub
        .answer(|_| Reply::ok("text/plain", "1.2.3.4:80\n".repeat(20_000)));
    let report = f.fetch(0, NOW + 7200).unwrap();
    assert_eq!(failure(&report), Reason::TooLarge, "{report:?}");
    // A small gzip body that inflates past max_bytes: the limit is on what is unpacked.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut bomb, &vec![b'\n'; 5_000_000]).unwrap();
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 100_000);
    t.stub
        .answer(move |_| Reply::ok("text/plain", bomb.clone()).header("Content-Encoding", "gzip"));
    let report = f.fetch(0, NOW + 9000).unwrap();
    assert_eq!(failure(&report), Reason::TooLarge, "{report:?}");
    // A redirect is not followed (connections only to configured URLs).
    let target = t.stub.url("/elsewhere");
    t.stub
        .answer(move |_| Reply::status(302).header("Location", &target));
    let report = f.fetch(0, NOW + 9100).unwrap();
    assert_eq!(failure(&report), Reason::HttpStatus, "{report:?}");
    assert_eq!(t.stub.take_seen().len(), 3, "no request to the Location");
    // One IOC where there were several: more than max_shrink fewer, refused.
    t.stub
        .answer(|_| Reply::ok("text/plain", "138.9.223.13:8015\n"));
    let report = f.fetch(0, NOW + 10_800).unwrap();
    assert_eq!(failure(&report), Reason::Shrink, "{report:?}");
    // An empty body (a publisher mid-deploy): refused as empty.
    t.stub.answer(|_| Reply::ok("text/plain", ""));
    let report = f.fetch(0, NOW + 12_000).unwrap();
    assert_eq!(failure(&report), Reason::Empty, "{report:?}");
    // Plain text that holds no IOC at all.
    t.stub
        .answer(|_| Reply::ok("text/plain", "maintenance window, come back later\n"));
    let report = f.fetch(0, NOW + 14_400).unwrap();
    assert_eq!(failure(&report), Reason::NotAFeed, "{report:?}");
    assert_eq!(values(&f), full);
    // The same smaller set again and again, over more than an interval (1h): the feed really
    // shrank, and the third agreeing fetch replaces the set (a different count would restart).
    t.stub
        .answer(|_| Reply::ok("text/plain", "138.9.223.13:8015\n"));
    let report = f.fetch(0, NOW + 14_500).unwrap();
    assert_eq!(failure(&report), Reason::Shrink, "{report:?}");
    assert_eq!(values(&f), full);
    let report = f.fetch(0, NOW + 14_800).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert_eq!(report.confirmed_shrink, Some(full.len()));
    assert_eq!(values(&f), ["138.9.223.13:8015"]);
}

#[test]
fn a_shrink_is_accepted_only_after_agreeing_fetches_over_an_interval() {
    let t = setup();
    t.stub
        .answer(|_| Reply::ok("text/plain", fixture("threatfox-recent.csv")));
    let mut f = t.fetcher(EXPORT);
    assert_eq!(f.fetch(0, NOW).unwrap().outcome, Ok(true));
    let full = values(&f);
    t.stub
        .answer(|_| Reply::ok("text/plain", "138.9.223.13:8015\n"));
    // Three in a row within minutes: still refused (a deploy gone wrong looks like this).
    for at in [60, 360, 660] {
        let report = f.fetch(0, NOW + at).unwrap();
        assert_eq!(failure(&report), Reason::Shrink, "{report:?}");
    }
    // The full set once more (the publisher recovered) ends the streak: it restarts.
    t.stub
        .answer(|_| Reply::ok("text/plain", fixture("threatfox-recent.csv")));
    assert_eq!(f.fetch(0, NOW + 3_000).unwrap().outcome, Ok(true));
    t.stub
        .answer(|_| Reply::ok("text/plain", "138.9.223.13:8015\n"));
    for at in [3_700, 4_000] {
        let report = f.fetch(0, NOW + at).unwrap();
        assert_eq!(failure(&report), Reason::Shrink, "{report:?}");
    }
    assert_eq!(values(&f), full);
    // Its third, an interval after its first: accepted.
    let report = f.fetch(0, NOW + 3_700 + 3_600).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert_eq!(report.confirmed_shrink, Some(full.len()));
    assert_eq!(values(&f), ["138.9.223.13:8015"]);
}

#[test]
fn the_cache_outlives_the_publisher_and_a_corrupt_copy_is_refused() {
    let t = setup();
    t.stub
        .answer(|_| Reply::ok("application/json", fixture("threatfox-api-get_iocs.json")));
    let mut f = t.fetcher(API);
    assert_eq!(f.fetch(0, NOW).unwrap().outcome, Ok(true));
    let good = values(&f);
    drop(f);
    let cache = t.state().join("tf-api.cache");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(t.state()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o700, "the state dir is private");
    // The publisher goes away; the sensor restarts on its cached copy and says how old it is.
    let port = t.stub.port;
    drop(t.stub);
    let t = Setup {
        stub: Stub::start(&t.pki, 0),
        ..t
    };
    let (mut fetch, filters) = t.settings(API);
    for s in &mut fetch.sources {
        if let c2tap::feeds::Kind::ThreatfoxApi { url, .. } = &mut s.kind {
            *url = format!("https://127.0.0.1:{port}/api/v1/");
        }
    }
    let mut f = Fetcher::new(fetch.clone(), filters.clone(), true);
    let reports = f.load_cache(NOW + 600);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outcome, Ok(true));
    assert_eq!(values(&f), good);
    let status = &f.status()[0];
    assert!(status.from_cache);
    assert_eq!(status.age(NOW + 600), Some(600));
    // Fetching fails (nobody listens): the cached set stays.
    let report = f.fetch(0, NOW + 700).unwrap();
    assert_eq!(failure(&report), Reason::Connect, "{report:?}");
    assert_eq!(values(&f), good);

    // One flipped byte in the cached body: refused, the source failed, no (empty) set.
    let mut bytes = std::fs::read(&cache).unwrap();
    let at = bytes.len() - 40;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&cache, &bytes).unwrap();
    let mut f = Fetcher::new(fetch, filters, true);
    let reports = f.load_cache(NOW + 800);
    assert_eq!(failure(&reports[0]), Reason::Cache, "{reports:?}");
    assert!(
        f.sets().is_empty(),
        "a corrupt copy gives no set, never an empty one"
    );
    assert_eq!(f.status()[0].last_success, None);
}

/// The wall clock: `feeds status` ages copies against it.
fn feeds_now() -> u64 {
    c2tap::time::wall_secs()
}

fn c2tap_bin() -> &'static str {
    env!("CARGO_BIN_EXE_c2tap")
}

#[test]
fn cli_fetch_and_status_print_per_source_and_exit_non_zero_on_failure() {
    let t = setup();
    t.stub.answer(|seen| match seen.path.as_str() {
        "/api/v1/" => Reply::ok(
            "application/json",
            fixture("threatfox-api-unknown_auth_key.json"),
        ),
        _ => Reply::ok("text/csv", fixture("threatfox-recent.csv")),
    });
    let config = t.dir.path().join("c2tap.toml");
    std::fs::write(&config, t.config(&format!("{API}{EXPORT}"))).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(c2tap_bin())
            .args(args)
            .arg("--config")
            .arg(&config)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = run(&["feeds", "fetch", "--source", "tf-export"]);
    assert!(ok, "{text}");
    assert!(text.contains("tf-export: ok: HTTP 200"), "{text}");
    assert!(text.contains("IOCs (ip:port"), "{text}");
    assert!(
        text.contains("rejected") && text.contains("filtered"),
        "{text}"
    );
    let (ok, text) = run(&["feeds", "fetch"]);
    assert!(!ok, "a failed source fails the command: {text}");
    assert!(text.contains("tf-api: FAILED (auth)"), "{text}");
    assert!(text.contains("unknown_auth_key"), "{text}");
    // `fetch` never writes the sensor's cache; status says nothing was fetched yet.
    let (ok, text) = run(&["feeds", "status"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("tf-export (https, every 60m): no cached copy"),
        "{text}"
    );
    // Once the sensor has a copy, status reports it from the cache, without writing there.
    let mut sensor = t.fetcher(&format!("{API}{EXPORT}"));
    assert_eq!(sensor.fetch(1, feeds_now()).unwrap().outcome, Ok(true));
    std::fs::remove_dir_all(t.state().join(".load")).unwrap();
    let (ok, text) = run(&["feeds", "status"]);
    assert!(!ok, "tf-api has no copy: {text}");
    assert!(
        text.contains("tf-export (https, every 60m): 3 IOCs, last success"),
        "{text}"
    );
    assert!(
        text.contains("tf-api (threatfox-api, every 60m): no cached copy"),
        "{text}"
    );
    assert!(
        !t.state().join(".load").exists(),
        "status staged nothing in the state dir"
    );
    assert!(text.contains("s ago ok"), "{text}");
    // The sensor's last failed attempt shows with its reason.
    assert_eq!(
        failure(&sensor.fetch(0, feeds_now()).unwrap()),
        Reason::Auth
    );
    let (_, text) = run(&["feeds", "status"]);
    assert!(
        text.contains("no cached copy (never fetched, or the sensor cannot write its state dir); last attempt ")
            && text.contains("s ago FAILED (auth): ThreatFox answered `unknown_auth_key`"),
        "{text}"
    );
    // check-config validates the sources.
    let bad = t.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        t.config("[[iocs.source]]\nname = \"x y\"\nkind = \"gopher\"\ninterval = \"1s\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(c2tap_bin())
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("iocs.source[0].name"), "{text}");
    assert!(text.contains("iocs.source[0].kind"), "{text}");
    assert!(text.contains("iocs.source[0].interval"), "{text}");
}

#[test]
fn a_taxii_server_that_never_stops_paging_is_cut_off() {
    let t = setup();
    let port = t.stub.port;
    t.stub.answer(move |seen| {
        let body = match seen.path.as_str() {
            "/taxii2/" => {
                serde_json::json!({ "api_roots": [format!("https://127.0.0.1:{port}/api1/")] })
            }
            "/api1/collections/" => {
                serde_json::json!({ "collections": [{ "id": "c1", "can_read": true }] })
            }
            _ => serde_json::json!({ "more": true, "next": "again", "objects": [] }),
        };
        Reply::ok("application/taxii+json;version=2.1", body.to_string())
    });
    let mut f = t.fetcher(
        "[[iocs.source]]\nname = \"endless\"\nkind = \"taxii21\"\nurl = \"URL/taxii2/\"\n\
         collection = \"c1\"\nca_file = \"CA\"\ntimeout = \"1s\"\n",
    );
    let started = Instant::now();
    let report = f.fetch(0, NOW).unwrap();
    let reason = failure(&report);
    assert!(
        matches!(reason, Reason::Timeout | Reason::TooLarge),
        "{report:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(f.sets().is_empty());
}

/// TAXII servers behind an API gateway take a key in a header of their choosing instead of
/// Basic auth (medallion, the reference server the other TAXII tests run, knows only Basic):
/// every request carries it, none carries `Authorization`, and a wrong key is an `auth`
/// failure.
#[test]
fn a_taxii_api_key_goes_in_its_header_on_every_request() {
    let t = setup();
    std::fs::write(t.dir.path().join("taxii.key"), "s3cret\n").unwrap();
    let port = t.stub.port;
    let want = std::sync::Arc::new(std::sync::Mutex::new("s3cret".to_string()));
    let key = std::sync::Arc::clone(&want);
    t.stub.answer(move |seen| {
        if seen.header("x-api-key") != Some(key.lock().unwrap().as_str()) {
            return Reply::status(401);
        }
        let body = match seen.path.as_str() {
            "/taxii2/" => {
                serde_json::json!({ "api_roots": [format!("https://127.0.0.1:{port}/api1/")] })
            }
            "/api1/collections/" => {
                serde_json::json!({ "collections": [{ "id": "c1", "can_read": true }] })
            }
            _ => serde_json::json!({ "more": false, "objects": [{
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "created": "2026-05-09T00:00:00.000Z", "modified": "2026-05-09T00:00:00.000Z",
                "pattern": "[network-traffic:dst_ref.value = '138.9.223.13' AND network-traffic:dst_port = 8015]",
                "pattern_type": "stix", "valid_from": "2026-05-09T00:00:00Z",
                "labels": ["Remcos"]
            }] }),
        };
        Reply::ok("application/taxii+json;version=2.1", body.to_string())
    });
    let sources = format!(
        "[[iocs.source]]\nname = \"gw\"\nkind = \"taxii21\"\nurl = \"URL/taxii2/\"\n\
         collection = \"c1\"\nca_file = \"CA\"\napi_key_header = \"X-Api-Key\"\n\
         api_key_file = \"{}\"\n",
        t.dir.path().join("taxii.key").display()
    );
    let mut f = t.fetcher(&sources);
    let report = f.fetch(0, NOW).unwrap();
    assert_eq!(report.outcome, Ok(true), "{report:?}");
    assert_eq!(values(&f), ["138.9.223.13:8015"]);
    let seen = t.stub.take_seen();
    assert_eq!(seen.len(), 3, "discovery, collections, objects");
    for s in &seen {
        assert_eq!(s.header("x-api-key"), Some("s3cret"), "{}", s.path);
        assert_eq!(s.header("authorization"), None, "{}", s.path);
    }
    *want.lock().unwrap() = "rotated".to_string();
    let report = f.fetch(0, NOW + 3600).unwrap();
    assert_eq!(failure(&report), Reason::Auth, "{report:?}");
    assert_eq!(values(&f), ["138.9.223.13:8015"]);
}
