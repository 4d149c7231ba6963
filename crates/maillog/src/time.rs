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
        let (h, min, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
        if !(0..=9999).contains(&y) {
            return format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}");
        }
        // By hand: every sender's report writes two of these, and
        // `format!` costs ten times as much.
        let mut b = [0u8; 19];
        let y = y as u32;
        b[..4].copy_from_slice(&[
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
        ]);
        for (at, sep, v) in [
            (4, b'-', m),
            (7, b'-', d),
            (10, b'T', h as u32),
            (13, b':', min as u32),
            (16, b':', sec as u32),
        ] {
            b[at] = sep;
            b[at + 1] = b'0' + (v / 10) as u8;
            b[at + 2] = b'0' + (v % 10) as u8;
        }
        String::from_utf8_lossy(&b).into_owned()
    }
}

/// The time zone a log writes its local times in, turning them into UTC.
///
/// Exim (without `log_timezone`) and traditional syslog write the server's
/// wall clock with no offset; blocklist listings, complaints and alerts are
/// in UTC, so a log read without its zone is hours off them. The offset of
/// each local hour is looked up once and kept.
///
/// Twice a year a zone with summer time repeats an hour: its wall times
/// name two instants. A log is in order, so the earlier instant is taken
/// unless it lies more than half an hour before the latest time converted
/// so far (the repeated hour has begun); see [`Zone::folded`].
#[derive(Debug, Clone)]
pub struct Zone {
    /// `None`: stamps stay as written.
    tz: Option<jiff::tz::TimeZone>,
    name: String,
    /// The local hour (seconds / 3600) whose offset is kept, and that
    /// offset in seconds east of UTC.
    hour: i64,
    offset: i64,
    /// The latest UTC second converted so far.
    latest: i64,
    /// Whether the last stamp converted was in a repeated hour.
    folded: bool,
}

/// How far back from the latest time a repeated hour's earlier instant may
/// lie and still be taken.
const FOLD_SLACK: i64 = 1800;

impl Zone {
    /// Stamps stay as written (no conversion).
    pub fn as_written() -> Self {
        Zone {
            tz: None,
            name: "as written".into(),
            hour: i64::MIN,
            offset: 0,
            latest: i64::MIN,
            folded: false,
        }
    }

    fn of(tz: jiff::tz::TimeZone, name: String) -> Self {
        Zone {
            tz: Some(tz),
            name,
            ..Zone::as_written()
        }
    }

    /// An IANA zone (`America/Chicago`, `UTC`) from the system's tzdb.
    pub fn named(name: &str) -> Result<Self, String> {
        let tz = jiff::tz::TimeZone::get(name)
            .map_err(|e| format!("unknown time zone {name:?}: {e}"))?;
        Ok(Zone::of(tz, name.to_string()))
    }

    /// This machine's zone (`TZ`, else `/etc/localtime`); why it cannot
    /// be told (a `TZ` that names no zone).
    pub fn system() -> Result<Self, String> {
        let tz = jiff::tz::TimeZone::try_system()
            .map_err(|e| format!("cannot tell this machine's time zone: {e}"))?;
        let name = tz.iana_name().unwrap_or("system").to_string();
        Ok(Zone::of(tz, name))
    }

    /// UTC.
    pub fn utc() -> Self {
        Zone::of(jiff::tz::TimeZone::UTC, "UTC".into())
    }

    /// A fixed offset, seconds east of UTC (an access log's `+0100`).
    pub fn fixed(seconds: i64) -> Self {
        let off = i32::try_from(seconds)
            .ok()
            .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
            .unwrap_or(jiff::tz::Offset::UTC);
        Zone::of(
            jiff::tz::TimeZone::fixed(off),
            format!(
                "UTC{}{:02}:{:02}",
                if seconds < 0 { '-' } else { '+' },
                seconds.abs() / 3600,
                seconds.abs() % 3600 / 60
            ),
        )
    }

    /// The zone's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `other` gives every wall time the same UTC time, as far as
    /// can be told: the same offset on the 1st and 15th of every month
    /// from 1990 to 2050 (`Etc/UTC` and `UTC` are one clock; stamps kept
    /// as written count as UTC).
    pub fn same_clock(&self, other: &Zone) -> bool {
        if self.name == other.name {
            return true;
        }
        let offset = |z: &Zone, at: i64| {
            z.tz.as_ref().map_or(0, |tz| {
                jiff::Timestamp::from_second(at).map_or(0, |t| tz.to_offset(t).seconds() as i64)
            })
        };
        (1990..2050).all(|y| {
            (1..=12).all(|m| {
                [1, 15].iter().all(|&d| {
                    let at = days_from_civil(y, m, d) * 86_400 + 43_200;
                    offset(self, at) == offset(other, at)
                })
            })
        })
    }

