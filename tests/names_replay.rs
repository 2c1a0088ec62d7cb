//! Name IOC records, field by field: each `pcaps/names-*.pcap` fixture replayed with
//! `pcaps/iocs/names.txt` gives exactly these alerts (signature, act, endpoints, `dhost`,
//! `request`, DNS answers, TTL and answer time) and a 1003 summary carrying the same name.
//! `tests/replay.rs` checks the signatures and outcomes of the README tables; this checks the
//! name fields and their CEF mapping.

use std::path::{Path, PathBuf};
use std::process::Command;

use c2tap::app::replay::replay_records;
use c2tap::ioc::{self, FeedSource, Filters};
use c2tap::output::format::cef_parse::parse_cef;
use c2tap::pipeline::WorkerConfig;
use c2tap::record::{FlowRecord, Record, Signature};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn pcap(name: &str) -> PathBuf {
    Path::new(ROOT).join("pcaps").join(name)
}

fn records_with(file: &str, cfg: WorkerConfig) -> Vec<FlowRecord> {
    let sources = [FeedSource::File(pcap("iocs/names.txt"))];
    let set = ioc::load(&sources, &Filters::default(), 1_780_000_000)
        .expect("names.txt loads")
        .set;
    let (records, _, warnings) = replay_records(&[pcap(file)], set, cfg).expect("replay");
    assert!(warnings.is_empty(), "{warnings:?}");
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Flow(f) => Some(f),
            Record::Health(_) => None,
        })
        .collect()
}

fn records(file: &str) -> Vec<FlowRecord> {
    records_with(file, WorkerConfig::default())
}

/// (signature, act, client, server, dhost, request, answers, ttl)
type Row = (
    u16,
    &'static str,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<u32>,
);

fn row(r: &FlowRecord) -> Row {
    let name = r.name.as_ref().expect("a name record carries its name");
    (
        r.signature.id(),
        r.action.as_str(),
        format!("{}:{}", r.client.addr, r.client.port),
        format!("{}:{}", r.server.addr, r.server.port),
        name.host.to_string(),
        name.url.as_deref().map(str::to_string),
        name.answers.as_deref().map(str::to_string),
        name.ttl,
    )
}

fn alerts(recs: &[FlowRecord]) -> Vec<Row> {
    let mut rows: Vec<Row> = recs
        .iter()
        .filter(|r| r.signature != Signature::FlowSummary)
        .map(row)
        .collect();
    rows.sort();
    rows
}

/// One expected record, written as a table row.
#[allow(clippy::too_many_arguments)]
fn want(
    sig: u16,
    act: &'static str,
    client: &str,
    server: &str,
    host: &str,
    url: Option<&str>,
    answers: Option<&str>,
    ttl: Option<u32>,
) -> Row {
    (
        sig,
        act,
        client.into(),
        server.into(),
        host.into(),
        url.map(Into::into),
        answers.map(Into::into),
        ttl,
    )
}

/// Every alert has one summary with the same name facts.
fn summaries_match(recs: &[FlowRecord]) {
    let alerts: Vec<_> = recs
        .iter()
        .filter(|r| r.signature != Signature::FlowSummary)
        .collect();
    for a in &alerts {
        let s: Vec<_> = recs
            .iter()
            .filter(|r| {
                r.signature == Signature::FlowSummary && r.client == a.client && r.start == a.start
            })
            .collect();
        assert_eq!(s.len(), 1, "{a:?}");
        assert_eq!(s[0].name, a.name);
    }
}

const RESOLVER: &str = "192.0.2.53:53";

#[test]
fn udp_lookups_report_the_name_answers_and_ttl() {
    let recs = records("names-dns-udp.pcap");
    assert_eq!(
        alerts(&recs),
        vec![
            want(
                1010,
                "observed",
                "10.1.9.1:53100",
                RESOLVER,
                "rmc-c2.duckdns.org",
                None,
                Some("198.51.100.70"),
                Some(300)
            ),
            want(
                1010,
                "observed",
                "10.1.9.3:53102",
                RESOLVER,
                "xn--mnchen-c2-q9a.example",
                None,
                Some(""),
                None
            ),
        ]
    );
    // The answer's time is the response's: the last packet of the lookup flow.
    for r in &recs {
        assert_eq!(r.name.as_ref().unwrap().answered, Some(r.end));
    }
    summaries_match(&recs);
}

