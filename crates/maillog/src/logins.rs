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
    /// Oldest first: when, from where, and one past the line's place in
    /// the input (what the reader passed as its offset; 0 for failures
    /// restored from before it: see [`LoginFailures::save`]).
    times: VecDeque<(Stamp, Option<IpAddr>, u64)>,
    last_line: String,
}

/// Failures kept per name in a [`Saved`] snapshot, and names kept.
const SAVED_PER_KEY: usize = 64;
const SAVED_KEYS: usize = 5_000;

/// The failures a reader kept, as it can be written out and read back
/// after a restart ([`LoginFailures::save`], [`LoginFailures::restore`]).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    keys: Vec<SavedKey>,
}

impl Saved {
    /// Adds another snapshot's names (of another tally).
    pub fn extend(&mut self, other: Saved) {
        self.keys.extend(other.keys);
    }

    /// Each failure kept, oldest first, as a login log gives them
    /// ([`crate::LogParser::take_shared`]). Each carries its name's last
    /// line (the one line a snapshot keeps, and the one a reader keeps
    /// once it has read them all).
    pub fn failures(&self) -> Vec<crate::dovecot::Logged> {
        let mut out: Vec<crate::dovecot::Logged> = (self.keys.iter())
            .flat_map(|k| {
                k.times.iter().map(|&(at, ip)| crate::dovecot::Logged {
                    at,
                    user: k.user.clone(),
                    ip: ip.or(k.ip),
                    attempts: 1,
                    line: k.last_line.clone(),
                })
            })
            .collect();
        out.sort_by_key(|f| f.at);
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SavedKey {
    user: Option<String>,
    ip: Option<IpAddr>,
    times: Vec<(Stamp, Option<IpAddr>)>,
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
    /// Bumped by every change to what [`LoginFailures::save`] gives.
    pub changes: u64,
}

impl LoginFailures {
    /// A failed login at `at`, naming `user` (Exim's `set_id`, Postfix's
    /// `sasl_username`) when the log says, from `ip`.
    pub fn note(
        &mut self,
        user: Option<&str>,
        ip: Option<IpAddr>,
        at: Stamp,
        line: &str,
        place: u64,
    ) {
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
        self.changes += 1;
        let t = self.by_key.entry(key).or_default();
        if t.times.len() >= PER_KEY {
            t.times.pop_front();
        }
        // 0 is kept for failures restored from before this reader.
        t.times.push_back((at, ip, place.saturating_add(1)));
        t.last_line.clear();
        t.last_line.push_str(line);
    }

    /// A failed login this reader owns (in a split run, one shard counts
    /// a line): kept for the logins after it, and counted for the
    /// summary.
    pub fn count(
        &mut self,
        user: Option<&str>,
        ip: Option<IpAddr>,
        at: Stamp,
        line: &str,
        place: u64,
    ) {
        self.note(user, ip, at, line, place);
        self.run.add(user, ip, at);
    }

    /// The failures read before `place` in the input, the latest of each
    /// name (at most 64 of each, and the 5,000 names failed at last), for
    /// a reader that will read again from `place` after a restart: what it
    /// reads again it notes again, so nothing counts twice. Failures
    /// past the caps are lost to the restart, never counted twice.
    pub fn save(&self, place: u64) -> Saved {
        let mut keys: Vec<SavedKey> = self
            .by_key
            .iter()
            .filter_map(|(k, t)| {
                let kept: Vec<_> = t.times.iter().filter(|e| e.2 <= place).collect();
                let start = kept.len().saturating_sub(SAVED_PER_KEY);
                let times: Vec<_> = kept[start..].iter().map(|e| (e.0, e.1)).collect();
                let last = times.last()?.0;
                // The kept line is the tally's last failure's: it goes
                // with the snapshot only if that failure does.
                let same = t.times.back().is_some_and(|b| b.0 == last && b.2 <= place);
                let (user, ip) = match k {
                    Key::User(u) => (Some(u.clone()), None),
                    Key::Ip(ip) => (None, Some(*ip)),
                };
                Some(SavedKey {
                    user,
                    ip,
                    times,
                    last_line: if same {
                        t.last_line.clone()
                    } else {
                        String::new()
                    },
                })
            })
            .collect();
        if keys.len() > SAVED_KEYS {
            keys.sort_by_key(|k| std::cmp::Reverse(k.times.last().map(|t| t.0)));
            keys.truncate(SAVED_KEYS);
        }
        keys.sort_by(|a, b| (&a.user, a.ip).cmp(&(&b.user, b.ip)));
        Saved { keys }
    }

    /// Takes back what [`LoginFailures::save`] wrote, as read before
    /// everything this reader reads next (place 0).
    pub fn restore(&mut self, saved: Saved) {
        self.changes += 1;
        for k in saved.keys {
            let key = match (k.user, k.ip) {
                (Some(u), _) => Key::User(u),
                (None, Some(ip)) => Key::Ip(ip),
                (None, None) => continue,
            };
            let t = self.by_key.entry(key).or_default();
            let mut times: VecDeque<_> = k.times.into_iter().map(|(a, ip)| (a, ip, 0)).collect();
            times.extend(t.times.drain(..));
            while times.len() > PER_KEY {
                times.pop_front();
            }
            t.times = times;
            if t.last_line.is_empty() {
                t.last_line = k.last_line;
            }
        }
    }

    /// The failures before a login of `user` from `ip` at `at`, if any.
    pub fn before(&self, user: &str, ip: Option<IpAddr>, at: Stamp) -> Option<FailedLogins> {
        let by_user = self.by_key.get(&Key::User(user.trim().to_lowercase()));
        let by_ip = ip.and_then(|ip| self.by_key.get(&Key::Ip(ip)));
        let mut found: Option<FailedLogins> = None;
        let mut ips: Vec<IpAddr> = Vec::new();
        for t in by_user.into_iter().chain(by_ip) {
            for &(when, from, _) in &t.times {
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
                    if t.times.back().is_some_and(|&(w, _, _)| w == when) {
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
        let before = self.by_key.len();
        self.by_key.retain(|_, t| {
            while t
                .times
                .front()
                .is_some_and(|(w, _, _)| now.secs - w.secs > LOOKBACK_SECS)
            {
                t.times.pop_front();
            }
            !t.times.is_empty()
        });
        if self.by_key.len() != before {
            self.changes += 1;
        }
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
    /// Every failure added.
    pub fn total(&self) -> u64 {
        self.total
    }

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
                i as u64,
            );
        }
        // Another name, and a failure naming nobody from elsewhere.
        f.note(
            Some("bob@shop.example"),
            ip("198.51.100.1"),
            at(1100),
            "bob",
            100,
        );
        f.note(None, ip("203.0.113.9"), at(1101), "nameless elsewhere", 101);
        f.note(None, ip("192.0.2.7"), at(1102), "nameless here", 102);
        f.note(None, None, at(1103), "nobody from nowhere", 103);

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
    fn a_restart_keeps_the_failures_before_where_it_reads_again() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let lines: Vec<(Option<&str>, &str, i64, u64)> = vec![
            (Some("info@shop.example"), "198.51.100.1", 100, 10),
            (Some("info@shop.example"), "198.51.100.2", 110, 20),
            (None, "192.0.2.7", 120, 30),
            (Some("info@shop.example"), "198.51.100.3", 130, 40),
            (Some("bob@shop.example"), "198.51.100.4", 140, 50),
        ];
        let mut whole = LoginFailures::default();
        for (u, from, t, place) in &lines {
            whole.note(*u, ip(from), at(*t), &format!("line {place}"), *place);
        }
        // Stopped with the lines from place 30 on to be read again.
        let saved = whole.save(30);
        let mut after = LoginFailures::default();
        after.restore(saved.clone());
        for (u, from, t, place) in lines.iter().filter(|l| l.3 >= 30) {
            after.note(*u, ip(from), at(*t), &format!("line {place}"), *place);
        }
        for (user, from) in [
            ("info@shop.example", ip("192.0.2.7")),
            ("bob@shop.example", None),
        ] {
            assert_eq!(
                after.before(user, from, at(200)),
                whole.before(user, from, at(200)),
                "{user}"
            );
        }
        let got = after
            .before("info@shop.example", ip("192.0.2.7"), at(200))
            .unwrap();
        assert_eq!((got.count, got.ips, got.line.as_str()), (4, 4, "line 40"));
        // A snapshot of a restored reader keeps what it restored.
        let again = after.save(0);
        assert_eq!(again, saved);
        // Only the latest of a name are kept, never more than a reader reads.
        let mut many = LoginFailures::default();
        for i in 0..200u64 {
            many.note(Some("info@shop.example"), None, at(i as i64), "x", i);
        }
        let mut back = LoginFailures::default();
        back.restore(many.save(u64::MAX));
        let got = back.before("info@shop.example", None, at(300)).unwrap();
        assert_eq!((got.count, got.first), (SAVED_PER_KEY as u32, at(136)));
    }

    #[test]
    fn memory_stays_bounded_under_a_guessing_run() {
        let mut f = LoginFailures::default();
        for i in 0..(PER_KEY as i64 + 10) {
            f.note(Some("info@shop.example"), None, at(i), "x", i as u64);
        }
        let got = f
            .before("info@shop.example", None, at(PER_KEY as i64 + 10))
            .unwrap();
        assert_eq!(got.count as usize, PER_KEY);
        for i in 0..(KEYS as i64 + 5) {
            f.note(Some(&format!("u{i}@x.example")), None, at(5000), "x", 0);
        }
        assert_eq!(f.by_key.len(), KEYS);
        assert_eq!(f.untallied, 6);
    }
}