    /// Whether the last [`Zone::to_utc`] met a repeated hour (and had to
    /// choose).
    pub fn folded(&self) -> bool {
        self.folded
    }

    /// Takes `utc` as the latest time seen: a reader that does not convert
    /// every line itself (a shard of a split run) learns the log's clock.
    pub fn saw(&mut self, utc: i64) {
        self.latest = self.latest.max(utc);
    }

    /// The UTC time of a wall-clock stamp.
    pub fn to_utc(&mut self, local: Stamp) -> Stamp {
        let Some(tz) = &self.tz else {
            return local;
        };
        let hour = local.secs.div_euclid(3600);
        self.folded = false;
        let secs = if hour == self.hour {
            local.secs - self.offset
        } else {
            let start = hour * 3600;
            match (offset_at(tz, start), offset_at(tz, start + 3599)) {
                (Choice::One(a), Choice::One(b)) if a == b => {
                    (self.hour, self.offset) = (hour, a);
                    local.secs - a
                }
                _ => match offset_at(tz, local.secs) {
                    Choice::One(o) => local.secs - o,
                    Choice::Gap(before) => local.secs - before,
                    Choice::Fold(before, after) => {
                        self.folded = true;
                        let earlier = local.secs - before;
                        if self.latest != i64::MIN && earlier < self.latest - FOLD_SLACK {
                            local.secs - after
                        } else {
                            earlier
                        }
                    }
                },
            }
        };
        self.latest = self.latest.max(secs);
        Stamp {
            secs,
            millis: local.millis,
        }
    }
}

/// A moment a person typed (`--since`, `--until`), in UTC seconds:
/// `now`; `today` or `yesterday` (midnight on `zone`'s clock); a span
/// back from `now` (`2h`, `-90m`, `2 hours ago`, `3d`); a date, or a
/// date and time, on `zone`'s clock (`2026-11-28`, `2026-11-28 10:00`);
/// an instant with its offset (`2026-11-28T10:00:00Z`, `…+01:00`); or
/// `@SECONDS` since 1970.
pub fn moment(text: &str, now: i64, zone: &Zone) -> Result<i64, String> {
    use jiff::{SignedDuration, Timestamp, civil};
    let t = text.trim();
    let tz = zone.tz.clone().unwrap_or(jiff::tz::TimeZone::UTC);
    let bad = |why: String| {
        format!(
            "cannot read the time {t:?}{why} (give `2026-11-28 10:00`, `today`, `yesterday`, `2h` back from now, or `2026-11-28T10:00:00Z`)"
        )
    };
    // A wall time skipped or repeated by summer time is read as the
    // offset before the change would have it.
    let on_clock = |dt: civil::DateTime| -> Result<i64, String> {
        let ts = tz
            .to_ambiguous_timestamp(dt)
            .compatible()
            .map_err(|e| bad(format!(": {e}")))?;
        Ok(ts.as_second())
    };
    let midnight = |back: i64| -> Result<i64, String> {
        let now = Timestamp::from_second(now).map_err(|e| bad(format!(": {e}")))?;
        let day = tz.to_datetime(now).date();
        let day = day
            .checked_sub(jiff::Span::new().days(back))
            .map_err(|e| bad(format!(": {e}")))?;
        on_clock(day.to_datetime(civil::Time::midnight()))
    };
    match t {
        "now" => return Ok(now),
        "today" => return midnight(0),
        "yesterday" => return midnight(1),
        _ => {}
    }
    if let Some(secs) = t.strip_prefix('@') {
        return secs
            .parse()
            .map_err(|_| bad(": not a number of seconds".into()));
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts.as_second());
    }
    if let Ok(dt) = t.parse::<civil::DateTime>() {
        return on_clock(dt);
    }
    // A span: always back from now, whichever way it is written.
    let span = t.strip_prefix('-').unwrap_or(t);
    let span = span.strip_suffix("ago").unwrap_or(span).trim();
    // Days and weeks are 24 hours and 7 of them (months have no length).
    let d: SignedDuration = span
        .parse::<jiff::Span>()
        .and_then(|s| s.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
        // Not one of the forms: which one was meant cannot be told.
        .map_err(|_| bad(String::new()))?;
    Ok(now - d.as_secs().abs())
}

