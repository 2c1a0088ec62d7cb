//! A settings problem with the dotted key path it concerns (`flow.timeouts.udp: must be > 0`).
//! A leaf: config reports them, and so do the stages that check their own settings (the
//! `[[exclude]]` rules, the `[severity]` table), without depending on config.

use std::fmt;

/// One problem, with the dotted key path it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A key as written in a dotted path: bare when it can be, quoted otherwise.
pub fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match bare {
        true => key.to_string(),
        false => format!("{key:?}"),
    }
}
