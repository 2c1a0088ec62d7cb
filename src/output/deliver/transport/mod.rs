//! Transports: the sockets and files an output's sender thread writes framed messages to. A
//! [`Connector`] is built once at startup (TLS material loaded and checked then) and makes a
//! fresh [`Connection`] at every (re)connect.
//!
//! Every connection numbers what it sends with a *position* that only grows (bytes written to
//! the socket for TCP/TLS, messages for RELP, UDP and files) and says how far the receiver has
//! confirmed it: the kernel's unacknowledged byte count (SIOCOUTQ) for TCP and TLS, `rsp 200`
//! answers for RELP, the write itself for UDP and files. The sender keeps every message until
//! its end position is confirmed, so a receiver that stalls or dies never takes messages with
//! it that the sensor counted as sent.

mod relp;
mod tls;
mod watch;

pub use watch::{deadline_error, Watch};

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::output::format::syslog::Framing;
use crate::output::options::{OutputError, OutputOptions, OutputSpec};

pub use relp::Relp;
pub use tls::TlsStream;

/// Connect timeout, and how long a RELP session may take to open.
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// A blocked write or read wakes this often to check progress, the stall limit and the
/// shutdown deadline; it never ends the connection by itself.
const TICK: Duration = Duration::from_millis(200);

/// Everything needed to (re)open one output.
pub struct Connector {
    spec: OutputSpec,
    framing: Framing,
    /// Client configuration and the name to verify, for `tls://` and `relp+tls://`.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

impl Connector {
    pub fn new(spec: &OutputSpec, opts: &OutputOptions) -> Result<Connector, OutputError> {
        let tls = match spec {
            OutputSpec::Tls { host, .. }
            | OutputSpec::Relp {
                host, tls: true, ..
            } => {
                let config = tls::client_config(opts)?;
                let name = opts.tls_server_name.as_deref().unwrap_or(host);
                let name = ServerName::try_from(name.to_string())
                    .map_err(|e| OutputError::Tls(format!("server name {name:?}: {e}")))?;
                Some((config, name))
            }
            _ => None,
        };
        Ok(Connector {
            spec: spec.clone(),
            framing: opts.framing,
            tls,
        })
    }

    pub fn connect(&self) -> io::Result<Connection> {
        let tls = |host: &str, port: u16| -> io::Result<Wire> {
            let Some((config, name)) = &self.tls else {
                return Err(io::Error::other("TLS output without TLS settings"));
            };
            let sock = tcp_connect(host, port)?;
            let tls = TlsStream::handshake(sock, Arc::clone(config), name.clone())?;
            Ok(Wire::Tls(Box::new(tls)))
        };
        let link = match &self.spec {
            OutputSpec::Udp { host, port } => {
                let addr = resolve(host, *port)?;
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let sock = UdpSocket::bind(local)?;
                sock.connect(addr)?;
                Link::Udp(sock)
            }
            OutputSpec::Tcp { host, port } => {
                Link::Stream(Wire::Tcp(tcp_connect(host, *port)?), self.framing)
            }
            OutputSpec::Tls { host, port } => Link::Stream(tls(host, *port)?, self.framing),
            OutputSpec::Relp {
                host,
                port,
                tls: with_tls,
            } => {
                let wire = if *with_tls {
                    tls(host, *port)?
                } else {
                    Wire::Tcp(tcp_connect(host, *port)?)
                };
                Link::Relp(Box::new(Relp::open(wire)?))
            }
            OutputSpec::File { path, .. } => {
                // Group-readable for a log shipper in the sensor's group; never world-readable.
                // Never through a symbolic link: one planted at the path would aim the
                // records at any file the sensor may write.
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o640)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)?;
                Link::File(file)
            }
        };
        Ok(Connection { link, sent: 0 })
    }
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")))
}

