//! IOC set: threat-intel feeds become an immutable set that the packet path asks, twice per
//! packet, "is this endpoint an IOC, and on which port?". Built once ("compile once, match
//! many"), swapped atomically on reload, never behind a lock.
//!
//! Loading sits beside the data path: [`load()`] reads feed files in any supported format
//! (detected from content), validates and filters every row, merges duplicates through
//! [`builder::IocSetBuilder`] and reports what happened in [`LoadStats`]. [`write_report`] and
//! [`write_kql`] serve the `c2tap iocs` and `c2tap kql` commands.

mod address_csv;
mod archive;
mod builder;
mod collect;
pub mod defang;
mod detect_format;
mod endpoint;
mod feodo_json;
mod filter;
mod kql;
mod load;
mod markdown;
pub mod names;
mod plain;
mod reject;
mod report;
mod row;
mod stats;
mod stix;
mod text;
mod threatfox_csv;
mod threatfox_json;
mod timestamp;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};
use prefix_trie::{Prefix, PrefixMap};

pub use builder::IocSetBuilder;
pub use detect_format::FeedFormat;
pub use endpoint::Endpoint;
pub use filter::{FilterReason, Filters, CONFIDENCE};
pub use kql::{
    write_kql, write_kql_watchlist, write_watchlist_csv, WATCHLIST_ABOVE, WATCHLIST_COLUMNS,
};
pub use load::{load, FeedSource, LoadError, Loaded, MAX_FEED_BYTES};
pub use names::{NameIoc, NameKind, NameSet};
pub use reject::RejectReason;
pub use report::write_report;
pub use row::Location;
pub use stats::{
    FileStats, FilterCounts, LoadStats, RejectCounts, RejectDetail, MAX_REJECT_DETAILS,
};
pub use text::MAX_LINE_BYTES;
pub use timestamp::Timestamp;

/// One indicator with the context analysts need in the alert.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ioc {
    /// Normalized value as analysts know it: `1.2.3.4:8015`, `[2001:db8::1]:443`, `1.2.3.4`,
    /// `198.51.100.0/24`.
    pub value: String,
    /// Port of an ip:port IOC; `None` for address-only and CIDR IOCs.
    pub port: Option<u16>,
    /// Malware family as printed by the feed (e.g. `Remcos`); empty when the feed names none.
    pub malware: String,
    /// Feed threat type (e.g. `botnet_cc`); empty when the feed names none.
    pub threat_type: String,
    /// Confidence 0..=100, when the feed gives one.
    pub confidence: Option<u8>,
    /// First/last seen in UTC as `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Where it came from: feed name (`ThreatFox`, or the file name for other formats);
    /// merged IOCs list every feed, comma-separated.
    pub source: String,
    /// Reference URL, if any.
    pub reference: Option<String>,
}

/// How an endpoint matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchKind {
    /// The address of an ip:port IOC on another port (or ICMP to/from it): SignatureID 1002.
    OtherPort,
    /// ip:port on its port, or an address-only/CIDR IOC: SignatureID 1001.
    Exact,
}

/// The answer for one endpoint. `ioc` indexes [`IocSet::get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IocHit {
    pub kind: MatchKind,
    pub ioc: u32,
}

/// Marks an empty IOC index inside a [`Slot`]; the builder never hands out `u32::MAX`.
const NO_IOC: u32 = u32::MAX;

/// Everything known about one exact address, small and `Copy` so a hit costs one probe. The
/// first ip:port IOC sits inline; further ports of the same address (rare) live in
/// `IocSet::extra_ports`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Address-only IOC on this address, or [`NO_IOC`].
    whole: u32,
    /// First ip:port IOC, or [`NO_IOC`].
    port_ioc: u32,
    port: u16,
    extra_len: u16,
    extra_start: u32,
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The immutable lookup structure.
#[derive(Debug, Default)]
pub struct IocSet {
    iocs: Vec<Arc<Ioc>>,
    v4: FastMap<u32, Slot>,
    v6: FastMap<u128, Slot>,
    extra_ports: Vec<(u16, u32)>,
    /// CIDR IOCs; `None` when the set has none, so lookups skip the trie entirely.
    nets4: Option<PrefixMap<Ipv4Net, u32>>,
    nets6: Option<PrefixMap<Ipv6Net, u32>>,
    /// Domain, suffix and URL IOCs; empty unless a feed carries names.
    names: NameSet,
}

