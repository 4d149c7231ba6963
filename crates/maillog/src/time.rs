//! Log timestamps as seconds on the log's own clock.
//!
//! Exim writes `2016-03-25 14:41:14[.461][ +0100]`; syslog writes
//! `Mar 25 14:41:14` (no year) or RFC 3339. Detection only needs the order
//! and distance of events, so times are kept as seconds since 1970 on the
//! log's wall clock (an offset, when written, is applied).

use serde::{Deserialize, Serialize};

/// Seconds since 1970-01-01 00:00:00 on the log's clock, plus milliseconds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Stamp {
    pub secs: i64,
    pub millis: u16,
}

impl Stamp {
    /// `YYYY-MM-DDTHH:MM:SS` (the log's own clock, no zone).
    pub fn iso(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, d| a * 10 + (d - b'0') as u32))
}

fn hms(b: &[u8]) -> Option<i64> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (num(&b[0..2])?, num(&b[3..5])?, num(&b[6..8])?);
    (h < 24 && m < 60 && s < 61).then_some((h * 3600 + m * 60 + s) as i64)
}

/// How many bytes an Exim stamp at the start of `b` takes, by its shape
/// only (the digits are not read): what [`parse_exim`] would use when the
/// stamp is valid. For routing lines cheaply ([`crate::shard`]).
pub fn exim_stamp_len(b: &[u8]) -> Option<usize> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let mut used = 19;
    if b.len() >= 23 && b[19] == b'.' {
        used = 23;
    }
    if offset(&b[used..]).is_some() {
        used += 6;
    }
    Some(used)
}

/// `YYYY-MM-DD HH:MM:SS[.mmm]`; returns the stamp and the bytes used.
/// A following ` +hhmm`/` -hhmm` offset is applied and consumed too.
pub fn parse_exim(b: &[u8]) -> Option<(Stamp, usize)> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y as i64, mo, d) * 86_400 + hms(&b[11..19])?;
    let mut used = 19;
    let mut millis = 0;
    if b.len() >= 23 && b[19] == b'.' {
        millis = num(&b[20..23])? as u16;
        used = 23;
    }
    if let Some(off) = offset(&b[used..]) {
        secs -= off;
        used += 6;
    }
    Some((Stamp { secs, millis }, used))
}

/// ` +hhmm` / ` -hhmm` in seconds east of UTC.
fn offset(b: &[u8]) -> Option<i64> {
    if b.len() < 6 || b[0] != b' ' || !(b[1] == b'+' || b[1] == b'-') {
        return None;
    }
    if b.len() > 6 && b[6] != b' ' {
        return None;
    }
    let h = num(&b[2..4])? as i64;
    let m = num(&b[4..6])? as i64;
    let s = (h * 3600 + m * 60) * if b[1] == b'-' { -1 } else { 1 };
    Some(s)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Syslog time: `Mmm dd HH:MM:SS` (year from `year`) or RFC 3339
/// `YYYY-MM-DDTHH:MM:SS[.frac][Z|±hh:mm]`. Returns the stamp and bytes used.
pub fn parse_syslog(b: &[u8], year: i64) -> Option<(Stamp, usize)> {
    if b.len() >= 15 && b[3] == b' ' && b[6] == b' ' {
        let mo = MONTHS.iter().position(|m| &b[0..3] == *m)? as u32 + 1;
        let day = if b[4] == b' ' {
            num(&b[5..6])?
        } else {
            num(&b[4..6])?
        };
        let secs = days_from_civil(year, mo, day) * 86_400 + hms(&b[7..15])?;
        return Some((Stamp { secs, millis: 0 }, 15));
    }
    if b.len() >= 19 && b[4] == b'-' && b[10] == b'T' {
        let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
        let mut secs = days_from_civil(y as i64, mo, d) * 86_400 + hms(&b[11..19])?;
        let mut i = 19;
        let mut millis = 0u16;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let frac = &b[start..i.min(start + 3)];
            millis = num(frac).unwrap_or(0) as u16 * [100, 10, 1][frac.len().clamp(1, 3) - 1];
        }
        match b.get(i) {
            Some(b'Z') => i += 1,
            Some(s @ (b'+' | b'-')) if b.len() >= i + 6 && b[i + 3] == b':' => {
                let off =
                    (num(&b[i + 1..i + 3])? as i64 * 3600) + num(&b[i + 4..i + 6])? as i64 * 60;
                secs -= if *s == b'-' { -off } else { off };
                i += 6;
            }
            _ => {}
        }
        return Some((Stamp { secs, millis }, i));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exim_stamps() {
        let (s, used) = parse_exim(b"2016-03-25 14:41:14 1ajLQo").unwrap();
        assert_eq!(used, 19);
        assert_eq!(s.iso(), "2016-03-25T14:41:14");
        let (s, used) = parse_exim(b"2025-02-14 18:12:33.461 [46483] cwd").unwrap();
        assert_eq!((used, s.millis), (23, 461));
        let (s, used) = parse_exim(b"2025-02-14 18:12:33 +0100 x").unwrap();
        assert_eq!(used, 25);
        assert_eq!(s.iso(), "2025-02-14T17:12:33");
        assert!(parse_exim(b"2025-13-14 18:12:33 x").is_none());
        assert!(parse_exim(b"garbage").is_none());
    }

    #[test]
    fn syslog_stamps() {
        let (s, used) = parse_syslog(b"Mar  5 04:05:06 host", 2026).unwrap();
        assert_eq!((s.iso().as_str(), used), ("2026-03-05T04:05:06", 15));
        let (s, _) = parse_syslog(b"Dec 31 23:59:59 host", 2025).unwrap();
        assert_eq!(s.iso(), "2025-12-31T23:59:59");
        let (s, used) = parse_syslog(b"2025-02-14T18:12:33.461+01:00 host", 0).unwrap();
        assert_eq!(
            (s.iso().as_str(), s.millis, used),
            ("2025-02-14T17:12:33", 461, 29)
        );
        let (s, used) = parse_syslog(b"2025-02-14T18:12:33Z host", 0).unwrap();
        assert_eq!((s.iso().as_str(), used), ("2025-02-14T18:12:33", 20));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 59, 60, 10_000, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
