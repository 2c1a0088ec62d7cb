//! TAXII 2.1 (OASIS): discovery → API root → the collection → its objects, page by page
//! (`more`/`next`), every request with `Accept: application/taxii+json;version=2.1`. The first
//! poll (and every `full_interval`) reads the whole collection; later polls ask only for
//! objects `added_after` the last page's `X-TAXII-Date-Added-Last` and merge them by STIX id
//! (the newer `modified` wins). The result is a STIX 2.1 bundle for the existing STIX loader.

use serde_json::{Map, Value};

use super::http::{Client, HttpError, Request};
use super::source::{Fetch, Reason};

pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// A bound on pages per poll: a server that always says `more` cannot keep the fetcher busy.
const MAX_PAGES: usize = 10_000;
/// Objects asked for per page (servers may send fewer).
const PAGE_LIMIT: usize = 1000;

/// Everything one poll got.
pub struct Polled {
    pub objects: Vec<Value>,
    /// The next poll's `added_after`.
    pub added_last: Option<String>,
}

/// Reads the collection; `added_after` limits it to what was added since.
pub fn poll(
    client: &Client,
    discovery: &str,
    collection: &str,
    auth: &[(String, String)],
    added_after: Option<&str>,
    fetch: &mut Fetch,
) -> Result<Polled, HttpError> {
    let get = |url: &str, fetch: &mut Fetch| -> Result<Value, HttpError> {
        let mut headers = vec![("Accept".to_string(), MEDIA_TYPE.to_string())];
        headers.extend(auth.iter().cloned());
        let reply = fetch.send(client, Request::get(url, headers))?;
        Reason::check_status(reply.status, url)?;
        let value: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| Reason::NotAFeed.error(format!("{url}: not TAXII JSON ({e})")))?;
        fetch.added_last = reply.date_added_last.or(fetch.added_last.take());
        Ok(value)
    };
    let root = api_root(discovery, &get(discovery, fetch)?)?;
    let collections = get(&format!("{root}collections/"), fetch)?;
    let found = collections
        .get("collections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| {
            c.get("id").and_then(Value::as_str) == Some(collection)
                || c.get("title").and_then(Value::as_str) == Some(collection)
        })
        .ok_or_else(|| {
            Reason::Config.error(format!("collection `{collection}` is not listed at {root}"))
        })?;
    if found.get("can_read").and_then(Value::as_bool) == Some(false) {
        return Err(Reason::Auth.error(format!("collection `{collection}`: can_read is false")));
    }
    let id = found
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(collection);
    let base = format!("{root}collections/{id}/objects/?limit={PAGE_LIMIT}");
    let mut objects = Vec::new();
    let mut next: Option<String> = None;
    fetch.added_last = None;
    for _ in 0..MAX_PAGES {
        let mut url = base.clone();
        if let Some(after) = added_after {
            url.push_str(&format!("&added_after={}", query_escape(after)));
        }
        if let Some(n) = &next {
            url.push_str(&format!("&next={}", query_escape(n)));
        }
        let page = get(&url, fetch)?;
        if let Some(Value::Array(objs)) = page.get("objects") {
            objects.extend(objs.iter().cloned());
        }
        let more = page.get("more").and_then(Value::as_bool).unwrap_or(false);
        next = page.get("next").and_then(Value::as_str).map(str::to_string);
        if !more {
            return Ok(Polled {
                objects,
                added_last: fetch.added_last.clone(),
            });
        }
        if next.is_none() {
            return Err(Reason::NotAFeed.error("`more` without `next`".into()));
        }
        if fetch
            .deadline
            .is_some_and(|d| std::time::Instant::now() > d)
        {
            return Err(Reason::Timeout.error(format!(
                "the collection's pages took longer than 10 x timeout ({} pages so far)",
                fetch.requests
            )));
        }
        if fetch.bytes > fetch.max_bytes {
            return Err(Reason::TooLarge.error(format!(
                "the collection is larger than max_bytes ({})",
                fetch.max_bytes
            )));
        }
    }
    Err(Reason::TooLarge.error(format!("more than {MAX_PAGES} pages")))
}

/// The API root: the discovery's `default`, else its first `api_roots` entry; relative URLs
/// resolve against the discovery URL's origin. Always ends in `/`.
fn api_root(discovery: &str, doc: &Value) -> Result<String, HttpError> {
    let root = doc
        .get("default")
        .and_then(Value::as_str)
        .or_else(|| {
            doc.get("api_roots")
                .and_then(Value::as_array)
                .and_then(|r| r.first())
                .and_then(Value::as_str)
        })
        .ok_or_else(|| Reason::NotAFeed.error("the discovery names no API root".into()))?;
    let mut url = if root.contains("://") {
        root.to_string()
    } else {
        let origin_end = discovery
            .find("://")
            .and_then(|i| discovery[i + 3..].find('/').map(|j| i + 3 + j))
            .unwrap_or(discovery.len());
        format!(
            "{}/{}",
            &discovery[..origin_end],
            root.trim_start_matches('/')
        )
    };
    if !url.ends_with('/') {
        url.push('/');
    }
    Ok(url)
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A STIX 2.1 bundle of `objects`.
pub fn bundle(objects: Vec<Value>) -> Vec<u8> {
    let doc = serde_json::json!({
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": objects,
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// The objects of a cached bundle.
pub fn objects_of(body: &[u8]) -> Vec<Value> {
    serde_json::from_slice::<Map<String, Value>>(body)
        .ok()
        .and_then(|mut m| match m.remove("objects") {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        })
        .unwrap_or_default()
}

/// Merges by STIX `id`; the later `modified` (else the newcomer) wins.
pub fn merge(old: Vec<Value>, new: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::with_capacity(old.len() + new.len());
    let mut index = std::collections::HashMap::new();
    let modified = |v: &Value| {
        v.get("modified")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for obj in old.into_iter().chain(new) {
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match index.get(&id) {
            Some(&i) => {
                if let Some(slot) = merged.get_mut(i) {
                    if modified(&obj) >= modified(slot) {
                        *slot = obj;
                    }
                }
            }
            None => {
                index.insert(id, merged.len());
                merged.push(obj);
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_root_resolves_relative_and_absolute() {
        let d = "https://cti.example:8443/taxii2/";
        let doc = serde_json::json!({"api_roots": ["/trustgroup1/"]});
        assert_eq!(
            api_root(d, &doc).unwrap(),
            "https://cti.example:8443/trustgroup1/"
        );
        let doc = serde_json::json!({"default": "https://other.example/api1", "api_roots": []});
        assert_eq!(api_root(d, &doc).unwrap(), "https://other.example/api1/");
        assert!(api_root(d, &serde_json::json!({})).is_err());
    }

    #[test]
    fn merge_keeps_the_newest_version_of_each_object() {
        let o = |id: &str, m: &str| serde_json::json!({"id": id, "modified": m});
        let merged = merge(
            vec![o("a", "2026-01-02"), o("b", "2026-01-01")],
            vec![
                o("a", "2026-01-01"),
                o("b", "2026-01-03"),
                o("c", "2026-01-01"),
            ],
        );
        assert_eq!(
            merged,
            vec![
                o("a", "2026-01-02"),
                o("b", "2026-01-03"),
                o("c", "2026-01-01")
            ]
        );
        assert_eq!(
            query_escape("2026-01-01T00:00:00.000Z"),
            "2026-01-01T00%3A00%3A00.000Z"
        );
    }
}
