//! Stage two's tools: a problem collector that converts a value and its range check in one
//! step, and the `[logging] level` check.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::time::Nanos;
use crate::units::DurationText;

use super::Problem;

/// Collects problems while converting.
#[derive(Default)]
pub(super) struct Check {
    pub(super) problems: Vec<Problem>,
}

impl Check {
    pub(super) fn fail(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_string(),
            message: message.into(),
        });
    }

    pub(super) fn duration(
        &mut self,
        key: &str,
        text: &DurationText,
        min: Duration,
        max: Duration,
    ) -> Duration {
        match text.parse() {
            Ok(d) if d < min || d > max => {
                let (lo, hi) = (show(min), show(max));
                let msg = match min.is_zero() {
                    false if d.is_zero() => "must be > 0".to_string(),
                    _ => format!("must be between {lo} and {hi}"),
                };
                self.fail(key, msg);
                min
            }
            Ok(d) => d,
            Err(e) => {
                self.fail(key, e);
                min
            }
        }
    }

    /// Zero disables the feature.
    pub(super) fn optional_duration(
        &mut self,
        key: &str,
        text: &DurationText,
        min: Duration,
    ) -> Option<Duration> {
        match text.parse() {
            Ok(d) if d.is_zero() => None,
            Ok(d) if d < min => {
                self.fail(key, format!("must be 0 (off) or at least {}", show(min)));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.fail(key, e);
                None
            }
        }
    }

    /// [`Check::range`] over a range shared with the command line.
    pub(super) fn within(&mut self, key: &str, v: u64, range: &RangeInclusive<u64>) -> u64 {
        self.range(key, v, *range.start(), *range.end())
    }

    /// [`Check::duration`] over a millisecond range shared with the command line.
    pub(super) fn duration_within(
        &mut self,
        key: &str,
        text: &DurationText,
        ms: &RangeInclusive<u64>,
    ) -> Duration {
        let (min, max) = (*ms.start(), *ms.end());
        self.duration(
            key,
            text,
            Duration::from_millis(min),
            Duration::from_millis(max),
        )
    }

    pub(super) fn range(&mut self, key: &str, v: u64, min: u64, max: u64) -> u64 {
        if v < min || v > max {
            self.fail(key, format!("must be between {min} and {max}"));
            return min;
        }
        v
    }
}

/// A bound in a message, as the messages have always shown it (`1s`, `3600s`, `250ms`).
fn show(d: Duration) -> String {
    match d.as_millis() {
        ms if ms % 1000 != 0 => format!("{ms}ms"),
        ms => format!("{}s", ms / 1000),
    }
}

/// Level words `[logging] level` takes, besides their synonyms in [`log_filter`].
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Checks `[logging] level`: a level, or a filter of `target=level` directives separated by
/// commas (e.g. `info,c2tap=debug`), returned with synonyms normalized (`warning` → `warn`).
/// A bare word that is not a level is refused: tracing would take it for a target name and
/// silently print nothing at all.
pub fn log_filter(text: &str) -> Result<String, String> {
    let level = |word: &str| -> Option<&'static str> {
        let word = word.trim().to_ascii_lowercase();
        let word = match word.as_str() {
            "warning" => "warn",
            "err" => "error",
            "information" => "info",
            "none" => "off",
            w => w,
        };
        LEVELS.iter().find(|l| **l == word).copied()
    };
    let mut out = Vec::new();
    for directive in text.split(',').map(str::trim) {
        let normalized = match directive.rsplit_once('=') {
            None => level(directive).map(str::to_string),
            Some((target, lvl)) if !target.trim().is_empty() => {
                level(lvl).map(|l| format!("{}={l}", target.trim()))
            }
            Some(_) => None,
        };
        match normalized {
            Some(d) => out.push(d),
            None => {
                return Err(format!(
                    "`{directive}` is not a level ({}) or a target=level filter",
                    LEVELS.join(", ")
                ))
            }
        }
    }
    let filter = out.join(",");
    tracing_subscriber::EnvFilter::try_new(&filter)
        .map_err(|e| format!("`{text}`: not a level or filter: {e}"))?;
    Ok(filter)
}

pub(super) const MS: Duration = Duration::from_millis(1);
pub(super) const DAY: Duration = Duration::from_secs(86_400);

pub(super) fn nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
