//! Members seen within a sliding window of minutes (a sender's recipient
//! domains in the last hour, the networks it logged in from), by the
//! minute each was last seen.
//!
//! Most senders have a few members in a window: those stay inline, with
//! no table to allocate, grow and empty again as they come and go. A busy
//! sender's members go to a table, and their minutes are also kept in
//! the order they were seen, so that expiring the old ones walks only
//! those that expire: a scan of hundreds of domains each minute cost more
//! than the rest of the sender's message.

use std::collections::VecDeque;
use std::hash::Hash;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Members kept inline.
const FEW: usize = 4;

#[derive(Debug, Clone)]
pub(crate) enum Recent<K> {
    /// The first `len` (member, minute) pairs.
    Few {
        pairs: [(K, i64); FEW],
        len: u8,
    },
    Many(Box<Table<K>>),
}

#[derive(Debug, Clone)]
pub(crate) struct Table<K> {
    /// Each member and the minute it was last seen.
    last: HashMap<K, i64>,
    /// (minute, member) each time a member's minute moved, oldest first.
    /// An entry is stale when the member was seen again later.
    order: VecDeque<(i64, K)>,
    /// A member was seen at a minute before another's: `order` is not in
    /// minute order, and the next expiry scans the members instead.
    disordered: bool,
}

impl<K: Copy + Default + Eq + Hash> Default for Recent<K> {
    fn default() -> Self {
        Recent::Few {
            pairs: [(K::default(), 0); FEW],
            len: 0,
        }
    }
}

impl<K: Copy + Default + Eq + Hash + Ord> Recent<K> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Recent::Few { len, .. } => *len as usize,
            Recent::Many(t) => t.last.len(),
        }
    }

    /// Each member and the minute it was last seen, in no set order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &i64)> {
        let (few, many) = match self {
            Recent::Few { pairs, len } => (&pairs[..*len as usize], None),
            Recent::Many(t) => (&[][..], Some(t.last.iter())),
        };
        few.iter()
            .map(|(k, m)| (k, m))
            .chain(many.into_iter().flatten())
    }

    /// Notes `member` seen at `minute`; a new member only when `room`.
    #[inline]
    pub(crate) fn touch(&mut self, member: K, minute: i64, room: bool) {
        match self {
            Recent::Few { pairs, len } => {
                let n = *len as usize;
                if let Some(p) = pairs[..n].iter_mut().find(|p| p.0 == member) {
                    p.1 = minute;
                } else if room && n < FEW {
                    pairs[n] = (member, minute);
                    *len += 1;
                } else if room {
                    let mut t = Table {
                        last: HashMap::default(),
                        order: VecDeque::new(),
                        disordered: false,
                    };
                    for (k, m) in pairs.iter().chain([(member, minute)].iter()) {
                        t.last.insert(*k, *m);
                    }
                    t.rebuild();
                    *self = Recent::Many(Box::new(t));
                }
            }
            Recent::Many(t) => t.touch(member, minute, room),
        }
    }

    /// Forgets the members last seen `window` minutes or more before
    /// `minute`.
    pub(crate) fn expire(&mut self, minute: i64, window: i64) {
        match self {
            Recent::Few { pairs, len } => {
                let mut kept = 0;
                for i in 0..*len as usize {
                    if minute - pairs[i].1 < window {
                        pairs[kept] = pairs[i];
                        kept += 1;
                    }
                }
                *len = kept as u8;
            }
            Recent::Many(t) => {
                t.expire(minute, window);
                // Back inline once quiet: no table kept for a sender
                // whose burst is over (not at the first member gone, so
                // that one going and coming does not build it each time).
                if t.last.len() <= FEW / 2 {
                    let mut few = Recent::default();
                    let mut kept: Vec<(i64, K)> = t.last.iter().map(|(k, m)| (*m, *k)).collect();
                    kept.sort_unstable();
                    for (m, k) in kept {
                        few.touch(k, m, true);
                    }
                    *self = few;
                }
            }
        }
    }
}

impl<K: Copy + Eq + Hash + Ord> Table<K> {
    fn touch(&mut self, member: K, minute: i64, room: bool) {
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

    fn expire(&mut self, minute: i64, window: i64) {
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
        let mut order: Vec<(i64, K)> = self.last.iter().map(|(k, m)| (*m, *k)).collect();
        order.sort_unstable();
        self.order = order.into();
        self.disordered = false;
    }
}

/// Saved as a map of the members to their minutes (the format of a
/// saved sender's state, [`crate::STATE_FORMAT`], is a map's).
impl<K: Copy + Default + Eq + Hash + Ord + Serialize> Serialize for Recent<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, K> Deserialize<'de> for Recent<K>
where
    K: Copy + Default + Eq + Hash + Ord + Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let last: HashMap<K, i64> = HashMap::deserialize(d)?;
        let mut pairs: Vec<(i64, K)> = last.into_iter().map(|(k, m)| (m, k)).collect();
        pairs.sort_unstable();
        let mut r = Recent::default();
        for (m, k) in pairs {
            r.touch(k, m, true);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(r: &Recent<u64>) -> HashMap<u64, i64> {
        r.iter().map(|(k, m)| (*k, *m)).collect()
    }

    /// What a scan of every member each minute keeps, against `Recent`,
    /// over minutes that mostly move forward and sometimes go back, with
    /// few members and with many.
    #[test]
    fn expires_what_a_scan_of_every_member_would() {
        // (members to pick from, most minutes between two touches): slow
        // steps reach each member's last minute of the window.
        for (spread, steps) in [(3u64, 3u64), (3, 25), (6, 25), (300, 3)] {
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
                minute += (next() % steps) as i64;
                let at = if step % 97 == 0 {
                    minute - (next() % 90) as i64
                } else {
                    minute
                };
                let member = next() % spread;
                let room = scan.len() < 250;
                match scan.get_mut(&member) {
                    Some(seen) => *seen = at,
                    None if room => {
                        scan.insert(member, at);
                    }
                    None => {}
                }
                recent.touch(member, at, room);
                assert_eq!(recent.len(), scan.len(), "{spread}: step {step}");
                if step % 5 == 0 || steps > 3 {
                    scan.retain(|_, seen| minute - *seen < 60);
                    recent.expire(minute, 60);
                    assert_eq!(members(&recent), scan, "{spread}: step {step}");
                }
            }
        }
    }

    #[test]
    fn saved_as_a_map_of_its_members() {
        for n in [2u64, 9] {
            let mut r = Recent::default();
            for k in 0..n {
                r.touch(k, 10 + k as i64, true);
            }
            r.touch(0, 30, true);
            let map: std::collections::BTreeMap<u64, i64> =
                r.iter().map(|(k, m)| (*k, *m)).collect();
            let bytes = postcard::to_allocvec(&r).unwrap();
            let again: std::collections::BTreeMap<u64, i64> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(again, map);
            let mut back: Recent<u64> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(members(&back), members(&r));
            back.expire(10 + n as i64 + 59, 60);
            assert_eq!(back.len(), 1, "only the member seen again is left");
            back.expire(90, 60);
            assert_eq!(back.len(), 0);
        }
    }
}
