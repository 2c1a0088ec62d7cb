use std::net::IpAddr;
use std::sync::Arc;

use super::severity::{self, SeverityTable, DEFAULT};
use super::*;
use crate::config::{Problem, RawConfig};
use crate::output::examples::{flow, health_record, ioc};
use crate::output::RecordSink;
use crate::record::{Action, FlowRecord, Record, Signature};
use crate::time::NANOS_PER_SEC;

/// The example record starts at 2026-05-09 14:03:27.123 UTC.
fn record() -> FlowRecord {
    flow(ioc())
}

fn rules(toml_rules: &str) -> ExclusionSet {
    match set_of(toml_rules) {
        Ok(set) => set,
        Err(p) => panic!("{p:?}"),
    }
}

fn set_of(toml_rules: &str) -> Result<ExclusionSet, Vec<String>> {
    let text = format!("{toml_rules}\n[capture]\ninterfaces = [\"eth0\"]\n");
    let raw = RawConfig::parse(&text).map_err(|p| strings(&p))?;
    match raw.validate() {
        Ok(s) => Ok(s.exclusions),
        Err(e) => Err(strings(&e.problems())),
    }
}

fn strings(p: &[Problem]) -> Vec<String> {
    p.iter().map(Problem::to_string).collect()
}

fn matches(rule: &str, rec: &FlowRecord) -> bool {
    let text = format!("[[exclude]]\nname = \"r\"\nreason = \"test\"\n{rule}\n");
    rules(&text).first_match(rec).is_some()
}

#[test]
fn each_criterion_matches_and_misses() {
    let r = record();
    let cases: [(&str, bool); 22] = [
        ("client = [\"10.1.0.0/16\"]", true),
        ("client = [\"10.2.0.0/16\"]", false),
        ("client = [\"10.0.0.0/8\", \"!10.1.2.3\"]", false),
        ("client = \"10.1.2.3\"", true),
        ("server = [\"138.9.223.13\"]", true),
        ("server = [\"138.9.223.14\"]", false),
        ("ports = [8015]", true),
        ("ports = [443, 8443]", false),
        ("protocol = \"tcp\"", true),
        ("protocol = [\"udp\", 1]", false),
        ("protocol = 6", true),
        ("vlan = 0", true),
        ("vlan = [10]", false),
        ("ioc = [\"138.9.223.13:8015\"]", true),
        ("ioc = [\"138.9.41.254:8015\"]", false),
        ("malware = [\"remcos\"]", true),
        ("malware = [\"AsyncRAT\"]", false),
        // 14:03 UTC is 16:03 on +02:00.
        (
            "client = \"10.1.2.3\"\nwindow = \"16:00-16:30\"\ntimezone = \"+02:00\"",
            true,
        ),
        (
            "client = \"10.1.2.3\"\nwindow = \"14:00-14:30\"\ntimezone = \"+02:00\"",
            false,
        ),
        ("client = \"10.1.2.3\"\nwindow = \"14:00-14:30\"", true),
        ("client = \"10.1.2.3\"\nexpires = 2026-05-09", true),
        ("client = \"10.1.2.3\"\nexpires = \"2026-05-08\"", false),
    ];
    for (rule, want) in cases {
        assert_eq!(matches(rule, &r), want, "{rule}");
    }
}

#[test]
fn every_term_of_a_rule_must_hold() {
    let r = record();
    assert!(matches(
        "client = \"10.1.2.3\"\nserver = \"138.9.223.13\"\nports = 8015",
        &r
    ));
    assert!(!matches(
        "client = \"10.1.2.3\"\nserver = \"138.9.223.13\"\nports = 8016",
        &r
    ));
    let mut icmp = record();
    icmp.proto = 1;
    icmp.server.port = 0;
    assert!(!matches("ports = [0]", &icmp), "ICMP has no ports");
}

