//! Hunts for name IOCs: the same names c2tap matches on the wire, looked up in what other
//! sensors logged — CommonSecurityLog by `DestinationHostName` (c2tap's own `dhost`, and any
//! proxy or firewall that logs the host) and by `RequestURL`, DnsEvents by `Name`, Defender's
//! DeviceNetworkEvents by `RemoteUrl`.
//!
//! Every hunt starts with the same lets: `c2_domains` (exact names), `c2_zones` (suffix IOCs,
//! without `*.`), `c2_urls` (lowercased URLs) and `c2_name_hit(name)`, which folds case and a
//! trailing dot and tests the name and its parents up to [`ZONE_DEPTH`] labels up against the
//! zones — the same rule as the sensor's suffix match, without a regex built from feed text.

use std::io::{self, Write};

use super::super::names::NameKind;
use super::super::IocSet;
use super::{write_list, Lists, NOT_REPLAYED};

/// How many leading labels `c2_name_hit` strips when looking for a zone: a name more than this
/// many labels below its zone is not found by the hunts (the sensor has no such limit).
pub const ZONE_DEPTH: usize = 8;

/// The names of `set`, as the lets hold them.
struct NameLists {
    domains: Vec<String>,
    zones: Vec<String>,
    urls: Vec<String>,
}

fn name_lists(set: &IocSet) -> NameLists {
    let mut lists = NameLists {
        domains: Vec::new(),
        zones: Vec::new(),
        urls: Vec::new(),
    };
    for n in set.names().iter() {
        match n.kind {
            NameKind::Domain => lists.domains.push(n.name.clone()),
            NameKind::Suffix => lists.zones.push(n.name.clone()),
            NameKind::Url => lists.urls.push(n.ioc.value.to_ascii_lowercase()),
        }
    }
    for list in [&mut lists.domains, &mut lists.zones, &mut lists.urls] {
        list.sort();
        list.dedup();
    }
    lists
}

