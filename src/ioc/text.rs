//! Feed text: bytes from disk become text and numbered lines here, with the bounds that keep a
//! hostile or broken file from costing more than its size (BOM, CRLF, invalid UTF-8, a line
//! that never ends).

use std::borrow::Cow;

/// Longest line a line-based feed may have. ThreatFox CSV rows are a few hundred bytes; a
/// longer line means the file is not what it claims to be. JSON formats have no line limit
/// (minified JSON is one line) and are bounded by the file size only.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Why a file's content could not be read as the detected format. The loader adds the file
/// name.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong { line: u64 },
    #[error("not a complete JSON document (truncated download?): {0}")]
    Json(#[from] serde_json::Error),
    #[error("ThreatFox API reply has query_status {0:?}, not \"ok\"")]
    ApiStatus(String),
    #[error("not an IOC feed: {0}")]
    NotAFeed(&'static str),
}

/// Drops a UTF-8 BOM and decodes; invalid sequences become U+FFFD so the affected rows fail
/// validation and are reported instead of failing the whole file. Borrows for valid input.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes)
}

/// Lines numbered from 1 with any `\r` before the `\n` removed; an over-long line ends the
/// iteration with an error.
pub fn numbered_lines(text: &str) -> impl Iterator<Item = Result<(u64, &str), FormatError>> {
    text.split('\n').zip(1u64..).map(|(line, number)| {
        if line.len() > MAX_LINE_BYTES {
            return Err(FormatError::LineTooLong { line: number });
        }
        Ok((number, line.strip_suffix('\r').unwrap_or(line)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_bom_and_crlf() {
        let text = decode(b"\xEF\xBB\xBFa\r\nb\n\xFFc");
        let lines: Vec<_> = numbered_lines(&text).filter_map(Result::ok).collect();
        assert_eq!(lines, [(1, "a"), (2, "b"), (3, "\u{FFFD}c")]);
    }

    #[test]
    fn refuses_overlong_lines() {
        let text = format!("ok\n{}\n", "x".repeat(MAX_LINE_BYTES + 1));
        let results: Vec<_> = numbered_lines(&text).collect();
        assert!(matches!(
            results.get(1),
            Some(Err(FormatError::LineTooLong { line: 2 }))
        ));
    }
}
