//! `c2tap kql` output, asserted on the text analysts paste.

use super::*;
use crate::ioc::{Ioc, IocSetBuilder};

fn kql(set: &IocSet) -> String {
    let mut out = Vec::new();
    assert!(write_kql(&mut out, set).is_ok());
    String::from_utf8(out).unwrap_or_default()
}

fn set_of(values: &[String]) -> IocSet {
    let mut builder = IocSetBuilder::default();
    for v in values {
        if let Ok(e) = Endpoint::parse(v) {
            builder.insert(
                e,
                Ioc {
                    value: e.to_string(),
                    port: e.port(),
                    malware: String::new(),
                    threat_type: String::new(),
                    confidence: None,
                    first_seen: None,
                    last_seen: None,
                    source: "t".into(),
                    reference: None,
                },
            );
        }
    }
    builder.build()
}

#[test]
fn builtin_hunts_match_the_analysts_queries() {
    let text = kql(&IocSet::builtin());
    assert!(
        text.contains("let c2_ips = dynamic([\"138.9.41.254\", \"138.9.223.13\"]);\n"),
        "{text}"
    );
    assert!(
        text.contains("let c2_pairs = dynamic([\"138.9.223.13:8015\", \"138.9.41.254:8015\"]);\n")
    );
    assert!(text.contains("let c2_ports = dynamic([8015]);\n"));
    assert!(text.contains("| where DestinationIP in (c2_ips) or SourceIP in (c2_ips)\n"));
    assert!(text.contains("| where DestinationPort in (c2_ports) or SourcePort in (c2_ports)\n| where ExactIocPortMatch\n"));
    assert!(text.contains("DeviceNetworkEvents\n"));
    assert!(text.contains("| where RemoteIP in (c2_ips)\n"));
    assert!(!text.contains("in_c2_net"));
    assert_eq!(text.matches("CommonSecurityLog\n").count(), 2);
}

#[test]
fn cidrs_and_ipv6_use_range_functions_and_plain_text() {
    let text = kql(&set_of(&[
        "2001:db8::1".into(),
        "198.51.100.0/24".into(),
        "2001:db8:1::/48".into(),
    ]));
    assert!(
        text.contains("let c2_ips = dynamic([\"2001:db8::1\"]);"),
        "{text}"
    );
    assert!(text.contains("let in_c2_net = (ip: string) {\n    ipv4_is_in_range(ip, \"198.51.100.0/24\")\n    or ipv6_is_in_range(ip, \"2001:db8:1::/48\")\n};"));
    assert!(text.contains("| where (DestinationIP in (c2_ips) or in_c2_net(DestinationIP)) or (SourceIP in (c2_ips) or in_c2_net(SourceIP))"));
    assert!(text.contains("| where (RemoteIP in (c2_ips) or in_c2_net(RemoteIP))"));
    assert!(!text.contains("c2_ports"), "no ip:port IOC, no port hunt");
}

#[test]
fn hunts_leave_out_replays_and_can_read_a_watchlist() {
    let inline = kql(&IocSet::builtin());
    assert_eq!(inline.matches(NOT_REPLAYED).count(), 2, "{inline}");
    let mut out = Vec::new();
    assert!(write_kql_watchlist(&mut out, &IocSet::builtin(), "c2tap_iocs").is_ok());
    let text = String::from_utf8(out).unwrap_or_default();
    assert_eq!(
        text.matches("_GetWatchlist('c2tap_iocs')").count(),
        3,
        "{text}"
    );
    assert_eq!(text.matches(NOT_REPLAYED).count(), 2);
    assert!(!text.contains("138.9.223.13"), "no IOC literal: {text}");
    assert!(text.contains("| where (RemoteIP in (c2_ips) or in_c2_net(RemoteIP))"));
}

