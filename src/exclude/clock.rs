//! Time terms of an exclusion rule: a daily window in a fixed UTC offset and an expiry date.
//! Both are judged on the record's packet time (flow start), never the wall clock, so a replay
//! suppresses exactly what the live sensor would have. Offsets are fixed (`+02:00`), not zone
//! names: c2tap carries no time-zone database, so a window does not follow daylight saving —
//! an operator in a DST zone writes the offset of the season, or widens the window by an hour.

use crate::time::{Nanos, NANOS_PER_SEC};

pub const MINUTES_PER_DAY: u16 = 1440;
const SECS_PER_DAY: i64 = 86_400;
/// Real offsets stay within ±14:00.
const MAX_OFFSET_MINUTES: i32 = 14 * 60;

/// A fixed offset from UTC, in minutes east.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offset(pub i32);

impl Offset {
    /// `+02:00`, `-05:30`, `+0200`, `Z` or `UTC`.
    pub fn parse(text: &str) -> Result<Offset, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
            return Ok(Offset(0));
        }
        let bad = || format!("`{text}` is not a UTC offset (e.g. \"+02:00\", \"-05:00\", \"UTC\")");
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, t.get(1..).ok_or_else(bad)?),
            Some(b'-') => (-1, t.get(1..).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => (
                rest.get(..2).ok_or_else(bad)?,
                rest.get(2..).ok_or_else(bad)?,
            ),
            None => return Err(bad()),
        };
        let h = two_digits(h).ok_or_else(bad)?;
        let m = two_digits(m).filter(|&m| m < 60).ok_or_else(bad)?;
        let minutes = i32::from(h) * 60 + i32::from(m);
        if minutes > MAX_OFFSET_MINUTES {
            return Err(format!("`{text}`: offsets range from -14:00 to +14:00"));
        }
        Ok(Offset(sign * minutes))
    }

    fn secs(self) -> i64 {
        i64::from(self.0) * 60
    }

    /// Seconds since the epoch on this offset's wall clock.
    fn local_secs(self, t: Nanos) -> i64 {
        i64::try_from(t / NANOS_PER_SEC).unwrap_or(i64::MAX) + self.secs()
    }
}

fn two_digits(s: &str) -> Option<u8> {
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A daily window `HH:MM-HH:MM` on the rule's offset; the end is exclusive and may be `24:00`.
/// A start after the end wraps past midnight (`22:00-02:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u16,
    pub end: u16,
    pub offset: Offset,
}

impl Window {
    pub fn parse(text: &str, offset: Offset) -> Result<Window, String> {
        let bad = || format!("`{text}` is not a window (e.g. \"01:00-03:30\", \"22:00-02:00\")");
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let start = minute_of_day(a)
            .filter(|&m| m < MINUTES_PER_DAY)
            .ok_or_else(bad)?;
        let end = minute_of_day(b).ok_or_else(bad)?;
        Ok(Window { start, end, offset })
    }

    /// Start equal to end: no minute of the day is inside.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether local minute `m` (0..1440) is inside.
    fn contains_minute(&self, m: u16) -> bool {
        if self.start <= self.end {
            m >= self.start && m < self.end
        } else {
            m >= self.start || m < self.end
        }
    }

    pub fn contains(&self, t: Nanos) -> bool {
        let m = self.offset.local_secs(t).div_euclid(60).rem_euclid(1440);
        self.contains_minute(u16::try_from(m).unwrap_or(0))
    }

    /// Whether every UTC minute of `other` is also a minute of `self` (offsets may differ).
    pub fn covers(&self, other: &Window) -> bool {
        (0..MINUTES_PER_DAY).all(|utc| {
            !other.contains_minute(shift(utc, other.offset))
                || self.contains_minute(shift(utc, self.offset))
        })
    }
}

/// Local minute of the day for UTC minute `utc` on `offset`.
fn shift(utc: u16, offset: Offset) -> u16 {
    let m = (i32::from(utc) + offset.0).rem_euclid(i32::from(MINUTES_PER_DAY));
    u16::try_from(m).unwrap_or(0)
}

fn minute_of_day(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m) = (u16::from(two_digits(h)?), u16::from(two_digits(m)?));
    match (h, m) {
        (24, 0) => Some(MINUTES_PER_DAY),
        (h, m) if h < 24 && m < 60 => Some(h * 60 + m),
        _ => None,
    }
}

/// The last day a rule applies (inclusive), on the rule's offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry {
    /// Days since 1970-01-01 of the expiry date.
    pub day: i64,
    pub offset: Offset,
    pub text: (u16, u8, u8),
}

