//! `c2tap kql`: ready-to-paste Microsoft Sentinel hunting queries for the effective set — the
//! CommonSecurityLog hunt by IP, the same hunt narrowed to the IOC ports, and the Defender
//! DeviceNetworkEvents hunt by RemoteIP. c2tap writes IPv6 peers into `src`/`dst` too, so
//! `SourceIP`/`DestinationIP` hold IPv6 text in Rust's canonical form, the form emitted here.
//! Up to [`INLINE_MAX`] values go in a `dynamic([...])` literal as analysts write it; larger
//! sets use a `datatable` turned into a set, which has no literal-size limit to break — but
//! tens of thousands of IOCs make megabytes of query text, past what an analytics rule takes.
//! The Sentinel way for those is a watchlist: [`write_watchlist_csv`] writes the set as a
//! watchlist file and [`write_kql_watchlist`] the same hunts reading it with
//! `_GetWatchlist(alias)`, so the queries stay a few lines whatever the set's size.
//!
//! Every CommonSecurityLog hunt leaves out c2tap's replayed records (`cs6=replay`,
//! `DeviceCustomString6`): validation runs must never look like incidents.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::IpAddr;

use super::endpoint::Endpoint;
use super::{IocSet, Timestamp};

/// Most values written inline in one `dynamic([...])`.
const INLINE_MAX: usize = 1000;

/// Above this many IOCs `c2tap kql` recommends a watchlist (`--watchlist FILE`).
pub const WATCHLIST_ABOVE: usize = INLINE_MAX;

/// The watchlist file's columns; `IocValue` is its SearchKey. `Address`+`Port` or `Network`
/// hold the match values, the rest the context analysts want beside a hit.
pub const WATCHLIST_COLUMNS: [&str; 10] = [
    "IocValue",
    "Address",
    "Port",
    "Network",
    "Malware",
    "ThreatType",
    "Confidence",
    "FirstSeen",
    "LastSeen",
    "Source",
];

/// Where the hunts read the IOC set from.
#[derive(Clone, Copy)]
enum Lists<'a> {
    /// Literals in the query text.
    Inline,
    /// A Sentinel watchlist of this alias, written by [`write_watchlist_csv`].
    Watchlist(&'a str),
}

/// Leaves out c2tap's own replayed test records; other devices' rows stay (corroboration).
const NOT_REPLAYED: &str = "| where not(DeviceProduct == \"c2tap\" and DeviceCustomString6 == \"replay\")   // c2tap replays (cs6=replay)";

/// Values per line inside a list, to keep lines pasteable.
const PER_LINE: usize = 6;

/// Writes the three hunts (the port hunt only when the set has ip:port IOCs).
pub fn write_kql(out: &mut dyn Write, set: &IocSet) -> io::Result<()> {
    write_hunts(out, set, Lists::Inline)
}

/// Writes the three hunts reading the watchlist `alias` (see [`write_watchlist_csv`]). The
/// queries do not depend on the set's content, so they stay valid as the watchlist changes.
pub fn write_kql_watchlist(out: &mut dyn Write, set: &IocSet, alias: &str) -> io::Result<()> {
    write_hunts(out, set, Lists::Watchlist(alias))
}

