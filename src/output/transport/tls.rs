//! TLS transport (RFC 5425) with rustls on the `ring` provider: blocking, like the other
//! transports, because each output has its own sender thread. Server verification is always
//! on, against the configured CA file; a client certificate is sent when configured.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::output::options::{OutputError, OutputOptions};

/// Builds the client configuration once at startup, so a bad CA or key fails the start.
pub fn client_config(opts: &OutputOptions) -> Result<Arc<ClientConfig>, OutputError> {
    let ca = opts
        .tls_ca
        .as_deref()
        .ok_or_else(|| OutputError::Tls("tls:// needs tls_ca (the receiver's CA, PEM)".into()))?;
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| OutputError::Tls(format!("{}: {e}", ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OutputError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => {
            let key = PrivateKeyDer::from_pem_reader(open_pem(key)?)
                .map_err(|e| OutputError::Tls(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(read_certs(cert)?, key)
                .map_err(|e| OutputError::Tls(e.to_string()))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A key or certificate file, refused unless it is a regular file (a FIFO would hang the start).
fn open_pem(path: &Path) -> Result<io::BufReader<std::fs::File>, OutputError> {
    crate::privilege::open_regular(path)
        .map(io::BufReader::new)
        .map_err(|e| OutputError::Tls(format!("{}: {e}", path.display())))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, OutputError> {
    let certs = CertificateDer::pem_reader_iter(open_pem(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OutputError::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(OutputError::Tls(format!(
            "{}: no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// A TLS session over a blocking TCP socket.
pub struct TlsStream(StreamOwned<ClientConnection, TcpStream>);

impl TlsStream {
    /// Connects and completes the handshake now (bounded by the socket timeouts), so a bad
    /// certificate shows as a connect failure rather than a lost message.
    pub fn handshake(
        sock: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<TlsStream> {
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(conn, sock);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(TlsStream(stream))
    }

    /// Reads, without blocking, whatever the receiver sent (session tickets, alerts,
    /// close_notify, EOF) and reports a closed or failed session as an error.
    pub fn probe(&mut self) -> io::Result<()> {
        let s = &mut self.0;
        s.sock.set_nonblocking(true)?;
        let result = (|| loop {
            match s.conn.read_tls(&mut s.sock) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "receiver closed the TLS connection",
                    ))
                }
                Ok(_) => {
                    let state = s.conn.process_new_packets().map_err(io::Error::other)?;
                    if state.peer_has_closed() {
                        return Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "receiver sent close_notify",
                        ));
                    }
                    let pending = state.plaintext_bytes_to_read() as u64;
                    if pending > 0 {
                        io::copy(&mut s.conn.reader().take(pending), &mut io::sink())?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        })();
        s.sock.set_nonblocking(false)?;
        result
    }

    pub fn close(mut self) {
        self.0.conn.send_close_notify();
        let _ = self.0.flush();
        let _ = self.0.sock.shutdown(std::net::Shutdown::Write);
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
