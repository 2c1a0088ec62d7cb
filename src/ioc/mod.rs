//! IOC set: threat-intel feeds become an immutable set that the packet path asks, twice per
//! packet, "is this endpoint an IOC, and on which port?". Built once ("compile once, match
//! many"), swapped atomically on reload, never behind a lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// One indicator with the context analysts need in the alert.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ioc {
    /// Normalized value as analysts know it: `1.2.3.4:8015`, `[2001:db8::1]:443`, `1.2.3.4`,
    /// `198.51.100.0/24`.
    pub value: String,
    /// Port of an ip:port IOC; `None` for address-only and CIDR IOCs.
    pub port: Option<u16>,
    /// Malware family as printed by the feed (e.g. `Remcos`).
    pub malware: String,
    /// Feed threat type (e.g. `botnet_cc`).
    pub threat_type: String,
    /// Confidence 0..=100, when the feed gives one.
    pub confidence: Option<u8>,
    /// First/last seen as dates or timestamps in UTC, as the feed gives them (normalized text).
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Where it came from: feed name (e.g. `ThreatFox`, file name).
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

/// The immutable lookup structure.
#[derive(Debug, Default)]
pub struct IocSet {
    iocs: Vec<Arc<Ioc>>,
    /// Exact addresses → (port, ioc index) list; port `None` for address-only IOCs.
    by_addr: HashMap<IpAddr, Vec<(Option<u16>, u32)>, foldhash::fast::RandomState>,
}

impl IocSet {
    /// The built-in default: the two Remcos C2 endpoints from ThreatFox.
    pub fn builtin() -> IocSet {
        let mk = |value: &str| Ioc {
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
        let mut set = IocSet::default();
        for (addr, value) in [
            ([138, 9, 223, 13], "138.9.223.13:8015"),
            ([138, 9, 41, 254], "138.9.41.254:8015"),
        ] {
            set.insert(IpAddr::from(addr), mk(value));
        }
        set
    }

    fn insert(&mut self, addr: IpAddr, ioc: Ioc) {
        let idx = self.iocs.len() as u32;
        self.by_addr.entry(addr).or_default().push((ioc.port, idx));
        self.iocs.push(Arc::new(ioc));
    }

    /// Is `addr` (seen using `port`) an IOC endpoint? Exact beats OtherPort.
    #[inline]
    pub fn lookup(&self, addr: IpAddr, port: Option<u16>) -> Option<IocHit> {
        let entries = self.by_addr.get(&addr)?;
        let mut other = None;
        for &(p, idx) in entries {
            match p {
                None => return Some(IocHit { kind: MatchKind::Exact, ioc: idx }),
                Some(p) if Some(p) == port => {
                    return Some(IocHit { kind: MatchKind::Exact, ioc: idx })
                }
                Some(_) => {
                    if other.is_none() {
                        other = Some(IocHit { kind: MatchKind::OtherPort, ioc: idx });
                    }
                }
            }
        }
        other
    }

    /// The IOC behind a hit. Shared (`Arc`) so records can outlive a reload without copying.
    pub fn get(&self, idx: u32) -> Option<&Arc<Ioc>> {
        self.iocs.get(idx as usize)
    }

    pub fn len(&self) -> usize {
        self.iocs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.iocs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Ioc>> {
        self.iocs.iter()
    }
}