enum Choice {
    One(i64),
    /// A wall time skipped (clocks went forward): the offset before.
    Gap(i64),
    /// A wall time repeated: the offsets before and after.
    Fold(i64, i64),
}

/// The offset (seconds east) of wall time `local` in `tz`.
fn offset_at(tz: &jiff::tz::TimeZone, local: i64) -> Choice {
    use jiff::tz::AmbiguousOffset;
    let Ok(ts) = jiff::Timestamp::from_second(local) else {
        return Choice::One(0);
    };
    let civil = jiff::tz::Offset::UTC.to_datetime(ts);
    match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => Choice::One(offset.seconds() as i64),
        AmbiguousOffset::Gap { before, .. } => Choice::Gap(before.seconds() as i64),
        AmbiguousOffset::Fold { before, after } => {
            Choice::Fold(before.seconds() as i64, after.seconds() as i64)
        }
    }
}

/// Whether an Exim line's stamp carries its offset (`log_timezone`):
/// `YYYY-MM-DD HH:MM:SS[.mmm] +hhmm`.
pub fn exim_zoned(b: &[u8]) -> bool {
    let used = if b.get(19) == Some(&b'.') { 23 } else { 19 };
    b.get(used..).is_some_and(|r| offset(r).is_some())
}

/// Whether a syslog line's stamp carries its offset: RFC 3339 with `Z` or
/// `±hh:mm` (traditional `Mmm dd HH:MM:SS` never does).
pub fn syslog_zoned(b: &[u8]) -> bool {
    if b.len() < 20 || b[10] != b'T' {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    matches!(b.get(i), Some(b'Z' | b'+' | b'-'))
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
    let mut secs = exim_minute(b)? + second(&b[16..19])?;
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

/// The seconds of `YYYY-MM-DD HH:MM` at the start of `b` (at least 16
/// bytes). A log's lines share their minute by the dozen: the last one
/// read on this thread is kept, and a line of the same minute (the same
/// sixteen bytes) costs one comparison.
fn exim_minute(b: &[u8]) -> Option<i64> {
    thread_local! {
        // No valid stamp's bytes are all zero: nothing matches at first.
        static LAST: std::cell::Cell<(u128, i64)> = const { std::cell::Cell::new((0, 0)) };
    }
    let key = u128::from_le_bytes(b[..16].try_into().ok()?);
    let (k, minute) = LAST.get();
    if k == key {
        return Some(minute);
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || b[13] != b':' {
        return None;
    }
    let (h, mi) = (num(&b[11..13])?, num(&b[14..16])?);
    if h >= 24 || mi >= 60 {
        return None;
    }
    let minute = days_from_civil(y as i64, mo, d) * 86_400 + (h * 3600 + mi * 60) as i64;
    LAST.set((key, minute));
    Some(minute)
}

/// `:SS` (a leap second allowed).
fn second(b: &[u8]) -> Option<i64> {
    if b.len() != 3 || b[0] != b':' {
        return None;
    }
    num(&b[1..3]).filter(|s| *s < 61).map(i64::from)
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
/// `YYYY-MM-DDTHH:MM:SS[.frac][Z|±hh:mm|±hhmm]` (rsyslog's high-precision
/// format, `journalctl -o short-iso[-precise]`). Returns the stamp and
/// bytes used.
/// Whether a syslog line's stamp writes its year (RFC 3339's
/// `2024-01-02T03:04:05…`, not BSD's `Jan  2 03:04:05`).
pub fn syslog_has_year(b: &[u8]) -> bool {
    b.len() >= 19 && b[4] == b'-' && b[10] == b'T'
}

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
    if syslog_has_year(b) {
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
            // `±hhmm`: older journalctl's `-o short-iso` (strftime's %z).
            Some(s @ (b'+' | b'-')) if b.len() >= i + 5 => {
                let off =
                    (num(&b[i + 1..i + 3])? as i64 * 3600) + num(&b[i + 3..i + 5])? as i64 * 60;
                secs -= if *s == b'-' { -off } else { off };
                i += 5;
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
    fn typed_moments_are_read_on_the_logs_clock() {
        let chicago = Zone::named("America/Chicago").unwrap();
        // 2026-11-28 16:30:00 UTC is 10:30 in Chicago (UTC-6 in winter).
        let now = days_from_civil(2026, 11, 28) * 86_400 + 16 * 3600 + 1800;
        let at = |t: &str| moment(t, now, &chicago);
        let utc = |h: i64, m: i64| days_from_civil(2026, 11, 28) * 86_400 + h * 3600 + m * 60;
        assert_eq!(at("now"), Ok(now));
        assert_eq!(at("today"), Ok(utc(6, 0)));
        assert_eq!(at("yesterday"), Ok(utc(6, 0) - 86_400));
        assert_eq!(at("2026-11-28 09:15"), Ok(utc(15, 15)));
        assert_eq!(at("2026-11-28T09:15:30"), Ok(utc(15, 15) + 30));
        assert_eq!(at("2026-11-28"), Ok(utc(6, 0)));
        assert_eq!(at("2026-11-28T09:15:00Z"), Ok(utc(9, 15)));
        assert_eq!(at("2026-11-28T09:15:00+01:00"), Ok(utc(8, 15)));
        assert_eq!(at("@1000"), Ok(1000));
        for back in ["2h", "-2h", "2 hours ago", "2h ago", " 120m "] {
            assert_eq!(at(back), Ok(now - 7200), "{back}");
        }
        assert_eq!(at("1d"), Ok(now - 86_400));
        // Summer time: 2026-07-01 09:00 in Chicago is UTC-5.
        assert_eq!(
            at("2026-07-01 09:00"),
            Ok(days_from_civil(2026, 7, 1) * 86_400 + 14 * 3600)
        );
        for garbage in ["", "soon", "2026-13-01", "@x", "5 parsecs"] {
            let e = at(garbage).unwrap_err();
            assert!(e.contains("cannot read the time"), "{garbage}: {e}");
        }
        // Stamps kept as written are read as UTC.
        assert_eq!(
            moment("2026-11-28 09:15", now, &Zone::as_written()),
            Ok(utc(9, 15))
        );
    }

    #[test]
    fn iso_stamps_by_hand_match_format() {
        // Every 10,007th day-and-a-bit from year -1 to 10000, and the edges.
        let first = -62_200_000_000i64;
        let mut secs = first;
        while secs < 253_500_000_000 {
            let s = Stamp { secs, millis: 0 };
            let days = secs.div_euclid(86_400);
            let rem = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let want = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            );
            assert_eq!(s.iso(), want, "{secs}");
            secs += 864_647_123 / 1000;
        }
        assert_eq!(Stamp { secs: 0, millis: 0 }.iso(), "1970-01-01T00:00:00");
        assert_eq!(
            Stamp {
                secs: 253_402_300_799,
                millis: 0
            }
            .iso(),
            "9999-12-31T23:59:59"
        );
    }

    #[test]
    fn exim_stamps_of_one_minute_and_bad_ones() {
        let secs = |t: &str| parse_exim(t.as_bytes()).map(|(s, _)| s.secs);
        let first = secs("2025-02-14 18:12:33 x").unwrap();
        assert_eq!(secs("2025-02-14 18:12:34 x"), Some(first + 1));
        assert_eq!(
            secs("2025-02-14 18:12:60 x"),
            Some(first + 27),
            "a leap second"
        );
        assert_eq!(secs("2025-02-14 18:13:00 x"), Some(first + 27));
        for bad in [
            "2025-02-14 18:12:61 x",
            "2025-02-14 18:12:3x x",
            "2025-02-14 18:12 33 x",
            "2025-02-14 18-12:33 x",
            "2025-02-14 24:12:33 x",
            "2025-02-14 18:60:33 x",
            "2025-13-14 18:12:33 x",
            "2025-02-00 18:12:33 x",
            "2025-02-1x 18:12:33 x",
        ] {
            assert_eq!(secs(bad), None, "{bad}");
        }
        // A bad line between lines of one minute changes nothing.
        assert_eq!(secs("2025-02-14 18:12:35 x"), Some(first + 2));
    }

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
        // journalctl -o short-iso, older and newer systemd.
        let (s, used) = parse_syslog(b"2025-02-14T18:12:33+0100 host", 0).unwrap();
        assert_eq!((s.iso().as_str(), used), ("2025-02-14T17:12:33", 24));
        let (s, used) = parse_syslog(b"2025-02-14T18:12:33.000123-05:00 host", 0).unwrap();
        assert_eq!((s.iso().as_str(), used), ("2025-02-14T23:12:33", 32));
    }

    /// A UTC stamp from a `YYYY-MM-DD HH:MM:SS` text.
    fn at(text: &str) -> Stamp {
        parse_exim(text.as_bytes()).unwrap().0
    }

    #[test]
    fn wall_times_become_utc_in_their_zone() {
        let mut z = Zone::named("America/Chicago").unwrap();
        // Standard time is six hours behind UTC, summer time five.
        assert_eq!(
            z.to_utc(at("2025-01-15 10:00:00")),
            at("2025-01-15 16:00:00")
        );
        assert_eq!(
            z.to_utc(at("2025-07-15 10:00:07")),
            at("2025-07-15 15:00:07")
        );
        // The hour clocks skip (02:30 on 9 March does not exist) is read
        // as standard time, 03:30 summer time.
        assert_eq!(
            z.to_utc(at("2025-03-09 02:30:00")),
            at("2025-03-09 08:30:00")
        );
        assert!(!z.folded());
        let mut same = Zone::as_written();
        assert_eq!(
            same.to_utc(at("2025-01-15 10:00:00")),
            at("2025-01-15 10:00:00")
        );
        let mut fixed = Zone::fixed(3600);
        assert_eq!(fixed.name(), "UTC+01:00");
        assert_eq!(
            fixed.to_utc(at("2025-07-15 10:00:00")),
            at("2025-07-15 09:00:00")
        );
        assert_eq!(Zone::fixed(-1800).name(), "UTC-00:30");
        assert!(Zone::named("Mars/Olympus_Mons").is_err());
    }

    #[test]
    fn zones_with_one_clock_are_told_apart_from_others() {
        let utc = Zone::named("UTC").unwrap();
        assert!(utc.same_clock(&Zone::named("Etc/UTC").unwrap()));
        assert!(utc.same_clock(&Zone::as_written()));
        assert!(utc.same_clock(&Zone::fixed(0)));
        assert!(!utc.same_clock(&Zone::named("Europe/London").unwrap()));
        let chicago = Zone::named("America/Chicago").unwrap();
        assert!(chicago.same_clock(&Zone::named("America/Chicago").unwrap()));
        assert!(!chicago.same_clock(&Zone::fixed(-6 * 3600)));
    }

    #[test]
    fn a_repeated_hour_is_read_in_log_order() {
        // On 2 November 2025 Chicago's clocks went from 01:59:59 summer
        // time back to 01:00:00 standard time: a log shows 01:00-01:59
        // twice. Lines a little out of order stay in their pass.
        let wall = [
            "00:50:00", "01:10:00", "01:40:00", "01:55:00", "01:54:30", "01:05:00", "01:30:00",
            "01:29:40", "01:59:00", "02:10:00",
        ];
        let utc = [
            "05:50:00", "06:10:00", "06:40:00", "06:55:00", "06:54:30", "07:05:00", "07:30:00",
            "07:29:40", "07:59:00", "08:10:00",
        ];
        let mut z = Zone::named("America/Chicago").unwrap();
        let mut folded = Vec::new();
        for (w, u) in wall.iter().zip(utc) {
            let got = z.to_utc(at(&format!("2025-11-02 {w}")));
            assert_eq!(got, at(&format!("2025-11-02 {u}")), "{w}");
            folded.push(z.folded());
        }
        let expect = [false, true, true, true, true, true, true, true, true, false];
        assert_eq!(folded, expect);
        // Told the log's clock by another reader, it settles the second
        // pass by that clock.
        let mut told = Zone::named("America/Chicago").unwrap();
        told.saw(at("2025-11-02 07:00:00").secs);
        assert_eq!(
            told.to_utc(at("2025-11-02 01:20:00")),
            at("2025-11-02 07:20:00")
        );
    }

    #[test]
    fn stamps_that_carry_their_offset_are_told_apart() {
        assert!(exim_zoned(b"2025-02-14 18:12:33 +0100 1abc"));
        assert!(exim_zoned(b"2025-02-14 18:12:33.461 -0500 1abc"));
        assert!(!exim_zoned(b"2025-02-14 18:12:33 1abcde-000001-AB <= x"));
        assert!(!exim_zoned(b"2025-02-14 18:12:33.461 [46483] cwd=/"));
        assert!(syslog_zoned(b"2025-02-14T18:12:33.461+01:00 host"));
        assert!(syslog_zoned(b"2025-02-14T18:12:33Z host"));
        assert!(!syslog_zoned(b"2025-02-14T18:12:33 host"));
        assert!(!syslog_zoned(b"Feb 14 18:12:33 host postfix/smtpd[1]:"));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 59, 60, 10_000, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
