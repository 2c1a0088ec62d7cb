//! One fetch of one source, whatever its kind: the requests (conditional where the publisher
//! supports it), the merge of an incremental answer into the last good body, and the reason
//! when it fails. Nothing here decides whether the body is a feed: [`super::attempt`] loads it
//! through the IOC loader before it may replace anything.

use base64::Engine as _;

use super::cache::{Cached, Meta};
use super::http::{Client, HttpError, Reply, Request};
use super::settings::{Kind, Source, TaxiiAuth};
use super::{taxii, threatfox};

/// Why a fetch failed: the `reason` label of `c2tap_feed_fetch_failures_total` (a closed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No answer within the source's `timeout`.
    Timeout,
    /// DNS, refused, reset, proxy refused.
    Connect,
    Tls,
    /// An HTTP status other than 200/304 (401/403 are `Auth`).
    HttpStatus,
    /// The key or credentials were refused (HTTP 401/403, ThreatFox `unknown_auth_key`).
    Auth,
    /// ThreatFox answered another `query_status` (`illegal_*`, …).
    ApiError,
    /// Larger than `max_bytes`.
    TooLarge,
    /// The connection ended before the body did, or the body does not parse to its end.
    Truncated,
    /// HTML, JSON that is no feed, rows of which none is an IOC.
    NotAFeed,
    /// A valid answer with nothing in it where a full set was expected.
    Empty,
    /// Smaller than the last good set by more than `max_shrink`.
    Shrink,
    /// The cached copy is corrupt or cannot be written.
    Cache,
    /// A key, password or CA file cannot be read.
    Config,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Reason::Timeout,
        Reason::Connect,
        Reason::Tls,
        Reason::HttpStatus,
        Reason::Auth,
        Reason::ApiError,
        Reason::TooLarge,
        Reason::Truncated,
        Reason::NotAFeed,
        Reason::Empty,
        Reason::Shrink,
        Reason::Cache,
        Reason::Config,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Connect => "connect",
            Reason::Tls => "tls",
            Reason::HttpStatus => "http_status",
            Reason::Auth => "auth",
            Reason::ApiError => "api_error",
            Reason::TooLarge => "too_large",
            Reason::Truncated => "truncated",
            Reason::NotAFeed => "not_a_feed",
            Reason::Empty => "empty",
            Reason::Shrink => "shrink",
            Reason::Cache => "cache",
            Reason::Config => "config",
        }
    }

    /// 200 passes; 401/403 are `Auth`; anything else is `HttpStatus`. `what` names the request.
    pub fn check_status(status: u16, what: &str) -> Result<(), HttpError> {
        match status {
            200 => Ok(()),
            401 | 403 => {
                Err(Reason::Auth.error(format!("HTTP {status} from {what} (credentials refused)")))
            }
            s => Err(Reason::HttpStatus.error(format!("HTTP {s} from {what}"))),
        }
    }

    pub fn error(self, detail: String) -> HttpError {
        HttpError {
            reason: self,
            detail,
        }
    }
}

/// Counters of one fetch, filled as requests go.
#[derive(Debug, Default)]
pub struct Fetch {
    /// The last HTTP status seen.
    pub status: Option<u16>,
    /// Body bytes received over all requests.
    pub bytes: u64,
    pub max_bytes: u64,
    pub requests: u32,
    pub added_last: Option<String>,
    /// A paginated poll gives up past this (each request has its own `timeout` too).
    pub deadline: Option<std::time::Instant>,
}

impl Fetch {
    /// Sends `req` on `client` and counts the reply.
    pub fn send(&mut self, client: &Client, req: Request<'_>) -> Result<Reply, HttpError> {
        let reply = client.send(req)?;
        self.note(&reply);
        Ok(reply)
    }

    fn note(&mut self, reply: &Reply) {
        self.status = Some(reply.status);
        self.bytes = self.bytes.saturating_add(reply.body.len() as u64);
        self.requests += 1;
    }
}

/// What a fetch brought.
#[derive(Debug)]
pub enum Fetched {
    /// 304, or an incremental poll with nothing new: the last good body stays, fresh.
    Unchanged,
    /// A body to load (for incremental sources: already merged with the last one).
    Body {
        body: Vec<u8>,
        meta: Meta,
        full: bool,
    },
}

/// A whole paginated poll may take this many request timeouts: a server that keeps saying
/// `more` with tiny pages cannot hold the fetch thread for long.
const POLL_TIMEOUTS: u32 = 10;

