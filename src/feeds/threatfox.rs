//! The ThreatFox API (`POST` JSON with an `Auth-Key` header). Its errors come back as HTTP 200
//! with a `query_status` (`unknown_auth_key`, `illegal_*`, `no_result`): each is read here and
//! turned into a reason, so an expired key never looks like an empty feed. An incremental
//! source (`get_iocs` with `days`) asks for one day after its first fetch and merges by IOC id
//! into the last set, dropping IOCs older than `max_age`; every `full_interval` the configured
//! query replaces the set whole, which is how IOCs ThreatFox deleted disappear.

use serde_json::{Map, Value};

use super::http::{Client, HttpError, Request};
use super::source::{Fetch, Reason};

/// What the API answered, once its `query_status` is read.
pub enum Answer {
    /// `query_status: ok` with the `data` array.
    Rows(Vec<Value>),
    /// `no_result`: a valid "nothing matched".
    NoResult,
}

/// Sends `query` (JSON text) with the key; `days_override` replaces `days` (incremental poll).
pub fn ask(
    client: &Client,
    url: &str,
    query: &str,
    key: &str,
    days_override: Option<u64>,
    fetch: &mut Fetch,
) -> Result<Answer, HttpError> {
    let mut body: Map<String, Value> = serde_json::from_str(query).unwrap_or_default();
    if let Some(days) = days_override {
        body.insert("days".into(), days.into());
    }
    let request = Request {
        url,
        headers: vec![
            ("Auth-Key".into(), key.to_string()),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(serde_json::to_vec(&body).unwrap_or_default()),
    };
    let reply = fetch.send(client, request)?;
    Reason::check_status(reply.status, url)?;
    answer(&reply.body)
}

/// Reads an API reply body.
pub fn answer(body: &[u8]) -> Result<Answer, HttpError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        let html = body.iter().take(512).any(|&b| b == b'<');
        Reason::NotAFeed.error(match html {
            true => "an HTML page, not the API's JSON".to_string(),
            false => format!("not JSON ({e})"),
        })
    })?;
    let status = doc
        .get("query_status")
        .and_then(Value::as_str)
        .unwrap_or("");
    match status {
        "ok" => match doc.get("data") {
            Some(Value::Array(rows)) => Ok(Answer::Rows(rows.clone())),
            _ => Err(Reason::NotAFeed.error("query_status ok without a data array".into())),
        },
        "no_result" => Ok(Answer::NoResult),
        "unknown_auth_key" | "invalid_auth_key" => Err(Reason::Auth.error(format!(
            "ThreatFox answered `{status}`: the Auth-Key in auth_key_file is not valid"
        ))),
        "" => Err(Reason::NotAFeed.error("JSON without query_status".into())),
        other => Err(Reason::ApiError.error(format!("ThreatFox answered `{}`", clip(other)))),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The API document the loader reads, from rows.
pub fn document(rows: Vec<Value>) -> Vec<u8> {
    let doc = serde_json::json!({ "query_status": "ok", "data": rows });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// Rows of a cached API document.
pub fn rows_of(body: &[u8]) -> Vec<Value> {
    match answer(body) {
        Ok(Answer::Rows(rows)) => rows,
        _ => Vec::new(),
    }
}

/// Merges `new` into `old` by ThreatFox id (else the IOC value); a newer row replaces an
/// older. Rows whose last seen (else first seen) is older than `max_age_secs` before `now`
/// are dropped.
pub fn merge(old: Vec<Value>, new: Vec<Value>, now: u64, max_age_secs: u64) -> Vec<Value> {
    let key = |row: &Value| {
        row.get("id")
            .map(|v| v.to_string())
            .or_else(|| row.get("ioc").map(|v| v.to_string()))
            .unwrap_or_default()
    };
    let mut merged: Vec<Value> = Vec::with_capacity(old.len() + new.len());
    let mut index = std::collections::HashMap::new();
    for row in old.into_iter().chain(new) {
        let k = key(&row);
        match index.get(&k) {
            Some(&i) => {
                if let Some(slot) = merged.get_mut(i) {
                    *slot = row;
                }
            }
            None => {
                index.insert(k, merged.len());
                merged.push(row);
            }
        }
    }
    let cutoff = now.saturating_sub(max_age_secs) as i64;
    merged.retain(|row| {
        let seen = ["last_seen", "first_seen"]
            .iter()
            .filter_map(|f| row.get(*f).and_then(Value::as_str))
            .find_map(crate::ioc::Timestamp::parse);
        seen.is_none_or(|t| t.epoch_secs() >= cutoff)
    });
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, ioc: &str, first: &str, last: Option<&str>) -> Value {
        serde_json::json!({"id": id, "ioc": ioc, "ioc_type": "ip:port", "first_seen": first, "last_seen": last})
    }

    #[test]
    fn error_statuses_are_reasons_not_empty_feeds() {
        let reason = |body: &str| answer(body.as_bytes()).err().map(|e| e.reason);
        assert_eq!(
            reason(r#"{"query_status":"unknown_auth_key"}"#),
            Some(Reason::Auth)
        );
        assert_eq!(
            reason(r#"{"query_status":"illegal_days"}"#),
            Some(Reason::ApiError)
        );
        assert_eq!(
            reason("<html><body>502</body></html>"),
            Some(Reason::NotAFeed)
        );
        assert_eq!(reason(r#"{"data":[]}"#), Some(Reason::NotAFeed));
        assert_eq!(
            reason(r#"{"query_status":"ok","data":[{"id":"1""#),
            Some(Reason::NotAFeed)
        );
        assert!(matches!(
            answer(
                br#"{"query_status":"no_result","data":"Your search did not yield any results"}"#
            ),
            Ok(Answer::NoResult)
        ));
    }

    #[test]
    fn merge_replaces_by_id_and_expires_by_last_seen() {
        // now = 2026-05-10 00:00:00 UTC
        let now = 1_778_371_200;
        let old = vec![
            row("1", "1.1.1.1:80", "2026-05-01 00:00:00 UTC", None),
            row(
                "2",
                "2.2.2.2:80",
                "2026-04-01 00:00:00 UTC",
                Some("2026-05-09 00:00:00 UTC"),
            ),
            row("3", "3.3.3.3:80", "2026-04-01 00:00:00 UTC", None),
        ];
        let new = vec![
            row("1", "1.1.1.1:8080", "2026-05-01 00:00:00 UTC", None),
            row("4", "4.4.4.4:80", "2026-05-09 00:00:00 UTC", None),
        ];
        let merged = merge(old, new, now, 14 * 86_400);
        let iocs: Vec<&str> = merged.iter().filter_map(|r| r["ioc"].as_str()).collect();
        assert_eq!(iocs, ["1.1.1.1:8080", "2.2.2.2:80", "4.4.4.4:80"]);
    }
}
