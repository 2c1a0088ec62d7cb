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
mod set;
mod stats;
mod stix;
mod text;
mod threatfox_csv;
mod threatfox_json;
mod timestamp;

use std::collections::HashMap;
use std::net::IpAddr;

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
pub use set::IocSet;
pub use stats::{
    FileStats, FilterCounts, LoadStats, RejectCounts, RejectDetail, MAX_REJECT_DETAILS,
};
pub use text::{FormatError, MAX_LINE_BYTES};
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
    /// First/last seen, parsed once at load (UTC; shown as `YYYY-MM-DD` or
    /// `YYYY-MM-DD HH:MM:SS`, as precise as the feed gave it).
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
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

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
            first_seen: Timestamp::parse("2026-05-09"),
            last_seen: None,
            source: "ThreatFox".into(),
            reference: None,
        };
        (endpoint, ioc)
    })
}
