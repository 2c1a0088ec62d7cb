use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::exclude::severity::DEFAULT;
use crate::ioc::Ioc;
use crate::output::format::cef_parse::parse_cef;
use crate::output::format::examples::{ctx, flow, flow_record, health_record, ioc};
use crate::record::{Action, Endpoint};

fn cef(rec: &Record) -> String {
    let mut buf = Vec::new();
    write_cef(&mut buf, rec, &ctx(), &DEFAULT);
    String::from_utf8(buf).unwrap()
}

/// The Severity field of `rec` as written with the default table.
fn severity(rec: &Record) -> u8 {
    let mut buf = Vec::new();
    write_cef(&mut buf, rec, &ctx(), &DEFAULT);
    let text = String::from_utf8(buf).unwrap();
    parse_cef(&text).unwrap().severity.parse().unwrap()
}

fn with_ioc(edit: impl FnOnce(&mut Ioc)) -> Record {
    let mut ioc = ioc();
    edit(&mut ioc);
    Record::Flow(flow(ioc))
}

#[test]
fn worked_example_exact() {
    assert_eq!(
        cef(&flow_record()),
        format!(
            "CEF:0|c2tap|c2tap|{VERSION}|1001|Remcos C2 connection|8|rt=1778335407123 start=1778335407123 \
             end=1778335408123 src=10.1.2.3 spt=49822 dst=138.9.223.13 dpt=8015 proto=TCP act=established \
             deviceDirection=1 cnt=1 in=120 out=80 dvchost=sensor01 deviceInboundInterface=eth1 \
             cs1Label=iocValue cs1=138.9.223.13:8015 cs2Label=malware cs2=Remcos cs3Label=threatType \
             cs3=botnet_cc cs4Label=iocFeed cs4=ThreatFox cs6Label=sensorMode cs6=live cn1Label=iocConfidence \
             cn1=75 cn2Label=packetsToServer cn2=3 cn3Label=packetsToClient cn3=2 \
             deviceCustomDate1Label=iocFirstSeen deviceCustomDate1=1778284800000"
        )
    );
}

#[test]
fn contact_storm_exact() {
    let mut storm = flow(ioc());
    storm.signature = Signature::ContactStorm;
    storm.action = Action::Storm;
    storm.count = 5000;
    storm.clients = 4870;
    assert_eq!(
        cef(&Record::Flow(storm)),
        format!(
            "CEF:0|c2tap|c2tap|{VERSION}|1005|Remcos C2 contact storm|8|rt=1778335407123 start=1778335407123 \
             end=1778335408123 src=10.1.2.3 spt=49822 dst=138.9.223.13 dpt=8015 proto=TCP act=storm \
             deviceDirection=1 cnt=5000 in=120 out=80 dvchost=sensor01 deviceInboundInterface=eth1 \
             cs1Label=iocValue cs1=138.9.223.13:8015 cs2Label=malware cs2=Remcos cs3Label=threatType \
             cs3=botnet_cc cs4Label=iocFeed cs4=ThreatFox cs6Label=sensorMode cs6=live cn1Label=iocConfidence \
             cn1=75 cn2Label=packetsToServer cn2=3 cn3Label=packetsToClient cn3=2 \
             deviceCustomDate1Label=iocFirstSeen deviceCustomDate1=1778284800000 c2tapClients=4870"
        )
    );
}

#[test]
fn health_exact() {
    assert_eq!(
        cef(&health_record()),
        format!(
            "CEF:0|c2tap|c2tap|{VERSION}|1004|c2tap sensor health|1|rt=1778335407123 act=health dvchost=sensor01 \
             c2tapPackets=1000 c2tapKernelDrops=2 c2tapMatches=3 c2tapIocsLoaded=2 c2tapIocAgeSecs=60 \
             c2tapCapture=ok cs6Label=sensorMode cs6=live"
        )
    );
}

#[test]
fn health_of_a_blind_sensor_says_which_interface_and_why() {
    let mut rec = health_record();
    if let Record::Health(h) = &mut rec {
        h.capture_problem = Some("eth1: absent: eth1: cannot open: No such device".into());
    }
    assert!(cef(&rec).contains(
        " c2tapCapture=down c2tapCaptureProblem=eth1: absent: eth1: cannot open: No such device cs6Label="
    ));
}