#[test]
fn a_window_on_an_offset_is_judged_on_the_flow_start() {
    let set = rules(
        "[[exclude]]\nname = \"backup\"\nreason = \"nightly Veeam job\"\nclient = \"10.1.2.3\"\nwindow = \"01:00-03:30\"\ntimezone = \"-05:00\"\n",
    );
    let mut r = record();
    // 2026-05-09 06:00:00 UTC = 01:00 on -05:00.
    let six_utc = 1_778_306_400 * NANOS_PER_SEC;
    for (start, inside) in [
        (six_utc, true),
        (six_utc - 1, false),
        (six_utc + 150 * 60 * NANOS_PER_SEC - 1, true),
        (six_utc + 150 * 60 * NANOS_PER_SEC, false),
    ] {
        r.start = start;
        // The record's end does not matter: a summary long after the window agrees.
        r.end = start + 6 * 3600 * NANOS_PER_SEC;
        assert_eq!(set.first_match(&r).is_some(), inside, "{start}");
    }
}

fn suppressor(text: &str) -> Suppressor<Vec<Record>> {
    let set = rules(text);
    let counts = SuppressionCounts::new(&set, None);
    Suppressor::new(Vec::new(), set, counts)
}

const TWO_RULES: &str = r#"
[[exclude]]
name = "wsus"
reason = "WSUS update server"
server = ["10.9.0.0/16"]
[[exclude]]
name = "remcos-lab"
reason = "Malware lab replays Remcos samples"
client = ["10.1.2.0/24"]
malware = ["Remcos"]
"#;

#[test]
fn dropped_alerts_and_summaries_are_counted_per_rule() {
    let mut s = suppressor(TWO_RULES);
    let alert = record();
    let mut summary = record();
    summary.signature = Signature::FlowSummary;
    summary.action = Action::Closed;
    let mut other = record();
    other.client.addr = IpAddr::from([10, 7, 7, 7]);
    s.emit(Record::Flow(alert));
    s.emit(Record::Flow(summary));
    s.emit(Record::Flow(other.clone()));
    s.emit(health_record());
    let tallies = s.counts().tallies();
    assert_eq!(tallies.len(), 2);
    assert_eq!((tallies[0].alerts, tallies[0].summaries), (0, 0));
    assert_eq!(&*tallies[1].rule, "remcos-lab");
    assert_eq!((tallies[1].alerts, tallies[1].summaries), (1, 1));
    assert_eq!(s.into_inner(), vec![Record::Flow(other), health_record()]);
}

#[test]
fn reported_records_carry_act_suppressed_the_reason_and_low_severity() {
    let text = format!("exclude_action = \"report\"\n{TWO_RULES}");
    let mut s = suppressor(&text);
    let mut aggregated = record();
    aggregated.count = 3;
    s.emit(Record::Flow(aggregated.clone()));
    let out = s.inner().clone();
    let Some(Record::Flow(got)) = out.first() else {
        panic!("nothing reported: {out:?}")
    };
    assert_eq!(got.action, Action::Suppressed);
    assert_eq!(
        got.suppressed.as_deref(),
        Some("remcos-lab: Malware lab replays Remcos samples")
    );
    assert_eq!(got.signature, Signature::IocMatch);
    assert_eq!(DEFAULT.of(&out[0]), 1);
    assert_eq!(s.counts().tallies()[1].alerts, 3);
    let mut written = Vec::new();
    s.counts().write_summary(&mut written).unwrap();
    assert_eq!(
        String::from_utf8(written).unwrap(),
        "  exclusions (2 rule(s)):\n    wsus: alerts=0 summaries=0 (reported as act=suppressed)\n    remcos-lab: alerts=3 summaries=0 (reported as act=suppressed)\n"
    );
}

#[test]
fn a_rule_may_override_the_default_action() {
    let text = "exclude_action = \"report\"\n[[exclude]]\nname = \"a\"\nreason = \"r\"\nclient = \"10.1.2.3\"\naction = \"drop\"\n";
    let mut s = suppressor(text);
    s.emit(Record::Flow(record()));
    assert!(s.inner().is_empty());
    let alias = "[[exclude]]\nname = \"a\"\nreason = \"r\"\nclient = \"10.1.2.3\"\nexclude_action = \"report\"\n";
    assert_eq!(rules(alias).rules()[0].disposal, Disposal::Report);
}

