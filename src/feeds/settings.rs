//! `[[iocs.source]]`: what the config file says about a fetched feed, and the validated,
//! typed settings the fetcher uses. Two stages like the rest of the config: serde structs with
//! `deny_unknown_fields`, then [`validate`] which reports every problem with its key path.
//! `config` only holds the raw list and calls [`validate`]; the rules live here, beside the
//! fetcher that depends on them.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

mod validate;
pub use validate::{validate, Units};

/// Where the last good copy of every source is kept (README "Fetched feeds").
pub const DEFAULT_STATE_DIR: &str = "/var/lib/c2tap/feeds";
/// ThreatFox's API endpoint, used when a `threatfox-api` source names no `url`.
pub const THREATFOX_API: &str = "https://threatfox-api.abuse.ch/api/v1/";

/// One `[[iocs.source]]` table as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub name: String,
    pub kind: String,
    pub url: Option<String>,
    /// `threatfox-api`: the JSON body, e.g. `{ query = "get_iocs", days = 7 }`.
    pub query: Option<toml::Table>,
    pub auth_key_file: Option<String>,
    /// `taxii21`: the collection's id (or title).
    pub collection: Option<String>,
    pub username_file: Option<String>,
    pub password_file: Option<String>,
    /// `taxii21`: an API key sent in this header instead of Basic auth.
    pub api_key_header: Option<String>,
    pub api_key_file: Option<String>,
    pub interval: Option<String>,
    /// Incremental sources: how often a full fetch replaces the merged set.
    pub full_interval: Option<String>,
    /// Incremental sources: IOCs last seen (else first seen) longer ago are dropped on merge.
    pub max_age: Option<String>,
    pub timeout: Option<String>,
    pub max_bytes: Option<ByteCount>,
    pub ca_file: Option<String>,
    pub min_confidence: Option<u8>,
    /// A new set smaller than this fraction of the last good one is refused (0 = off).
    pub max_shrink: Option<f64>,
}

/// `max_bytes = 1048576` or `max_bytes = "64MiB"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ByteCount {
    Bytes(u64),
    Text(String),
}

/// A validated source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Letters, digits, `-` and `_`: a metric label, a file name and the IOCs' `source`.
    pub name: String,
    pub kind: Kind,
    pub interval: Duration,
    pub timeout: Duration,
    pub max_bytes: u64,
    pub ca_file: Option<PathBuf>,
    pub min_confidence: Option<u8>,
    /// Per mille of the last good set a new one must keep (0 = off).
    pub max_shrink_permille: u16,
    pub full_interval: Duration,
    pub max_age: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    ThreatfoxApi {
        url: String,
        /// The request body, JSON text (kept as text so settings compare for equality).
        query: String,
        auth_key_file: PathBuf,
        /// `get_iocs` with `days`: later polls ask for one day and merge.
        incremental: bool,
    },
    Https {
        url: String,
    },
    Taxii21 {
        url: String,
        collection: String,
        auth: TaxiiAuth,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaxiiAuth {
    None,
    Basic {
        username_file: PathBuf,
        password_file: PathBuf,
    },
    Header {
        name: String,
        value_file: PathBuf,
    },
}

impl Kind {
    pub fn label(&self) -> &'static str {
        match self {
            Kind::ThreatfoxApi { .. } => "threatfox-api",
            Kind::Https { .. } => "https",
            Kind::Taxii21 { .. } => "taxii21",
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Kind::ThreatfoxApi { url, .. } | Kind::Https { url } | Kind::Taxii21 { url, .. } => url,
        }
    }

    /// Whether later polls fetch only what is new and merge it into the last set.
    pub fn incremental(&self) -> bool {
        match self {
            Kind::ThreatfoxApi { incremental, .. } => *incremental,
            Kind::Https { .. } => false,
            Kind::Taxii21 { .. } => true,
        }
    }
}

/// The fetcher's settings: every source and where their last good copies live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchSettings {
    pub sources: Vec<Source>,
    pub state_dir: PathBuf,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            sources: Vec::new(),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
        }
    }
}

impl FetchSettings {
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
