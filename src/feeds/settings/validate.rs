//! [`validate`]: the rules that turn `[[iocs.source]]` as written into [`Source`]s, every
//! problem reported with its key path.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    ByteCount, FetchSettings, Kind, RawSource, Source, TaxiiAuth, DEFAULT_STATE_DIR, THREATFOX_API,
};

/// The config's unit parsers, handed in so durations and sizes read as everywhere else.
pub struct Units {
    pub duration: fn(&str) -> Result<Duration, String>,
    pub size: fn(&str) -> Result<u64, String>,
}

const KINDS: [&str; 3] = ["threatfox-api", "https", "taxii21"];
/// Short enough for tests and a local mirror; public feeds document their own polite rates.
const MIN_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Converts `[[iocs.source]]` (and `iocs.state_dir`), calling `fail(key, message)` for every
/// problem. Files named here must exist and be readable now: a typo found at 3 a.m. by the
/// first fetch is a feed that silently never loads.
pub fn validate(
    raw: &[RawSource],
    state_dir: Option<&str>,
    units: &Units,
    fail: &mut dyn FnMut(String, String),
) -> FetchSettings {
    let mut sources = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = |k: &str| format!("iocs.source[{i}].{k}");
        let mut bad = |k: &str, m: String| fail(key(k), m);
        let name_ok = !r.name.is_empty()
            && r.name.len() <= 64
            && r.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            bad(
                "name",
                "must be 1-64 letters, digits, - or _ (it names a file and a metric label)".into(),
            );
        }
        if raw[..i].iter().any(|o| o.name == r.name) {
            bad("name", format!("`{}` is used by an earlier source", r.name));
        }
        let duration = |k: &str,
                        text: Option<&str>,
                        default: Duration,
                        min,
                        bad: &mut dyn FnMut(&str, String)| {
            let Some(text) = text else { return default };
            match (units.duration)(text) {
                Ok(d) if d >= min => d,
                Ok(_) => {
                    bad(k, format!("must be at least {}s", min.as_secs()));
                    default
                }
                Err(e) => {
                    bad(k, e);
                    default
                }
            }
        };
        let interval = duration(
            "interval",
            r.interval.as_deref(),
            Duration::from_secs(3600),
            MIN_INTERVAL,
            &mut bad,
        );
        let timeout = duration(
            "timeout",
            r.timeout.as_deref(),
            Duration::from_secs(60),
            Duration::from_secs(1),
            &mut bad,
        );
        let full_interval = duration(
            "full_interval",
            r.full_interval.as_deref(),
            Duration::from_secs(86_400).max(interval),
            interval,
            &mut bad,
        );
        let max_age = duration(
            "max_age",
            r.max_age.as_deref(),
            Duration::from_secs(7 * 86_400),
            MIN_INTERVAL,
            &mut bad,
        );
        let max_bytes = match &r.max_bytes {
            None => DEFAULT_MAX_BYTES,
            Some(ByteCount::Bytes(n)) => *n,
            Some(ByteCount::Text(t)) => (units.size)(t).unwrap_or_else(|e| {
                bad("max_bytes", e);
                DEFAULT_MAX_BYTES
            }),
        };
        if max_bytes == 0 || max_bytes > crate::ioc::MAX_FEED_BYTES {
            bad(
                "max_bytes",
                format!("must be between 1 and {} bytes", crate::ioc::MAX_FEED_BYTES),
            );
        }
        if let Some(c) = r.min_confidence {
            if !crate::ioc::CONFIDENCE.contains(&c) {
                bad("min_confidence", "must be between 0 and 100".into());
            }
        }
        let shrink = r.max_shrink.unwrap_or(0.5);
        if !(0.0..1.0).contains(&shrink) {
            bad(
                "max_shrink",
                "must be a fraction from 0 (off) up to, not including, 1".into(),
            );
        }
        let ca_file = r
            .ca_file
            .as_deref()
            .map(|f| readable(f, "ca_file", &mut bad));
        let kind = kind(r, &mut bad);
        if let Some(kind) = kind {
            sources.push(Source {
                name: r.name.clone(),
                kind,
                interval,
                timeout,
                max_bytes,
                ca_file,
                min_confidence: r.min_confidence,
                max_shrink_permille: (shrink.clamp(0.0, 0.999) * 1000.0) as u16,
                full_interval,
                max_age,
            });
        }
    }
    FetchSettings {
        sources,
        state_dir: PathBuf::from(state_dir.unwrap_or(DEFAULT_STATE_DIR)),
    }
}