#[test]
fn the_metric_counter_is_shared_with_the_registry() {
    let set = rules(TWO_RULES);
    let metrics = crate::metrics::Metrics::new(10);
    let mut a = Suppressor::new(
        Vec::new(),
        set.clone(),
        SuppressionCounts::new(&set, Some(&metrics)),
    );
    let mut b = Suppressor::new(
        Vec::new(),
        set.clone(),
        SuppressionCounts::new(&set, Some(&metrics)),
    );
    a.emit(Record::Flow(record()));
    b.emit(Record::Flow(record()));
    let text = metrics.render();
    assert!(
        text.contains("c2tap_suppressed_total{rule=\"remcos-lab\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("c2tap_suppressed_total{rule=\"wsus\"} 0"),
        "{text}"
    );
}

/// Both config stages, as `check-config` reports them.
fn check(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c2tap.toml");
    std::fs::write(
        &path,
        format!("{text}\n[capture]\ninterfaces = [\"eth0\"]\n"),
    )
    .unwrap();
    match crate::config::load(&path) {
        Ok(_) => Vec::new(),
        Err(e) => strings(&e.problems()),
    }
}

#[test]
fn rule_problems_are_reported_with_their_keys() {
    let got = check(
        r#"
exclude_action = "mute"
[[exclude]]
name = "9lives"
client = ["10.0.0.0/33", "!x"]
ports = [70000]
protocol = "ipx"
vlan = [4096]
window = "1:00-2:00"
timezone = "CET"
expires = "2026-02-30"
action = "hide"
[[exclude]]
name = "ok"
reason = "fine"
client = ["10.0.0.1"]
[[exclude]]
name = "ok"
reason = "again"
server = "192.0.2.1"
[[exclude]]
name = "all"
reason = "everything at night"
window = "00:00-06:00"
[[exclude]]
name = "empty"
reason = "an empty list"
ioc = []
[[exclude]]
name = "typo"
reason = "x"
clients = ["10.0.0.1"]
"#,
    );
    let want = [
        "exclude[5].clients: unknown field `clients`, expected one of `name`, `reason`, `client`, `server`, `ports`, `protocol`, `vlan`, `ioc`, `malware`, `domain`, `window`, `timezone`, `expires`, `action`, `exclude_action`",
        "exclude_action: `mute`: must be \"drop\" or \"report\"",
        "exclude[0].name: `9lives`: must start with a letter and use only letters, digits, _ and - (at most 40)",
        "exclude[0].reason: required: why these matches are benign (sent with reported records)",
        "exclude[0].action: `hide`: must be \"drop\" or \"report\"",
        "exclude[0].client[0]: `10.0.0.0/33` is not an address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, !10.0.0.5)",
        "exclude[0].client[1]: `!x` is not an address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, !10.0.0.5)",
        "exclude[0].ports[0]: must be a port (0-65535)",
        "exclude[0].protocol[0]: `ipx`: tcp, udp, icmp, icmpv6, sctp, gre or a number",
        "exclude[0].vlan[0]: must be a VLAN id (0-4095)",
        "exclude[0].timezone: `CET` is not a UTC offset (e.g. \"+02:00\", \"-05:00\", \"UTC\")",
        "exclude[0].window: `1:00-2:00` is not a window (e.g. \"01:00-03:30\", \"22:00-02:00\")",
        "exclude[0].expires: must be a date (YYYY-MM-DD)",
        "exclude[2].name: `ok` is already the name of exclude[1]",
        "exclude[3]: names no client, server, ports, protocol, vlan, ioc, malware or domain: it would suppress every alert",
        "exclude[4].ioc: is empty; leave the key out to match any",
    ];
    assert_eq!(got, want);
}

fn lint(text: &str, now_epoch_secs: u64) -> Vec<String> {
    strings(&rules(text).lint(now_epoch_secs))
}

/// 2026-05-10 00:00:00 UTC.
const MAY_10: u64 = 1_778_371_200;

#[test]
fn rules_that_can_never_match_are_warned_about() {
    let got = lint(
        r#"
[[exclude]]
name = "old"
reason = "migration finished"
client = "10.1.2.3"
expires = "2026-05-09"
[[exclude]]
name = "late"
reason = "still valid"
client = "10.1.2.4"
expires = "2026-05-09"
timezone = "-01:00"
[[exclude]]
name = "never"
reason = "typo in window"
server = "192.0.2.1"
window = "02:00-02:00"
[[exclude]]
name = "self"
reason = "contradiction"
client = ["10.1.0.0/16", "!10.0.0.0/8"]
[[exclude]]
name = "icmp-ports"
reason = "ping"
protocol = ["icmp", "icmpv6"]
ports = [7]
"#,
        MAY_10,
    );
    assert_eq!(
        got,
        vec![
            "exclude[0]: rule `old` can never match: it expired at the end of 2026-05-09",
            "exclude[2]: rule `never` can never match: its window is empty (start = end)",
            "exclude[3]: rule `self` can never match: every `client` entry is negated by another entry",
            "exclude[4]: rule `icmp-ports` can never match: `ports` with only port-less protocols",
        ]
    );
}

#[test]
fn rules_shadowed_by_an_earlier_broader_rule_are_warned_about() {
    let got = lint(
        r#"
[[exclude]]
name = "backup-net"
reason = "Commvault media agents"
client = ["10.20.0.0/16"]
[[exclude]]
name = "backup-host"
reason = "one media agent"
client = ["10.20.1.5"]
ports = [8400]
[[exclude]]
name = "wider-later"
reason = "covers backup-net but comes after it"
client = ["10.0.0.0/8"]
[[exclude]]
name = "night"
reason = "patch window"
server = ["192.0.2.0/24"]
window = "22:00-04:00"
[[exclude]]
name = "night-part"
reason = "inside the patch window, on another offset"
server = ["192.0.2.7"]
window = "00:00-02:00"
timezone = "+01:00"
[[exclude]]
name = "day"
reason = "not inside"
server = ["192.0.2.7"]
window = "10:00-11:00"
"#,
        MAY_10,
    );
    assert_eq!(
        got,
        vec![
            "exclude[1]: rule `backup-host` is shadowed by exclude[0] `backup-net`, which matches everything it does (first match wins)",
            "exclude[4]: rule `night-part` is shadowed by exclude[3] `night`, which matches everything it does (first match wins)",
        ]
    );
}

#[test]
fn the_default_severity_table_is_the_record_formats() {
    let mut r = record();
    let sev = |r: &FlowRecord| DEFAULT.of(&Record::Flow(r.clone()));
    let table = [
        (Signature::IocMatch, Some(95), 9),
        (Signature::IocMatch, Some(90), 9),
        (Signature::IocMatch, Some(89), 8),
        (Signature::IocMatch, Some(75), 8),
        (Signature::IocMatch, Some(50), 7),
        (Signature::IocMatch, None, 7),
        (Signature::IocMatch, Some(49), 6),
        (Signature::IocAddressMatch, Some(75), 5),
        (Signature::IocAddressMatch, Some(74), 4),
        (Signature::IocAddressMatch, None, 4),
        (Signature::FlowSummary, Some(100), 3),
    ];
    for (signature, confidence, want) in table {
        r.signature = signature;
        let mut ioc = ioc();
        ioc.confidence = confidence;
        r.ioc = Arc::new(ioc);
        assert_eq!(sev(&r), want, "{signature:?} {confidence:?}");
    }
    assert_eq!(DEFAULT.of(&health_record()), 1);
    // Nothing in the library installs a table, so CEF writes the default.
    assert_eq!(*severity::current(), DEFAULT);
    assert_eq!(crate::output::cef::severity(&Record::Flow(record())), 8);
}

fn severity_of(text: &str) -> Result<SeverityTable, Vec<String>> {
    let raw = RawConfig::parse(&format!("{text}\n[capture]\ninterfaces = [\"eth0\"]\n"))
        .map_err(|p| strings(&p))?;
    raw.validate()
        .map(|s| s.severity)
        .map_err(|e| strings(&e.problems()))
}

#[test]
fn a_configured_severity_table() {
    let t = severity_of(
        "[severity]\nexact = [[80, 10], [0, 5]]\nunknown_confidence = 0\nsuppressed = 0\n",
    )
    .unwrap();
    let mut r = record();
    assert_eq!(t.of(&Record::Flow(r.clone())), 5, "75 < 80");
    let mut ioc = ioc();
    ioc.confidence = None;
    r.ioc = Arc::new(ioc);
    assert_eq!(t.of(&Record::Flow(r.clone())), 5);
    r.signature = Signature::IocAddressMatch;
    assert_eq!(
        t.of(&Record::Flow(r.clone())),
        4,
        "other_port keeps its default"
    );
    r.action = Action::Suppressed;
    assert_eq!(t.of(&Record::Flow(r)), 0);
    assert_eq!(severity_of("").unwrap(), DEFAULT);
    assert_eq!(
        severity_of("[severity]\nexact = [[50, 7], [75, 11]]\nother_port = []\nhealth = 12\n").unwrap_err(),
        vec![
            "severity.exact: the last step must start at confidence 0, so every IOC gets a severity",
            "severity.exact[1]: must be [confidence 0-100, severity 0-10]",
            "severity.exact[1]: steps must go from highest to lowest confidence",
            "severity.other_port: the last step must start at confidence 0, so every IOC gets a severity",
            "severity.health: must be between 0 and 10",
        ]
    );
}

/// The demo capture through the real replay path, then the suppressor: what
/// `c2tap replay --config` does once its sink is wrapped.
#[test]
fn replaying_the_demo_capture_with_an_exclusion() {
    let pcap = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/demo-remcos.pcap");
    let (records, _, warnings) = crate::app::replay::replay_records(
        &[pcap],
        crate::ioc::IocSet::builtin(),
        crate::pipeline::WorkerConfig::default(),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let signatures: Vec<u16> = records
        .iter()
        .filter_map(|r| match r {
            Record::Flow(f) => Some(f.signature.id()),
            Record::Health(_) => None,
        })
        .collect();
    assert_eq!(signatures, vec![1001, 1003]);
    let run = |text: &str| {
        let mut s = suppressor(text);
        for r in records.clone() {
            s.emit(r);
        }
        let tallies = s.counts().tallies();
        (s.into_inner(), tallies)
    };
    // The lab host, only inside its window: the demo flow starts 14:03 UTC = 16:03 on +02:00.
    let lab = |window: &str| {
        format!("[[exclude]]\nname = \"lab\"\nreason = \"malware lab\"\nclient = [\"10.1.2.3\"]\nserver = [\"138.9.223.13\"]\nports = [8015]\nwindow = \"{window}\"\ntimezone = \"+02:00\"\n")
    };
    let (sent, tallies) = run(&lab("16:00-17:00"));
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!((tallies[0].alerts, tallies[0].summaries), (1, 1));
    let (sent, tallies) = run(&lab("14:00-15:00"));
    assert_eq!(sent, records);
    assert_eq!((tallies[0].alerts, tallies[0].summaries), (0, 0));
    let (sent, _) = run(&format!(
        "exclude_action = \"report\"\n{}",
        lab("16:00-17:00")
    ));
    let actions: Vec<(u16, Action, Option<&str>)> = sent
        .iter()
        .filter_map(|r| match r {
            Record::Flow(f) => Some((f.signature.id(), f.action, f.suppressed.as_deref())),
            Record::Health(_) => None,
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            (1001, Action::Suppressed, Some("lab: malware lab")),
            (1003, Action::Suppressed, Some("lab: malware lab")),
        ]
    );
}

#[test]
fn replay_reads_only_the_exclusions_of_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    // No [capture] at all, and a problem in another section: neither is replay's business.
    std::fs::write(
        &path,
        "[flow]\nholddown = \"soon\"\n[severity]\nexact = [[0, 10]]\n[[exclude]]\nname = \"a\"\nreason = \"r\"\nclient = \"10.1.2.3\"\n",
    )
    .unwrap();
    let (set, table) = crate::config::load_exclusions(&path).unwrap();
    assert_eq!(set.rules().len(), 1);
    assert_eq!(table.of(&Record::Flow(record())), 10);
    std::fs::write(
        &path,
        "[[exclude]]\nname = \"a\"\nclient = \"10.1.2.3\"\n[severity]\nhealth = 11\n",
    )
    .unwrap();
    let problems = match crate::config::load_exclusions(&path) {
        Err(e) => strings(&e.problems()),
        Ok(_) => Vec::new(),
    };
    assert_eq!(
        problems,
        vec![
            "exclude[0].reason: required: why these matches are benign (sent with reported records)",
            "severity.health: must be between 0 and 10",
        ]
    );
}

/// The rules the shipped config shows in comments are valid as written.
#[test]
fn the_shipped_config_documents_working_rules() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/c2tap.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let shipped = crate::config::load(&path).unwrap();
    assert!(shipped.exclusions.is_empty());
    assert_eq!(shipped.severity, DEFAULT);
    let start = text.find("# [[exclude]]").unwrap();
    let examples: String = text[start..]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .map(|l| format!("{l}\n"))
        .collect();
    let set = rules(&examples);
    let names: Vec<&str> = set.rules().iter().map(|r| &*r.name).collect();
    assert_eq!(names, vec!["veeam-nightly", "wsus"]);
    assert_eq!(set.rules()[1].disposal, Disposal::Report);
    assert!(set.lint(MAY_10).is_empty(), "{:?}", set.lint(MAY_10));
}