#[test]
fn ipv6_icmp_summary_tunnel_and_optional_keys() {
    let Record::Flow(mut rec) = with_ioc(|i| {
        i.malware.clear();
        i.threat_type.clear();
        i.confidence = None;
        // A feed date that did not parse never reaches the model (`Timestamp::parse` → None).
        i.first_seen = crate::units::Timestamp::parse("not a date");
        i.last_seen = crate::units::Timestamp::parse("2026-05-10 01:02:03");
        i.reference = Some("https://threatfox.abuse.ch/ioc/1/".into());
    }) else {
        unreachable!()
    };
    rec.signature = Signature::FlowSummary;
    rec.action = Action::Closed;
    rec.proto = 58;
    rec.client = Endpoint {
        addr: "2001:db8::1".parse().unwrap(),
        port: 0,
    };
    rec.server = Endpoint {
        addr: "2001:db8:0:0:1::2".parse().unwrap(),
        port: 0,
    };
    rec.ioc_is_server = false;
    rec.vlan = 100;
    rec.tunnel = Tunnel::ErspanII { session: 5 };
    let text = cef(&Record::Flow(rec));
    let ev = parse_cef(&text).unwrap();
    assert_eq!(ev.name, "Unknown C2 flow ended");
    assert_eq!(ev.severity, "3");
    assert_eq!(
        ev.keys(),
        [
            "rt",
            "start",
            "end",
            "src",
            "dst",
            "proto",
            "act",
            "deviceDirection",
            "cnt",
            "in",
            "out",
            "dvchost",
            "deviceInboundInterface",
            "c6a2Label",
            "c6a2",
            "c6a3Label",
            "c6a3",
            "cs1Label",
            "cs1",
            "cs4Label",
            "cs4",
            "cs5Label",
            "cs5",
            "cs6Label",
            "cs6",
            "cn2Label",
            "cn2",
            "cn3Label",
            "cn3",
            "deviceCustomDate2Label",
            "deviceCustomDate2",
            "c2tapVlan",
            "c2tapTunnel",
            "c2tapDurationMs"
        ]
    );
    assert_eq!(ev.get("src"), Some("2001:db8::1"));
    assert_eq!(ev.get("c6a3"), Some("2001:db8::1:0:0:2"));
    assert_eq!(ev.get("proto"), Some("ICMPv6"));
    assert_eq!(ev.get("deviceDirection"), Some("0"));
    assert_eq!(ev.get("deviceCustomDate2"), Some("1778374923000"));
    assert_eq!(ev.get("c2tapTunnel"), Some("erspan2:5"));
    assert_eq!(ev.get("c2tapDurationMs"), Some("1000"));
}

#[test]
fn an_outer_layer_says_so_and_names_the_tunnel_it_carried() {
    let Record::Flow(mut rec) = with_ioc(|_| {}) else {
        unreachable!()
    };
    let plain = parse_cef(&cef(&Record::Flow(rec.clone()))).unwrap();
    assert_eq!(plain.get("c2tapLayer"), None);
    rec.proto = 47;
    rec.tunnel = Tunnel::Gre { key: Some(7) };
    rec.outer = true;
    let ev = parse_cef(&cef(&Record::Flow(rec))).unwrap();
    assert_eq!(ev.get("proto"), Some("GRE"));
    assert_eq!(ev.get("c2tapTunnel"), Some("gre:7"));
    assert_eq!(ev.get("c2tapLayer"), Some("outer"));
    assert_eq!(ev.keys().last(), Some(&"c2tapLayer"));
}

#[test]
fn severity_table() {
    let cases = [
        (Signature::IocMatch, Some(90), 9),
        (Signature::IocMatch, Some(89), 8),
        (Signature::IocMatch, Some(75), 8),
        (Signature::IocMatch, None, 7),
        (Signature::IocMatch, Some(49), 6),
        (Signature::IocAddressMatch, Some(75), 5),
        (Signature::IocAddressMatch, None, 4),
        (Signature::FlowSummary, Some(100), 3),
    ];
    for (signature, confidence, want) in cases {
        let Record::Flow(mut rec) = with_ioc(|i| i.confidence = confidence) else {
            unreachable!()
        };
        rec.signature = signature;
        assert_eq!(
            severity(&Record::Flow(rec)),
            want,
            "{signature:?} {confidence:?}"
        );
    }
    assert_eq!(severity(&health_record()), 1);
}