#[test]
fn tcp_lookup_waits_for_its_answer() {
    let recs = records("names-dns-tcp.pcap");
    assert_eq!(
        alerts(&recs),
        vec![want(
            1010,
            "established",
            "10.1.9.10:40110",
            RESOLVER,
            "rmc-c2.duckdns.org",
            None,
            Some("198.51.100.71"),
            Some(45)
        )]
    );
    summaries_match(&recs);
}

#[test]
fn a_connection_to_a_cname_chain_answer_is_1011_with_the_answer_time() {
    let recs = records("names-cname-connect.pcap");
    assert_eq!(
        alerts(&recs),
        vec![
            want(
                1010,
                "observed",
                "10.1.9.20:53120",
                RESOLVER,
                "cdn-c2.duckdns.org",
                None,
                Some("198.51.100.77"),
                Some(120)
            ),
            want(
                1011,
                "established",
                "10.1.9.20:49920",
                "198.51.100.77:443",
                "cdn-c2.duckdns.org",
                None,
                Some("198.51.100.77"),
                Some(120)
            ),
        ]
    );
    let lookup = recs
        .iter()
        .find(|r| r.signature == Signature::DomainLookup)
        .unwrap();
    let conn = recs
        .iter()
        .find(|r| r.signature == Signature::DomainConnection)
        .unwrap();
    assert_eq!(conn.name.as_ref().unwrap().answered, Some(lookup.end));
    assert!(conn.ioc_is_server);
    assert_eq!(conn.ioc.value, "cdn-c2.duckdns.org");
    summaries_match(&recs);
}

#[test]
fn no_1011_after_the_ttl() {
    let recs = records("names-ttl-expiry.pcap");
    assert_eq!(
        alerts(&recs),
        vec![want(
            1010,
            "observed",
            "10.1.9.30:53130",
            RESOLVER,
            "ttl-c2.duckdns.org",
            None,
            Some("198.51.100.78"),
            Some(60)
        )]
    );
}

#[test]
fn a_split_hello_sni_in_other_case_with_a_trailing_dot_is_1012() {
    let recs = records("names-tls-sni-split.pcap");
    assert_eq!(
        alerts(&recs),
        vec![want(
            1012,
            "established",
            "10.1.9.40:49940",
            "203.0.113.50:8443",
            "rmc-c2.duckdns.org",
            None,
            None,
            None
        )]
    );
    summaries_match(&recs);
}

#[test]
fn http_host_and_url_iocs_are_1013_with_the_url() {
    let recs = records("names-http.pcap");
    assert_eq!(
        alerts(&recs),
        vec![
            want(
                1013,
                "established",
                "10.1.9.50:49950",
                "203.0.113.60:80",
                "rmc-c2.duckdns.org",
                Some("http://rmc-c2.duckdns.org/index.php"),
                None,
                None
            ),
            want(
                1013,
                "established",
                "10.1.9.51:49951",
                "203.0.113.61:8080",
                "files.example.com",
                Some("http://files.example.com/panel/gate.php?id=7"),
                None,
                None
            ),
        ]
    );
    let url = recs.iter().find(|r| r.client.port == 49951).unwrap();
    assert_eq!(url.ioc.value, "http://files.example.com/panel/gate.php");
    summaries_match(&recs);
}

#[test]
fn an_http_request_split_over_three_segments_is_1013() {
    let recs = records("names-http-split.pcap");
    assert_eq!(
        alerts(&recs),
        vec![want(
            1013,
            "established",
            "10.1.9.55:49955",
            "203.0.113.65:80",
            "rmc-c2.duckdns.org",
            Some("http://rmc-c2.duckdns.org/gate.php?id=9"),
            None,
            None
        )]
    );
    summaries_match(&recs);
}

#[test]
fn alerts_only_mode_still_reports_a_lookup_with_its_answer() {
    let cfg = WorkerConfig {
        track_all: false,
        ..WorkerConfig::default()
    };
    let recs = records_with("names-dns-udp.pcap", cfg);
    assert_eq!(alerts(&recs), alerts(&records("names-dns-udp.pcap")));
}

