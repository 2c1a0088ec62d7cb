//! Name IOCs: domains, URLs and domain suffixes from the same feeds as the address IOCs. The
//! packet path asks "is this host name (DNS query, TLS SNI, HTTP `Host`) or this URL an IOC?";
//! the answer is one hash probe on a stack-normalised name, plus one probe per label when the
//! set holds suffix IOCs at all (never implied: only a `*.example.org` entry, or a feed that
//! opts in, makes one).
//!
//! Compiled once beside the address set in [`IocSet`](super::IocSet), immutable, shared.

mod normalize;
mod url;

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

pub use normalize::{
    normalize_name, split_port, strip_port, wire_name, NameError, MAX_LABEL, MAX_NAME,
};
pub use url::{normalize_url, request_key, UrlIoc, MAX_URL_PATH, URL_KEY_BUF};

use super::builder::{Inserted, Merging};
use super::Ioc;

/// What a name IOC matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// Exactly this host name.
    Domain,
    /// This host name and every name below it (`*.duckdns.org`).
    Suffix,
    /// Host[:port] and path of an HTTP request.
    Url,
}

impl NameKind {
    pub fn label(self) -> &'static str {
        match self {
            NameKind::Domain => "domain",
            NameKind::Suffix => "suffix",
            NameKind::Url => "url",
        }
    }
}

/// One name indicator. `ioc` holds the same feed metadata as an address IOC (its `value` is
/// the display form: `evil.duckdns.org`, `*.duckdns.org`, `http://evil.example/gate.php`) and
/// is shared (`Arc`) so a record can carry it past a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameIoc {
    pub kind: NameKind,
    /// The normalised lookup key: the host name (without `*.` for a suffix), or for a URL
    /// `host[:port]/path[?query]`.
    pub name: String,
    pub ioc: Arc<Ioc>,
}

/// The immutable name lookup structure (empty when no feed carries names). The lookup keys
/// live end to end in one buffer (`keys`) and each kind's table holds [`Key`]s into it: building
/// the set copies every key once into a buffer sized up front instead of allocating a box per
/// name, and a lookup reads the same memory a map with boxed keys would (control bytes, slot,
/// key bytes) without touching the [`NameIoc`] until it hits.
#[derive(Debug, Default)]
pub struct NameSet {
    names: Vec<NameIoc>,
    keys: Vec<u8>,
    domains: HashTable<Key>,
    suffixes: HashTable<Key>,
    urls: HashTable<Key>,
    hasher: foldhash::fast::RandomState,
}

/// One table slot: where the key sits in [`NameSet::keys`] and which entry it names.
#[derive(Clone, Copy, Debug)]
struct Key {
    start: u32,
    len: u32,
    idx: u32,
}

impl NameSet {
    /// False when no name IOC is loaded: the packet path then skips every name parser.
    #[inline]
    pub fn has_names(&self) -> bool {
        !self.names.is_empty()
    }

    /// Does a host name seen on the wire (DNS qname in dotted form, SNI, HTTP `Host` with an
    /// optional `:port`, any case, optional trailing dot) match a domain or suffix IOC? An
    /// exact domain wins over a suffix; of several suffixes the longest wins. URL IOCs never
    /// match a bare host.
    #[inline]
    pub fn match_host(&self, host: &[u8]) -> Option<&NameIoc> {
        if self.domains.is_empty() && self.suffixes.is_empty() {
            return None;
        }
        let mut buf = [0u8; 255];
        let name = wire_name(host, &mut buf)?;
        if let Some(hit) = self.find(&self.domains, name) {
            return Some(hit);
        }
        if self.suffixes.is_empty() {
            return None;
        }
        let mut rest = name;
        loop {
            if let Some(hit) = self.find(&self.suffixes, rest) {
                return Some(hit);
            }
            let dot = rest.iter().position(|&b| b == b'.')?;
            rest = rest.get(dot + 1..)?;
        }
    }

    /// Does an HTTP request (its `Host` header or absolute-URI host, with an optional `:port`,
    /// and its origin-form target `/path?query`) match a URL IOC? See [`url`] for the rules:
    /// exact path, query ignored unless the IOC names one, ports 80/443 not compared.
    #[inline]
    pub fn match_url(&self, host: &[u8], path: &[u8]) -> Option<&NameIoc> {
        if self.urls.is_empty() {
            return None;
        }
        let mut buf = [0u8; URL_KEY_BUF];
        let key = request_key(host, path, &mut buf)?;
        if let Some(hit) = self.find(&self.urls, key) {
            return Some(hit);
        }
        let query = key.iter().position(|&b| b == b'?')?;
        self.find(&self.urls, key.get(..query)?)
    }

