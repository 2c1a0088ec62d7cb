//! Transports: the sockets and files an output's sender thread writes framed messages to. A
//! [`Connector`] is built once at startup (TLS material loaded and checked then) and makes a
//! fresh [`Connection`] at every (re)connect; a connection reports a dead peer as an error, so
//! the sender can put unconfirmed messages back in the spool.

mod tls;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::output::options::{OutputError, OutputOptions, OutputSpec};
use crate::output::syslog::Framing;

pub use tls::TlsStream;

/// Connect and write timeouts: a stalled receiver must not hold the sender (and so a
/// shutdown) for long; the message is then resent on the next connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything needed to (re)open one output.
pub struct Connector {
    spec: OutputSpec,
    framing: Framing,
    /// Client configuration and the name to verify, for `tls://`.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

impl Connector {
    pub fn new(spec: &OutputSpec, opts: &OutputOptions) -> Result<Connector, OutputError> {
        let tls = match spec {
            OutputSpec::Tls { host, .. } => {
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

    /// Whether a lost connection may have lost recently written messages (network), as opposed
    /// to a file, where a successful write is final.
    pub fn needs_resend(&self) -> bool {
        !matches!(self.spec, OutputSpec::File { .. })
    }

    pub fn connect(&self) -> io::Result<Connection> {
        match (&self.spec, &self.tls) {
            (OutputSpec::Udp { host, port }, _) => {
                let addr = resolve(host, *port)?;
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let sock = UdpSocket::bind(local)?;
                sock.connect(addr)?;
                Ok(Connection::Udp(sock))
            }
            (OutputSpec::Tcp { host, port }, _) => {
                Ok(Connection::Tcp(tcp_connect(host, *port)?, self.framing))
            }
            (OutputSpec::Tls { host, port }, Some((config, name))) => {
                let sock = tcp_connect(host, *port)?;
                let tls = TlsStream::handshake(sock, Arc::clone(config), name.clone())?;
                Ok(Connection::Tls(Box::new(tls), self.framing))
            }
            (OutputSpec::Tls { .. }, None) => {
                Err(io::Error::other("TLS output without TLS settings"))
            }
            (OutputSpec::File { path, .. }, _) => {
                // Group-readable for a log shipper in the sensor's group; never world-readable.
                // Never through a symbolic link: one planted at the path would aim the
                // records at any file the sensor may write.
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o640)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)?;
                Ok(Connection::File(BufWriter::new(file)))
            }
        }
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
                sock.set_write_timeout(Some(IO_TIMEOUT))?;
                sock.set_read_timeout(Some(IO_TIMEOUT))?;
                sock.set_nodelay(true)?;
                return Ok(sock);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One open output.
pub enum Connection {
    /// One datagram per message, no framing (RFC 5426).
    Udp(UdpSocket),
    Tcp(TcpStream, Framing),
    Tls(Box<TlsStream>, Framing),
    /// One line per message.
    File(BufWriter<File>),
}

impl Connection {
    /// Writes one message (framed as the transport needs). `frame` is a reused scratch buffer.
    pub fn send(&mut self, msg: &[u8], frame: &mut Vec<u8>) -> io::Result<()> {
        frame.clear();
        match self {
            Connection::Udp(sock) => {
                let n = sock.send(msg)?;
                if n != msg.len() {
                    return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram"));
                }
                Ok(())
            }
            Connection::Tcp(sock, framing) => {
                framing.frame(frame, msg);
                sock.write_all(frame)
            }
            Connection::Tls(tls, framing) => {
                framing.frame(frame, msg);
                tls.write_all(frame)
            }
            Connection::File(file) => {
                file.write_all(msg)?;
                file.write_all(b"\n")
            }
        }
    }

    /// Pushes buffered bytes out (files; TLS records).
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Connection::Udp(_) | Connection::Tcp(..) => Ok(()),
            Connection::Tls(tls, _) => tls.flush(),
            Connection::File(file) => file.flush(),
        }
    }

    /// Checks, without blocking, that the receiver is still there: a stream receiver that has
    /// closed (FIN/RST) or a UDP port that answered "unreachable" is an error. A syslog
    /// receiver never sends data, so anything readable on a stream is a close or an alert.
    pub fn probe(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 512];
        match self {
            Connection::Udp(sock) => {
                sock.set_nonblocking(true)?;
                let result = sock.recv(&mut buf);
                sock.set_nonblocking(false)?;
                still_open(result)
            }
            Connection::Tcp(sock, _) => {
                sock.set_nonblocking(true)?;
                let result = sock.read(&mut buf);
                sock.set_nonblocking(false)?;
                still_open(result)
            }
            Connection::Tls(tls, _) => tls.probe(),
            Connection::File(_) => Ok(()),
        }
    }

    /// Ends the connection cleanly (TLS close_notify, file flush and sync).
    pub fn close(mut self) {
        let _ = self.flush();
        match self {
            Connection::Tls(tls, _) => tls.close(),
            Connection::Tcp(sock, _) => {
                let _ = sock.shutdown(std::net::Shutdown::Write);
            }
            Connection::File(file) => {
                if let Ok(file) = file.into_inner() {
                    let _ = file.sync_data();
                }
            }
            Connection::Udp(_) => {}
        }
    }
}

/// The result of a non-blocking read on a socket the receiver never writes to: nothing to
/// read means alive; end of stream or an error (refused, reset) means gone. Stray bytes are
/// read away so they cannot pile up.
fn still_open(read: io::Result<usize>) -> io::Result<()> {
    match read {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "receiver closed the connection",
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}
