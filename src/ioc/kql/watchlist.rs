//! The set as a Sentinel watchlist file: the hunts stay a few lines whatever the set's size
//! when they read it with `_GetWatchlist(alias)`.

use std::io::{self, Write};

use super::super::endpoint::Endpoint;
use super::super::names::NameKind;
use super::super::{IocSet, Timestamp};

/// The watchlist file's columns; `IocValue` is its SearchKey. `Address`+`Port`, `Network`,
/// `Domain` (a name, or `*.zone` for a suffix IOC) or `Url` hold the match values, the rest the
/// context analysts want beside a hit.
pub const WATCHLIST_COLUMNS: [&str; 12] = [
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
    "Domain",
    "Url",
];

/// The set as a Sentinel watchlist file ([`WATCHLIST_COLUMNS`], SearchKey `IocValue`), one row
/// per IOC. Every field is quoted: feed text (a malware name) may hold commas or quotes, and a
/// leading `=`, `+`, `-` or `@` stays text for spreadsheet tools that open the file.
pub fn write_watchlist_csv(out: &mut dyn Write, set: &IocSet) -> io::Result<()> {
    writeln!(out, "{}", WATCHLIST_COLUMNS.join(","))?;
    let addresses = set.iter().filter_map(|ioc| {
        let (address, port, network) = match Endpoint::parse(&ioc.value) {
            Ok(Endpoint::Addr(a)) => (a.to_string(), String::new(), String::new()),
            Ok(Endpoint::AddrPort(a, p)) => (a.to_string(), p.to_string(), String::new()),
            Ok(Endpoint::Net(n)) => (String::new(), String::new(), n.to_string()),
            Err(_) => return None,
        };
        Some((
            &**ioc,
            [address, port, network, String::new(), String::new()],
        ))
    });
    let names = set.names().iter().map(|n| {
        let (domain, url) = match n.kind {
            NameKind::Url => (String::new(), n.ioc.value.clone()),
            NameKind::Domain | NameKind::Suffix => (n.ioc.value.clone(), String::new()),
        };
        (
            &*n.ioc,
            [String::new(), String::new(), String::new(), domain, url],
        )
    });
    for (ioc, [address, port, network, domain, url]) in addresses.chain(names) {
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
            &domain,
            &url,
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