fn feeds_config(extra: &str) -> crate::config::IocSettings {
    let root = env!("CARGO_MANIFEST_DIR");
    let tf = format!("{root}/tests/feeds/threatfox-recent.csv");
    let plain = format!("{root}/pcaps/iocs/address-only.txt");
    let text = format!(
        "[capture]\ninterfaces = [\"eth0\"]\n[iocs]\nfeeds = [\"{tf}\", \"{plain}\"]\n{}\n\
         [iocs.allow_broad]\n\"{plain}\" = true\n",
        extra.replace("TF", &tf)
    );
    let raw = RawConfig::parse(&text).unwrap();
    match raw.validate() {
        Ok(s) => s.iocs,
        Err(e) => panic!("{e}"),
    }
}

fn loaded_values(settings: &crate::config::IocSettings) -> Vec<String> {
    let loaded = load_feeds(settings, 1_778_371_200).unwrap();
    let mut values: Vec<String> = loaded.set.iter().map(|i| i.value.clone()).collect();
    values.sort();
    values
}

#[test]
fn each_feed_may_have_its_own_minimum_confidence() {
    let all = loaded_values(&feeds_config(""));
    assert_eq!(
        all,
        vec![
            "138.9.223.13",
            "138.9.223.13:8015",
            "138.9.41.254:8015",
            "198.51.100.66",
            "203.0.113.128/25",
            "8.134.12.90:7777"
        ]
    );
    // Only ThreatFox's confidence-100 IOC passes 80; the plain list has no confidence.
    let strict = feeds_config("[iocs.feed_min_confidence]\n\"TF\" = 80\n");
    assert_eq!(strict.feed_min_confidence, vec![Some(80), None]);
    assert_eq!(
        loaded_values(&strict),
        vec![
            "138.9.223.13",
            "198.51.100.66",
            "203.0.113.128/25",
            "8.134.12.90:7777"
        ]
    );
    // A feed's own minimum replaces the global one, lower or higher.
    let lenient = feeds_config(
        "[iocs.filters]\nmin_confidence = 90\n[iocs.feed_min_confidence]\n\"TF\" = 50\n",
    );
    assert_eq!(loaded_values(&lenient), all);
    let global = feeds_config("[iocs.filters]\nmin_confidence = 90\n");
    assert_eq!(
        loaded_values(&global),
        vec![
            "138.9.223.13",
            "198.51.100.66",
            "203.0.113.128/25",
            "8.134.12.90:7777"
        ]
    );
}

#[test]
fn per_feed_minimums_name_configured_feeds() {
    let text = "[capture]\ninterfaces = [\"eth0\"]\n[iocs]\nfeeds = [\"a.csv\"]\n[iocs.feed_min_confidence]\n\"a.csv\" = 101\n\"b.csv\" = 10\n";
    let got = match RawConfig::parse(text).unwrap().validate() {
        Err(e) => strings(&e.problems()),
        Ok(_) => Vec::new(),
    };
    assert_eq!(
        got,
        vec![
            "iocs.feed_min_confidence.\"a.csv\": must be between 0 and 100",
            "iocs.feed_min_confidence.\"b.csv\": not one of iocs.feeds",
        ]
    );
}