impl Expiry {
    /// `YYYY-MM-DD`.
    pub fn parse(text: &str, offset: Offset) -> Result<Expiry, String> {
        let bad = || format!("`{text}` is not a date (YYYY-MM-DD)");
        let mut parts = text.trim().splitn(3, '-');
        let y: u16 = parts
            .next()
            .filter(|p| p.len() == 4)
            .and_then(|p| p.parse().ok())
            .ok_or_else(bad)?;
        let m = parts.next().and_then(two_digits).ok_or_else(bad)?;
        let d = parts.next().and_then(two_digits).ok_or_else(bad)?;
        // The crate's one calendar (`units`) also refuses a day the month does not have.
        let day =
            crate::units::days_from_civil(i64::from(y), m.into(), d.into()).ok_or_else(bad)?;
        Ok(Expiry {
            day,
            offset,
            text: (y, m, d),
        })
    }

    /// Epoch seconds (UTC) from which the rule no longer applies.
    pub fn end_epoch_secs(&self) -> i64 {
        (self.day + 1) * SECS_PER_DAY - self.offset.secs()
    }

    /// Whether the rule still applies at packet time `t`.
    pub fn applies_at(&self, t: Nanos) -> bool {
        i64::try_from(t / NANOS_PER_SEC).unwrap_or(i64::MAX) < self.end_epoch_secs()
    }
}

impl std::fmt::Display for Expiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.text;
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600 * NANOS_PER_SEC;
    /// 2026-05-09 00:00:00 UTC.
    const DAY0: u64 = 1_778_284_800 * NANOS_PER_SEC;

    #[test]
    fn offsets() {
        assert_eq!(Offset::parse("+02:00"), Ok(Offset(120)));
        assert_eq!(Offset::parse("-05:30"), Ok(Offset(-330)));
        assert_eq!(Offset::parse("+0100"), Ok(Offset(60)));
        assert_eq!(Offset::parse("UTC"), Ok(Offset(0)));
        assert_eq!(Offset::parse("Z"), Ok(Offset(0)));
        for bad in [
            "Europe/Berlin",
            "2",
            "+2",
            "+02:60",
            "+15:00",
            "",
            "+",
            "+02:0",
        ] {
            assert!(Offset::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_on_an_offset() {
        let w = Window::parse("01:00-03:30", Offset(120)).unwrap();
        // 01:00 local on +02:00 is 23:00 UTC of the day before.
        assert!(!w.contains(DAY0 - 2 * H + 59 * 60 * NANOS_PER_SEC - 1));
        assert!(w.contains(DAY0 - H));
        assert!(w.contains(DAY0 + H + 29 * 60 * NANOS_PER_SEC));
        assert!(!w.contains(DAY0 + H + 30 * 60 * NANOS_PER_SEC));
        assert!(!w.contains(DAY0 + 12 * H));
    }

    #[test]
    fn window_across_midnight_and_to_24() {
        let w = Window::parse("22:00-02:00", Offset(0)).unwrap();
        assert!(w.contains(DAY0 + 23 * H));
        assert!(w.contains(DAY0 + H));
        assert!(!w.contains(DAY0 + 2 * H));
        assert!(!w.contains(DAY0 + 21 * H));
        let all = Window::parse("00:00-24:00", Offset(0)).unwrap();
        assert!(!all.is_empty());
        assert!(all.contains(DAY0 + 23 * H) && all.contains(DAY0));
        assert!(Window::parse("03:00-03:00", Offset(0)).unwrap().is_empty());
        assert!(!w.is_empty());
        for bad in [
            "1:00-3:00",
            "01:00",
            "25:00-01:00",
            "01:00-03:61",
            "24:00-01:00",
            "x",
        ] {
            assert!(Window::parse(bad, Offset(0)).is_err(), "{bad}");
        }
    }

    #[test]
    fn coverage_compares_utc_minutes() {
        let utc = |t: &str, o: i32| Window::parse(t, Offset(o)).unwrap();
        // 01:00-03:00 on +02:00 is 23:00-01:00 UTC.
        assert!(utc("22:00-02:00", 0).covers(&utc("01:00-03:00", 120)));
        assert!(!utc("00:00-02:00", 0).covers(&utc("01:00-03:00", 120)));
        assert!(utc("00:00-24:00", 0).covers(&utc("05:00-06:00", -300)));
    }

    #[test]
    fn expiry_is_inclusive_on_its_offset() {
        let e = Expiry::parse("2026-05-09", Offset(0)).unwrap();
        assert!(e.applies_at(DAY0 + 23 * H));
        assert!(!e.applies_at(DAY0 + 24 * H));
        let east = Expiry::parse("2026-05-09", Offset(120)).unwrap();
        assert!(east.applies_at(DAY0 + 21 * H));
        assert!(!east.applies_at(DAY0 + 22 * H));
        assert_eq!(e.to_string(), "2026-05-09");
        assert_eq!(
            Expiry::parse("2024-02-29", Offset(0)).map(|e| e.day),
            Ok(19_782)
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "26-01-01",
            "2026-1-1",
            "tomorrow",
        ] {
            assert!(Expiry::parse(bad, Offset(0)).is_err(), "{bad}");
        }
    }
}
