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
//! Name IOCs get their own hunts ([`names`]): by host name and URL in CommonSecurityLog, DnsEvents
//! and DeviceNetworkEvents.
//!
//! Every CommonSecurityLog hunt leaves out c2tap's replayed records (`cs6=replay`,
//! `DeviceCustomString6`): validation runs must never look like incidents.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::IpAddr;

use super::endpoint::Endpoint;
use super::names::NameKind;
use super::IocSet;

mod lists;
mod names;
#[cfg(test)]
mod tests;
mod watchlist;

use lists::{write_list, write_net_function, write_watchlist_prelude};
pub use watchlist::{write_watchlist_csv, WATCHLIST_COLUMNS};

/// Most values written inline in one `dynamic([...])`.
const INLINE_MAX: usize = 1000;

/// Above this many IOCs `c2tap kql` recommends a watchlist (`--watchlist FILE`).
pub const WATCHLIST_ABOVE: usize = INLINE_MAX;

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

    let names = set.names();
    if set.iter().next().is_some() || !names.has_names() {
        writeln!(
            out,
            "// c2tap IOC hunts: {} IOCs ({} addresses, {} ip:port, {} CIDRs).",
            set.len(),
            ips.len(),
            pairs.len(),
            nets.len()
        )?;
    }
    if names.has_names() {
        writeln!(
            out,
            "// c2tap name IOC hunts: {} name IOCs ({} domains, {} suffixes, {} URLs).",
            names.len(),
            names.count(NameKind::Domain),
            names.count(NameKind::Suffix),
            names.count(NameKind::Url)
        )?;
    }
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
    // A set of names only gets the name hunts alone, numbered from 1.
    let addresses = set.iter().next().is_some() || !set.names().has_names();
    if addresses {
        write_address_hunts(out, lists, &ips, &pairs, &ports, &nets, &match_ip)?;
    }
    names::write_name_hunts(out, set, lists, if addresses { 4 } else { 1 })
}

/// Hunts 1-3: the address IOCs in CommonSecurityLog and DeviceNetworkEvents.
fn write_address_hunts(
    out: &mut dyn Write,
    lists: Lists<'_>,
    ips: &[String],
    pairs: &BTreeSet<String>,
    ports: &BTreeSet<u16>,
    nets: &[ipnet::IpNet],
    match_ip: &dyn Fn(&str) -> String,
) -> io::Result<()> {
    writeln!(
        out,
        "// 1. CommonSecurityLog: any row to or from an IOC address."
    )?;
    match lists {
        Lists::Inline => write_prelude(out, ips, pairs, nets)?,
        Lists::Watchlist(alias) => write_watchlist_prelude(out, alias, true, false, true)?,
    }
    write_csl_hunt(out, match_ip, None)?;

    if !pairs.is_empty() || matches!(lists, Lists::Watchlist(_)) {
        writeln!(
            out,
            "\n// 2. CommonSecurityLog: only rows on an IOC's own port (ip:port IOCs)."
        )?;
        match lists {
            Lists::Inline => {
                write_prelude(out, ips, pairs, &[])?;
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
            write_list(out, "c2_ips", "ip", "string", ips, true)?;
            write_net_function(out, nets)?;
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