fn write_hunts(out: &mut dyn Write, set: &IocSet, lists: Lists<'_>) -> io::Result<()> {
    let mut ips = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    let mut ports = BTreeSet::new();
    let mut nets = Vec::new();
    for ioc in set.iter() {
        match Endpoint::parse(&ioc.value) {
            Ok(Endpoint::Addr(addr)) => {
                ips.insert(addr);
            }
            Ok(Endpoint::AddrPort(addr, port)) => {
                ips.insert(addr);
                ports.insert(port);
                // Same shape as the query's strcat(ip, ":", port): unbracketed for IPv6 too.
                pairs.insert(format!("{addr}:{port}"));
            }
            Ok(Endpoint::Net(net)) => nets.push(net),
            Err(_) => {}
        }
    }
    let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
    let has_nets = !nets.is_empty() || matches!(lists, Lists::Watchlist(_));
    let match_ip = |column: &str| match has_nets {
        true => format!("({column} in (c2_ips) or in_c2_net({column}))"),
        false => format!("{column} in (c2_ips)"),
    };

    writeln!(
        out,
        "// c2tap IOC hunts: {} IOCs ({} addresses, {} ip:port, {} CIDRs).",
        set.len(),
        ips.len(),
        pairs.len(),
        nets.len()
    )?;
    if let Lists::Watchlist(alias) = lists {
        writeln!(
            out,
            "// They read the Sentinel watchlist '{alias}' (c2tap kql --watchlist FILE wrote it; \
             upload it with SearchKey IocValue)."
        )?;
    }
    writeln!(
        out,
        "// Templates: widen ago() as needed. Paste each query on its own. c2tap's replayed\n\
         // records (cs6=replay) are left out; delete that line to see them.\n"
    )?;

    writeln!(
        out,
        "// 1. CommonSecurityLog: any row to or from an IOC address."
    )?;
    match lists {
        Lists::Inline => write_prelude(out, &ips, &pairs, &nets)?,
        Lists::Watchlist(alias) => write_watchlist_prelude(out, alias, true, false, true)?,
    }
    write_csl_hunt(out, &match_ip, None)?;

    if !pairs.is_empty() || matches!(lists, Lists::Watchlist(_)) {
        writeln!(
            out,
            "\n// 2. CommonSecurityLog: only rows on an IOC's own port (ip:port IOCs)."
        )?;
        match lists {
            Lists::Inline => {
                write_prelude(out, &ips, &pairs, &[])?;
                let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
                write_list(out, "c2_ports", "port", "int", &ports, false)?;
            }
            Lists::Watchlist(alias) => write_watchlist_prelude(out, alias, true, true, false)?,
        }
        write_csl_hunt(out, &|c: &str| format!("{c} in (c2_ips)"), Some("| where DestinationPort in (c2_ports) or SourcePort in (c2_ports)\n| where ExactIocPortMatch"))?;
    }

    writeln!(
        out,
        "\n// 3. DeviceNetworkEvents (Defender for Endpoint): which process talked to an IOC."
    )?;
    match lists {
        Lists::Inline => {
            write_list(out, "c2_ips", "ip", "string", &ips, true)?;
            write_net_function(out, &nets)?;
        }
        Lists::Watchlist(alias) => write_watchlist_prelude(out, alias, false, false, true)?,
    }
    writeln!(out, "DeviceNetworkEvents")?;
    writeln!(
        out,
        "| where TimeGenerated > ago(14d)   // Timestamp in Defender advanced hunting"
    )?;
    writeln!(out, "| where {}", match_ip("RemoteIP"))?;
    writeln!(out, "| project TimeGenerated, DeviceName, ActionType, LocalIP, LocalPort, RemoteIP, RemotePort,")?;
    writeln!(
        out,
        "          Protocol, RemoteUrl, InitiatingProcessFileName, InitiatingProcessCommandLine,"
    )?;
    writeln!(
        out,
        "          InitiatingProcessAccountName, InitiatingProcessSHA1"
    )?;
    writeln!(out, "| order by TimeGenerated desc")
}

fn write_prelude(
    out: &mut dyn Write,
    ips: &[String],
    pairs: &BTreeSet<String>,
    nets: &[ipnet::IpNet],
) -> io::Result<()> {
    write_list(out, "c2_ips", "ip", "string", ips, true)?;
    let pairs: Vec<String> = pairs.iter().cloned().collect();
    write_list(out, "c2_pairs", "pair", "string", &pairs, true)?;
    write_net_function(out, nets)
}

fn write_csl_hunt(
    out: &mut dyn Write,
    match_ip: &dyn Fn(&str) -> String,
    narrow: Option<&str>,
) -> io::Result<()> {
    let (dst, src) = (match_ip("DestinationIP"), match_ip("SourceIP"));
    writeln!(out, "CommonSecurityLog")?;
    writeln!(out, "| where TimeGenerated > ago(14d)")?;
    writeln!(out, "| where {dst} or {src}")?;
    writeln!(out, "{NOT_REPLAYED}")?;
    writeln!(
        out,
        "| extend RemoteEnd = iff({dst}, strcat(DestinationIP, \":\", tostring(DestinationPort)),"
    )?;
    writeln!(
        out,
        "                      strcat(SourceIP, \":\", tostring(SourcePort)))"
    )?;
    writeln!(out, "| extend ExactIocPortMatch = RemoteEnd in (c2_pairs)")?;
    if let Some(narrow) = narrow {
        writeln!(out, "{narrow}")?;
    }
    writeln!(
        out,
        "| project TimeGenerated, SourceIP, SourcePort, DestinationIP, DestinationPort, Protocol,"
    )?;
    writeln!(
        out,
        "          DeviceAction, Activity, DeviceVendor, DeviceProduct, DeviceName, LogSeverity,"
    )?;
    writeln!(
        out,
        "          DeviceCustomString1, DeviceCustomString2, ExactIocPortMatch, Message"
    )?;
    writeln!(out, "| order by TimeGenerated desc")
}

/// The lets the hunts use (`c2_ips`, and as asked `c2_pairs`, `c2_ports`, `in_c2_net`), read
/// from the watchlist. Its values come back as dynamic, hence the casts.
fn write_watchlist_prelude(
    out: &mut dyn Write,
    alias: &str,
    pairs: bool,
    ports: bool,
    nets: bool,
) -> io::Result<()> {
    writeln!(out, "let c2_watchlist = _GetWatchlist('{alias}');")?;
    writeln!(out, "let c2_ips = toscalar(c2_watchlist | where isnotempty(tostring(Address))\n    | summarize make_set(tostring(Address)));")?;
    if pairs {
        writeln!(out, "let c2_pairs = toscalar(c2_watchlist | where isnotempty(tostring(Address)) and isnotempty(tostring(Port))\n    | summarize make_set(strcat(tostring(Address), \":\", tostring(Port))));")?;
    }
    if ports {
        writeln!(out, "let c2_ports = toscalar(c2_watchlist | where isnotempty(tostring(Port))\n    | summarize make_set(toint(Port)));")?;
    }
    if nets {
        writeln!(out, "let c2_nets = toscalar(c2_watchlist | where isnotempty(tostring(Network))\n    | summarize make_set(tostring(Network)));")?;
        // The v4 test is null on IPv6 text and the v6 test reads IPv4 ranges as mapped, so
        // `or` over both is right for either family.
        writeln!(out, "let in_c2_net = (ip: string) {{\n    ipv4_is_in_any_range(ip, c2_nets) or ipv6_is_in_any_range(ip, c2_nets)\n}};")?;
    }
    Ok(())
}