impl IocSet {
    /// The built-in default: the two Remcos C2 endpoints from ThreatFox.
    pub fn builtin() -> IocSet {
        let mut builder = IocSetBuilder::default();
        for (endpoint, ioc) in builtin_entries() {
            builder.insert(endpoint, ioc);
        }
        builder.build()
    }

    /// Is `addr` (seen using `port`; `None` when the packet has no ports, e.g. ICMP) an IOC
    /// endpoint? An ip:port IOC on that port wins, then an address-only or CIDR IOC (both
    /// [`MatchKind::Exact`]), then an ip:port IOC on another port.
    #[inline]
    pub fn lookup(&self, addr: IpAddr, port: Option<u16>) -> Option<IocHit> {
        match addr {
            IpAddr::V4(a) => self.lookup_v4(a, port),
            IpAddr::V6(a) => self.lookup_v6(a, port),
        }
    }

    #[inline]
    fn lookup_v4(&self, addr: Ipv4Addr, port: Option<u16>) -> Option<IocHit> {
        let hit = self
            .v4
            .get(&u32::from(addr))
            .map(|slot| self.answer(slot, port));
        widen_by_nets(hit, self.nets4.as_ref(), || Ipv4Net::from(addr))
    }

    #[inline]
    fn lookup_v6(&self, addr: Ipv6Addr, port: Option<u16>) -> Option<IocHit> {
        let hit = self
            .v6
            .get(&u128::from(addr))
            .map(|slot| self.answer(slot, port));
        widen_by_nets(hit, self.nets6.as_ref(), || Ipv6Net::from(addr))
    }

    #[inline]
    fn answer(&self, slot: &Slot, port: Option<u16>) -> IocHit {
        let exact = |ioc| IocHit {
            kind: MatchKind::Exact,
            ioc,
        };
        if let Some(port) = port {
            if slot.port_ioc != NO_IOC && slot.port == port {
                return exact(slot.port_ioc);
            }
            if slot.extra_len > 0 {
                let start = slot.extra_start as usize;
                let more = self
                    .extra_ports
                    .get(start..start + usize::from(slot.extra_len));
                if let Some(&(_, ioc)) = more.into_iter().flatten().find(|(p, _)| *p == port) {
                    return exact(ioc);
                }
            }
        }
        match slot.whole {
            NO_IOC => IocHit {
                kind: MatchKind::OtherPort,
                ioc: slot.port_ioc,
            },
            whole => exact(whole),
        }
    }

    /// False when no name IOC is loaded: the packet path skips all name work then.
    #[inline]
    pub fn has_names(&self) -> bool {
        self.names.has_names()
    }

    /// See [`NameSet::match_host`]: a DNS qname, SNI or HTTP `Host` against domain and suffix
    /// IOCs, normalised on the stack.
    #[inline]
    pub fn match_host(&self, host: &[u8]) -> Option<&NameIoc> {
        self.names.match_host(host)
    }

    /// See [`NameSet::match_url`]: an HTTP request's host[:port] and target against URL IOCs.
    #[inline]
    pub fn match_url(&self, host: &[u8], path: &[u8]) -> Option<&NameIoc> {
        self.names.match_url(host, path)
    }

    /// The name IOCs (for reports and KQL).
    pub fn names(&self) -> &NameSet {
        &self.names
    }

