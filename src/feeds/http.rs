//! One bounded HTTPS exchange: ureq (blocking, rustls with ring, gzip) with the source's time
//! limit for the whole exchange, its byte limit on the decompressed body, its CA file or the
//! system CA bundle, and the proxy from `HTTPS_PROXY`/`ALL_PROXY` minus `NO_PROXY`. Statuses are
//! values, not errors: the caller decides what a 304 or a 401 means for its source.

use std::path::Path;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::source::Reason;

/// Debian's CA bundle (package ca-certificates), the default trust without `ca_file`.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What the server said.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_type: String,
    /// TAXII 2.1: the range of objects in this page.
    pub date_added_last: Option<String>,
}

impl Reply {
    pub fn header_text(value: Option<&ureq::http::HeaderValue>) -> Option<String> {
        value
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    }
}

/// Why an exchange failed, with its metric reason.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct HttpError {
    pub reason: Reason,
    pub detail: String,
}

/// A client for one source: built per fetch, so a changed CA file or proxy setting counts.
pub struct Client {
    agent: ureq::Agent,
    max_bytes: u64,
}

/// A request: method, URL and extra headers.
pub struct Request<'a> {
    pub url: &'a str,
    pub headers: Vec<(String, String)>,
    /// `Some`: a POST with this body.
    pub body: Option<Vec<u8>>,
}

impl<'a> Request<'a> {
    pub fn get(url: &'a str, headers: Vec<(String, String)>) -> Request<'a> {
        Request {
            url,
            headers,
            body: None,
        }
    }
}

impl Client {
    pub fn new(
        timeout: Duration,
        max_bytes: u64,
        ca_file: Option<&Path>,
    ) -> Result<Client, HttpError> {
        // The system bundle by default: it holds the CA of a TLS-inspecting proxy the operator
        // installed, which bundled roots would not.
        let path = ca_file.unwrap_or(Path::new(SYSTEM_CA_BUNDLE));
        let config_error = |detail: String| HttpError {
            reason: Reason::Config,
            detail: format!("ca_file {}: {detail}", path.display()),
        };
        let pem = std::fs::read(path).map_err(|e| config_error(e.to_string()))?;
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(config_error("no PEM certificate in it".into()));
        }
        let roots = RootCerts::new_with_certs(&certs);
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // No redirects: connections go only to configured URLs (and the proxy), and a key
            // never follows a Location to another host. A 3xx is an `http_status` failure.
            .max_redirects(0)
            .user_agent(concat!("c2tap/", env!("CARGO_PKG_VERSION")))
            .proxy(ureq::Proxy::try_from_env())
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .new_agent();
        Ok(Client { agent, max_bytes })
    }

    /// Sends `req` and reads at most `max_bytes` of (decompressed) body.
    pub fn send(&self, req: Request<'_>) -> Result<Reply, HttpError> {
        let result = match req.body {
            Some(body) => {
                let mut r = self.agent.post(req.url);
                for (k, v) in &req.headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                r.send(&body[..])
            }
            None => {
                let mut r = self.agent.get(req.url);
                for (k, v) in &req.headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                r.call()
            }
        };
        let mut response = result.map_err(|e| classify(e, self.max_bytes))?;
        let headers = response.headers();
        let header = |name: &str| Reply::header_text(headers.get(name));
        let etag = header("etag");
        let last_modified = header("last-modified");
        let content_type = header("content-type").unwrap_or_default();
        // A page of one object may carry only the First header (medallion does): the same.
        let date_added_last =
            header("x-taxii-date-added-last").or_else(|| header("x-taxii-date-added-first"));
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_bytes)
            .read_to_vec()
            .map_err(|e| classify(e, self.max_bytes))?;
        Ok(Reply {
            status,
            body,
            etag,
            last_modified,
            content_type,
            date_added_last,
        })
    }
}

fn classify(e: ureq::Error, max_bytes: u64) -> HttpError {
    use ureq::Error as E;
    let reason = match &e {
        E::Timeout(_) | E::BodyStalled => Reason::Timeout,
        E::BodyExceedsLimit(_) => Reason::TooLarge,
        E::HostNotFound | E::ConnectionFailed | E::ConnectProxyFailed(_) => Reason::Connect,
        E::Tls(_) | E::Rustls(_) | E::Pem(_) | E::TlsRequired => Reason::Tls,
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Reason::Timeout,
        E::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            Reason::Connect
        }
        E::Io(_) | E::Protocol(_) | E::Decompress(..) => Reason::Truncated,
        _ => Reason::Connect,
    };
    let detail = match reason {
        Reason::TooLarge => format!("the reply is larger than max_bytes ({max_bytes})"),
        _ => e.to_string(),
    };
    HttpError { reason, detail }
}