/// The set as a Sentinel watchlist file ([`WATCHLIST_COLUMNS`], SearchKey `IocValue`), one row
/// per IOC. Every field is quoted: feed text (a malware name) may hold commas or quotes, and a
/// leading `=`, `+`, `-` or `@` stays text for spreadsheet tools that open the file.
pub fn write_watchlist_csv(out: &mut dyn Write, set: &IocSet) -> io::Result<()> {
    writeln!(out, "{}", WATCHLIST_COLUMNS.join(","))?;
    for ioc in set.iter() {
        let (address, port, network) = match Endpoint::parse(&ioc.value) {
            Ok(Endpoint::Addr(a)) => (a.to_string(), String::new(), String::new()),
            Ok(Endpoint::AddrPort(a, p)) => (a.to_string(), p.to_string(), String::new()),
            Ok(Endpoint::Net(n)) => (String::new(), String::new(), n.to_string()),
            Err(_) => continue,
        };
        let confidence = ioc.confidence.map(|c| c.to_string()).unwrap_or_default();
        let seen = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        let fields = [
            ioc.value.as_str(),
            &address,
            &port,
            &network,
            &ioc.malware,
            &ioc.threat_type,
            &confidence,
            &seen(ioc.first_seen),
            &seen(ioc.last_seen),
            &ioc.source,
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

fn csv_field(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let formula = text.starts_with(['=', '+', '-', '@']);
    let escaped = text.replace('"', "\"\"");
    match formula {
        true => format!("\"'{escaped}\""),
        false => format!("\"{escaped}\""),
    }
}

/// `let name = dynamic([...]);` for small lists, else a datatable folded into a set.
fn write_list(
    out: &mut dyn Write,
    name: &str,
    column: &str,
    kind: &str,
    values: &[String],
    quoted: bool,
) -> io::Result<()> {
    let literal = |v: &String| match quoted {
        true => format!("\"{v}\""),
        false => v.clone(),
    };
    let body: Vec<String> = values
        .chunks(PER_LINE)
        .map(|c| c.iter().map(literal).collect::<Vec<_>>().join(", "))
        .collect();
    if values.len() <= INLINE_MAX {
        return match body.len() {
            0 | 1 => writeln!(out, "let {name} = dynamic([{}]);", body.join("")),
            _ => writeln!(
                out,
                "let {name} = dynamic([\n    {}\n]);",
                body.join(",\n    ")
            ),
        };
    }
    writeln!(out, "let {name} = toscalar(datatable({column}:{kind}) [\n    {}\n] | summarize make_set({column}));", body.join(",\n    "))
}

/// `in_c2_net(ip)`: true inside any CIDR IOC. The v4 test yields null on IPv6 text and the v6
/// test false-or-null on IPv4 text, so `or` over both is right for either family.
fn write_net_function(out: &mut dyn Write, nets: &[ipnet::IpNet]) -> io::Result<()> {
    if nets.is_empty() {
        return Ok(());
    }
    let tests: Vec<String> = nets
        .iter()
        .map(|net| match net {
            ipnet::IpNet::V4(n) => format!("ipv4_is_in_range(ip, \"{n}\")"),
            ipnet::IpNet::V6(n) => format!("ipv6_is_in_range(ip, \"{n}\")"),
        })
        .collect();
    writeln!(
        out,
        "let in_c2_net = (ip: string) {{\n    {}\n}};",
        tests.join("\n    or ")
    )
}

#[cfg(test)]
mod tests {
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
        assert!(text
            .contains("let c2_pairs = dynamic([\"138.9.223.13:8015\", \"138.9.41.254:8015\"]);\n"));
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
                        first_seen: Timestamp::parse("2026-05-09"),
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
        assert!(lines.contains(&"\"1.2.3.4:80\",\"1.2.3.4\",\"80\",\"\",\"Re\"\"m,cos\",\"botnet_cc\",\"75\",\"2026-05-09\",\"\",\"t \""), "{text}");
        assert!(lines.contains(&"\"198.51.100.0/24\",\"\",\"\",\"198.51.100.0/24\",\"'=cmd\",\"botnet_cc\",\"75\",\"2026-05-09\",\"\",\"t \""), "{text}");
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
}