    /// The IOC behind a hit. Shared (`Arc`) so records can outlive a reload without copying.
    pub fn get(&self, idx: u32) -> Option<&Arc<Ioc>> {
        self.iocs.get(idx as usize)
    }

    /// Address IOCs (name IOCs: [`IocSet::names`]).
    pub fn len(&self) -> usize {
        self.iocs.len()
    }

    /// No IOC at all, address or name.
    pub fn is_empty(&self) -> bool {
        self.iocs.is_empty() && self.names.is_empty()
    }

    /// The address IOCs.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Ioc>> {
        self.iocs.iter()
    }

    /// Whether any CIDR IOC is present (the KQL writer needs range functions then).
    pub fn has_cidrs(&self) -> bool {
        self.nets4.is_some() || self.nets6.is_some()
    }
}

/// A CIDR IOC covering the address outranks a miss or an other-port hit; the trie is only
/// walked when the set has CIDRs at all.
#[inline]
fn widen_by_nets<P: Prefix>(
    hit: Option<IocHit>,
    nets: Option<&PrefixMap<P, u32>>,
    host: impl FnOnce() -> P,
) -> Option<IocHit> {
    match (nets, hit) {
        (
            Some(nets),
            None
            | Some(IocHit {
                kind: MatchKind::OtherPort,
                ..
            }),
        ) => nets
            .get_lpm(&host())
            .map(|(_, &ioc)| IocHit {
                kind: MatchKind::Exact,
                ioc,
            })
            .or(hit),
        _ => hit,
    }
}

