//! Builds an [`IocSet`]: de-duplicates by normalized endpoint while feeds load, merging the
//! metadata of repeated IOCs, then lays the entries out for constant-time lookup.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use indexmap::map::Entry;
use indexmap::IndexMap;
use ipnet::IpNet;
use prefix_trie::PrefixMap;

use super::endpoint::Endpoint;
use super::names::{NameKind, NameSetBuilder};
use super::set::{Slot, NO_IOC};
use super::{FastMap, Ioc, IocSet};

/// Most IOCs one set holds. Loading costs several hundred bytes per row while the set is
/// built, so the bound keeps a hostile or mistaken feed (10 million rows) from taking the
/// host's memory; live ThreatFox exports hold a few hundred thousand rows.
pub const MAX_SET_IOCS: usize = 2_000_000;

/// Most names a merged `malware`/`source` field lists, so a feed repeating one IOC under
/// thousands of names cannot grow a field without bound.
const MAX_MERGED_NAMES: usize = 4;

/// What an insert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// Same endpoint already present: metadata merged into it.
    Merged,
    /// The set is at [`MAX_SET_IOCS`].
    Full,
}

/// IOCs keyed by what they match, in load order, each key once: a repeated key merges its
/// metadata into the first entry, a new key beyond [`MAX_SET_IOCS`] is refused. Both builders
/// (addresses and names) collect through it. An `IndexMap` keeps each key once, beside its IOC,
/// and hands the entries back in load order without copying or rehashing; each IOC goes into
/// the `Arc` the finished set shares once, when it is first seen, so building the set moves
/// pointers instead of copying IOCs (and the map's entries stay small while it grows).
#[derive(Debug)]
pub(super) struct Merging<K>(IndexMap<K, Arc<Ioc>, foldhash::fast::RandomState>);

impl<K> Default for Merging<K> {
    fn default() -> Self {
        Merging(IndexMap::default())
    }
}

