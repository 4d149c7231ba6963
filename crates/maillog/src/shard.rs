//! Splitting one log across threads.
//!
//! Every line that says something about a message names it by its id, so a
//! log can be cut by message: shard `k` of `n` assembles the messages whose
//! id hashes to `k` and skips the rest. Each shard reads every line, but
//! finding a line's id is a few byte comparisons while parsing and
//! assembling it is the real work.
//!
//! What a single thread would share between messages is given to every
//! shard: Exim's `cwd=` lines (a submission without `+pid` takes the latest
//! one), and a glance at other shards' `<=` lines while a `cwd=` line waits,
//! so each shard ties scripts to submissions exactly as one thread does.
//! Lines without a message (connections, rejections before a message,
//! other programs, garbage) are counted by shard 0 alone, so the shards'
//! counts add up to a single thread's.
//!
//! Every shard also moves its clock on every line, as one thread would,
//! so all sweep out stale messages (three days without a line) at the same
//! line. The shards' messages are merged back in the order one thread
//! hands them out with [`order_key`]: the result is the same, byte for
//! byte, as a single thread's.

use std::hash::{BuildHasher, BuildHasherDefault};

use rustc_hash::FxHasher;

use crate::Format;
use crate::message::Message;

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A line of one message, owned by this shard. `arrival` marks an Exim
    /// `<=` line, which the other shards glance at (see the module text).
    Shard { shard: usize, arrival: bool },
    /// Exim's `cwd=` lines: every shard keeps them; shard 0 counts them.
    Every,
    /// No message: shard 0 alone.
    First,
}

/// Routes lines of one format to `shards` shards.
#[derive(Debug, Clone, Copy)]
pub struct Router {
    format: Format,
    shards: usize,
}

impl Router {
    pub fn new(format: Format, shards: usize) -> Self {
        Router {
            format,
            shards: shards.max(1),
        }
    }

    pub fn route(&self, line: &[u8]) -> Route {
        let found = match self.format {
            Format::Exim => exim_id(line),
            Format::Postfix => postfix_id(line),
        };
        match found {
            Some(Key::Id(id, arrival)) => Route::Shard {
                shard: self.shard_of(id),
                arrival,
            },
            Some(Key::Cwd) => Route::Every,
            None => Route::First,
        }
    }

    fn shard_of(&self, id: &[u8]) -> usize {
        let h = BuildHasherDefault::<FxHasher>::default().hash_one(id);
        // The high bits of an Fx hash are the well-mixed ones.
        ((h >> 32) % self.shards as u64) as usize
    }
}

enum Key<'a> {
    Id(&'a [u8], bool),
    Cwd,
}

/// The message id of an Exim line and whether it is a `<=` line, or that
/// it is a `cwd=` line. Mirrors [`crate::exim::parse`]: stamp, optional
/// `[pid]`, then the id.
fn exim_id(b: &[u8]) -> Option<Key<'_>> {
    let used = crate::time::exim_stamp_len(b)?;
    let mut rest = b.get(used..)?.strip_prefix(b" ")?;
    if let Some(r) = rest.strip_prefix(b"[") {
        let end = memchr::memmem::find(r, b"] ")?;
        rest = &r[end + 2..];
    }
    if rest.starts_with(b"cwd=") {
        return Some(Key::Cwd);
    }
    let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let id = &rest[..end];
    // The shape is enough here: a word of that shape that is no id makes
    // a line with no message, which its one owner counts like any other.
    let shaped = match id.len() {
        16 => id[6] == b'-' && id[13] == b'-',
        23 => id[6] == b'-' && id[18] == b'-',
        _ => false,
    };
    if !shaped {
        return None;
    }
    let flag = rest.get(end + 1..end + 3);
    let arrival =
        matches!(flag, Some(b"<=") | Some(b"(=")) && rest.get(end + 3).is_none_or(|&c| c == b' ');
    Some(Key::Id(id, arrival))
}

/// Is `b` an Exim message id: 16 bytes `6-6-2` or (4.97+) 23 bytes
/// `6-11-4`?
pub(crate) fn is_exim_id(b: &[u8]) -> bool {
    let ok = |r: &[u8]| r.iter().all(u8::is_ascii_alphanumeric);
    match b.len() {
        16 => b[6] == b'-' && b[13] == b'-' && ok(&b[..6]) && ok(&b[7..13]) && ok(&b[14..]),
        23 => b[6] == b'-' && b[18] == b'-' && ok(&b[..6]) && ok(&b[7..18]) && ok(&b[19..]),
        _ => false,
    }
}