/// Writes hunts 4-7 when the set holds name IOCs; `first` numbers the first one.
pub(super) fn write_name_hunts(
    out: &mut dyn Write,
    set: &IocSet,
    lists: Lists<'_>,
    first: usize,
) -> io::Result<()> {
    if !set.names().has_names() {
        return Ok(());
    }
    let names = name_lists(set);
    let prelude = |out: &mut dyn Write| -> io::Result<()> {
        match lists {
            Lists::Inline => {
                write_list(out, "c2_domains", "name", "string", &names.domains, true)?;
                write_list(out, "c2_zones", "zone", "string", &names.zones, true)?;
                write_list(out, "c2_urls", "url", "string", &names.urls, true)?;
            }
            Lists::Watchlist(alias) => write_watchlist_names(out, alias)?,
        }
        write_name_function(out)
    };
    let csl_columns = "| project TimeGenerated, SourceIP, SourcePort, DestinationIP, DestinationPort, \
                       DestinationHostName,\n          RequestURL, DeviceAction, Activity, DeviceVendor, \
                       DeviceProduct, DeviceName, LogSeverity,\n          DeviceCustomString1, \
                       DeviceCustomString2, Message\n| order by TimeGenerated desc";

    // Hunt 1 follows the header's blank line; later ones need their own.
    let gap = if first > 1 { "\n" } else { "" };
    writeln!(
        out,
        "{gap}// {first}. CommonSecurityLog: rows naming an IOC host (c2tap's dhost, proxies, firewalls)."
    )?;
    prelude(out)?;
    writeln!(out, "CommonSecurityLog")?;
    writeln!(out, "| where TimeGenerated > ago(14d)")?;
    writeln!(out, "| where isnotempty(DestinationHostName)")?;
    writeln!(out, "{NOT_REPLAYED}")?;
    writeln!(out, "| where c2_name_hit(DestinationHostName)")?;
    writeln!(out, "{csl_columns}")?;

    writeln!(
        out,
        "\n// {}. CommonSecurityLog: requests for an IOC URL (c2tap's request, web proxies).",
        first + 1
    )?;
    prelude(out)?;
    writeln!(out, "CommonSecurityLog")?;
    writeln!(out, "| where TimeGenerated > ago(14d)")?;
    writeln!(out, "| where isnotempty(RequestURL)")?;
    writeln!(out, "{NOT_REPLAYED}")?;
    writeln!(out, "| where tolower(RequestURL) has_any (c2_urls)")?;
    writeln!(out, "{csl_columns}")?;

    writeln!(
        out,
        "\n// {}. DnsEvents (Windows DNS servers): which client looked up an IOC name.",
        first + 2
    )?;
    prelude(out)?;
    writeln!(out, "DnsEvents")?;
    writeln!(out, "| where TimeGenerated > ago(14d)")?;
    writeln!(out, "| where c2_name_hit(Name)")?;
    writeln!(
        out,
        "| project TimeGenerated, Computer, ClientIP, Name, QueryType, IPAddresses, SubType"
    )?;
    writeln!(out, "| order by TimeGenerated desc")?;

    writeln!(
        out,
        "\n// {}. DeviceNetworkEvents (Defender for Endpoint): which process reached an IOC name or URL.",
        first + 3
    )?;
    prelude(out)?;
    writeln!(out, "DeviceNetworkEvents")?;
    writeln!(
        out,
        "| where TimeGenerated > ago(14d)   // Timestamp in Defender advanced hunting"
    )?;
    writeln!(out, "| where isnotempty(RemoteUrl)")?;
    writeln!(
        out,
        "| extend RemoteHost = extract(@\"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^/:?#]+)\", 1, RemoteUrl)"
    )?;
    writeln!(
        out,
        "| where c2_name_hit(RemoteHost) or tolower(RemoteUrl) has_any (c2_urls)"
    )?;
    writeln!(out, "| project TimeGenerated, DeviceName, ActionType, RemoteUrl, RemoteIP, RemotePort, LocalIP,")?;
    writeln!(
        out,
        "          InitiatingProcessFileName, InitiatingProcessCommandLine, InitiatingProcessAccountName"
    )?;
    writeln!(out, "| order by TimeGenerated desc")
}

/// `c2_name_hit(name)`: exact name, or the name or one of its parents is a zone.
fn write_name_function(out: &mut dyn Write) -> io::Result<()> {
    let parents: Vec<String> = (1..=ZONE_DEPTH)
        .map(|i| format!("strcat_array(array_slice(l, {i}, -1), \".\")"))
        .collect();
    writeln!(out, "let c2_name_hit = (name: string) {{")?;
    writeln!(out, "    let h = trim_end(@\"\\.\", tolower(name));")?;
    writeln!(out, "    let l = split(h, \".\");")?;
    writeln!(out, "    h in (c2_domains)")?;
    writeln!(out, "    or array_length(set_intersect(pack_array(h,")?;
    for chunk in parents.chunks(2) {
        writeln!(out, "        {},", chunk.join(", "))?;
    }
    writeln!(out, "        \"\"), c2_zones)) > 0")?;
    writeln!(out, "}};")
}

/// The same lets read from the watchlist's `Domain` (`name` or `*.zone`) and `Url` columns.
fn write_watchlist_names(out: &mut dyn Write, alias: &str) -> io::Result<()> {
    writeln!(out, "let c2_watchlist = _GetWatchlist('{alias}');")?;
    writeln!(out, "let c2_domains = toscalar(c2_watchlist | extend D = tolower(tostring(Domain))\n    | where isnotempty(D) and not(D startswith \"*.\") | summarize make_set(D));")?;
    writeln!(out, "let c2_zones = toscalar(c2_watchlist | extend D = tolower(tostring(Domain))\n    | where D startswith \"*.\" | summarize make_set(substring(D, 2)));")?;
    writeln!(out, "let c2_urls = toscalar(c2_watchlist | extend U = tolower(tostring(Url))\n    | where isnotempty(U) | summarize make_set(U));")
}