/// The embedded default set, with exactly the metadata the ThreatFox entries carry.
fn builtin_entries() -> impl Iterator<Item = (Endpoint, Ioc)> {
    [
        ([138, 9, 223, 13], "138.9.223.13:8015"),
        ([138, 9, 41, 254], "138.9.41.254:8015"),
    ]
    .into_iter()
    .map(|(addr, value)| {
        let endpoint = Endpoint::AddrPort(IpAddr::from(addr), 8015);
        let ioc = Ioc {
            value: value.to_string(),
            port: Some(8015),
            malware: "Remcos".into(),
            threat_type: "botnet_cc".into(),
            confidence: Some(75),
            first_seen: Some("2026-05-09".into()),
            last_seen: None,
            source: "ThreatFox".into(),
            reference: None,
        };
        (endpoint, ioc)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_of(values: &[&str]) -> IocSet {
        let mut builder = IocSetBuilder::default();
        for value in values {
            let endpoint = Endpoint::parse(value).unwrap_or_else(|r| panic!("{value}: {r}"));
            builder.insert(
                endpoint,
                Ioc {
                    value: value.to_string(),
                    ..builtin_ioc()
                },
            );
        }
        builder.build()
    }

    fn builtin_ioc() -> Ioc {
        builtin_entries()
            .next()
            .map(|(_, ioc)| ioc)
            .unwrap_or_else(|| unreachable!())
    }

    fn kind(set: &IocSet, addr: &str, port: Option<u16>) -> Option<(MatchKind, String)> {
        let addr: IpAddr = addr.parse().unwrap_or_else(|_| panic!("{addr}"));
        let hit = set.lookup(addr, port)?;
        Some((
            hit.kind,
            set.get(hit.ioc)
                .map(|i| i.value.clone())
                .unwrap_or_default(),
        ))
    }

    #[test]
    fn builtin_keeps_its_metadata() {
        let set = IocSet::builtin();
        assert_eq!(set.len(), 2);
        let values: Vec<_> = set.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(values, ["138.9.223.13:8015", "138.9.41.254:8015"]);
        assert_eq!(
            **set.get(1).unwrap_or_else(|| unreachable!()),
            Ioc {
                value: "138.9.41.254:8015".into(),
                ..builtin_ioc()
            }
        );
        assert!(!set.has_cidrs());
    }

    #[test]
    fn ip_port_iocs_answer_exact_or_other_port() {
        let set = IocSet::builtin();
        let exact = Some((MatchKind::Exact, "138.9.223.13:8015".to_string()));
        let other = Some((MatchKind::OtherPort, "138.9.223.13:8015".to_string()));
        assert_eq!(kind(&set, "138.9.223.13", Some(8015)), exact);
        assert_eq!(kind(&set, "138.9.223.13", Some(443)), other);
        assert_eq!(kind(&set, "138.9.223.13", None), other);
        assert_eq!(kind(&set, "138.9.223.14", Some(8015)), None);
        assert_eq!(kind(&set, "::ffff:138.9.223.13", Some(8015)), None);
    }

    #[test]
    fn several_ports_on_one_address_pick_the_matching_one() {
        let set = set_of(&[
            "1.2.3.4:80",
            "1.2.3.4:443",
            "1.2.3.4:8443",
            "[2001:db8::1]:443",
        ]);
        assert_eq!(
            kind(&set, "1.2.3.4", Some(8443)),
            Some((MatchKind::Exact, "1.2.3.4:8443".into()))
        );
        assert_eq!(
            kind(&set, "1.2.3.4", Some(443)),
            Some((MatchKind::Exact, "1.2.3.4:443".into()))
        );
        assert_eq!(
            kind(&set, "1.2.3.4", Some(22)),
            Some((MatchKind::OtherPort, "1.2.3.4:80".into()))
        );
        assert_eq!(
            kind(&set, "2001:db8::1", Some(443)),
            Some((MatchKind::Exact, "[2001:db8::1]:443".into()))
        );
        assert_eq!(
            kind(&set, "2001:db8::1", None).map(|h| h.0),
            Some(MatchKind::OtherPort)
        );
    }

    #[test]
    fn address_only_and_cidr_iocs_are_exact_on_any_port() {
        let set = set_of(&[
            "5.6.7.8",
            "5.6.7.9:80",
            "198.51.100.0/24",
            "2001:db8:1::/48",
            "2001:db8::2",
        ]);
        assert!(set.has_cidrs());
        assert_eq!(
            kind(&set, "5.6.7.8", None),
            Some((MatchKind::Exact, "5.6.7.8".into()))
        );
        assert_eq!(
            kind(&set, "5.6.7.8", Some(1)),
            Some((MatchKind::Exact, "5.6.7.8".into()))
        );
        assert_eq!(
            kind(&set, "198.51.100.77", Some(1)),
            Some((MatchKind::Exact, "198.51.100.0/24".into()))
        );
        assert_eq!(kind(&set, "198.51.101.1", Some(1)), None);
        assert_eq!(
            kind(&set, "2001:db8:1:2::3", None),
            Some((MatchKind::Exact, "2001:db8:1::/48".into()))
        );
        assert_eq!(
            kind(&set, "2001:db8::2", Some(9)),
            Some((MatchKind::Exact, "2001:db8::2".into()))
        );
        assert_eq!(
            kind(&set, "5.6.7.9", Some(81)),
            Some((MatchKind::OtherPort, "5.6.7.9:80".into()))
        );
    }

    #[test]
    fn a_covering_cidr_beats_an_other_port_hit() {
        let set = set_of(&[
            "198.51.100.5:80",
            "198.51.100.0/24",
            "1.2.3.4",
            "1.2.3.4:80",
        ]);
        assert_eq!(
            kind(&set, "198.51.100.5", Some(80)),
            Some((MatchKind::Exact, "198.51.100.5:80".into()))
        );
        assert_eq!(
            kind(&set, "198.51.100.5", Some(81)),
            Some((MatchKind::Exact, "198.51.100.0/24".into()))
        );
        assert_eq!(
            kind(&set, "1.2.3.4", Some(80)),
            Some((MatchKind::Exact, "1.2.3.4:80".into()))
        );
        assert_eq!(
            kind(&set, "1.2.3.4", Some(81)),
            Some((MatchKind::Exact, "1.2.3.4".into()))
        );
    }
}