#[test]
fn without_name_iocs_the_fixtures_are_quiet() {
    for file in [
        "names-dns-udp.pcap",
        "names-cname-connect.pcap",
        "names-tls-sni-split.pcap",
        "names-http.pcap",
        "names-http-split.pcap",
    ] {
        let (records, _, _) = replay_records(
            &[pcap(file)],
            c2tap::ioc::IocSet::builtin(),
            WorkerConfig::default(),
        )
        .expect("replay");
        assert!(records.is_empty(), "{file}: {records:?}");
    }
}

fn c2tap(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("run c2tap");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CEF mapping the README promises: name in `dhost` (DestinationHostName), URL in
/// `request` (RequestURL), DNS answers, TTL and answer time in c2tap fields.
#[test]
fn cef_puts_the_name_in_dhost_and_the_url_in_request() {
    let (code, out, err) = c2tap(&[
        "replay",
        "--hostname",
        "sensor01",
        "--iocs",
        "pcaps/iocs/names.txt",
        "pcaps/names-http.pcap",
        "pcaps/names-cname-connect.pcap",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("names: lookup(1010)=1 via_domain(1011)=1 sni(1012)=0 http(1013)=2"),
        "{err}"
    );
    let cef: Vec<_> = out
        .lines()
        .map(|l| parse_cef(l).expect("valid CEF"))
        .collect();
    let http = cef
        .iter()
        .find(|c| c.signature_id == "1013" && c.get("spt") == Some("49951"))
        .expect("1013");
    assert_eq!(http.get("dhost"), Some("files.example.com"));
    assert_eq!(
        http.get("request"),
        Some("http://files.example.com/panel/gate.php?id=7")
    );
    assert_eq!(http.name, "Remcos C2 domain in HTTP request");
    let conn = cef.iter().find(|c| c.signature_id == "1011").expect("1011");
    assert_eq!(conn.get("dhost"), Some("cdn-c2.duckdns.org"));
    assert_eq!(conn.get("dst"), Some("198.51.100.77"));
    assert_eq!(conn.get("c2tapDnsAnswers"), Some("198.51.100.77"));
    assert_eq!(conn.get("c2tapDnsTtl"), Some("120"));
    assert!(conn.get("c2tapDnsAnswerTime").is_some());
    assert_eq!(conn.name, "Remcos C2 connection via domain");
    let lookup = cef.iter().find(|c| c.signature_id == "1010").expect("1010");
    assert_eq!(lookup.get("dst"), Some("192.0.2.53"));
    assert_eq!(lookup.get("dhost"), Some("cdn-c2.duckdns.org"));
    assert_eq!(
        lookup.get("c2tapDnsAnswerTime"),
        conn.get("c2tapDnsAnswerTime")
    );
}

/// A URL from the wire is the first thing a size budget shortens: the record still fits, and
/// `request` is a prefix of the URL.
#[test]
fn a_long_url_gives_way_to_the_record_size_budget() {
    let mut rec = records("names-http.pcap")
        .into_iter()
        .find(|r| r.signature == Signature::HttpHost)
        .expect("1013");
    let mut name = (**rec.name.as_ref().unwrap()).clone();
    let long = format!("http://rmc-c2.duckdns.org/{}", "a".repeat(1000));
    name.url = Some(long.as_str().into());
    rec.name = Some(std::sync::Arc::new(name));
    let ctx = c2tap::record::SensorContext {
        hostname: "sensor01".into(),
        replay: true,
    };
    let mut buf = Vec::new();
    assert!(c2tap::output::format::cef::write_cef_within(
        &mut buf,
        &Record::Flow(rec),
        &ctx,
        &c2tap::exclude::severity::SeverityTable::default(),
        900
    ));
    assert!(buf.len() <= 900, "{}", buf.len());
    let line = String::from_utf8(buf).unwrap();
    let cef = parse_cef(&line).expect("valid CEF");
    let request = cef.get("request").expect("request kept");
    assert!(
        request.len() < long.len() && long.starts_with(request),
        "{request}"
    );
    assert_eq!(cef.get("dhost"), Some("rmc-c2.duckdns.org"));
}