#[test]
fn the_watchlist_file_quotes_feed_text() {
    let mut builder = IocSetBuilder::default();
    for (value, malware) in [("1.2.3.4:80", "Re\"m,cos"), ("198.51.100.0/24", "=cmd")] {
        if let Ok(e) = Endpoint::parse(value) {
            builder.insert(
                e,
                Ioc {
                    value: e.to_string(),
                    port: e.port(),
                    malware: malware.into(),
                    threat_type: "botnet_cc".into(),
                    confidence: Some(75),
                    first_seen: crate::units::Timestamp::parse("2026-05-09"),
                    last_seen: None,
                    source: "t\n".into(),
                    reference: None,
                },
            );
        }
    }
    let mut out = Vec::new();
    assert!(write_watchlist_csv(&mut out, &builder.build()).is_ok());
    let text = String::from_utf8(out).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], WATCHLIST_COLUMNS.join(","));
    assert!(lines.contains(&"\"1.2.3.4:80\",\"1.2.3.4\",\"80\",\"\",\"Re\"\"m,cos\",\"botnet_cc\",\"75\",\"2026-05-09\",\"\",\"t \",\"\",\"\""), "{text}");
    assert!(lines.contains(&"\"198.51.100.0/24\",\"\",\"\",\"198.51.100.0/24\",\"'=cmd\",\"botnet_cc\",\"75\",\"2026-05-09\",\"\",\"t \",\"\",\"\""), "{text}");
    assert_eq!(lines.len(), 3);
}

#[test]
fn large_sets_use_a_datatable() {
    let values: Vec<String> = (0..1500u32)
        .map(|i| format!("10.{}.{}.1:443", i / 256, i % 256))
        .collect();
    let text = kql(&set_of(&values));
    assert!(
        text.contains("let c2_ips = toscalar(datatable(ip:string) [\n    \"10.0.0.1\", "),
        "{}",
        &text[..300]
    );
    assert!(text.contains("] | summarize make_set(ip));"));
    assert!(text.contains("\"10.5.219.1:443\""));
    assert!(text.contains("let c2_ports = dynamic([443]);"));
    assert!(text.lines().all(|l| l.len() < 200));
}

#[test]
fn name_iocs_get_host_url_dns_and_defender_hunts() {
    let mut builder = IocSetBuilder::default();
    let meta = |value: &str| Ioc {
        value: value.into(),
        port: None,
        malware: String::new(),
        threat_type: String::new(),
        confidence: None,
        first_seen: None,
        last_seen: None,
        source: "t".into(),
        reference: None,
    };
    use crate::ioc::NameKind;
    builder.insert_name(
        NameKind::Domain,
        "evil.duckdns.org".into(),
        meta("evil.duckdns.org"),
    );
    builder.insert_name(
        NameKind::Suffix,
        "c2zone.example".into(),
        meta("*.c2zone.example"),
    );
    builder.insert_name(
        NameKind::Url,
        "x.example/Gate".into(),
        meta("http://x.example/Gate"),
    );
    let text = kql(&builder.build());
    assert!(
        text.starts_with("// c2tap name IOC hunts: 3 name IOCs (1 domains, 1 suffixes, 1 URLs).\n"),
        "{text}"
    );
    assert!(
        text.contains("// 1. CommonSecurityLog: rows naming an IOC host"),
        "{text}"
    );
    assert_eq!(
        text.matches("let c2_domains = dynamic([\"evil.duckdns.org\"]);\n")
            .count(),
        4
    );
    assert!(text.contains("let c2_zones = dynamic([\"c2zone.example\"]);\n"));
    assert!(text.contains("let c2_urls = dynamic([\"http://x.example/gate\"]);\n"));
    assert!(text.contains("| where c2_name_hit(DestinationHostName)\n"));
    assert!(text.contains("| where tolower(RequestURL) has_any (c2_urls)\n"));
    assert!(
        text.contains("DnsEvents\n| where TimeGenerated > ago(14d)\n| where c2_name_hit(Name)\n")
    );
    assert!(
        text.contains("| where c2_name_hit(RemoteHost) or tolower(RemoteUrl) has_any (c2_urls)\n")
    );
    assert!(
        !text.contains("c2_ips"),
        "no address hunt without address IOCs"
    );
    assert_eq!(text.matches(NOT_REPLAYED).count(), 2);
}
