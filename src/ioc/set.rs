//! The compiled set the packet path asks: one hash probe per address (a `Copy` [`Slot`] holds
//! every IOC of it), a prefix trie only when CIDR IOCs exist, and the name set beside them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};
use prefix_trie::{Prefix, PrefixMap};

use super::builder::IocSetBuilder;
use super::names::{NameIoc, NameSet};
use super::{builtin_entries, FastMap, Ioc, IocHit, MatchKind};

/// Marks an empty IOC index inside a [`Slot`]; the builder never hands out `u32::MAX`.
pub(super) const NO_IOC: u32 = u32::MAX;

/// Everything known about one exact address, small and `Copy` so a hit costs one probe. The
/// first ip:port IOC sits inline; further ports of the same address (rare) live in
/// `IocSet::extra_ports`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    /// Address-only IOC on this address, or [`NO_IOC`].
    pub(super) whole: u32,
    /// First ip:port IOC, or [`NO_IOC`].
    pub(super) port_ioc: u32,
    pub(super) port: u16,
    pub(super) extra_len: u16,
    pub(super) extra_start: u32,
}

/// The immutable lookup structure.
#[derive(Debug, Default)]
pub struct IocSet {
    pub(super) iocs: Vec<Arc<Ioc>>,
    pub(super) v4: FastMap<u32, Slot>,
    pub(super) v6: FastMap<u128, Slot>,
    pub(super) extra_ports: Vec<(u16, u32)>,
    /// CIDR IOCs; `None` when the set has none, so lookups skip the trie entirely.
    pub(super) nets4: Option<PrefixMap<Ipv4Net, u32>>,
    pub(super) nets6: Option<PrefixMap<Ipv6Net, u32>>,
    /// Domain, suffix and URL IOCs; empty unless a feed carries names.
    pub(super) names: NameSet,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::Endpoint;

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