#[test]
fn escape_table() {
    // (input, header form, extension form)
    let cases = [
        ("plain text", "plain text", "plain text"),
        ("a|b", r"a\|b", "a|b"),
        (r"C:\temp", r"C:\\temp", r"C:\\temp"),
        ("a=1", "a=1", r"a\=1"),
        ("l1\nl2", "l1 l2", r"l1\nl2"),
        ("l1\r\nl2", "l1  l2", r"l1\r\nl2"),
        (
            "nul\0tab\tdel\u{7f}",
            "nul\u{FFFD}tab\u{FFFD}del\u{FFFD}",
            "nul\u{FFFD}tab\u{FFFD}del\u{FFFD}",
        ),
        (r"\|=", r"\\\|=", r"\\|\="),
        // NEL and another C1, the Unicode line/paragraph separators, bidi override and
        // isolate, a directional mark and the BOM: each becomes U+FFFD.
        (
            "a\u{85}b\u{9b}c\u{2028}d\u{2029}e\u{202e}f\u{2066}g\u{200f}h\u{feff}i",
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{FFFD}g\u{FFFD}h\u{FFFD}i",
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{FFFD}g\u{FFFD}h\u{FFFD}i",
        ),
        ("ünï €", "ünï €", "ünï €"),
        ("", "", ""),
    ];
    for (input, header, value) in cases {
        let mut buf = Vec::new();
        escape_header(&mut buf, input);
        assert_eq!(String::from_utf8(buf).unwrap(), header, "header {input:?}");
        let mut buf = Vec::new();
        escape_value(&mut buf, input);
        assert_eq!(String::from_utf8(buf).unwrap(), value, "value {input:?}");
        assert_eq!(escaped_len(input, true), header.len());
        assert_eq!(escaped_len(input, false), value.len());
    }
}

#[test]
fn hostile_ioc_metadata_stays_one_record() {
    let nasty = "x=1|y\\z\r\nCEF:0|evil|";
    let rec = with_ioc(|i| {
        i.malware = nasty.into();
        i.value = nasty.into();
    });
    let text = cef(&rec);
    assert!(!text.contains('\n') && !text.contains('\r'));
    let ev = parse_cef(&text).unwrap();
    assert_eq!(ev.name, "x=1|y\\z  CEF:0|evil| C2 connection");
    assert_eq!(ev.get("cs1"), Some(nasty));
    assert_eq!(ev.get("cs2"), Some(nasty));
    assert_eq!(ev.get("dst"), Some("138.9.223.13"));
}

#[test]
fn shortening_cuts_longest_custom_strings_first() {
    let long_ref = format!("https://example.test/{}", "=".repeat(900));
    let rec = with_ioc(|i| {
        i.reference = Some(long_ref.clone());
        i.threat_type = "t".repeat(300);
    });
    let full = cef(&rec);
    let mut buf = b"<164>".to_vec();
    assert!(write_cef_within(&mut buf, &rec, &ctx(), &DEFAULT, 1000));
    assert_eq!(&buf[..5], b"<164>");
    let text = std::str::from_utf8(&buf[5..]).unwrap();
    assert!(
        full.len() > 2000 && text.len() <= 1000 && text.len() >= 995,
        "{}",
        text.len()
    );
    let ev = parse_cef(text).unwrap();
    // The escaped reference (1,821 bytes) gave way first; threat type is intact.
    let cs5 = ev.get("cs5").unwrap();
    assert!(long_ref.starts_with(cs5) && cs5.len() < long_ref.len());
    assert_eq!(ev.get("cs3").unwrap().len(), 300);
    assert!(!text.ends_with('\\'));
    // The fixed fields survive untouched.
    for key in ["src", "dst", "dpt", "act", "cs1", "cs2", "cs4"] {
        assert_eq!(ev.get(key), parse_cef(&full).unwrap().get(key), "{key}");
    }
}

#[test]
fn shortening_falls_back_to_second_tier_and_reports_misfit() {
    let rec = with_ioc(|i| {
        i.malware = "m".repeat(400);
        i.value = "v".repeat(10);
    });
    let mut buf = Vec::new();
    assert!(write_cef_within(&mut buf, &rec, &ctx(), &DEFAULT, 700));
    let ev = parse_cef(std::str::from_utf8(&buf).unwrap()).unwrap();
    assert!(buf.len() <= 700);
    assert_eq!(ev.get("cs2"), Some(""));
    assert!(ev.name.ends_with(" C2 connection") && ev.name.len() < 400);
    let mut buf = Vec::new();
    assert!(!write_cef_within(&mut buf, &rec, &ctx(), &DEFAULT, 100));
    assert!(parse_cef(std::str::from_utf8(&buf).unwrap()).is_ok());
}