/// The path, after checking it can be read now (by whoever runs the check: `check-config` as
/// the service user tells the truth about the service).
fn readable(path: &str, key: &str, bad: &mut dyn FnMut(&str, String)) -> PathBuf {
    if let Err(e) = std::fs::File::open(path) {
        bad(key, format!("cannot read `{path}`: {e}"));
    }
    PathBuf::from(path)
}

fn url(r: &RawSource, default: Option<&str>, bad: &mut dyn FnMut(&str, String)) -> String {
    let Some(url) = r.url.as_deref().or(default) else {
        bad("url", format!("a `{}` source needs a url", r.kind));
        return String::new();
    };
    // Only HTTPS: indicators steer alerts, and a key must never cross the network in clear.
    // Loopback plain HTTP is allowed for a local mirror.
    let ok = match url.split_once("://") {
        Some(("https", rest)) => !rest.is_empty(),
        Some(("http", rest)) => ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|h| rest.starts_with(h)),
        _ => false,
    };
    if !ok {
        bad(
            "url",
            format!("`{url}` is not an https:// URL (plain http only on loopback)"),
        );
    }
    url.to_string()
}

fn kind(r: &RawSource, bad: &mut dyn FnMut(&str, String)) -> Option<Kind> {
    // Keys of one kind set on another are mistakes (a collection on an HTTPS export).
    let used_by: [(&str, bool, &str); 7] = [
        ("query", r.query.is_some(), "threatfox-api"),
        ("auth_key_file", r.auth_key_file.is_some(), "threatfox-api"),
        ("collection", r.collection.is_some(), "taxii21"),
        ("username_file", r.username_file.is_some(), "taxii21"),
        ("password_file", r.password_file.is_some(), "taxii21"),
        ("api_key_header", r.api_key_header.is_some(), "taxii21"),
        ("api_key_file", r.api_key_file.is_some(), "taxii21"),
    ];
    for (key, set, kind) in used_by {
        if set && r.kind != kind && KINDS.contains(&r.kind.as_str()) {
            bad(key, format!("not used by a `{}` source", r.kind));
        }
    }
    match r.kind.as_str() {
        "threatfox-api" => {
            let url = url(r, Some(THREATFOX_API), bad);
            let Some(file) = r.auth_key_file.as_deref() else {
                bad(
                    "auth_key_file",
                    "ThreatFox requires an Auth-Key: name the file holding it".into(),
                );
                return None;
            };
            let auth_key_file = readable(file, "auth_key_file", bad);
            let query = r.query.clone().unwrap_or_else(|| {
                let mut t = toml::Table::new();
                t.insert("query".into(), "get_iocs".into());
                t.insert("days".into(), 7.into());
                t
            });
            let incremental = query.get("query").and_then(|q| q.as_str()) == Some("get_iocs")
                && query.contains_key("days");
            match query.get("query").and_then(|q| q.as_str()) {
                Some(q) if !q.is_empty() => {}
                _ => bad(
                    "query",
                    "needs `query = \"...\"` (e.g. get_iocs, malwareinfo)".into(),
                ),
            }
            let query = serde_json::to_string(&query).unwrap_or_default();
            Some(Kind::ThreatfoxApi {
                url,
                query,
                auth_key_file,
                incremental,
            })
        }
        "https" => Some(Kind::Https {
            url: url(r, None, bad),
        }),
        "taxii21" => {
            let url = url(r, None, bad);
            let collection = r.collection.clone().unwrap_or_else(|| {
                bad(
                    "collection",
                    "a `taxii21` source needs a collection id".into(),
                );
                String::new()
            });
            let auth = match (
                &r.username_file,
                &r.password_file,
                &r.api_key_header,
                &r.api_key_file,
            ) {
                (None, None, None, None) => TaxiiAuth::None,
                (Some(u), Some(p), None, None) => TaxiiAuth::Basic {
                    username_file: readable(u, "username_file", bad),
                    password_file: readable(p, "password_file", bad),
                },
                (None, None, Some(h), Some(f)) => {
                    let ok =
                        !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                    if !ok {
                        bad("api_key_header", format!("`{h}` is not a header name"));
                    }
                    TaxiiAuth::Header {
                        name: h.clone(),
                        value_file: readable(f, "api_key_file", bad),
                    }
                }
                _ => {
                    bad(
                        "username_file",
                        "give username_file and password_file, or api_key_header and \
                         api_key_file, or none"
                            .into(),
                    );
                    TaxiiAuth::None
                }
            };
            Some(Kind::Taxii21 {
                url,
                collection,
                auth,
            })
        }
        other => {
            bad(
                "kind",
                format!("`{other}` is not one of threatfox-api, https, taxii21"),
            );
            None
        }
    }
}
