//! Replay tests in the spirit of suricata-verify: each case is a pcap (or several), an IOC set
//! and the expected alerts. The expectations are the tables in `pcaps/README.md`, written by the
//! fixture generator next to the traffic it builds (an independent source: it does not use
//! c2tap's code). Every listed alert must appear exactly once with its signature and `act`,
//! nothing else may alert, and every alerted flow leaves exactly one 1003 summary.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use c2tap::app::replay::replay_records;
use c2tap::ioc::{self, FeedSource, Filters};
use c2tap::output::format::cef_parse::parse_cef;
use c2tap::pipeline::WorkerConfig;
use c2tap::record::{FlowRecord, Record, Signature};

const PCAPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps");

/// (proto, client, client port, server, server port, signature id, act, outer layer)
type Alert = (String, IpAddr, u16, IpAddr, u16, u16, String, bool);

#[derive(Debug, Default)]
struct Case {
    files: Vec<PathBuf>,
    /// IOC file given with `--iocs`, or None for the built-in set.
    iocs: Option<PathBuf>,
    alerts: Vec<Alert>,
}

/// An address and port as the fixture tables print them.
type Addr = (IpAddr, u16);

fn parse_endpoint(s: &str) -> Option<Addr> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, port) = rest.split_once("]:")?;
        return Some((addr.parse().ok()?, port.parse().ok()?));
    }
    if let Ok(addr) = s.parse::<IpAddr>() {
        return Some((addr, 0));
    }
    let (addr, port) = s.rsplit_once(':')?;
    Some((addr.parse().ok()?, port.parse().ok()?))
}

/// `TCP 10.1.2.3:49823 → 138.9.223.13:8015 (note)` / `ICMP echo 10.1.3.4 → 138.9.223.13`
fn parse_flow(text: &str) -> Option<(String, Addr, Addr)> {
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "echo").collect();
    let proto = words.first()?.to_string();
    let arrow = words.iter().position(|w| *w == "→")?;
    let client = parse_endpoint(words.get(arrow - 1)?)?;
    let server = parse_endpoint(words.get(arrow + 1)?)?;
    Some((proto, client, server))
}

/// All cases of pcaps/README.md, keyed by (section, IOC set).
fn cases() -> Vec<Case> {
    let text =
        std::fs::read_to_string(Path::new(PCAPS).join("README.md")).expect("pcaps/README.md");
    let mut out: BTreeMap<(String, Option<PathBuf>), Case> = BTreeMap::new();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("### ") {
            section = title.to_string();
            files = title
                .split(" + ")
                .map(|f| Path::new(PCAPS).join(f.trim()))
                .collect();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 5 || !cells[1].contains('→') || cells[1].starts_with("flow (") {
            continue;
        }
        let iocs = cells[2]
            .trim_matches('`')
            .strip_prefix("--iocs ")
            .map(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join(p));
        let case = out
            .entry((section.clone(), iocs.clone()))
            .or_insert_with(|| Case {
                files: files.clone(),
                iocs: iocs.clone(),
                alerts: Vec::new(),
            });
        let expected = cells[3];
        if expected == "no alert" {
            continue;
        }
        let (proto, c, s) = parse_flow(cells[1])
            .unwrap_or_else(|| panic!("unparsable flow in {section}: {}", cells[1]));
        let mut parts = expected.split_whitespace();
        let sig: u16 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("signature id");
        let act = parts
            .next()
            .and_then(|p| p.strip_prefix("act="))
            .expect("act=")
            .to_string();
        let outer = parts.next() == Some("layer=outer");
        case.alerts
            .push((proto, c.0, c.1, s.0, s.1, sig, act, outer));
    }
    out.into_values().collect()
}

fn proto_name(p: u8) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        47 => "GRE".into(),
        58 => "ICMPv6".into(),
        n => n.to_string(),
    }
}

fn alert_of(r: &FlowRecord) -> Alert {
    (
        proto_name(r.proto),
        r.client.addr,
        r.client.port,
        r.server.addr,
        r.server.port,
        r.signature.id(),
        r.action.as_str().to_string(),
        r.outer,
    )
}