fn tcp_connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
            Ok(sock) => {
                sock.set_write_timeout(Some(TICK))?;
                sock.set_read_timeout(Some(TICK))?;
                sock.set_nodelay(true)?;
                return Ok(sock);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One open output.
pub struct Connection {
    link: Link,
    /// Position after the last message written.
    sent: u64,
}

enum Link {
    /// One datagram per message, no framing (RFC 5426).
    Udp(UdpSocket),
    Stream(Wire, Framing),
    Relp(Box<Relp>),
    /// One line per message, one write each: what was written is in the page cache.
    File(File),
}

/// A byte stream to the receiver, plain or TLS.
pub enum Wire {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
}

impl Wire {
    fn socket(&self) -> &TcpStream {
        match self {
            Wire::Tcp(sock) => sock,
            Wire::Tls(tls) => tls.socket(),
        }
    }

    /// Writes all of `buf`; while the socket is full it calls `wait` every tick, which fails
    /// the write when the receiver stalls or the deadline passes. Returns the bytes that went
    /// onto the socket (TLS adds its own).
    pub fn write_watched(
        &mut self,
        buf: &[u8],
        wait: &mut dyn FnMut(&mut Wire) -> io::Result<()>,
    ) -> io::Result<u64> {
        match self {
            Wire::Tcp(_) => {
                let mut off = 0;
                while let Some(rest) = buf.get(off..).filter(|r| !r.is_empty()) {
                    let Wire::Tcp(sock) = self else { break };
                    match sock.write(rest) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => off += n,
                        Err(e) if is_timeout(&e) => wait(self)?,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(buf.len() as u64)
            }
            Wire::Tls(_) => {
                let (mut written, mut off) = (0, 0);
                while let Wire::Tls(tls) = self {
                    match tls.write_step(buf, &mut off) {
                        Ok(None) => break,
                        Ok(Some(n)) => written += n,
                        Err(e) if is_timeout(&e) => wait(self)?,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(written)
            }
        }
    }

    /// Reads what the receiver sent, without blocking when `block` is false (else up to one
    /// tick). `Ok(0)` means nothing yet; a closed connection is an error.
    pub fn read_some(&mut self, buf: &mut [u8], block: bool) -> io::Result<usize> {
        let sock = self.socket();
        if !block {
            sock.set_nonblocking(true)?;
        }
        let result = match self {
            Wire::Tcp(sock) => sock.read(buf),
            Wire::Tls(tls) => tls.read_plain(buf),
        };
        if !block {
            self.socket().set_nonblocking(false)?;
        }
        match result {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "receiver closed the connection",
            )),
            Ok(n) => Ok(n),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Bytes written to the socket that the peer's kernel has not acknowledged yet.
    #[allow(unsafe_code)] // an ioctl with no safe wrapper; the block says why it is sound
    fn unacked(&self) -> io::Result<u64> {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (= SIOCOUTQ) writes one int through the pointer, which points at a
        // live c_int; the fd belongs to a socket we own for the duration of the call.
        let rc = unsafe {
            libc::ioctl(
                self.socket().as_raw_fd(),
                libc::TIOCOUTQ,
                &mut queued as *mut libc::c_int,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(u64::try_from(queued).unwrap_or(0))
    }

    fn close(self) {
        match self {
            Wire::Tcp(sock) => {
                let _ = sock.shutdown(std::net::Shutdown::Write);
            }
            Wire::Tls(tls) => tls.close(),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Connection {
    /// Writes one message (framed as the transport needs; `frame` is a reused scratch
    /// buffer) and returns its end position: the message is delivered once
    /// [`Connection::confirmed`] reaches it. Blocks while the receiver is slow, failing when
    /// `watch` says it stalled or the deadline passed.
    pub fn send(&mut self, msg: &[u8], frame: &mut Vec<u8>, watch: &mut Watch) -> io::Result<u64> {
        frame.clear();
        let sent = self.sent;
        match &mut self.link {
            Link::Udp(sock) => {
                let n = sock.send(msg)?;
                if n != msg.len() {
                    return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram"));
                }
                self.sent += 1;
            }
            Link::Stream(wire, framing) => {
                framing.frame(frame, msg);
                let n = wire.write_watched(frame, &mut |w| {
                    let unacked = w.unacked()?;
                    watch.observe(sent.saturating_sub(unacked), sent)
                })?;
                self.sent += n;
            }
            Link::Relp(relp) => {
                self.sent = relp.send(msg, frame, watch)?;
            }
            Link::File(file) => {
                frame.extend_from_slice(msg);
                frame.push(b'\n');
                file.write_all(frame)?;
                self.sent += 1;
            }
        }
        Ok(self.sent)
    }

    /// Position after the last message written.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// How far the receiver has confirmed, without blocking. Also notices a receiver that
    /// closed or reset the connection (or a UDP port that answered "unreachable").
    pub fn confirmed(&mut self) -> io::Result<u64> {
        let mut buf = [0u8; 512];
        match &mut self.link {
            Link::Udp(sock) => {
                sock.set_nonblocking(true)?;
                let result = sock.recv(&mut buf);
                sock.set_nonblocking(false)?;
                match result {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                Ok(self.sent)
            }
            Link::Stream(wire, _) => {
                // A syslog receiver never sends data: anything readable is a close, an alert
                // or noise (read away so it cannot pile up).
                wire.read_some(&mut buf, false)?;
                let unacked = wire.unacked()?;
                Ok(self.sent.saturating_sub(unacked))
            }
            Link::Relp(relp) => relp.poll(false),
            Link::File(_) => Ok(self.sent),
        }
    }

    /// Whether messages confirmed by this transport may still be lost with the receiver (TCP
    /// and TLS: confirmed means in the peer's kernel, not read), so a copy is worth keeping
    /// for a resend after a loss.
    pub fn keeps_confirmed(&self) -> bool {
        matches!(self.link, Link::Stream(..) | Link::Udp(_))
    }

    pub fn is_datagram(&self) -> bool {
        matches!(self.link, Link::Udp(_))
    }

    /// Ends the connection cleanly: RELP `close`, TLS close_notify, stream shutdown, file
    /// sync. Call after everything sent was confirmed (or given up on).
    pub fn close(self) {
        match self.link {
            Link::Stream(wire, _) => wire.close(),
            Link::Relp(relp) => relp.close(),
            Link::File(file) => {
                let _ = file.sync_data();
            }
            Link::Udp(_) => {}
        }
    }
}
