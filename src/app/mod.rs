//! App: one function per subcommand, wiring the stages together. `main.rs` only parses the
//! command line and calls into here.

pub mod check_config;
pub mod replay;
pub mod run;
pub mod summary;

/// The host name records carry (CEF `dvchost`, syslog HOSTNAME) unless configured.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(s) if !s.is_empty() => s.to_string(),
        _ => "localhost".to_string(),
    }
}