fn iocs_for(case: &Case) -> Result<c2tap::ioc::IocSet, String> {
    let sources: Vec<FeedSource> = case
        .iocs
        .iter()
        .map(|p| FeedSource::File(p.clone()))
        .collect();
    // The fixtures' IOC files hold a documentation network (203.0.113.128/25), a broad IOC
    // refused by default: they load as a feed with `allow_broad = true` would.
    let filters = Filters {
        allow_broad: true,
        ..Filters::default()
    };
    ioc::load(&sources, &filters, 1_780_000_000)
        .map(|l| l.set)
        .map_err(|e| format!("{:?}: IOC file does not load: {e}", case.iocs))
}

fn flow_records(case: &Case) -> (Vec<FlowRecord>, Vec<String>) {
    let iocs = match iocs_for(case) {
        Ok(set) => set,
        Err(e) => panic!("{e}"),
    };
    let (records, _, warnings) =
        replay_records(&case.files, iocs, WorkerConfig::default()).expect("replay");
    let flows = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Flow(f) => Some(f),
            Record::Health(_) => None,
        })
        .collect();
    (flows, warnings)
}

#[test]
fn every_documented_fixture_alerts_exactly_as_documented() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "pcaps/README.md lists {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = iocs_for(case) {
            failures.push(e);
            continue;
        }
        let (records, _) = flow_records(case);
        let mut got: Vec<Alert> = records
            .iter()
            .filter(|r| r.signature != Signature::FlowSummary)
            .map(alert_of)
            .collect();
        let mut want = case.alerts.clone();
        got.sort();
        want.sort();
        if got != want {
            failures.push(format!(
                "{:?} iocs={:?}\n  want {want:?}\n  got  {got:?}",
                case.files, case.iocs
            ));
        }
        // One summary per alerted flow, for the same endpoints.
        let mut summaries: Vec<_> = records
            .iter()
            .filter(|r| r.signature == Signature::FlowSummary)
            .map(|r| (r.client, r.server, r.proto, r.start))
            .collect();
        // A contact storm (1005) stands for its flows' alerts and summaries alike.
        let mut alerted: Vec<_> = records
            .iter()
            .filter(|r| {
                !matches!(
                    r.signature,
                    Signature::FlowSummary | Signature::ContactStorm
                )
            })
            .map(|r| (r.client, r.server, r.proto, r.start))
            .collect();
        summaries.sort_by_key(|k| format!("{k:?}"));
        alerted.sort_by_key(|k| format!("{k:?}"));
        if summaries != alerted {
            failures.push(format!(
                "{:?}: summaries {summaries:?} vs alerts {alerted:?}",
                case.files
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn one(case_files: &[&str], iocs: Option<&str>) -> Vec<FlowRecord> {
    let case = Case {
        files: case_files
            .iter()
            .map(|f| Path::new(PCAPS).join(f))
            .collect(),
        iocs: iocs.map(|p| Path::new(PCAPS).join(p)),
        alerts: vec![],
    };
    flow_records(&case).0
}

#[test]
fn long_flow_summary_counts_every_packet_each_way() {
    let recs = one(&["long-flow.pcap"], None);
    let s: Vec<_> = recs
        .iter()
        .filter(|r| r.signature == Signature::FlowSummary)
        .collect();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].totals.packets_to_server, s[0].totals.packets_to_client),
        (155, 152)
    );
}

#[test]
fn a_flow_split_over_two_files_is_one_flow_and_part_two_alone_is_midstream() {
    let both = one(&["split-part1.pcap", "split-part2.pcap"], None);
    assert_eq!(
        both.iter()
            .filter(|r| r.signature == Signature::IocMatch)
            .count(),
        1
    );
    let s = both
        .iter()
        .find(|r| r.signature == Signature::FlowSummary)
        .expect("summary");
    assert_eq!(s.action.as_str(), "closed");
    let part2 = one(&["split-part2.pcap"], None);
    let a = part2
        .iter()
        .find(|r| r.signature == Signature::IocMatch)
        .expect("alert");
    assert_eq!(a.action.as_str(), "observed");
}

#[test]
fn reused_five_tuple_summaries_end_as_closed_then_reset() {
    let recs = one(&["reuse.pcap"], None);
    let acts: Vec<&str> = recs
        .iter()
        .filter(|r| r.signature == Signature::FlowSummary)
        .map(|r| r.action.as_str())
        .collect();
    assert_eq!(acts.len(), 3);
    assert_eq!(&acts[..2], &["closed", "reset"]);
}

