//! How a failed command ends: its error on one line on stderr, or a quiet success when the
//! reader of its output has gone (`c2tap kql | head -1`). Used by `main`.

use std::io;

/// The error and its causes on one line, skipping causes whose text the message above them
/// already includes (many module errors print their source inline).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Whether the error is a write to a pipe whose reader has gone (also when serde_json wrote).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = Some(io::ErrorKind::BrokenPipe);
    e.chain().any(|cause| {
        let json = |j: &serde_json::Error| j.io_error_kind() == broken;
        cause.downcast_ref::<serde_json::Error>().is_some_and(json)
            || cause.downcast_ref::<io::Error>().is_some_and(|io| {
                io.kind() == io::ErrorKind::BrokenPipe
                    || io
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<serde_json::Error>())
                        .is_some_and(json)
            })
    })
}
