//! Members seen within a sliding window of minutes (a sender's recipient
//! domains in the last hour), by the minute each was last seen.
//!
//! Expiring the old members walks only those that expire: the minutes are
//! also kept in the order they were seen. A busy sender mails hundreds of
//! domains an hour, and a scan of all of them each minute cost more than
//! the rest of its message.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Default)]
pub(crate) struct Recent {
    /// Each member (a hash) and the minute it was last seen.
    last: HashMap<u64, i64>,
    /// (minute, member) each time a member's minute moved, oldest first.
    /// An entry is stale when the member was seen again later.
    order: VecDeque<(i64, u64)>,
    /// A member was seen at a minute before another's: `order` is not in
    /// minute order, and the next expiry scans the members instead.
    disordered: bool,
}

impl Recent {
    pub(crate) fn len(&self) -> usize {
        self.last.len()
    }

    /// The minute each member was last seen.
    #[cfg(test)]
    pub(crate) fn minutes(&self) -> impl Iterator<Item = &i64> {
        self.last.values()
    }

    /// Notes `member` seen at `minute`; a new member only when `room`.
    #[inline]
    pub(crate) fn touch(&mut self, member: u64, minute: i64, room: bool) {
        match self.last.get_mut(&member) {
            Some(seen) if *seen == minute => return,
            Some(seen) => *seen = minute,
            None if room => {
                self.last.insert(member, minute);
            }
            None => return,
        }
        if self.order.back().is_some_and(|(m, _)| *m > minute) {
            self.disordered = true;
        }
        self.order.push_back((minute, member));
    }

    /// Forgets the members last seen `window` minutes or more before
    /// `minute`.
    pub(crate) fn expire(&mut self, minute: i64, window: i64) {
        if self.disordered {
            self.last.retain(|_, seen| minute - *seen < window);
            self.rebuild();
            return;
        }
        while let Some(&(m, member)) = self.order.front() {
            if minute - m < window {
                break;
            }
            self.order.pop_front();
            if self.last.get(&member) == Some(&m) {
                self.last.remove(&member);
            }
        }
    }

    /// `order` again from `last`, in minute order.
    fn rebuild(&mut self) {
        let mut order: Vec<(i64, u64)> = self.last.iter().map(|(h, m)| (*m, *h)).collect();
        order.sort_unstable();
        self.order = order.into();
        self.disordered = false;
    }
}

/// Saved as the members and their minutes alone (the format of a saved
/// sender's state, [`crate::STATE_FORMAT`], is unchanged).
impl Serialize for Recent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.last.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Recent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut r = Recent {
            last: HashMap::deserialize(d)?,
            ..Recent::default()
        };
        r.rebuild();
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a scan of every member each minute keeps, against `Recent`,
    /// over minutes that mostly move forward and sometimes go back.
    #[test]
    fn expires_what_a_scan_of_every_member_would() {
        let mut scan: HashMap<u64, i64> = HashMap::default();
        let mut recent = Recent::default();
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut minute = 0i64;
        for step in 0..20_000 {
            minute += (next() % 3) as i64;
            let at = if step % 97 == 0 {
                minute - (next() % 90) as i64
            } else {
                minute
            };
            let member = next() % 300;
            let room = scan.len() < 250;
            match scan.get_mut(&member) {
                Some(seen) => *seen = at,
                None if room => {
                    scan.insert(member, at);
                }
                None => {}
            }
            recent.touch(member, at, room);
            if step % 5 == 0 {
                scan.retain(|_, seen| minute - *seen < 60);
                recent.expire(minute, 60);
                assert_eq!(recent.last, scan, "step {step}");
            }
        }
    }

    #[test]
    fn saved_as_its_members_alone() {
        let mut r = Recent::default();
        r.touch(1, 10, true);
        r.touch(2, 12, true);
        r.touch(1, 13, true);
        let bytes = postcard::to_allocvec(&r).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&r.last).unwrap());
        let mut back: Recent = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.order, VecDeque::from([(12, 2), (13, 1)]));
        back.expire(73, 60);
        assert_eq!(back.len(), 0);
    }
}
