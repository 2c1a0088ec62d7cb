//! Kernel prefilter: the IOC set compiled into the capture's BPF filter, so that only traffic
//! touching an IOC address leaves the kernel. Sits at the very start of the data path, in the
//! kernel's socket filter in front of the capture ring.
//!
//! It matches on addresses (`host`, `net`), not ports, so address-only alerts (SignatureID 1002)
//! still see their packets. Tagged traffic is covered by a `vlan` twin of the expression, and
//! mirror encapsulations (GRE/ERSPAN, VXLAN, Geneve) always pass, because the kernel filter
//! only sees their outer header. What it gives up: every flow that touches no IOC (no flow
//! table for them, no retro-match of such flows after a reload), and MPLS-labelled traffic.
//!
//! Classic BPF allows 4096 instructions per socket filter, `host` costs ~11 with its VLAN twin,
//! and the kernel's conversion also has to fit `net.core.optmem_max` — so only small sets are
//! compiled; a larger one falls back to userspace matching with a log line.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use ipnet::IpNet;

use crate::ioc::{Endpoint, IocSet};

/// Default bound on distinct addresses/networks compiled into the prefilter.
pub const DEFAULT_MAX_IOCS: u32 = 64;
/// Highest configurable bound: ~11.3 instructions per address with the VLAN twin, measured
/// 340 as the largest that attached (capture-stack.md §4).
pub const HARD_MAX_IOCS: usize = 300;
/// The kernel's limit on classic BPF instructions in one socket filter.
pub const BPF_MAXINSNS: usize = 4096;

/// Encapsulations a span may deliver: their inner flows are only visible in userspace.
const TUNNELS: &str = "ip proto 47 or ip6 proto 47 or udp port 4789 or udp port 6081";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrefilterError {
    #[error(
        "the IOC set has {count} distinct addresses/networks, over the prefilter limit of {max}"
    )]
    TooManyIocs { count: usize, max: usize },
    #[error("the IOC set is empty")]
    Empty,
    /// Name IOCs are matched in DNS, TLS and HTTP to any address: an address filter would hide them.
    #[error("the IOC set holds domain/URL IOCs, seen on traffic to any address")]
    Names,
    #[error("the filter compiles to {count} BPF instructions, over the kernel's {BPF_MAXINSNS}")]
    TooLong { count: usize },
    #[error("not a valid BPF filter expression: {0}")]
    Syntax(String),
}

/// The distinct `host`/`net` terms of a set: ip:port IOCs of one address collapse into one.
fn terms(set: &IocSet) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for ioc in set.iter() {
        match Endpoint::parse(&ioc.value) {
            Ok(Endpoint::Addr(a) | Endpoint::AddrPort(a, _)) => {
                out.insert(format!("host {a}"));
            }
            Ok(Endpoint::Net(net)) => {
                let net = match net {
                    IpNet::V4(n) => IpNet::V4(n.trunc()),
                    IpNet::V6(n) => IpNet::V6(n.trunc()),
                };
                out.insert(format!("net {net}"));
            }
            // Values in a built set were parsed by the same function: cannot fail.
            Err(_) => {}
        }
    }
    out
}

/// The prefilter expression for `set`, or why it cannot be one.
pub fn expression(set: &IocSet, max_iocs: usize) -> Result<String, PrefilterError> {
    if set.has_names() {
        return Err(PrefilterError::Names);
    }
    let terms = terms(set);
    if terms.is_empty() {
        return Err(PrefilterError::Empty);
    }
    if terms.len() > max_iocs {
        return Err(PrefilterError::TooManyIocs {
            count: terms.len(),
            max: max_iocs,
        });
    }
    let mut hosts = String::new();
    for (i, t) in terms.iter().enumerate() {
        if i > 0 {
            hosts.push_str(" or ");
        }
        hosts.push_str(t);
    }
    let mut expr = String::with_capacity(hosts.len() * 2 + 4 * TUNNELS.len());
    let _ = write!(
        expr,
        "({hosts}) or ({TUNNELS}) or (vlan and (({hosts}) or ({TUNNELS})))"
    );
    Ok(expr)
}