    /// The entry of `table` whose key is `key`.
    #[inline]
    fn find(&self, table: &HashTable<Key>, key: &[u8]) -> Option<&NameIoc> {
        let slot = table.find(self.hasher.hash_one(key), |k| self.key(k) == Some(key))?;
        self.names.get(slot.idx as usize)
    }

    #[inline]
    fn key(&self, k: &Key) -> Option<&[u8]> {
        let start = k.start as usize;
        self.keys.get(start..start + k.len as usize)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &NameIoc> {
        self.names.iter()
    }

    /// How many of each kind, for `c2tap iocs`.
    pub fn count(&self, kind: NameKind) -> usize {
        match kind {
            NameKind::Domain => self.domains.len(),
            NameKind::Suffix => self.suffixes.len(),
            NameKind::Url => self.urls.len(),
        }
    }
}

/// Collects name IOCs while feeds load: one entry per (kind, key), repeated IOCs merge their
/// metadata like address IOCs do.
#[derive(Debug, Default)]
pub struct NameSetBuilder {
    entries: Merging<(NameKind, String)>,
}

impl NameSetBuilder {
    /// Adds a normalised name (`name` is the key: see [`NameIoc::name`]); `ioc.value` is
    /// its display form.
    pub fn insert(&mut self, kind: NameKind, name: String, ioc: Ioc) -> Inserted {
        self.entries.insert((kind, name), ioc)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn build(self) -> NameSet {
        let names: Vec<NameIoc> = self
            .entries
            .into_entries()
            .map(|((kind, name), ioc)| NameIoc { kind, name, ioc })
            .collect();
        let count = |kind| names.iter().filter(|n| n.kind == kind).count();
        let mut set = NameSet {
            keys: Vec::with_capacity(names.iter().map(|n| n.name.len()).sum()),
            domains: HashTable::with_capacity(count(NameKind::Domain)),
            suffixes: HashTable::with_capacity(count(NameKind::Suffix)),
            urls: HashTable::with_capacity(count(NameKind::Url)),
            ..NameSet::default()
        };
        let hasher = set.hasher.clone();
        for (idx, n) in names.iter().enumerate() {
            let (Ok(idx), Ok(start), Ok(len)) = (
                u32::try_from(idx),
                u32::try_from(set.keys.len()),
                u32::try_from(n.name.len()),
            ) else {
                break;
            };
            set.keys.extend_from_slice(n.name.as_bytes());
            let table = match n.kind {
                NameKind::Domain => &mut set.domains,
                NameKind::Suffix => &mut set.suffixes,
                NameKind::Url => &mut set.urls,
            };
            // Sized up front, so no table grows and the rehash closure does not run.
            let keys = &set.keys;
            let rehash = |k: &Key| {
                let start = k.start as usize;
                hasher.hash_one(keys.get(start..start + k.len as usize).unwrap_or_default())
            };
            let key = Key { start, len, idx };
            table.insert_unique(hasher.hash_one(n.name.as_bytes()), key, rehash);
        }
        set.names = names;
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(value: &str) -> Ioc {
        Ioc {
            value: value.into(),
            port: None,
            malware: "Remcos".into(),
            threat_type: "botnet_cc".into(),
            confidence: Some(80),
            first_seen: crate::units::Timestamp::parse("2026-05-09"),
            last_seen: None,
            source: "ThreatFox".into(),
            reference: None,
        }
    }

    pub(crate) fn set_of(entries: &[(NameKind, &str)]) -> NameSet {
        let mut builder = NameSetBuilder::default();
        for &(kind, text) in entries {
            let (key, display) = match kind {
                NameKind::Url => {
                    let u = normalize_url(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                    (u.key, u.display)
                }
                NameKind::Domain => {
                    let n = normalize_name(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                    (n.clone(), n)
                }
                NameKind::Suffix => {
                    let n = normalize_name(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                    (n.clone(), format!("*.{n}"))
                }
            };
            builder.insert(kind, key, meta(&display));
        }
        builder.build()
    }

    fn host(set: &NameSet, host: &str) -> Option<String> {
        set.match_host(host.as_bytes()).map(|n| n.ioc.value.clone())
    }

    fn url(set: &NameSet, h: &str, p: &str) -> Option<String> {
        set.match_url(h.as_bytes(), p.as_bytes())
            .map(|n| n.ioc.value.clone())
    }

    #[test]
    fn an_empty_set_has_no_names_and_matches_nothing() {
        let set = NameSet::default();
        assert!(!set.has_names());
        assert_eq!(host(&set, "evil.duckdns.org"), None);
        assert_eq!(url(&set, "evil.example", "/"), None);
    }

    #[test]
    fn exact_names_match_whatever_the_wire_case_dot_or_port() {
        let set = set_of(&[
            (NameKind::Domain, "Evil.DuckDNS.org."),
            (NameKind::Domain, "bücher.example"),
        ]);
        assert!(set.has_names());
        let hit = Some("evil.duckdns.org".to_string());
        for wire in [
            "evil.duckdns.org",
            "EVIL.DUCKDNS.ORG",
            "evil.duckdns.org.",
            "evil.duckdns.org:443",
        ] {
            assert_eq!(host(&set, wire), hit, "{wire}");
        }
        assert_eq!(
            host(&set, "xn--bcher-kva.example"),
            Some("xn--bcher-kva.example".into())
        );
        // Exact by default: neither a child nor the parent matches.
        assert_eq!(host(&set, "a.evil.duckdns.org"), None);
        assert_eq!(host(&set, "duckdns.org"), None);
        assert_eq!(host(&set, "evil.duckdns.org.evil"), None);
        assert_eq!(host(&set, ""), None);
    }

    #[test]
    fn suffixes_match_the_name_and_below_longest_first() {
        let set = set_of(&[
            (NameKind::Suffix, "duckdns.org"),
            (NameKind::Suffix, "c2.duckdns.org"),
            (NameKind::Domain, "x.c2.duckdns.org"),
        ]);
        assert_eq!(host(&set, "duckdns.org"), Some("*.duckdns.org".into()));
        assert_eq!(host(&set, "A.B.DuckDNS.org."), Some("*.duckdns.org".into()));
        assert_eq!(
            host(&set, "y.c2.duckdns.org"),
            Some("*.c2.duckdns.org".into())
        );
        assert_eq!(
            host(&set, "x.c2.duckdns.org"),
            Some("x.c2.duckdns.org".into())
        );
        assert_eq!(host(&set, "notduckdns.org"), None);
        assert_eq!(host(&set, "duckdns.org.example"), None);
    }

    #[test]
    fn urls_match_host_port_and_path() {
        let set = set_of(&[
            (NameKind::Url, "http://evil.example/gate.php"),
            (NameKind::Url, "http://evil.example:8080/panel/?id=7"),
        ]);
        assert_eq!(
            host(&set, "evil.example"),
            None,
            "a URL IOC is no domain IOC"
        );
        let gate = Some("http://evil.example/gate.php".to_string());
        assert_eq!(url(&set, "evil.example", "/gate.php"), gate);
        assert_eq!(url(&set, "EVIL.example:80", "/gate.php?x=1"), gate);
        assert_eq!(url(&set, "evil.example", "/Gate.php"), None);
        assert_eq!(url(&set, "evil.example", "/gate.php/x"), None);
        assert_eq!(url(&set, "evil.example:81", "/gate.php"), None);
        let panel = Some("http://evil.example:8080/panel/?id=7".to_string());
        assert_eq!(url(&set, "evil.example:8080", "/panel/?id=7"), panel);
        assert_eq!(url(&set, "evil.example:8080", "/panel/?id=8"), None);
        assert_eq!(url(&set, "evil.example:8080", "/panel/"), None);
    }

    #[test]
    fn repeated_names_merge() {
        let mut builder = NameSetBuilder::default();
        let key = || "evil.example".to_string();
        assert_eq!(
            builder.insert(NameKind::Domain, key(), meta("evil.example")),
            Inserted::New
        );
        let mut other = meta("evil.example");
        other.source = "c2.txt".into();
        assert_eq!(
            builder.insert(NameKind::Domain, key(), other),
            Inserted::Merged
        );
        assert_eq!(
            builder.insert(NameKind::Suffix, key(), meta("*.evil.example")),
            Inserted::New
        );
        let set = builder.build();
        assert_eq!(set.len(), 2);
        assert_eq!(set.count(NameKind::Domain), 1);
        assert_eq!(set.count(NameKind::Suffix), 1);
        assert_eq!(
            set.match_host(b"evil.example")
                .map(|n| n.ioc.source.as_str()),
            Some("ThreatFox, c2.txt")
        );
    }
}
