//! Units: timestamps ([`Timestamp`], feed dates parsed once) and the one grammar for durations and sizes that every settings key takes (the config
//! file's sections and `[outputs.options]` alike), so an operator never has to remember which
//! key wants `1d` and which wants bare seconds. A leaf beside the data path: it knows nothing of
//! any stage, and every stage's settings are parsed through it once, at load.
//!
//! Durations: a whole number with a unit, `250ms`, `30s`, `10m`, `2h`, `1d`, or a bare number
//! of seconds (`30`, or a TOML integer `30`). Sizes: a whole number of bytes, or with a binary
//! unit, `512KiB`, `64MiB`, `1GiB` (`K`, `M`, `G` and `B` too), as text or a TOML integer.

mod timestamp;

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

pub use timestamp::{civil_from_days, days_from_civil, Timestamp};

/// Units a duration takes, with their length in milliseconds, largest first (for display).
const DURATION_UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Units a size takes, with their multiplier.
const SIZE_UNITS: [(&str, u64); 8] = [
    ("", 1),
    ("B", 1),
    ("K", 1 << 10),
    ("KiB", 1 << 10),
    ("M", 1 << 20),
    ("MiB", 1 << 20),
    ("G", 1 << 30),
    ("GiB", 1 << 30),
];

/// A number and the unit written after it (whitespace between them allowed).
fn split_number(text: &str) -> Option<(u64, &str)> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    Some((num.parse().ok()?, unit.trim()))
}

/// `250ms`, `30s`, `10m`, `2h`, `1d`, or a bare number of seconds (`0` = off where a key
/// allows off).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (n, unit) = split_number(t)
        .ok_or_else(|| format!("`{text}` is not a duration (e.g. 250ms, 30s, 10m, 2h, 1d)"))?;
    let ms_per = match unit {
        "" => 1000,
        u => DURATION_UNITS
            .iter()
            .find(|(name, _)| *name == u)
            .map(|(_, ms)| *ms)
            .ok_or_else(|| format!("`{text}`: unit must be one of ms, s, m, h, d"))?,
    };
    n.checked_mul(ms_per)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// `d` in the largest unit that divides it exactly (`90s`, `2h`, `1d`, `250ms`); what
/// [`parse_duration`] reads back to the same millisecond.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    for (unit, per) in DURATION_UNITS {
        if ms % u128::from(per) == 0 {
            return format!("{}{unit}", ms / u128::from(per));
        }
    }
    format!("{ms}ms")
}

/// Bytes, or `512KiB`, `64MiB`, `1GiB` (also `K`, `M`, `G`: binary units either way).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (n, unit) = split_number(t).ok_or_else(|| format!("`{t}` is not a size (e.g. 64MiB)"))?;
    let mul = SIZE_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, mul)| *mul)
        .ok_or_else(|| format!("`{t}`: unit must be one of KiB, MiB, GiB"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("`{t}` is too large"))
}

/// `n` bytes in the largest binary unit that divides it exactly (`64MiB`, `1536`); what
/// [`parse_size`] reads back to the same byte.
pub fn format_size(n: u64) -> String {
    for (unit, mul) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n != 0 && n % mul == 0 {
            return format!("{}{unit}", n / mul);
        }
    }
    n.to_string()
}

/// A duration as written in a settings file: a TOML integer (seconds) or text. Kept as written
/// until validation, so its problem is reported with the key's range check, under its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationText {
    Secs(u64),
    Text(String),
}

impl DurationText {
    pub fn parse(&self) -> Result<Duration, String> {
        match self {
            DurationText::Secs(s) => Ok(Duration::from_secs(*s)),
            DurationText::Text(t) => parse_duration(t),
        }
    }
}

impl From<&str> for DurationText {
    fn from(text: &str) -> DurationText {
        DurationText::Text(text.to_string())
    }
}

/// A size as written in a settings file: a TOML integer (bytes) or text with a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeText {
    Bytes(u64),
    Text(String),
}

impl SizeText {
    pub fn parse(&self) -> Result<u64, String> {
        match self {
            SizeText::Bytes(n) => Ok(*n),
            SizeText::Text(t) => parse_size(t),
        }
    }
}

impl From<&str> for SizeText {
    fn from(text: &str) -> SizeText {
        SizeText::Text(text.to_string())
    }
}

