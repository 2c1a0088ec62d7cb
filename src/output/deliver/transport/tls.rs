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

    pub fn socket(&self) -> &TcpStream {
        &self.0.sock
    }

    /// One step of writing `buf` from `*off`: hands rustls as much plaintext as it takes, then
    /// writes one batch of TLS records to the socket. `Ok(None)` once everything is on the
    /// socket; else the bytes that went onto it (socket timeouts come back as errors).
    pub fn write_step(&mut self, buf: &[u8], off: &mut usize) -> io::Result<Option<u64>> {
        let s = &mut self.0;
        if let Some(rest) = buf.get(*off..).filter(|r| !r.is_empty()) {
            *off += s.conn.writer().write(rest)?;
        }
        if !s.conn.wants_write() {
            return Ok((*off < buf.len()).then_some(0));
        }
        s.conn.write_tls(&mut s.sock).map(|n| Some(n as u64))
    }

    /// Reads what the receiver sent (session tickets, alerts, close_notify, application data)
    /// into `buf`; `Ok(0)` when the session is closed, socket timeouts as errors.
    pub fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = &mut self.0;
        loop {
            match s.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let n = s.conn.read_tls(&mut s.sock)?;
            if n == 0 {
                return Ok(0);
            }
            let state = s.conn.process_new_packets().map_err(io::Error::other)?;
            if state.peer_has_closed() && state.plaintext_bytes_to_read() == 0 {
                return Ok(0);
            }
        }
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