/// The filter a capture handle gets: the operator's expression, narrowed by the prefilter.
pub fn combine(user: Option<&str>, prefilter: Option<&str>) -> Option<String> {
    match (user, prefilter) {
        (None, None) => None,
        (Some(u), None) => Some(u.to_string()),
        (None, Some(p)) => Some(p.to_string()),
        (Some(u), Some(p)) => Some(format!("({u}) and ({p})")),
    }
}

/// Compiles `expr` for Ethernet without touching an interface (config checks, size checks
/// before a live handle is touched). Returns the optimized instruction count.
pub fn instruction_count(expr: &str) -> Result<usize, PrefilterError> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET)
        .map_err(|e| PrefilterError::Syntax(e.to_string()))?;
    let program = dead
        .compile(expr, true)
        .map_err(|e| PrefilterError::Syntax(e.to_string()))?;
    Ok(program.get_instructions().len())
}

/// Checks an expression's syntax and size.
pub fn check_expression(expr: &str) -> Result<(), PrefilterError> {
    match instruction_count(expr)? {
        count if count > BPF_MAXINSNS => Err(PrefilterError::TooLong { count }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::{load, FeedSource, Filters};

    fn set_of(lines: &str) -> IocSet {
        let dir = std::env::temp_dir().join(format!("c2tap-prefilter-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{:x}.txt", crc32fast::hash(lines.as_bytes())));
        std::fs::write(&path, lines).unwrap();
        // The documentation network below is a broad IOC by default.
        let filters = Filters {
            allow_broad: true,
            ..Filters::default()
        };
        let loaded = load(&[FeedSource::File(path)], &filters, 0).unwrap();
        loaded.set
    }

    #[test]
    fn builtin_set_compiles_to_hosts_with_vlan_twin_and_tunnels() {
        let expr = expression(&IocSet::builtin(), 64).unwrap();
        let hosts = "host 138.9.223.13 or host 138.9.41.254";
        assert_eq!(
            expr,
            format!("({hosts}) or ({TUNNELS}) or (vlan and (({hosts}) or ({TUNNELS})))")
        );
        let count = instruction_count(&expr).unwrap();
        assert!(count > 10 && count < 200, "{count}");
    }

    #[test]
    fn ports_of_one_address_collapse_and_nets_stay_nets() {
        let set = set_of("198.51.100.7:80\n198.51.100.7:443\n203.0.113.128/25\n2001:db8::5\n");
        let expr = expression(&set, 64).unwrap();
        assert!(
            expr.starts_with("(host 198.51.100.7 or host 2001:db8::5 or net 203.0.113.128/25) or")
        );
        assert!(check_expression(&expr).is_ok());
    }

    #[test]
    fn too_many_iocs_fall_back() {
        let lines: String = (1..=70).map(|i| format!("198.51.100.{i}\n")).collect();
        assert_eq!(
            expression(&set_of(&lines), 64),
            Err(PrefilterError::TooManyIocs { count: 70, max: 64 })
        );
    }

    #[test]
    fn combine_narrows_the_user_filter() {
        assert_eq!(combine(None, None), None);
        assert_eq!(combine(Some("tcp"), None).as_deref(), Some("tcp"));
        assert_eq!(
            combine(Some("tcp"), Some("host 1.2.3.4")).as_deref(),
            Some("(tcp) and (host 1.2.3.4)")
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(
            check_expression("host and"),
            Err(PrefilterError::Syntax(_))
        ));
        assert_eq!(check_expression("tcp port 80"), Ok(()));
    }

    #[test]
    fn name_iocs_turn_the_prefilter_off() {
        let set = set_of("138.9.223.13:8015\nevil.duckdns.org\n");
        assert!(matches!(expression(&set, 64), Err(PrefilterError::Names)));
    }
}
