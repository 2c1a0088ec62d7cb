//! Exclusion rules as the rest of the sensor meets them, through the public API: the config
//! file that carries them (and the per-feed IOC settings beside them), the shipped config's
//! examples, and `c2tap replay` with a config's exclusions. Moved from `src/exclude/tests.rs`,
//! which keeps the tests of the rules themselves.

use c2tap::config::{Problem, RawConfig};
use c2tap::exclude::severity::DEFAULT;
use c2tap::exclude::{Disposal, ExclusionSet};
use c2tap::feeds::load_feeds;
use c2tap::output::format::examples::{flow, ioc};
use c2tap::record::RecordSink;
use c2tap::record::{Action, FlowRecord, Record};
use c2tap::transform::{SuppressionCounts, Suppressor};

/// The example record starts at 2026-05-09 14:03:27.123 UTC.
fn record() -> FlowRecord {
    flow(ioc())
}

fn rules(toml_rules: &str) -> ExclusionSet {
    let text = format!("{toml_rules}\n[capture]\ninterfaces = [\"eth0\"]\n");
    let raw = RawConfig::parse(&text).unwrap_or_else(|p| panic!("{:?}", strings(&p)));
    match raw.validate() {
        Ok(s) => s.exclusions,
        Err(e) => panic!("{:?}", strings(&e.problems())),
    }
}

fn strings(p: &[Problem]) -> Vec<String> {
    p.iter().map(Problem::to_string).collect()
}

fn suppressor(text: &str) -> Suppressor<Vec<Record>> {
    let set = rules(text);
    let counts = SuppressionCounts::new(&set, None);
    Suppressor::new(Vec::new(), set, counts)
}

/// 2026-05-10 00:00:00 UTC.
const MAY_10: u64 = 1_778_371_200;

/// The demo capture through the real replay path, then the suppressor: what
/// `c2tap replay --config` does once its sink is wrapped.
#[test]
fn replaying_the_demo_capture_with_an_exclusion() {
    let pcap = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/demo-remcos.pcap");
    let (records, _, warnings) = c2tap::app::replay::replay_records(
        &[pcap],
        c2tap::ioc::IocSet::builtin(),
        c2tap::pipeline::WorkerConfig::default(),
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
    let (set, table) = c2tap::config::load_exclusions(&path).unwrap();
    assert_eq!(set.rules().len(), 1);
    assert_eq!(table.of(&Record::Flow(record())), 10);
    std::fs::write(
        &path,
        "[[exclude]]\nname = \"a\"\nclient = \"10.1.2.3\"\n[severity]\nhealth = 11\n",
    )
    .unwrap();
    let problems = match c2tap::config::load_exclusions(&path) {
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
    let shipped = c2tap::config::load(&path).unwrap();
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

fn feeds_config(extra: &str) -> c2tap::feeds::IocSettings {
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

fn loaded_values(settings: &c2tap::feeds::IocSettings) -> Vec<String> {
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
