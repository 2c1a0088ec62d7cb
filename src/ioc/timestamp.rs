//! Feed timestamps: ThreatFox writes `2024-07-16 05:25:36` (CSV, zone-less UTC) or
//! `… UTC` (API), STIX writes RFC 3339, write-ups write a bare date. All become one UTC form so
//! reports sort and compare, and the age filter can compute with them.

use std::fmt;

const SECS_PER_DAY: i64 = 86_400;

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
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`, the form ThreatFox uses, always UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.epoch_secs.div_euclid(SECS_PER_DAY);
        let secs = self.epoch_secs.rem_euclid(SECS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
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
    let month_len = match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (1..=month_len)
        .contains(&d)
        .then(|| days_from_civil(y, m, d))
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

/// Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: 400-year cycles).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