/// The storm fixture record by record: what the analyst gets instead of 150 × (1001 + 1003).
#[test]
fn a_contact_storm_is_one_1005_and_the_real_session_keeps_its_records() {
    let case = Case {
        files: vec![Path::new(PCAPS).join("storm.pcap")],
        iocs: None,
        alerts: vec![],
    };
    let (records, stats, _) = replay_records(
        &case.files,
        iocs_for(&case).unwrap(),
        WorkerConfig::default(),
    )
    .expect("replay");
    let flows: Vec<FlowRecord> = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Flow(f) => Some(f),
            Record::Health(_) => None,
        })
        .collect();
    let got: Vec<(u16, &str, String, String)> = flows
        .iter()
        .map(|r| {
            (
                r.signature.id(),
                r.action.as_str(),
                format!("{}:{}", r.client.addr, r.client.port),
                format!("{}:{}", r.server.addr, r.server.port),
            )
        })
        .collect();
    let c2 = "138.9.223.13:8015".to_string();
    assert_eq!(
        got,
        vec![
            (1001, "established", "10.1.2.3:49823".into(), c2.clone()),
            (1003, "closed", "10.1.2.3:49823".into(), c2.clone()),
            (1005, "storm", c2.clone(), "10.2.0.150:445".into()),
            (1001, "attempted", c2.clone(), "10.2.1.1:445".into()),
            (1003, "shutdown", c2.clone(), "10.2.1.1:445".into()),
        ]
    );
    let storm = &flows[2];
    assert_eq!((storm.count, storm.clients), (150, 150));
    assert_eq!(storm.totals.packets_to_server, 150);
    // From the first spoofed SYN to the last (the real session sits in between).
    // The first spoofed SYN: 10 ms after the capture's start (pcaps/README.md).
    assert_eq!(storm.start, 1_778_335_407_133_456_000);
    assert!(storm.end > flows[1].end && storm.end < flows[3].start);
    // Every folded record is counted: 150 alerts and, at the end, their 150 summaries.
    assert_eq!(stats.storms.folded, [150, 0, 150]);
    assert_eq!(stats.storms.records, 1);
    assert_eq!(stats.matches, [2, 0, 0, 0, 0, 0]);
}

#[test]
fn storms_can_be_turned_off_and_then_every_flow_alerts() {
    let (code, out, err) = c2tap(&["replay", "--storm-flows", "0", "pcaps/storm.pcap"]);
    assert_eq!(code, 0, "{err}");
    let count = |id: &str| {
        out.lines()
            .filter(|l| parse_cef(l).is_ok_and(|c| c.signature_id == id))
            .count()
    };
    assert_eq!((count("1001"), count("1003"), count("1005")), (152, 152, 0));
}

#[test]
fn numeric_flags_share_the_config_files_ranges() {
    for args in [
        ["--max-flows", "0"],
        ["--max-flows", "18446744073709551615"],
        ["--max-flows", "100000001"],
        ["--holddown-ms", "86400001"],
        ["--storm-flows", "1000001"],
        ["--storm-window-ms", "999"],
        ["--min-confidence", "101"],
    ] {
        let (code, _, err) = c2tap(&["replay", args[0], args[1], "pcaps/storm.pcap"]);
        assert_eq!(code, 2, "{args:?} accepted: {err}");
        assert!(err.contains("not in"), "{args:?}: {err}");
    }
    let (code, _, err) = c2tap(&["replay", "--max-flows", "100000000", "pcaps/rst.pcap"]);
    assert_eq!(code, 0, "{err}");
}

