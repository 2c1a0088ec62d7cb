//! Time text for the output stage: the syslog header stamps (RFC 3164 `Mmm dd hh:mm:ss`,
//! RFC 5424 `YYYY-MM-DDThh:mm:ss.mmmZ`) and the IOC first/last-seen dates that CEF carries as
//! epoch milliseconds. All UTC, all computed from the record's own (packet) time so a replay
//! renders the same bytes on every run; nothing here allocates.

use crate::time::{Nanos, NANOS_PER_MILLI, NANOS_PER_SEC};

const SECS_PER_DAY: u64 = 86_400;
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A UTC calendar instant broken into the parts the stamps print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: u64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
}

impl Civil {
    pub fn from_nanos(t: Nanos) -> Civil {
        let secs = t / NANOS_PER_SEC;
        let millis = (t % NANOS_PER_SEC / NANOS_PER_MILLI) as u16;
        let (year, month, day) = date_of_day(secs / SECS_PER_DAY);
        let in_day = secs % SECS_PER_DAY;
        Civil {
            year,
            month,
            day,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
            millis,
        }
    }

    /// `May  9 14:03:27`: RFC 3164 form, day space-padded, no year, no zone (UTC by contract).
    pub fn write_rfc3164(&self, buf: &mut Vec<u8>) {
        let month = MONTHS
            .get(usize::from(self.month).saturating_sub(1))
            .unwrap_or(&b"Jan");
        buf.extend_from_slice(*month);
        buf.push(b' ');
        if self.day < 10 {
            buf.push(b' ');
        }
        push_padded(buf, u64::from(self.day), 1);
        buf.push(b' ');
        self.write_clock(buf);
    }

    /// `2026-05-09T14:03:27.123Z`: RFC 5424 / RFC 3339 with milliseconds.
    pub fn write_rfc5424(&self, buf: &mut Vec<u8>) {
        push_padded(buf, self.year, 4);
        buf.push(b'-');
        push_padded(buf, u64::from(self.month), 2);
        buf.push(b'-');
        push_padded(buf, u64::from(self.day), 2);
        buf.push(b'T');
        self.write_clock(buf);
        buf.push(b'.');
        push_padded(buf, u64::from(self.millis), 3);
        buf.push(b'Z');
    }

    fn write_clock(&self, buf: &mut Vec<u8>) {
        push_padded(buf, u64::from(self.hour), 2);
        buf.push(b':');
        push_padded(buf, u64::from(self.minute), 2);
        buf.push(b':');
        push_padded(buf, u64::from(self.second), 2);
    }
}

/// Decimal digits of `n`, left-padded with zeros to `width`, without going through `fmt`.
pub fn push_padded(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for _ in (digits.len() - i)..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(digits.get(i..).unwrap_or_default());
}

/// Decimal `n` (no padding).
pub fn push_u64(buf: &mut Vec<u8>, n: u64) {
    push_padded(buf, n, 1);
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian, in 400-year eras
/// that start on March 1st so the leap day falls at the end of each era-year.
fn date_of_day(days: u64) -> (u64, u8, u8) {
    const DAYS_PER_ERA: u64 = 146_097;
    // Shift the epoch to 0000-03-01, which starts an era.
    let shifted = days + 719_468;
    let era = shifted / DAYS_PER_ERA;
    let day_of_era = shifted % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month as u8, day)
}

/// (year, month, day) → days since 1970-01-01; `None` before the epoch or for an invalid date.
fn day_of_date(year: u64, month: u64, day: u64) -> Option<u64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_len = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let len = *month_len.get(usize::try_from(month.checked_sub(1)?).ok()?)?;
    if day == 0 || day > len || !(1970..=9999).contains(&year) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let m = if month <= 2 { month + 9 } else { month - 3 };
    let era = y / 400;
    let year_of_era = y % 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

