//! Time text for the output stage: the syslog header stamps (RFC 3164 `Mmm dd hh:mm:ss`,
//! RFC 5424 `YYYY-MM-DDThh:mm:ss.mmmZ`); the IOC first/last-seen dates arrive already parsed
//! ([`crate::units::Timestamp`]). All UTC, all computed from the record's own (packet) time so a replay
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

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), by the crate's one calendar
/// ([`crate::units::civil_from_days`]). Packet times (u64 nanoseconds) end in 2554, well inside
/// its range; the fallback is never taken.
fn date_of_day(days: u64) -> (u64, u8, u8) {
    let civil = i64::try_from(days)
        .ok()
        .and_then(crate::units::civil_from_days);
    match civil {
        Some((y, m, d)) => (
            u64::try_from(y).unwrap_or(1970),
            u8::try_from(m).unwrap_or(1),
            u8::try_from(d).unwrap_or(1),
        ),
        None => (1970, 1, 1),
    }
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
            let back = crate::units::days_from_civil(y as i64, m.into(), d.into());
            assert_eq!(back, Some(day as i64), "day {day}");
        }
    }

    #[test]
    fn padding() {
        let mut buf = Vec::new();
        push_padded(&mut buf, 7, 3);
        push_u64(&mut buf, u64::MAX);
        assert_eq!(buf, b"00718446744073709551615");
    }
}