fn c2tap(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run c2tap");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_demo_prints_the_remcos_alert_as_cef_that_maps_to_the_hunted_columns() {
    let (code, out, err) = c2tap(&["replay", "--hostname", "sensor01", "pcaps/demo-remcos.pcap"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let alert = parse_cef(lines[0]).expect("valid CEF");
    assert_eq!(alert.get("src"), Some("10.1.2.3")); // SourceIP
    assert_eq!(alert.get("dst"), Some("138.9.223.13")); // DestinationIP
    assert_eq!(alert.get("dpt"), Some("8015")); // DestinationPort
    assert_eq!(alert.get("act"), Some("established")); // DeviceAction
    assert_eq!(alert.name, "Remcos C2 connection"); // Activity
    assert_eq!(alert.signature_id, "1001");
    assert_eq!(alert.get("cs6"), Some("replay"));
    assert_eq!(alert.get("dvchost"), Some("sensor01"));
    assert_eq!(
        alert.get("deviceInboundInterface"),
        Some("demo-remcos.pcap")
    );
    // rt is the flow's first packet; the C2 SYN is the demo's packet at +178 ms.
    assert_eq!(alert.get("rt"), Some("1778335407301"));
    let summary = parse_cef(lines[1]).expect("valid CEF");
    assert_eq!(summary.signature_id, "1003");
    assert_eq!(summary.get("act"), Some("closed"));
    assert!(err.contains("exact(1001)=1"), "{err}");
}

#[test]
fn replay_is_deterministic_byte_for_byte() {
    let args = [
        "replay",
        "--hostname",
        "h",
        "pcaps/demo-remcos.pcap",
        "pcaps/reuse.pcap",
        "pcaps/icmp.pcap",
    ];
    let (_, a, _) = c2tap(&args);
    let (_, b, _) = c2tap(&args);
    assert!(!a.is_empty());
    assert_eq!(a, b);
    let (_, j1, _) = c2tap(&["replay", "--format", "json", "pcaps/reuse.pcap"]);
    let (_, j2, _) = c2tap(&["replay", "--format", "json", "pcaps/reuse.pcap"]);
    assert_eq!(j1, j2);
    for line in j1.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert_eq!(v["dst"], "138.9.223.13");
        assert_eq!(v["mode"], "replay");
    }
}

#[test]
fn a_truncated_file_yields_the_records_before_the_cut_then_a_warning() {
    let (code, out, err) = c2tap(&["replay", "pcaps/truncated.pcap"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.contains("|1001|") && l.contains("act=established")),
        "{out}"
    );
    assert!(
        err.contains("warning:") && err.contains("truncated.pcap"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_capture_is_one_clear_line_and_a_failure() {
    let (code, out, err) = c2tap(&[
        "replay",
        "pcaps/demo-remcos.pcap",
        "pcaps/not-a-capture.pcap",
    ]);
    assert_ne!(code, 0);
    assert!(
        out.is_empty(),
        "nothing is replayed when an input is not a capture"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("not-a-capture.pcap") && err.contains("not a capture"),
        "{err}"
    );
    let (code, _, err) = c2tap(&["replay", "pcaps/no-such-file.pcap"]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such-file.pcap"), "{err}");
}

#[test]
fn malformed_frames_are_counted_by_kind_and_skipped() {
    let (code, out, err) = c2tap(&["replay", "pcaps/malformed.pcap"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.contains("|1001|")).count(), 1);
    assert!(err.contains("decode errors: 15 ("), "{err}");
}

/// One record as a line with every field the layer fixtures pin down.
fn record_line(r: &FlowRecord) -> String {
    let layer = if r.outer { "outer" } else { "own" };
    format!(
        "{} {} {} {}:{} → {}:{} ioc={} tunnel={:?} layer={layer} vlan={} packets={}/{} bytes={}/{}",
        r.signature.id(),
        r.action.as_str(),
        proto_name(r.proto),
        r.client.addr,
        r.client.port,
        r.server.addr,
        r.server.port,
        r.ioc.value,
        r.tunnel,
        r.vlan,
        r.totals.packets_to_server,
        r.totals.packets_to_client,
        r.totals.bytes_to_server,
        r.totals.bytes_to_client,
    )
}

fn record_lines(file: &str, iocs: Option<&str>) -> Vec<String> {
    let mut lines: Vec<String> = one(&[file], iocs).iter().map(record_line).collect();
    lines.sort();
    lines
}

/// Every record of the layer fixtures, field by field: each IP layer that touches an IOC is its
/// own flow, the outer ones marked `layer=outer` with the tunnel they carried; layers beyond
/// the decoder's bounds are never guessed at.
#[test]
fn every_layer_that_touches_an_ioc_is_reported_exactly() {
    let cases: [(&str, Option<&str>, &[&str]); 5] = [
        (
            "tunnel-outer.pcap",
            Some("iocs/tunnel-c2.txt"),
            &[
                "1001 observed GRE 10.1.17.3:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=Gre { key: None } layer=outer vlan=0 packets=1/0 bytes=68/0",
                "1001 observed UDP 10.1.17.1:50100 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1701 } layer=outer vlan=0 packets=1/0 bytes=94/0",
                "1001 observed UDP 10.1.17.2:50200 → 138.9.41.254:6081 ioc=138.9.41.254:6081 tunnel=Geneve { vni: 1702 } layer=outer vlan=0 packets=1/0 bytes=102/0",
                "1001 observed UDP 10.1.17.5:50500 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1 } layer=outer vlan=0 packets=1/0 bytes=100/0",
                "1001 observed UDP 10.1.17.6:50600 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1706 } layer=outer vlan=0 packets=1/0 bytes=94/0",
                "1002 established TCP 10.1.17.16:52016 → 138.9.41.254:8015 ioc=138.9.41.254:6081 tunnel=Vxlan { vni: 1706 } layer=own vlan=0 packets=2/1 bytes=84/44",
                "1002 observed GRE 10.1.17.4:0 → 138.9.223.13:0 ioc=138.9.223.13:4789 tunnel=Gre { key: None } layer=outer vlan=0 packets=1/0 bytes=68/0",
                "1003 closed TCP 10.1.17.16:52016 → 138.9.41.254:8015 ioc=138.9.41.254:6081 tunnel=Vxlan { vni: 1706 } layer=own vlan=0 packets=7/4 bytes=360/180",
                "1003 shutdown GRE 10.1.17.3:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=Gre { key: None } layer=outer vlan=0 packets=9/0 bytes=1081/0",
                "1003 shutdown GRE 10.1.17.4:0 → 138.9.223.13:0 ioc=138.9.223.13:4789 tunnel=Gre { key: None } layer=outer vlan=0 packets=9/0 bytes=1081/0",
                "1003 shutdown UDP 10.1.17.1:50100 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1701 } layer=outer vlan=0 packets=9/0 bytes=1315/0",
                "1003 shutdown UDP 10.1.17.2:50200 → 138.9.41.254:6081 ioc=138.9.41.254:6081 tunnel=Geneve { vni: 1702 } layer=outer vlan=0 packets=9/0 bytes=1387/0",
                "1003 shutdown UDP 10.1.17.5:50500 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1 } layer=outer vlan=0 packets=3/3 bytes=300/99",
                "1003 shutdown UDP 10.1.17.6:50600 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1706 } layer=outer vlan=0 packets=11/0 bytes=1090/0",
            ],
        ),
        (
            "tunnel-short.pcap",
            Some("iocs/tunnel-c2.txt"),
            &[
                "1001 observed GRE 10.1.18.4:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=None layer=own vlan=0 packets=1/0 bytes=50/0",
                "1001 observed UDP 10.1.18.1:50700 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=None layer=own vlan=0 packets=1/0 bytes=32/0",
                "1001 observed UDP 10.1.18.3:50800 → 138.9.41.254:6081 ioc=138.9.41.254:6081 tunnel=None layer=own vlan=0 packets=1/0 bytes=44/0",
                "1002 observed GRE 10.1.18.2:0 → 138.9.41.254:0 ioc=138.9.41.254:6081 tunnel=None layer=own vlan=0 packets=1/0 bytes=24/0",
                "1003 shutdown GRE 10.1.18.2:0 → 138.9.41.254:0 ioc=138.9.41.254:6081 tunnel=None layer=own vlan=0 packets=2/0 bytes=48/0",
                "1003 shutdown GRE 10.1.18.4:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=None layer=own vlan=0 packets=2/0 bytes=100/0",
                "1003 shutdown UDP 10.1.18.1:50700 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=None layer=own vlan=0 packets=2/0 bytes=64/0",
                "1003 shutdown UDP 10.1.18.3:50800 → 138.9.41.254:6081 ioc=138.9.41.254:6081 tunnel=None layer=own vlan=0 packets=2/0 bytes=88/0",
            ],
        ),
        (
            "deep-stacks.pcap",
            None,
            &[
                "1001 established TCP 10.1.19.13:52903 → 138.9.41.254:8015 ioc=138.9.41.254:8015 tunnel=Gre { key: None } layer=own vlan=0 packets=2/1 bytes=84/44",
                "1001 established TCP 10.1.19.1:52901 → 138.9.223.13:8015 ioc=138.9.223.13:8015 tunnel=None layer=own vlan=5 packets=2/1 bytes=84/44",
                "1002 observed GRE 10.1.19.5:0 → 138.9.223.13:0 ioc=138.9.223.13:8015 tunnel=Gre { key: None } layer=outer vlan=0 packets=1/0 bytes=164/0",
                "1002 observed UDP 10.1.19.4:50900 → 138.9.223.13:4789 ioc=138.9.223.13:8015 tunnel=Vxlan { vni: 1904 } layer=outer vlan=0 packets=1/0 bytes=130/0",
                "1003 closed TCP 10.1.19.13:52903 → 138.9.41.254:8015 ioc=138.9.41.254:8015 tunnel=Gre { key: None } layer=own vlan=0 packets=7/4 bytes=360/180",
                "1003 closed TCP 10.1.19.1:52901 → 138.9.223.13:8015 ioc=138.9.223.13:8015 tunnel=None layer=own vlan=5 packets=7/4 bytes=360/180",
                "1003 shutdown GRE 10.1.19.5:0 → 138.9.223.13:0 ioc=138.9.223.13:8015 tunnel=Gre { key: None } layer=outer vlan=0 packets=11/0 bytes=1860/0",
                "1003 shutdown UDP 10.1.19.4:50900 → 138.9.223.13:4789 ioc=138.9.223.13:8015 tunnel=Vxlan { vni: 1904 } layer=outer vlan=0 packets=11/0 bytes=1486/0",
            ],
        ),
        (
            "deep-stacks.pcap",
            Some("iocs/tunnel-c2.txt"),
            &[
                "1001 observed GRE 10.1.19.15:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=Gre { key: None } layer=outer vlan=0 packets=1/0 bytes=140/0",
                "1001 observed GRE 10.1.19.3:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=Gre { key: None } layer=outer vlan=0 packets=1/0 bytes=140/0",
                "1001 observed UDP 10.1.19.4:50900 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1904 } layer=outer vlan=0 packets=1/0 bytes=130/0",
                "1002 established TCP 10.1.19.13:52903 → 138.9.41.254:8015 ioc=138.9.41.254:6081 tunnel=Gre { key: None } layer=own vlan=0 packets=2/1 bytes=84/44",
                "1002 established TCP 10.1.19.1:52901 → 138.9.223.13:8015 ioc=138.9.223.13:4789 tunnel=None layer=own vlan=5 packets=2/1 bytes=84/44",
                "1002 observed GRE 10.1.19.5:0 → 138.9.223.13:0 ioc=138.9.223.13:4789 tunnel=Gre { key: None } layer=outer vlan=0 packets=1/0 bytes=164/0",
                "1003 closed TCP 10.1.19.13:52903 → 138.9.41.254:8015 ioc=138.9.41.254:6081 tunnel=Gre { key: None } layer=own vlan=0 packets=7/4 bytes=360/180",
                "1003 closed TCP 10.1.19.1:52901 → 138.9.223.13:8015 ioc=138.9.223.13:4789 tunnel=None layer=own vlan=5 packets=7/4 bytes=360/180",
                "1003 shutdown GRE 10.1.19.15:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=Gre { key: None } layer=outer vlan=0 packets=11/0 bytes=1596/0",
                "1003 shutdown GRE 10.1.19.3:0 → 198.51.100.99:0 ioc=198.51.100.99 tunnel=Gre { key: None } layer=outer vlan=0 packets=11/0 bytes=1596/0",
                "1003 shutdown GRE 10.1.19.5:0 → 138.9.223.13:0 ioc=138.9.223.13:4789 tunnel=Gre { key: None } layer=outer vlan=0 packets=11/0 bytes=1860/0",
                "1003 shutdown UDP 10.1.19.4:50900 → 138.9.223.13:4789 ioc=138.9.223.13:4789 tunnel=Vxlan { vni: 1904 } layer=outer vlan=0 packets=11/0 bytes=1486/0",
            ],
        ),
        (
            "deep-stacks.pcap",
            Some("iocs/ipv6-c2.txt"),
            &[
                "1001 established TCP 2001:db8:1::19:52902 → 2001:db8:c2::13:8015 ioc=[2001:db8:c2::13]:8015 tunnel=None layer=own vlan=0 packets=2/1 bytes=252/128",
                "1002 observed TCP 2001:db8:1::1a:0 → 2001:db8:c2::13:0 ioc=[2001:db8:c2::13]:8015 tunnel=None layer=own vlan=0 packets=1/0 bytes=200/0",
                "1003 closed TCP 2001:db8:1::19:52902 → 2001:db8:c2::13:8015 ioc=[2001:db8:c2::13]:8015 tunnel=None layer=own vlan=0 packets=5/2 bytes=688/252",
                "1003 shutdown TCP 2001:db8:1::1a:0 → 2001:db8:c2::13:0 ioc=[2001:db8:c2::13]:8015 tunnel=None layer=own vlan=0 packets=5/2 bytes=1048/396",
            ],
        ),
    ];
    for (file, iocs, want) in cases {
        assert_eq!(record_lines(file, iocs), want, "{file} {iocs:?}");
    }
}

#[test]
fn decoding_that_stops_early_is_still_counted_as_a_decode_error() {
    for (file, errors) in [
        ("tunnel-outer.pcap", "decode errors: 3 (not_ip=3)"),
        ("tunnel-short.pcap", "decode errors: 8 (bad_tunnel=8)"),
        (
            "deep-stacks.pcap",
            "decode errors: 29 (too_many_layers=22 bad_ipv6_extension=7)",
        ),
    ] {
        let (code, _, err) = c2tap(&["replay", &format!("pcaps/{file}")]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(errors), "{file}: {err}");
    }
}

#[test]
fn implausible_wire_lengths_count_the_captured_length() {
    let (code, out, err) = c2tap(&["replay", "pcaps/wire-length.pcap"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.contains("|1001|")).count(), 1);
    // 11 frames, 694 bytes captured in full; 8 headers claim 4 GiB or 10 bytes.
    assert!(err.contains("11 packets, 694 bytes,"), "{err}");
    assert!(err.contains("wire length: 8 frame(s)"), "{err}");
}

#[test]
fn alerts_only_reports_every_layer_the_same_way() {
    for file in ["tunnel-outer.pcap", "tunnel-short.pcap", "deep-stacks.pcap"] {
        let case = Case {
            files: vec![Path::new(PCAPS).join(file)],
            iocs: Some(Path::new(PCAPS).join("iocs/tunnel-c2.txt")),
            alerts: vec![],
        };
        let set = || iocs_for(&case).expect("IOC file");
        let lines = |cfg: WorkerConfig| {
            let (records, _, _) = replay_records(&case.files, set(), cfg).expect("replay");
            let mut lines: Vec<String> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Flow(f) => Some(record_line(f)),
                    Record::Health(_) => None,
                })
                .collect();
            lines.sort();
            lines
        };
        let alerts_only = WorkerConfig {
            track_all: false,
            ..WorkerConfig::default()
        };
        let tracked = lines(WorkerConfig::default());
        assert!(!tracked.is_empty(), "{file}");
        assert_eq!(lines(alerts_only), tracked, "{file}");
    }
}

/// `[severity]` from `replay --config` rates the printed CEF and JSON; without it the record
/// format's default table applies (the demo's 75-confidence exact match is 8).
#[test]
fn a_severity_setting_changes_the_cef_severity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("severity.toml");
    std::fs::write(&config, "[severity]\nexact = [[0, 2]]\nsummary = 0\n").expect("write config");
    let config = config.to_str().expect("utf-8 path");
    let severities = |args: &[&str]| {
        let (code, out, err) = c2tap(args);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| parse_cef(l).expect("valid CEF").severity)
            .collect::<Vec<_>>()
    };
    let demo = "pcaps/demo-remcos.pcap";
    assert_eq!(severities(&["replay", demo]), ["8", "3"]);
    assert_eq!(
        severities(&["replay", "--config", config, demo]),
        ["2", "0"]
    );
    let (code, out, err) = c2tap(&["replay", "--format", "json", "--config", config, demo]);
    assert_eq!(code, 0, "{err}");
    let first: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a record")).expect("JSON line");
    assert_eq!(first["severity"], 2);
}
