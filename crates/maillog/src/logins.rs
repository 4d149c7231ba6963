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
    /// Every failure counted over the whole read ([`LoginFailures::count`]).
    pub run: RunTally,
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

    /// A failed login this reader owns (in a split run, one shard counts
    /// a line): kept for the logins after it, and counted for the
    /// summary.
    pub fn count(&mut self, user: Option<&str>, ip: Option<IpAddr>, at: Stamp, line: &str) {
        self.note(user, ip, at, line);
        self.run.add(user, ip, at);
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

/// Names and addresses tallied over a read, at most; failures past them
/// count in the total only.
const RUN_KEYS: usize = 20_000;
/// Distinct addresses told apart per name.
const RUN_IPS: usize = 1_000;

/// Failed logins over a whole read, for the summary: by the name tried
/// and by the address they came from.
#[derive(Debug, Default, Clone)]
pub struct RunTally {
    total: u64,
    by_name: HashMap<String, NameRun>,
    by_ip: HashMap<IpAddr, u64>,
}

#[derive(Debug, Clone)]
struct NameRun {
    failures: u64,
    ips: rustc_hash::FxHashSet<IpAddr>,
    first: Stamp,
    last: Stamp,
}

/// What [`RunTally::summary`] shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub failures: u64,
    /// Distinct names tried, and distinct addresses (at most 20,000 of
    /// each are told apart).
    pub names: usize,
    pub addresses: usize,
    /// The names tried most, most first.
    pub top_names: Vec<NameRow>,
    /// The addresses that failed most, most first.
    pub top_addresses: Vec<AddressRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameRow {
    pub name: String,
    pub failures: u64,
    /// Distinct addresses (at most 1,000 are told apart).
    pub addresses: usize,
    pub first: String,
    pub last: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressRow {
    pub address: String,
    pub failures: u64,
}

impl RunTally {
    pub fn add(&mut self, user: Option<&str>, ip: Option<IpAddr>, at: Stamp) {
        self.total += 1;
        if let Some(u) = user.map(str::trim).filter(|u| !u.is_empty()) {
            let u = u.to_lowercase();
            let room = self.by_name.len() < RUN_KEYS;
            let n = match self.by_name.get_mut(&u) {
                Some(n) => Some(n),
                None if room => Some(self.by_name.entry(u).or_insert(NameRun {
                    failures: 0,
                    ips: Default::default(),
                    first: at,
                    last: at,
                })),
                None => None,
            };
            if let Some(n) = n {
                n.failures += 1;
                n.first = n.first.min(at);
                n.last = n.last.max(at);
                if let Some(ip) = ip
                    && n.ips.len() < RUN_IPS
                {
                    n.ips.insert(ip);
                }
            }
        }
        if let Some(ip) = ip {
            let room = self.by_ip.len() < RUN_KEYS;
            match self.by_ip.get_mut(&ip) {
                Some(c) => *c += 1,
                None if room => {
                    self.by_ip.insert(ip, 1);
                }
                None => {}
            }
        }
    }

    /// Adds another reader's tally (the shards of a split run).
    pub fn merge(&mut self, other: RunTally) {
        self.total += other.total;
        for (name, o) in other.by_name {
            let room = self.by_name.len() < RUN_KEYS;
            match self.by_name.get_mut(&name) {
                Some(n) => {
                    n.failures += o.failures;
                    n.first = n.first.min(o.first);
                    n.last = n.last.max(o.last);
                    for ip in o.ips {
                        if n.ips.len() < RUN_IPS {
                            n.ips.insert(ip);
                        }
                    }
                }
                None if room => {
                    self.by_name.insert(name, o);
                }
                None => {}
            }
        }
        for (ip, c) in other.by_ip {
            let room = self.by_ip.len() < RUN_KEYS;
            match self.by_ip.get_mut(&ip) {
                Some(n) => *n += c,
                None if room => {
                    self.by_ip.insert(ip, c);
                }
                None => {}
            }
        }
    }

    /// The totals and the `top` names and addresses tried most; `None`
    /// when no login failed.
    pub fn summary(&self, top: usize) -> Option<RunSummary> {
        if self.total == 0 {
            return None;
        }
        let mut names: Vec<(&String, &NameRun)> = self.by_name.iter().collect();
        names.sort_by(|a, b| b.1.failures.cmp(&a.1.failures).then(a.0.cmp(b.0)));
        let mut ips: Vec<(&IpAddr, &u64)> = self.by_ip.iter().collect();
        ips.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        Some(RunSummary {
            failures: self.total,
            names: self.by_name.len(),
            addresses: self.by_ip.len(),
            top_names: names
                .into_iter()
                .take(top)
                .map(|(name, n)| NameRow {
                    name: name.clone(),
                    failures: n.failures,
                    addresses: n.ips.len(),
                    first: n.first.iso(),
                    last: n.last.iso(),
                })
                .collect(),
            top_addresses: ips
                .into_iter()
                .take(top)
                .map(|(ip, c)| AddressRow {
                    address: ip.to_string(),
                    failures: *c,
                })
                .collect(),
        })
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
    fn a_read_tallies_failures_by_name_and_address_and_shards_add_up() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let mut one = RunTally::default();
        let mut shards = [RunTally::default(), RunTally::default()];
        for i in 0..30 {
            let (name, from) = if i % 3 == 0 {
                (Some("Bob@shop.example"), ip("203.0.113.1"))
            } else {
                (
                    Some("info@shop.example"),
                    ip(&format!("198.51.100.{}", i % 7)),
                )
            };
            one.add(name, from, at(100 + i));
            shards[i as usize % 2].add(name, from, at(100 + i));
        }
        one.add(None, ip("203.0.113.1"), at(200));
        shards[0].add(None, ip("203.0.113.1"), at(200));
        let [a, b] = shards;
        let mut merged = a;
        merged.merge(b);
        let s = one.summary(2).unwrap();
        assert_eq!(merged.summary(2).unwrap(), s);
        assert_eq!((s.failures, s.names, s.addresses), (31, 2, 8));
        let info = &s.top_names[0];
        assert_eq!(
            (info.name.as_str(), info.failures, info.addresses),
            ("info@shop.example", 20, 7)
        );
        assert_eq!(s.top_names[1].name, "bob@shop.example");
        assert_eq!(
            (
                s.top_addresses[0].address.as_str(),
                s.top_addresses[0].failures
            ),
            ("203.0.113.1", 11)
        );
        assert_eq!(s.top_addresses.len(), 2);
        assert!(RunTally::default().summary(5).is_none());
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