/// A feed date as normalized by the IOC loader — `YYYY-MM-DD`, optionally followed by
/// `[T ]hh:mm:ss`, fractional seconds and `Z`/` UTC` — as epoch milliseconds. Anything else is
/// `None`: CEF then omits the key rather than sending a wrong date.
pub fn feed_time_millis(text: &str) -> Option<u64> {
    let bytes = text.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<u64> {
        let digits = bytes.get(from..from.checked_add(len)?)?;
        digits.iter().try_fold(0u64, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
        })
    };
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let days = day_of_date(num(0, 4)?, num(5, 2)?, num(8, 2)?)?;
    let mut secs = days * SECS_PER_DAY;
    let rest = bytes.get(10..).unwrap_or_default();
    if !rest.is_empty() {
        if !matches!(rest.first(), Some(b'T' | b' ')) || bytes.get(13) != Some(&b':') {
            return None;
        }
        let (h, m) = (num(11, 2)?, num(14, 2)?);
        let s = if bytes.get(16) == Some(&b':') {
            num(17, 2)?
        } else {
            0
        };
        if h > 23 || m > 59 || s > 60 {
            return None;
        }
        let zone = bytes.get(if bytes.get(16) == Some(&b':') { 19 } else { 16 }..)?;
        let zone = match zone
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
        {
            Some(p) => zone.get(p..).unwrap_or_default(),
            None => &[],
        };
        if !matches!(zone, b"" | b"Z" | b"z" | b" UTC" | b"+00:00") {
            return None;
        }
        secs += h * 3600 + m * 60 + s.min(59);
    }
    secs.checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp3164(t: Nanos) -> String {
        let mut buf = Vec::new();
        Civil::from_nanos(t).write_rfc3164(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    fn stamp5424(t: Nanos) -> String {
        let mut buf = Vec::new();
        Civil::from_nanos(t).write_rfc5424(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn stamps_match_known_instants() {
        // 2026-05-09T14:03:27.123Z (reference worked example).
        let t = 1_778_335_407_123 * NANOS_PER_MILLI + 456;
        assert_eq!(stamp3164(t), "May  9 14:03:27");
        assert_eq!(stamp5424(t), "2026-05-09T14:03:27.123Z");
        assert_eq!(stamp3164(0), "Jan  1 00:00:00");
        assert_eq!(stamp5424(0), "1970-01-01T00:00:00.000Z");
        // Leap day and year end.
        assert_eq!(
            stamp5424(951_782_400 * NANOS_PER_SEC),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(stamp3164(1_704_067_199 * NANOS_PER_SEC), "Dec 31 23:59:59");
    }

    #[test]
    fn dates_round_trip_over_four_centuries() {
        for day in (0..146_097 * 2).step_by(7) {
            let (y, m, d) = date_of_day(day);
            assert_eq!(
                day_of_date(y, u64::from(m), u64::from(d)),
                Some(day),
                "day {day}"
            );
        }
    }

    #[test]
    fn feed_times_parse_or_refuse() {
        assert_eq!(feed_time_millis("2026-05-09"), Some(1_778_284_800_000));
        assert_eq!(
            feed_time_millis("2026-05-09 14:03:27"),
            Some(1_778_335_407_000)
        );
        assert_eq!(
            feed_time_millis("2026-05-09T14:03:27Z"),
            Some(1_778_335_407_000)
        );
        assert_eq!(
            feed_time_millis("2026-05-09 14:03:27 UTC"),
            Some(1_778_335_407_000)
        );
        assert_eq!(
            feed_time_millis("2026-05-09T14:03:27.5Z"),
            Some(1_778_335_407_000)
        );
        assert_eq!(
            feed_time_millis("2026-05-09 14:03"),
            Some(1_778_335_380_000)
        );
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-30",
            "1969-12-31",
            "2026-05-09 25:00",
            "x",
        ] {
            assert_eq!(feed_time_millis(bad), None, "{bad}");
        }
        assert_eq!(feed_time_millis("2026-05-09 14:03:27+02:00"), None);
    }

    #[test]
    fn padding() {
        let mut buf = Vec::new();
        push_padded(&mut buf, 7, 3);
        push_u64(&mut buf, u64::MAX);
        assert_eq!(buf, b"00718446744073709551615");
    }
}
