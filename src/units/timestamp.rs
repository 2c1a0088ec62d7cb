//! Timestamps of feeds: ThreatFox writes `2024-07-16 05:25:36` (CSV, zone-less UTC) or
//! `… UTC` (API), STIX writes RFC 3339, write-ups write a bare date. All become one UTC
//! [`Timestamp`], parsed once at load, so reports sort and compare, the age filter computes with
//! them, and the formatters print them without parsing text again.
//!
//! The calendar arithmetic (proleptic Gregorian date ↔ days since 1970-01-01) is jiff's, in one
//! place for the whole crate: the feed loader, the syslog header stamps and the `[[exclude]]`
//! expiry dates all use [`days_from_civil`] and [`civil_from_days`].

use std::fmt;

use jiff::civil::Date;
use jiff::tz::Offset;
use jiff::SignedDuration;

const SECS_PER_DAY: i64 = 86_400;
const EPOCH: Date = jiff::civil::date(1970, 1, 1);

/// Days since 1970-01-01 of a proleptic Gregorian date; `None` for a date that does not exist
/// (month 13, February 30th) or outside years -9999..=9999.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let date = Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    Some(
        date.duration_since(EPOCH)
            .as_secs()
            .div_euclid(SECS_PER_DAY),
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31); `None` outside jiff's range (years
/// -9999..=9999). jiff's own epoch-day conversion, cheap enough for every syslog header.
pub fn civil_from_days(days: i64) -> Option<(i16, i8, i8)> {
    let secs = days.checked_mul(SECS_PER_DAY)?;
    let date = match jiff::Timestamp::from_second(secs) {
        Ok(instant) => Offset::UTC.to_datetime(instant).date(),
        // The last day or two of jiff's date range lie beyond its instants.
        Err(_) => EPOCH.checked_add(SignedDuration::from_secs(secs)).ok()?,
    };
    Some((date.year(), date.month(), date.day()))
}

/// A UTC instant with the precision the feed gave (date only, or to the second).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    epoch_secs: i64,
    has_time: bool,
}

impl Timestamp {
    /// Parses `YYYY-MM-DD`, optionally followed by `[T ]HH:MM[:SS[.frac]]` and a zone
    /// (`Z`, ` UTC`, `±HH:MM`, `±HHMM`); a missing zone means UTC, as ThreatFox's `_utc`
    /// columns do. Anything else (including `None`) is `None`: a bad date never rejects a row.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let date = text.get(..10)?;
        let days = parse_date(date)?;
        let rest = text.get(10..)?;
        if rest.is_empty() {
            return Some(Timestamp {
                epoch_secs: days.checked_mul(SECS_PER_DAY)?,
                has_time: false,
            });
        }
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let hour = digits(rest.get(0..2)?)?;
        let minute = digits(rest.get(3..5)?).filter(|_| rest.get(2..3) == Some(":"))?;
        let (second, rest) = match rest.get(5..6) {
            Some(":") => (digits(rest.get(6..8)?)?, rest.get(8..)?),
            _ => (0, rest.get(5..)?),
        };
        let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
        let offset = parse_zone(rest)?;
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let secs = days
            .checked_mul(SECS_PER_DAY)?
            .checked_add(hour * 3600 + minute * 60 + second.min(59))?
            .checked_sub(offset)?;
        Some(Timestamp {
            epoch_secs: secs,
            has_time: true,
        })
    }

    pub fn epoch_secs(self) -> i64 {
        self.epoch_secs
    }

    /// Epoch milliseconds, as CEF's date keys carry them; `None` before 1970 (CEF then omits
    /// the key rather than sending a wrong date).
    pub fn epoch_millis(self) -> Option<u64> {
        u64::try_from(self.epoch_secs).ok()?.checked_mul(1000)
    }

    /// Whether the feed gave a time of day, not only a date.
    pub fn has_time(self) -> bool {
        self.has_time
    }
}

/// A [`Timestamp`]'s text on the stack, for formatters that write records without allocating.
#[derive(Clone, Copy)]
pub struct TimestampText {
    buf: [u8; 24],
    len: usize,
}

