//! CEF reading: the inverse of [`crate::output::format::cef`], used by the delivery tests to prove that
//! what came out of a real syslog daemon still reads as the fields Sentinel maps into
//! CommonSecurityLog, and by the round-trip property test. It reads any input without panicking
//! and allocates only in proportion to that input.

use thiserror::Error;

/// Why a line is not CEF.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CefParseError {
    #[error("line does not start with CEF:")]
    NoPrefix,
    #[error("CEF header has {0} of its 7 fields")]
    ShortHeader(usize),
    #[error("extension has a value without a key at byte {0}")]
    MissingKey(usize),
    #[error("extension does not start with a key")]
    NoFirstKey,
}

/// One CEF event, unescaped. Header fields keep their names from the CEF standard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CefEvent {
    pub version: String,
    pub vendor: String,
    pub product: String,
    pub device_version: String,
    pub signature_id: String,
    pub name: String,
    pub severity: String,
    /// Extension pairs in the order they were sent.
    pub extension: Vec<(String, String)>,
}

impl CefEvent {
    /// The value of extension key `key` (first occurrence).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extension
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Extension keys in order, for layout assertions.
    pub fn keys(&self) -> Vec<&str> {
        self.extension.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// Parses `CEF:Version|Vendor|Product|DeviceVersion|SignatureID|Name|Severity|Extension`.
pub fn parse_cef(line: &str) -> Result<CefEvent, CefParseError> {
    let rest = line.strip_prefix("CEF:").ok_or(CefParseError::NoPrefix)?;
    let mut header: Vec<String> = Vec::with_capacity(7);
    let mut field = String::new();
    let mut chars = rest.char_indices();
    let mut extension_at = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, next @ ('\\' | '|'))) => field.push(next),
                Some((_, next)) => {
                    field.push('\\');
                    field.push(next);
                }
                None => field.push('\\'),
            },
            '|' => {
                header.push(std::mem::take(&mut field));
                if header.len() == 7 {
                    extension_at = Some(i + 1);
                    break;
                }
            }
            c => field.push(c),
        }
    }
    let extension_at = extension_at.ok_or(CefParseError::ShortHeader(header.len()))?;
    let extension = parse_extension(rest.get(extension_at..).unwrap_or_default())?;
    let mut header = header.into_iter();
    let mut next = || header.next().unwrap_or_default();
    Ok(CefEvent {
        version: next(),
        vendor: next(),
        product: next(),
        device_version: next(),
        signature_id: next(),
        name: next(),
        severity: next(),
        extension,
    })
}

/// The extension: every unescaped `=` ends a key, which is the run of non-space characters
/// before it; the previous value runs up to the single space in front of that key.
pub fn parse_extension(text: &str) -> Result<Vec<(String, String)>, CefParseError> {
    let bytes = text.as_bytes();
    let mut pairs = Vec::new();
    // (key start, key end = position of '=') for each key, found in one escape-aware pass.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 1,
            b'=' => {
                let key_start = bytes
                    .get(..i)
                    .and_then(|before| before.iter().rposition(|&c| c == b' '));
                let key_start = key_start.map_or(0, |p| p + 1);
                let value_start = keys.last().map_or(0, |&(_, eq)| eq + 1);
                if key_start <= value_start && !keys.is_empty() || key_start == i {
                    return Err(CefParseError::MissingKey(i));
                }
                if keys.is_empty() && key_start != 0 {
                    return Err(CefParseError::NoFirstKey);
                }
                keys.push((key_start, i));
            }
            _ => {}
        }
        i += 1;
    }
    if keys.is_empty() && !text.is_empty() {
        return Err(CefParseError::NoFirstKey);
    }
    for (n, &(key_start, eq)) in keys.iter().enumerate() {
        let value_end = keys
            .get(n + 1)
            .map_or(text.len(), |&(next_key, _)| next_key - 1);
        let key = text.get(key_start..eq).unwrap_or_default();
        let value = text.get(eq + 1..value_end).unwrap_or_default();
        pairs.push((key.to_string(), unescape_value(value)));
    }
    Ok(pairs)
}

/// `\\` `\=` `\n` `\r` become what they stand for; any other backslash is kept as sent.
pub fn unescape_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('=') => out.push('='),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The CEF part of a syslog line: from `CEF:` on. rsyslog's `%msg%` with a `CEF:` tag, raw
/// RFC 3164 and RFC 5424 lines all contain it exactly once at the start of the message.
pub fn cef_part(line: &str) -> Option<&str> {
    line.find("CEF:").and_then(|at| line.get(at..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_and_extension() {
        let ev = parse_cef(
            r"CEF:0|c2tap|c2tap|0.1.0|1001|a\|b\\c C2 connection|8|rt=1 msg=a\=b c\\ d\nx cs1=",
        )
        .unwrap();
        assert_eq!(ev.version, "0");
        assert_eq!(ev.name, r"a|b\c C2 connection");
        assert_eq!(ev.severity, "8");
        assert_eq!(ev.get("rt"), Some("1"));
        assert_eq!(ev.get("msg"), Some("a=b c\\ d\nx"));
        assert_eq!(ev.get("cs1"), Some(""));
        assert_eq!(ev.keys(), ["rt", "msg", "cs1"]);
    }

    #[test]
    fn values_keep_inner_and_trailing_spaces() {
        let pairs = parse_extension("a=x  y  b=z ").unwrap();
        assert_eq!(
            pairs,
            [("a".into(), "x  y ".into()), ("b".into(), "z ".into())]
        );
    }

    #[test]
    fn rejects_what_is_not_cef() {
        assert_eq!(
            parse_cef("<164>May  9 host CEF:0|a"),
            Err(CefParseError::NoPrefix)
        );
        assert_eq!(parse_cef("CEF:0|a|b"), Err(CefParseError::ShortHeader(2)));
        assert_eq!(
            parse_cef("CEF:0|a|b|c|d|e|f|junk"),
            Err(CefParseError::NoFirstKey)
        );
        assert_eq!(
            parse_cef("CEF:0|a|b|c|d|e|f| a=1"),
            Err(CefParseError::NoFirstKey)
        );
        assert_eq!(
            parse_cef("CEF:0|a|b|c|d|e|f|a=1=2"),
            Err(CefParseError::MissingKey(3))
        );
        assert_eq!(
            parse_cef("CEF:0|a|b|c|d|e|f|a=1 =2"),
            Err(CefParseError::MissingKey(4))
        );
        assert_eq!(parse_cef("CEF:0|a|b|c|d|e|f|").unwrap().extension, vec![]);
    }

    #[test]
    fn finds_cef_in_syslog_lines() {
        assert_eq!(cef_part("<164>May  9 14:03:27 h CEF:0|x"), Some("CEF:0|x"));
        assert_eq!(cef_part("no cef"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in "CEF:[ -~\\\\|=]{0,80}") {
            let _ = parse_cef(&line);
        }
    }
}