/// Fetches `source` once. `prev` is the last good copy (conditional requests, merges).
pub fn fetch(
    source: &Source,
    prev: Option<&Cached>,
    now: u64,
    fetch: &mut Fetch,
) -> Result<Fetched, HttpError> {
    fetch.max_bytes = source.max_bytes;
    fetch.deadline = Some(std::time::Instant::now() + source.timeout * POLL_TIMEOUTS);
    let client = Client::new(source.timeout, source.max_bytes, source.ca_file.as_deref())?;
    // A full fetch when there is nothing to merge into, or the last full one is too old.
    let full =
        prev.is_none_or(|p| now.saturating_sub(p.meta.full_at) >= source.full_interval.as_secs());
    match &source.kind {
        Kind::Https { url } => https(&client, url, prev, now, fetch),
        Kind::ThreatfoxApi {
            url,
            query,
            auth_key_file,
            incremental,
        } => {
            let key = secret(auth_key_file)?;
            let incremental = *incremental && !full;
            let days = incremental.then_some(1);
            let rows = match threatfox::ask(&client, url, query, &key, days, fetch)? {
                threatfox::Answer::Rows(rows) => rows,
                threatfox::Answer::NoResult if incremental => return Ok(Fetched::Unchanged),
                threatfox::Answer::NoResult => {
                    return Err(Reason::Empty.error("ThreatFox answered `no_result`".into()))
                }
            };
            let max_age = source.max_age.as_secs();
            let rows = match (incremental, prev) {
                (true, Some(p)) => {
                    threatfox::merge(threatfox::rows_of(&p.body), rows, now, max_age)
                }
                _ => rows,
            };
            let meta = Meta {
                full_at: match incremental {
                    true => prev.map(|p| p.meta.full_at).unwrap_or(now),
                    false => now,
                },
                ..Meta::default()
            };
            Ok(Fetched::Body {
                body: threatfox::document(rows),
                meta,
                full: !incremental,
            })
        }
        Kind::Taxii21 {
            url,
            collection,
            auth,
        } => {
            let auth = taxii_auth(auth)?;
            let after = prev
                .filter(|_| !full)
                .and_then(|p| p.meta.added_after.as_deref());
            let polled = taxii::poll(&client, url, collection, &auth, after, fetch)?;
            let incremental = after.is_some();
            if incremental && polled.objects.is_empty() {
                return Ok(Fetched::Unchanged);
            }
            let objects = match (incremental, prev) {
                (true, Some(p)) => taxii::merge(taxii::objects_of(&p.body), polled.objects),
                _ => polled.objects,
            };
            let meta = Meta {
                full_at: match incremental {
                    true => prev.map(|p| p.meta.full_at).unwrap_or(now),
                    false => now,
                },
                added_after: polled
                    .added_last
                    .or_else(|| prev.and_then(|p| p.meta.added_after.clone())),
                ..Meta::default()
            };
            Ok(Fetched::Body {
                body: taxii::bundle(objects),
                meta,
                full: !incremental,
            })
        }
    }
}

/// A plain GET, conditional on the last good copy's ETag / Last-Modified.
fn https(
    client: &Client,
    url: &str,
    prev: Option<&Cached>,
    now: u64,
    fetch: &mut Fetch,
) -> Result<Fetched, HttpError> {
    let mut headers = Vec::new();
    if let Some(p) = prev {
        if let Some(etag) = &p.meta.etag {
            headers.push(("If-None-Match".to_string(), etag.clone()));
        }
        if let Some(lm) = &p.meta.last_modified {
            headers.push(("If-Modified-Since".to_string(), lm.clone()));
        }
    }
    let reply = fetch.send(client, Request::get(url, headers))?;
    match reply.status {
        304 if prev.is_some() => Ok(Fetched::Unchanged),
        s => Reason::check_status(s, url).and_then(|()| {
            if reply
                .content_type
                .to_ascii_lowercase()
                .starts_with("text/html")
            {
                return Err(Reason::NotAFeed.error("the server sent an HTML page".into()));
            }
            Ok(Fetched::Body {
                body: reply.body,
                meta: Meta {
                    full_at: now,
                    etag: reply.etag,
                    last_modified: reply.last_modified,
                    ..Meta::default()
                },
                full: true,
            })
        }),
    }
}

/// A key or password from its file (systemd `LoadCredential=`), trimmed of the newline.
fn secret(path: &std::path::Path) -> Result<String, HttpError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Reason::Config.error(format!("{}: {e}", path.display())))?;
    let text = text.trim().to_string();
    match text.is_empty() || text.len() > 4096 || text.chars().any(char::is_control) {
        true => Err(Reason::Config.error(format!(
            "{}: empty, too long or not one line",
            path.display()
        ))),
        false => Ok(text),
    }
}

fn taxii_auth(auth: &TaxiiAuth) -> Result<Vec<(String, String)>, HttpError> {
    Ok(match auth {
        TaxiiAuth::None => Vec::new(),
        TaxiiAuth::Basic {
            username_file,
            password_file,
        } => {
            let pair = format!("{}:{}", secret(username_file)?, secret(password_file)?);
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            vec![("Authorization".to_string(), format!("Basic {encoded}"))]
        }
        TaxiiAuth::Header { name, value_file } => {
            vec![(name.clone(), secret(value_file)?)]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxii_credentials_come_from_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let basic = TaxiiAuth::Basic {
            username_file: file("u", "sensor\n"),
            password_file: file("p", "s3cret\n"),
        };
        assert_eq!(
            taxii_auth(&basic).unwrap(),
            [(
                "Authorization".to_string(),
                "Basic c2Vuc29yOnMzY3JldA==".to_string()
            )]
        );
        let header = TaxiiAuth::Header {
            name: "X-Api-Key".into(),
            value_file: file("k", "abc123\n"),
        };
        assert_eq!(
            taxii_auth(&header).unwrap(),
            [("X-Api-Key".to_string(), "abc123".to_string())]
        );
        let bad = TaxiiAuth::Header {
            name: "X-Api-Key".into(),
            value_file: file("two-lines", "a\nb\n"),
        };
        assert_eq!(taxii_auth(&bad).unwrap_err().reason, Reason::Config);
        assert!(taxii_auth(&TaxiiAuth::None).unwrap().is_empty());
    }

    #[test]
    fn every_reason_has_a_distinct_label() {
        let labels: std::collections::HashSet<_> = Reason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reason::ALL.len());
    }
}