impl TimestampText {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, '-', ' ' and ':' are ever written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl Timestamp {
    /// The [`fmt::Display`] text, without allocating or going through `fmt` (formatters call
    /// this per record).
    pub fn text(self) -> TimestampText {
        let mut out = TimestampText {
            buf: [0; 24],
            len: 0,
        };
        let days = self.epoch_secs.div_euclid(SECS_PER_DAY);
        let secs = self.epoch_secs.rem_euclid(SECS_PER_DAY);
        let Some((y, m, d)) = civil_from_days(days) else {
            return out;
        };
        // As `{y:04}` writes it: the sign counts in the width.
        if y < 0 {
            out.push(b'-');
            out.digits(u64::from(y.unsigned_abs()), 3);
        } else {
            out.digits(u64::from(y.unsigned_abs()), 4);
        }
        out.push(b'-');
        out.digits(m as u64, 2);
        out.push(b'-');
        out.digits(d as u64, 2);
        if self.has_time {
            let secs = secs as u64;
            out.push(b' ');
            out.digits(secs / 3600, 2);
            out.push(b':');
            out.digits(secs / 60 % 60, 2);
            out.push(b':');
            out.digits(secs % 60, 2);
        }
        out
    }
}

impl TimestampText {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// `n` zero-padded to `width` digits (`n` never has more than `width` here).
    fn digits(&mut self, n: u64, width: u32) {
        for place in (0..width).rev() {
            self.push(b'0' + (n / 10u64.pow(place) % 10) as u8);
        }
    }
}

impl serde::Serialize for Timestamp {
    /// As its text (`2026-05-09 14:03:27`), the form reports have always carried.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`, the form ThreatFox uses, always UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.epoch_secs.div_euclid(SECS_PER_DAY);
        let secs = self.epoch_secs.rem_euclid(SECS_PER_DAY);
        let (y, m, d) = civil_from_days(days).ok_or(fmt::Error)?;
        write!(f, "{y:04}-{m:02}-{d:02}")?;
        if self.has_time {
            write!(
                f,
                " {:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            )?;
        }
        Ok(())
    }
}

fn digits(text: &str) -> Option<i64> {
    match text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        true => text.parse().ok(),
        false => None,
    }
}

fn parse_date(text: &str) -> Option<i64> {
    if text.get(4..5) != Some("-") || text.get(7..8) != Some("-") {
        return None;
    }
    let (y, m, d) = (
        digits(text.get(0..4)?)?,
        digits(text.get(5..7)?)?,
        digits(text.get(8..10)?)?,
    );
    days_from_civil(y, m, d)
}

/// Zone suffix → seconds east of UTC.
fn parse_zone(text: &str) -> Option<i64> {
    let text = text.trim();
    match text {
        "" | "Z" | "z" | "UTC" | "GMT" => return Some(0),
        _ => {}
    }
    let sign = match text.get(..1)? {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let body = text.get(1..)?.replace(':', "");
    let (h, m) = (digits(body.get(0..2)?)?, digits(body.get(2..4)?)?);
    (body.len() == 4 && h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> Option<String> {
        Timestamp::parse(text).map(|t| t.to_string())
    }

    #[test]
    fn normalizes_feed_forms_to_utc() {
        assert_eq!(norm("2026-05-09"), Some("2026-05-09".into()));
        assert_eq!(
            norm("2024-07-16 05:25:36"),
            Some("2024-07-16 05:25:36".into())
        );
        assert_eq!(
            norm("2020-12-08 13:36:27 UTC"),
            Some("2020-12-08 13:36:27".into())
        );
        assert_eq!(
            norm("2026-05-09T00:00:00.000Z"),
            Some("2026-05-09 00:00:00".into())
        );
        assert_eq!(
            norm("2026-05-09T01:30:00+02:00"),
            Some("2026-05-08 23:30:00".into())
        );
        assert_eq!(
            norm("2024-02-29T23:00:00-0130"),
            Some("2024-03-01 00:30:00".into())
        );
        assert_eq!(norm("2026-05-09 10:11"), Some("2026-05-09 10:11:00".into()));
    }

    #[test]
    fn refuses_non_dates() {
        for text in [
            "None",
            "",
            "2026-13-01",
            "2025-02-29",
            "2026-05-09X",
            "2026-05-09 25:00:00",
            "2026/05/09",
        ] {
            assert_eq!(norm(text), None, "{text}");
        }
    }

    #[test]
    fn text_is_display() {
        for text in [
            "2026-05-09",
            "2026-05-09 14:03:27",
            "1969-12-31 23:59:59",
            "0000-01-01T00:30:00+01:00",
            "9999-12-31 23:59:59",
        ] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(t.text().as_str(), t.to_string(), "{text}");
        }
    }

    #[test]
    fn epoch_matches_known_instants() {
        assert_eq!(
            Timestamp::parse("1970-01-01").map(Timestamp::epoch_secs),
            Some(0)
        );
        assert_eq!(
            Timestamp::parse("2026-05-09 00:00:01").map(Timestamp::epoch_secs),
            Some(1_778_284_801)
        );
    }
}
