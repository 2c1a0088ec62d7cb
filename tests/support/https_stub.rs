//! A local HTTPS server for the fetched-feed tests: a stand-in for publishers the tests cannot
//! reach (ThreatFox's API and exports). Real TLS (rustls, a test CA made with rcgen), real
//! HTTP/1.1 over loopback; each test decides the reply per request, including the bad ones
//! (slow, truncated, HTML). Every request is recorded so tests can check what was sent
//! (Auth-Key, If-None-Match, the JSON body).
#![allow(dead_code)] // each test binary uses a part of it

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the server read it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering (a stalled publisher).
    pub delay: Duration,
    /// Announce this Content-Length instead of the body's (a cut download when larger).
    pub declared_len: Option<usize>,
}

impl Reply {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
            declared_len: None,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::ok("text/plain", "")
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Route = Box<dyn Fn(&Seen) -> Reply + Send + Sync>;

#[path = "pki.rs"]
mod pki;
pub use pki::{make_pki, Pki};

pub struct Stub {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    route: Arc<Mutex<Route>>,
    stop: Arc<AtomicBool>,
}

impl Stub {
    /// Serves HTTPS on 127.0.0.1 with `pki`'s server certificate; `port` 0 picks one.
    pub fn start(pki: &Pki, port: u16) -> Stub {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(&pki.cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&pki.key).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let route: Arc<Mutex<Route>> =
            Arc::new(Mutex::new(Box::new(|_: &Seen| Reply::status(404))));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, r, st) = (seen.clone(), route.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (config, s, r) = (config.clone(), s.clone(), r.clone());
                std::thread::spawn(move || serve(conn, config, s, r));
            }
        });
        Stub {
            port,
            seen,
            route,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Replaces how requests are answered.
    pub fn answer(&self, route: impl Fn(&Seen) -> Reply + Send + Sync + 'static) {
        *self.route.lock().unwrap() = Box::new(route);
    }

    /// Requests so far (and forgets them).
    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    /// Stops accepting; the port is free afterwards.
    pub fn stop(self) {}
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    seen: Arc<Mutex<Vec<Seen>>>,
    route: Arc<Mutex<Route>>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let request = Seen {
        method,
        path,
        headers,
        body,
    };
    let reply = (route.lock().unwrap())(&request);
    seen.lock().unwrap().push(request);
    std::thread::sleep(reply.delay);
    let mut out = format!("HTTP/1.1 {} Stub\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    let declared = reply.declared_len.unwrap_or(reply.body.len());
    out.push_str(&format!(
        "Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    ));
    let _ = tls.write_all(out.as_bytes());
    let _ = tls.write_all(&reply.body);
    let _ = tls.flush();
    if reply.declared_len.is_none() {
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }
}
