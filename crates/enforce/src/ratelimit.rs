//! Rate limits per sender: messages and recipients per hour and per day.
//!
//! The hour is the last 60 minutes in minute buckets, the day the last 24
//! hours in hour buckets, so a sender costs a fixed 84 small counters
//! however much it sends, and a burst at minute 59 still counts against
//! minute 61. A message over a limit is refused and not counted (the
//! client will retry it and it is counted then, if it passes).

use std::collections::BTreeMap;

use maillog::message::{Sender, SenderKind};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::hold::Action;

/// The limits of one sender kind; an absent figure is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub messages_per_hour: Option<u32>,
    pub recipients_per_hour: Option<u32>,
    pub messages_per_day: Option<u32>,
    pub recipients_per_day: Option<u32>,
    /// What a sender over the limit gets: `defer` (the default) or `hold`.
    #[serde(default = "default_action")]
    pub action: Action,
}

fn default_action() -> Action {
    Action::Defer
}

/// Limits by sender kind (`auth`, `script`, `local`, `ip`, `from`).
pub type Limits = BTreeMap<SenderKind, Limit>;

/// Which limit a message would break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub action: Action,
    /// `200 messages per hour`.
    pub limit: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Minute (or hour) number since the epoch.
    at: i64,
    messages: u32,
    recipients: u32,
}

#[derive(Debug, Clone)]
struct Window {
    minutes: [Bucket; 60],
    hours: [Bucket; 24],
    last: i64,
}

impl Window {
    fn new() -> Self {
        Window {
            minutes: [Bucket::default(); 60],
            hours: [Bucket::default(); 24],
            last: i64::MIN,
        }
    }

    /// (messages, recipients) in the last hour and the last day.
    fn sums(&self, now: i64) -> ((u32, u32), (u32, u32)) {
        let minute = now.div_euclid(60);
        let hour = now.div_euclid(3600);
        let sum = |bs: &[Bucket], cur: i64, span: i64| {
            bs.iter()
                .filter(|b| b.at > cur - span && b.at <= cur)
                .fold((0u32, 0u32), |(m, r), b| {
                    (m.saturating_add(b.messages), r.saturating_add(b.recipients))
                })
        };
        (sum(&self.minutes, minute, 60), sum(&self.hours, hour, 24))
    }

    fn add(&mut self, now: i64, recipients: u32) {
        let put = |bs: &mut [Bucket], at: i64| {
            let b = &mut bs[at.rem_euclid(bs.len() as i64) as usize];
            if b.at != at {
                *b = Bucket {
                    at,
                    ..Bucket::default()
                };
            }
            b.messages = b.messages.saturating_add(1);
            b.recipients = b.recipients.saturating_add(recipients);
        };
        put(&mut self.minutes, now.div_euclid(60));
        put(&mut self.hours, now.div_euclid(3600));
        self.last = now;
    }
}

/// Counters for every sender seen in the last day.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: Limits,
    senders: FxHashMap<Sender, Window>,
    last_purge: i64,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            senders: FxHashMap::default(),
            last_purge: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Senders with live counters.
    pub fn tracked(&self) -> usize {
        self.senders.len()
    }

    /// Counts a message of `sender` with `recipients` recipients at `now`
    /// (unix seconds), or says which limit it would break.
    pub fn admit(&mut self, sender: &Sender, recipients: u32, now: i64) -> Result<(), Exceeded> {
        let Some(limit) = self.limits.get(&sender.kind) else {
            return Ok(());
        };
        if now - self.last_purge >= 3600 {
            self.senders.retain(|_, w| now - w.last < 86_400);
            self.last_purge = now;
        }
        let w = match self.senders.get_mut(sender) {
            Some(w) => w,
            None => self
                .senders
                .entry(sender.clone())
                .or_insert_with(Window::new),
        };
        let ((hm, hr), (dm, dr)) = w.sums(now);
        let checks = [
            (
                limit.messages_per_hour,
                hm.saturating_add(1),
                "messages per hour",
            ),
            (
                limit.recipients_per_hour,
                hr.saturating_add(recipients),
                "recipients per hour",
            ),
            (
                limit.messages_per_day,
                dm.saturating_add(1),
                "messages per day",
            ),
            (
                limit.recipients_per_day,
                dr.saturating_add(recipients),
                "recipients per day",
            ),
        ];
        for (max, would_be, what) in checks {
            if let Some(max) = max
                && would_be > max
            {
                return Err(Exceeded {
                    action: limit.action,
                    limit: format!("{max} {what}"),
                });
            }
        }
        w.add(now, recipients);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        let mut l = Limits::new();
        l.insert(
            SenderKind::Auth,
            Limit {
                messages_per_hour: Some(3),
                recipients_per_hour: Some(10),
                messages_per_day: Some(5),
                ..Limit::default()
            },
        );
        RateLimiter::new(l)
    }

    fn auth(u: &str) -> Sender {
        Sender::new(SenderKind::Auth, u)
    }

    #[test]
    fn messages_per_hour_trip_at_the_limit_and_slide() {
        let mut r = limiter();
        let t = 1_000_000;
        for i in 0..3 {
            assert!(r.admit(&auth("a"), 1, t + i).is_ok());
        }
        let e = r.admit(&auth("a"), 1, t + 10).unwrap_err();
        assert_eq!(e.limit, "3 messages per hour");
        assert_eq!(e.action, Action::Defer);
        // Another sender is not affected; other kinds have no limit.
        assert!(r.admit(&auth("b"), 1, t + 10).is_ok());
        assert!(
            r.admit(&Sender::new(SenderKind::Ip, "127.0.0.1"), 99, t)
                .is_ok()
        );
        // An hour later the window has slid past the first three.
        assert!(r.admit(&auth("a"), 1, t + 3660).is_ok());
    }

    #[test]
    fn recipients_and_day_limits() {
        let mut r = limiter();
        let t = 2_000_000;
        assert!(r.admit(&auth("a"), 8, t).is_ok());
        let e = r.admit(&auth("a"), 3, t + 1).unwrap_err();
        assert_eq!(e.limit, "10 recipients per hour");
        // Refused messages were not counted: two more fit.
        assert!(r.admit(&auth("a"), 2, t + 2).is_ok());
        // Spread over hours, the day limit (5) still holds.
        let mut at = t + 3700;
        for _ in 0..3 {
            assert!(r.admit(&auth("a"), 1, at).is_ok());
            at += 3700;
        }
        assert_eq!(
            r.admit(&auth("a"), 1, at).unwrap_err().limit,
            "5 messages per day"
        );
        // A day after it all began, old hours have dropped out.
        assert!(r.admit(&auth("a"), 1, t + 86_400 + 3600).is_ok());
    }

    #[test]
    fn idle_senders_are_forgotten() {
        let mut r = limiter();
        for i in 0..100 {
            r.admit(&auth(&format!("u{i}")), 1, 10_000).unwrap();
        }
        assert_eq!(r.tracked(), 100);
        r.admit(&auth("late"), 1, 10_000 + 86_400 + 3600).unwrap();
        assert_eq!(r.tracked(), 1);
    }
}
