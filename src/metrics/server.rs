//! The metrics endpoint: `/metrics`, `/healthz`, `/readyz` over a deliberately tiny HTTP/1.1
//! responder (one request per connection, `Connection: close`). Prometheus and probes send a
//! bare GET, so a full HTTP stack would add crates and nothing else.
//!
//! It runs on a single-threaded tokio runtime of its own thread, away from the capture and the
//! outputs. A request head is capped at [`MAX_REQUEST_BYTES`], every connection has
//! [`CONNECTION_DEADLINE`] to finish, and at most [`MAX_CONNECTIONS`] are open at once. When
//! they are all taken, a new connection does not wait behind them: the one that has waited
//! longest for its request head is closed to make room. An idle or trickling client (slowloris)
//! is the one that waits, while a scraper sends its request at once and is answered within
//! milliseconds, so a local user holding connections cannot lock Prometheus out. Measured in
//! `tests/metrics.rs` with 64 slowloris and 64 flooding clients: the cap with oldest-idle
//! eviction answers every 1 Hz scrape, where the former "refuse when full" answered none.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::{Metrics, CONTENT_TYPE};

/// Largest request head accepted; Prometheus sends a few hundred bytes.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Time a connection gets to send its request and receive the answer.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);
/// Connections open at the same time. Each costs a socket and a small buffer until its request
/// is read; when all are taken, the oldest still waiting for its request is closed.
pub const MAX_CONNECTIONS: usize = 256;

/// A running endpoint; stops on [`MetricsServer::shutdown`] or when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, drop open connections and wait for the thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Bind `addr` and serve `metrics` from a thread of its own. Binding errors are returned here,
/// so a taken port fails the start-up rather than going unnoticed.
pub fn serve(metrics: Metrics, addr: SocketAddr) -> io::Result<MetricsServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("c2tap-metrics".into())
        .spawn(move || runtime.block_on(accept_loop(listener, metrics, stopped)))?;
    Ok(MetricsServer {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

async fn accept_loop(
    listener: std::net::TcpListener,
    metrics: Metrics,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let open = Arc::new(Mutex::new(Open::default()));
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some((slot, evicted)) = Slot::take(&open) else {
            continue; // every connection is being answered: dropping this one closes it
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(
                CONNECTION_DEADLINE,
                answer(stream, &metrics, &slot, evicted),
            )
            .await;
            drop(slot);
        });
    }
}

/// The open connections; those still waiting for their request head are evictable, oldest
/// (lowest id) first.
#[derive(Default)]
struct Open {
    count: usize,
    next_id: u64,
    /// Dropping a sender tells its connection to close.
    waiting: BTreeMap<u64, oneshot::Sender<()>>,
}

/// One connection's place among the [`Open`] ones, given back when dropped.
struct Slot {
    id: u64,
    open: Arc<Mutex<Open>>,
}

impl Slot {
    /// A place for a new connection, closing the oldest waiting one when all are taken; `None`
    /// when all are taken and none is waiting (each is being answered and ends soon).
    fn take(open: &Arc<Mutex<Open>>) -> Option<(Slot, oneshot::Receiver<()>)> {
        let mut o = open.lock().unwrap_or_else(PoisonError::into_inner);
        if o.count >= MAX_CONNECTIONS {
            // The evicted connection leaves `count` when its task ends, a moment later.
            o.waiting.pop_first()?;
        }
        let id = o.next_id;
        o.next_id += 1;
        o.count += 1;
        let (evict, evicted) = oneshot::channel();
        o.waiting.insert(id, evict);
        let slot = Slot {
            id,
            open: Arc::clone(open),
        };
        Some((slot, evicted))
    }

    /// The request head is in: from here the connection is answered, not evicted.
    fn busy(&self) {
        let mut o = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        o.waiting.remove(&self.id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        o.waiting.remove(&self.id);
        o.count -= 1;
    }
}

async fn answer(
    mut stream: TcpStream,
    metrics: &Metrics,
    slot: &Slot,
    mut evicted: oneshot::Receiver<()>,
) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (response, unread) = loop {
        let n = tokio::select! {
            read = stream.read(&mut chunk) => read?,
            _ = &mut evicted => return Ok(()), // a newer connection needed the place
        };
        if n == 0 {
            return Ok(()); // closed before a full request
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if head.len() > MAX_REQUEST_BYTES {
            let too_large = "Request Header Fields Too Large";
            break (Response::text(431, too_large, "request too large\n"), true);
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break (respond(&head, metrics), false);
        }
    };
    slot.busy();
    stream.write_all(&response.to_bytes()).await?;
    stream.shutdown().await?;
    if unread {
        // Closing with unread input would reset the connection and could destroy the answer
        // before the client reads it: take (and discard) what it still sends, within the
        // connection deadline and a byte bound.
        let mut left = 16 * MAX_REQUEST_BYTES;
        while left > 0 {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
    }
    Ok(())
}

/// An HTTP answer before serialization.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    pub body: String,
    /// HEAD: headers (with the body's length) but no body.
    pub head_only: bool,
    pub allow: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            head_only: false,
            allow: false,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if self.allow {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

/// Route one request head (everything up to the blank line).
pub(super) fn respond(head: &[u8], metrics: &Metrics) -> Response {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Response::text(400, "Bad Request", "bad request\n");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::text(400, "Bad Request", "bad request\n");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut r = Response::text(405, "Method Not Allowed", "method not allowed\n");
            r.allow = true;
            return r;
        }
    };
    let path = target.split('?').next().unwrap_or_default();
    let mut response = match path {
        "/metrics" => Response {
            content_type: CONTENT_TYPE,
            ..Response::text(200, "OK", &metrics.render())
        },
        "/healthz" => Response::text(200, "OK", "ok\n"),
        "/readyz" => {
            let readiness = metrics.readiness();
            let body = format!("{readiness}\n{}", super::feeds::readiness_detail(metrics));
            if readiness.is_ready() {
                Response::text(200, "OK", &body)
            } else {
                Response::text(503, "Service Unavailable", &body)
            }
        }
        _ => Response::text(404, "Not Found", "not found\n"),
    };
    response.head_only = head_only;
    response
}
