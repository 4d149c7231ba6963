//! Failed SMTP AUTH logins, remembered for a day by the name they tried
//! (or, naming none, by the address they came from), so that a login can
//! say how many failed before it. Many failures naming a mailbox, then a
//! login to it, is how a guessed or stuffed password looks in the log.
//!
//! Nothing is taken away by a login: every login of the day sees the
//! failures before it. That keeps a split run (where every shard reads
//! every failure, [`crate::shard`]) giving each login what one thread
//! gives it.

use std::collections::VecDeque;
use std::net::IpAddr;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use crate::Stamp;

/// How far back a login looks for failures.
pub const LOOKBACK_SECS: i64 = 86_400;
/// Failures kept per name: enough to tell a guessing run from a typo.
const PER_KEY: usize = 1024;
/// Names kept; a run of random names past this is not tallied (see
/// [`LoginFailures::note`]).
const KEYS: usize = 50_000;

/// The failed logins before one login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedLogins {
    /// Failures naming the login's user, or naming nobody and coming from
    /// the login's address, in the day before it ([`LOOKBACK_SECS`];
    /// at most 1,024 of each are kept).
    pub count: u32,
    /// Distinct addresses they came from.
    pub ips: u32,
    pub first: Stamp,
    pub last: Stamp,
    /// The last failure's log line.
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// Lowercased: `Info@Shop.example` and `info@shop.example` log in to
    /// one mailbox.
    User(String),
    Ip(IpAddr),
}

#[derive(Debug, Default)]
struct Tally {
    /// Oldest first.
    times: VecDeque<(Stamp, Option<IpAddr>)>,
    last_line: String,
}

/// Failed logins by name, for a day.
#[derive(Debug, Default)]
pub struct LoginFailures {
    by_key: HashMap<Key, Tally>,
    /// Failures not tallied because [`KEYS`] names were kept already.
    pub untallied: u64,
}

impl LoginFailures {
    /// A failed login at `at`, naming `user` (Exim's `set_id`, Postfix's
    /// `sasl_username`) when the log says, from `ip`.
    pub fn note(&mut self, user: Option<&str>, ip: Option<IpAddr>, at: Stamp, line: &str) {
        let key = match (user.map(str::trim).filter(|u| !u.is_empty()), ip) {
            (Some(u), _) => Key::User(u.to_lowercase()),
            (None, Some(ip)) => Key::Ip(ip),
            (None, None) => return,
        };
        if self.by_key.len() >= KEYS && !self.by_key.contains_key(&key) {
            self.sweep(at);
            if self.by_key.len() >= KEYS {
                self.untallied += 1;
                return;
            }
        }
        let t = self.by_key.entry(key).or_default();
        if t.times.len() >= PER_KEY {
            t.times.pop_front();
        }
        t.times.push_back((at, ip));
        t.last_line.clear();
        t.last_line.push_str(line);
    }

    /// The failures before a login of `user` from `ip` at `at`, if any.
    pub fn before(&self, user: &str, ip: Option<IpAddr>, at: Stamp) -> Option<FailedLogins> {
        let by_user = self.by_key.get(&Key::User(user.trim().to_lowercase()));
        let by_ip = ip.and_then(|ip| self.by_key.get(&Key::Ip(ip)));
        let mut found: Option<FailedLogins> = None;
        let mut ips: Vec<IpAddr> = Vec::new();
        for t in by_user.into_iter().chain(by_ip) {
            for &(when, from) in &t.times {
                if when > at || at.secs - when.secs > LOOKBACK_SECS {
                    continue;
                }
                if let Some(from) = from
                    && !ips.contains(&from)
                {
                    ips.push(from);
                }
                let f = found.get_or_insert_with(|| FailedLogins {
                    count: 0,
                    ips: 0,
                    first: when,
                    last: when,
                    line: String::new(),
                });
                f.count += 1;
                f.first = f.first.min(when);
                if when >= f.last {
                    f.last = when;
                    // A tally keeps the line of its last failure only:
                    // lines are read in order, so that is the last one
                    // before the login unless the clock went back.
                    f.line.clear();
                    if t.times.back().is_some_and(|&(w, _)| w == when) {
                        f.line.push_str(&t.last_line);
                    }
                }
            }
        }
        if let Some(f) = found.as_mut() {
            f.ips = ips.len() as u32;
        }
        found
    }

    /// Forgets failures older than a day before `now`.
    pub fn sweep(&mut self, now: Stamp) {
        self.by_key.retain(|_, t| {
            while t
                .times
                .front()
                .is_some_and(|(w, _)| now.secs - w.secs > LOOKBACK_SECS)
            {
                t.times.pop_front();
            }
            !t.times.is_empty()
        });
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Stamp {
        Stamp { secs, millis: 0 }
    }

    #[test]
    fn a_login_sees_the_failures_for_its_name_and_nameless_ones_from_its_address() {
        let mut f = LoginFailures::default();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        for i in 0..30 {
            let from = format!("198.51.100.{}", i % 6);
            f.note(
                Some("Info@Shop.example"),
                ip(&from),
                at(1000 + i),
                &format!("fail {i}"),
            );
        }
        // Another name, and a failure naming nobody from elsewhere.
        f.note(
            Some("bob@shop.example"),
            ip("198.51.100.1"),
            at(1100),
            "bob",
        );
        f.note(None, ip("203.0.113.9"), at(1101), "nameless elsewhere");
        f.note(None, ip("192.0.2.7"), at(1102), "nameless here");
        f.note(None, None, at(1103), "nobody from nowhere");

        let got = f
            .before("info@shop.example", ip("192.0.2.7"), at(2000))
            .unwrap();
        assert_eq!((got.count, got.ips), (31, 7));
        assert_eq!((got.first, got.last), (at(1000), at(1102)));
        assert_eq!(got.line, "nameless here");
        // Only failures before the login, within a day of it.
        let early = f.before("info@shop.example", None, at(1010)).unwrap();
        assert_eq!((early.count, early.ips, early.last), (11, 6, at(1010)));
        assert_eq!(
            early.line, "",
            "the line of a later failure is not this one's"
        );
        assert!(f.before("info@shop.example", None, at(999)).is_none());
        let late = f
            .before("info@shop.example", None, at(1029 + LOOKBACK_SECS))
            .unwrap();
        assert_eq!((late.count, late.line.as_str()), (1, "fail 29"));
        assert!(
            f.before("carol@shop.example", ip("198.51.100.1"), at(2000))
                .is_none()
        );

        f.sweep(at(1050 + LOOKBACK_SECS));
        assert!(
            f.before("info@shop.example", None, at(1050 + LOOKBACK_SECS))
                .is_none()
        );
        f.sweep(at(1200 + LOOKBACK_SECS));
        assert!(f.is_empty());
    }

    #[test]
    fn memory_stays_bounded_under_a_guessing_run() {
        let mut f = LoginFailures::default();
        for i in 0..(PER_KEY as i64 + 10) {
            f.note(Some("info@shop.example"), None, at(i), "x");
        }
        let got = f
            .before("info@shop.example", None, at(PER_KEY as i64 + 10))
            .unwrap();
        assert_eq!(got.count as usize, PER_KEY);
        for i in 0..(KEYS as i64 + 5) {
            f.note(Some(&format!("u{i}@x.example")), None, at(5000), "x");
        }
        assert_eq!(f.by_key.len(), KEYS);
        assert_eq!(f.untallied, 6);
    }
}