#[test]
fn shortening_never_splits_escapes_or_characters() {
    for max in 560..640 {
        let rec = with_ioc(|i| i.value = "\\=\n€".repeat(40));
        let mut buf = Vec::new();
        write_cef_within(&mut buf, &rec, &ctx(), &DEFAULT, max);
        let text = std::str::from_utf8(&buf).expect("cut on a char boundary");
        assert!(buf.len() <= max);
        let cs1 = parse_cef(text).unwrap().get("cs1").unwrap().to_string();
        assert!("\\=\n€".repeat(40).starts_with(&cs1), "max {max}: {cs1:?}");
    }
}

/// What the writer promises to send for a value: unsafe characters other than CR/LF become
/// U+FFFD, everything else comes back exactly.
fn sent(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if is_unsafe_char(c) && c != '\r' && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn round_trip(
        value in any::<String>(),
        malware in "[^\r\n]{1,20}",
        threat in any::<String>(),
        feed in any::<String>(),
        reference in proptest::option::of(any::<String>()),
        host in any::<String>(),
        iface in any::<String>(),
        v6 in any::<bool>(),
    ) {
        let mut ioc = ioc();
        ioc.value = value.clone();
        ioc.malware = malware.clone();
        ioc.threat_type = threat.clone();
        ioc.source = feed.clone();
        ioc.reference = reference.clone();
        let mut rec = flow(ioc);
        rec.interface = Arc::from(iface.as_str());
        if v6 {
            rec.client.addr = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
        }
        let ctx = SensorContext { hostname: host.clone(), replay: true };
        let mut buf = Vec::new();
        write_cef(&mut buf, &Record::Flow(rec), &ctx, &DEFAULT);
        let text = String::from_utf8(buf).unwrap();
        // One line for every reader: no C0/C1 control (NEL included), no U+2028/2029, no
        // bidi control or BOM anywhere in header or extension.
        prop_assert!(!text.chars().any(is_unsafe_char), "{text:?}");
        prop_assert_eq!(text.lines().count(), 1);
        let ev = parse_cef(&text).unwrap();
        let (want_value, want_malware, want_threat) = (sent(&value), sent(&malware), sent(&threat));
        let (want_feed, want_ref) = (sent(&feed), reference.as_deref().map(sent));
        let (want_host, want_iface) = (sent(&host), sent(&iface));
        prop_assert_eq!(&ev.name, &format!("{want_malware} C2 connection"));
        prop_assert_eq!(ev.get("cs1"), Some(want_value.as_str()));
        prop_assert_eq!(ev.get("cs2"), Some(want_malware.as_str()));
        prop_assert_eq!(ev.get("cs3"), (!threat.is_empty()).then_some(want_threat.as_str()));
        prop_assert_eq!(ev.get("cs4"), Some(want_feed.as_str()));
        prop_assert_eq!(ev.get("cs5"), want_ref.as_deref());
        prop_assert_eq!(ev.get("dvchost"), Some(want_host.as_str()));
        prop_assert_eq!(ev.get("deviceInboundInterface"), Some(want_iface.as_str()));
        prop_assert_eq!(ev.get("cs6"), Some("replay"));
        prop_assert_eq!(ev.get("dst"), Some("138.9.223.13"));
    }

    #[test]
    fn shortened_records_fit_and_stay_prefixes(value in any::<String>(), reference in any::<String>(), max in 400usize..1500) {
        let mut ioc = ioc();
        ioc.value = value.clone();
        ioc.reference = Some(reference.clone());
        let rec = Record::Flow(flow(ioc));
        let mut buf = Vec::new();
        let fits = write_cef_within(&mut buf, &rec, &ctx(), &DEFAULT, max);
        prop_assert!(!fits || buf.len() <= max);
        let ev = parse_cef(std::str::from_utf8(&buf).unwrap()).unwrap();
        prop_assert!(sent(&value).starts_with(ev.get("cs1").unwrap()));
        prop_assert!(sent(&reference).starts_with(ev.get("cs5").unwrap()));
    }
}

#[test]
fn gre_tunnel_shows_its_key_only_when_it_has_one() {
    let shown = |tunnel| {
        let mut buf = Vec::new();
        assert!(super::write_tunnel(&mut buf, tunnel));
        String::from_utf8(buf).unwrap()
    };
    assert_eq!(shown(Tunnel::Gre { key: None }), "gre");
    assert_eq!(shown(Tunnel::Gre { key: Some(0) }), "gre:0");
    assert_eq!(shown(Tunnel::Gre { key: Some(42) }), "gre:42");
}