/// Number-or-text visitor shared by both kinds; `what` is serde's "expected …" text.
struct NumberOrText {
    what: &'static str,
}

enum Written {
    Number(u64),
    Text(String),
}

impl<'de> Visitor<'de> for NumberOrText {
    type Value = Written;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Written, E> {
        Ok(Written::Number(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Written, E> {
        u64::try_from(v)
            .map(Written::Number)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Written, E> {
        Ok(Written::Text(v.to_string()))
    }
}

const DURATION_EXPECTED: &str = "a duration (e.g. \"30s\") or a number of seconds";
const SIZE_EXPECTED: &str = "a size (e.g. \"64MiB\") or a number of bytes";

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DurationText, D::Error> {
        let what = DURATION_EXPECTED;
        Ok(match d.deserialize_any(NumberOrText { what })? {
            Written::Number(n) => DurationText::Secs(n),
            Written::Text(t) => DurationText::Text(t),
        })
    }
}

impl<'de> Deserialize<'de> for SizeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SizeText, D::Error> {
        let what = SIZE_EXPECTED;
        Ok(match d.deserialize_any(NumberOrText { what })? {
            Written::Number(n) => SizeText::Bytes(n),
            Written::Text(t) => SizeText::Text(t),
        })
    }
}

/// `#[serde(deserialize_with = "units::duration")]` for a typed [`Duration`] field.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    DurationText::deserialize(d)?
        .parse()
        .map_err(de::Error::custom)
}

/// `#[serde(deserialize_with = "units::size")]` for a typed byte count.
pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    SizeText::deserialize(d)?.parse().map_err(de::Error::custom)
}

/// [`size`] for a `usize` field.
pub fn size_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = size(d)?;
    usize::try_from(n).map_err(|_| de::Error::custom(format!("{n} bytes is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_take_every_form_either_old_grammar_took() {
        let ok = [
            ("250ms", 250),
            ("30s", 30_000),
            ("10m", 600_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("0", 0),
            ("0s", 0),
            ("7", 7000),
            (" 5 m ", 300_000),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["", "ms", "-1s", "1.5s", "5x", "99999999999999999999d", "1w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("5x"),
            Err("`5x`: unit must be one of ms, s, m, h, d".to_string())
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[derive(Deserialize)]
    struct Keys {
        #[serde(deserialize_with = "duration")]
        d: Duration,
        #[serde(deserialize_with = "size")]
        s: u64,
        t: Option<DurationText>,
    }

    #[test]
    fn toml_integers_and_text_both_work() {
        let both = |text: &str| toml::from_str::<Keys>(text).map(|k| (k.d, k.s));
        let want = Ok((Duration::from_secs(90), 2048));
        assert_eq!(both("d = 90\ns = 2048"), want);
        assert_eq!(both("d = \"90s\"\ns = \"2KiB\""), want);
        assert_eq!(both("d = \"90\"\ns = \"2048\""), want);
        let err = toml::from_str::<Keys>("d = true\ns = 1").err().unwrap();
        assert!(err.message().contains(DURATION_EXPECTED), "{err}");
        let err = toml::from_str::<Keys>("d = -1\ns = 1").err().unwrap();
        assert!(err.message().contains("invalid value"), "{err}");
        let keys = toml::from_str::<Keys>("d = 1\ns = 1\nt = 5").unwrap();
        assert_eq!(keys.t, Some(DurationText::Secs(5)));
    }

    proptest! {
        #[test]
        fn durations_round_trip(ms in 0u64..=(400 * 86_400_000)) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
            // A bare number is seconds, a TOML integer too.
            prop_assert_eq!(parse_duration(&(ms / 1000).to_string()), Ok(Duration::from_secs(ms / 1000)));
            prop_assert_eq!(DurationText::Secs(ms).parse(), Ok(Duration::from_secs(ms)));
        }

        #[test]
        fn sizes_round_trip(n in 0u64..=(1 << 40)) {
            prop_assert_eq!(parse_size(&format_size(n)), Ok(n));
            prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
        }

        #[test]
        fn no_text_panics(text in ".{0,24}") {
            let _ = parse_duration(&text);
            let _ = parse_size(&text);
        }
    }
}