/// The queue id of a Postfix line: the word between the first `": "` (end
/// of the program tag) and the next, as [`crate::postfix::parse`] finds it.
fn postfix_id(b: &[u8]) -> Option<Key<'_>> {
    let tag_end = colon_space(b)?;
    let text = &b[tag_end + 2..];
    let end = colon_space(text)?;
    let id = &text[..end];
    (!id.is_empty()
        && id.len() <= 20
        && id.iter().all(u8::is_ascii_alphanumeric)
        && id != b"NOQUEUE")
        .then_some(Key::Id(id, false))
}

fn colon_space(b: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b':', b).find(|&i| b.get(i + 1) == Some(&b' '))
}

/// The order in which messages handed out by several shards are merged:
/// by the line that handed them out (`emitted_at`, its position in the
/// input; `u64::MAX` for the end of input), a message completed by that
/// line before the stale ones its sweep handed out, then as
/// [`crate::assemble::oldest_first`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrderKey {
    emitted_at: u64,
    incomplete: bool,
    received: crate::Stamp,
    offset: u64,
    id: crate::assemble::Id,
}

pub fn order_key(emitted_at: u64, m: &Message) -> OrderKey {
    OrderKey {
        emitted_at,
        incomplete: !m.complete,
        received: m.received,
        offset: m.offset,
        id: crate::assemble::Id::of(&m.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(r: Route) -> Option<(usize, bool)> {
        match r {
            Route::Shard { shard, arrival } => Some((shard, arrival)),
            _ => None,
        }
    }

    #[test]
    fn exim_lines_of_one_message_go_to_one_shard() {
        let r = Router::new(Format::Exim, 7);
        let lines = [
            "2024-01-01 00:00:02 1r71Lh-fe8L6H-LV <= a@b.example U=a P=local S=1 T=\"x => y\" for r@c.example",
            "2024-01-01 00:00:02.123 [4242] 1r71Lh-fe8L6H-LV => r@c.example R=x T=y",
            "2024-01-01 00:00:02 +0100 1r71Lh-fe8L6H-LV Completed",
        ];
        let got: Vec<_> = lines.iter().map(|l| shard(r.route(l.as_bytes()))).collect();
        let s = got[0].unwrap().0;
        assert_eq!(got, [Some((s, true)), Some((s, false)), Some((s, false))]);
        assert_eq!(
            r.route(b"2024-01-01 00:00:02 cwd=/home/a/public_html 3 args: sendmail -t"),
            Route::Every
        );
        assert_eq!(
            r.route(b"2024-01-01 00:00:02 [77] cwd=/var/spool/exim 3 args: exim -Mc x"),
            Route::Every
        );
        for l in [
            "2024-01-01 00:00:02 SMTP connection from [198.51.100.1]:1234 lost",
            "2024-01-01 00:00:02 1r71Lh-fe8L6 <= truncated id",
            "garbage",
            "",
        ] {
            assert_eq!(r.route(l.as_bytes()), Route::First, "{l}");
        }
    }

    #[test]
    fn postfix_lines_route_by_queue_id() {
        let r = Router::new(Format::Postfix, 5);
        let a = r.route(b"Jan  1 00:00:00 mx postfix/submission/smtpd[31312]: 10000001: client=unknown[198.51.49.117]");
        let b =
            r.route(b"2026-01-01T00:00:00.123456+01:00 mx postfix/qmgr[999]: 10000001: removed");
        assert_eq!(a, b);
        assert!(shard(a).is_some());
        for l in [
            "Jan  1 00:00:00 mx postfix/smtpd[1]: connect from unknown[198.51.49.117]",
            "Jan  1 00:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 no",
            "not syslog",
        ] {
            assert_eq!(r.route(l.as_bytes()), Route::First, "{l}");
        }
    }

    #[test]
    fn ids_spread_over_shards() {
        let r = Router::new(Format::Postfix, 2);
        let mut n = [0u32; 2];
        for i in 0..10_000u32 {
            let l = format!(
                "Jan  1 00:00:00 mx postfix/qmgr[9]: {:X}: removed",
                0x1000_0000 + i
            );
            n[shard(r.route(l.as_bytes())).unwrap().0] += 1;
        }
        assert!(n.iter().all(|&c| c > 4_500), "{n:?}");
    }
}