impl<K: Hash + Eq> Merging<K> {
    pub(super) fn insert(&mut self, key: K, ioc: Ioc) -> Inserted {
        let full = self.0.len() >= MAX_SET_IOCS;
        match self.0.entry(key) {
            Entry::Occupied(mut slot) => {
                // Never shared while loading, so this does not clone.
                merge(Arc::make_mut(slot.get_mut()), ioc);
                Inserted::Merged
            }
            Entry::Vacant(_) if full => Inserted::Full,
            Entry::Vacant(slot) => {
                slot.insert(Arc::new(ioc));
                Inserted::New
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in load order; index `i` is the `i`-th new key.
    pub(super) fn into_entries(self) -> impl ExactSizeIterator<Item = (K, Arc<Ioc>)> {
        self.0.into_iter()
    }
}

/// Collects IOCs from any number of feeds, in load order.
#[derive(Debug, Default)]
pub struct IocSetBuilder {
    entries: Merging<Endpoint>,
    names: NameSetBuilder,
}

impl IocSetBuilder {
    /// Adds one IOC or merges it into the entry with the same endpoint.
    pub fn insert(&mut self, endpoint: Endpoint, ioc: Ioc) -> Inserted {
        self.entries.insert(endpoint, ioc)
    }

    /// Adds one name IOC (`name` already normalised: see
    /// [`NameIoc::name`](super::names::NameIoc::name)) or merges it into the same name's entry.
    pub fn insert_name(&mut self, kind: NameKind, name: String, ioc: Ioc) -> Inserted {
        self.names.insert(kind, name, ioc)
    }

    /// Address IOCs collected so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Neither an address nor a name IOC collected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.names.is_empty()
    }

    /// Lays the entries out for lookup; indices follow load order.
    pub fn build(self) -> IocSet {
        let mut set = IocSet {
            names: self.names.build(),
            ..IocSet::default()
        };
        let mut extra: FastMap<IpAddr, Vec<(u16, u32)>> = FastMap::default();
        for (idx, (endpoint, ioc)) in self.entries.into_entries().enumerate() {
            let Ok(idx) = u32::try_from(idx) else { break };
            match endpoint {
                Endpoint::Addr(addr) => set.slot(addr).whole = idx,
                Endpoint::AddrPort(addr, port) => {
                    let slot = set.slot(addr);
                    if slot.port_ioc == NO_IOC {
                        slot.port_ioc = idx;
                        slot.port = port;
                    } else {
                        extra.entry(addr).or_default().push((port, idx));
                    }
                }
                Endpoint::Net(IpNet::V4(net)) => {
                    set.nets4
                        .get_or_insert_with(PrefixMap::new)
                        .insert(net, idx);
                }
                Endpoint::Net(IpNet::V6(net)) => {
                    set.nets6
                        .get_or_insert_with(PrefixMap::new)
                        .insert(net, idx);
                }
            }
            set.iocs.push(ioc);
        }
        for (addr, ports) in extra {
            let start = u32::try_from(set.extra_ports.len()).unwrap_or(u32::MAX);
            let len = u16::try_from(ports.len()).unwrap_or(u16::MAX);
            set.extra_ports
                .extend(ports.into_iter().take(usize::from(len)));
            let slot = set.slot(addr);
            slot.extra_start = start;
            slot.extra_len = len;
        }
        set
    }
}

impl IocSet {
    fn slot(&mut self, addr: IpAddr) -> &mut Slot {
        let empty = Slot {
            whole: NO_IOC,
            port_ioc: NO_IOC,
            port: 0,
            extra_len: 0,
            extra_start: 0,
        };
        match addr {
            IpAddr::V4(a) => self.v4.entry(u32::from(a)).or_insert(empty),
            IpAddr::V6(a) => self.v6.entry(u128::from(a)).or_insert(empty),
        }
    }
}

/// Two feeds naming one IOC: keep the widest view — highest confidence, earliest first-seen,
/// latest last-seen, every family and feed name — and the first threat type and reference.
pub(super) fn merge(into: &mut Ioc, from: Ioc) {
    add_name(&mut into.malware, &from.malware);
    add_name(&mut into.source, &from.source);
    if into.threat_type.is_empty() {
        into.threat_type = from.threat_type;
    }
    into.confidence = into.confidence.max(from.confidence);
    into.first_seen = match (into.first_seen.take(), from.first_seen) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    into.last_seen = into.last_seen.take().max(from.last_seen);
    if into.reference.is_none() {
        into.reference = from.reference;
    }
}

fn add_name(list: &mut String, name: &str) {
    if name.is_empty() || list.split(", ").any(|n| n.eq_ignore_ascii_case(name)) {
        return;
    }
    if list.is_empty() {
        list.push_str(name);
    } else if list.split(", ").count() < MAX_MERGED_NAMES {
        list.push_str(", ");
        list.push_str(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Timestamp;

    fn ioc(
        malware: &str,
        source: &str,
        confidence: Option<u8>,
        first: &str,
        last: Option<&str>,
    ) -> Ioc {
        Ioc {
            value: "1.2.3.4:80".into(),
            port: Some(80),
            malware: malware.into(),
            threat_type: String::new(),
            confidence,
            first_seen: Timestamp::parse(first),
            last_seen: last.and_then(Timestamp::parse),
            source: source.into(),
            reference: None,
        }
    }

    #[test]
    fn duplicates_merge_metadata() {
        let endpoint = Endpoint::parse("1.2.3.4:80").unwrap_or_else(|_| unreachable!());
        let mut builder = IocSetBuilder::default();
        assert_eq!(
            builder.insert(
                endpoint,
                ioc("Remcos", "ThreatFox", Some(50), "2026-05-09", None)
            ),
            Inserted::New
        );
        let mut second = ioc(
            "remcos",
            "c2.txt",
            Some(75),
            "2026-05-01 10:00:00",
            Some("2026-05-10"),
        );
        second.threat_type = "botnet_cc".into();
        second.reference = Some("https://example.org/r".into());
        assert_eq!(builder.insert(endpoint, second), Inserted::Merged);
        assert_eq!(
            builder.insert(
                endpoint,
                ioc("AsyncRAT", "c2.txt", None, "2026-06-01", None)
            ),
            Inserted::Merged
        );
        let set = builder.build();
        assert_eq!(set.len(), 1);
        let merged = set.get(0).map(|i| (**i).clone());
        assert_eq!(
            merged,
            Some(Ioc {
                value: "1.2.3.4:80".into(),
                port: Some(80),
                malware: "Remcos, AsyncRAT".into(),
                threat_type: "botnet_cc".into(),
                confidence: Some(75),
                first_seen: Timestamp::parse("2026-05-01 10:00:00"),
                last_seen: Timestamp::parse("2026-05-10"),
                source: "ThreatFox, c2.txt".into(),
                reference: Some("https://example.org/r".into()),
            })
        );
    }

    #[test]
    fn merged_name_lists_are_bounded() {
        let mut names = String::new();
        for n in ["a", "b", "A", "c", "d", "e", "f"] {
            add_name(&mut names, n);
        }
        assert_eq!(names, "a, b, c, d");
    }
}
