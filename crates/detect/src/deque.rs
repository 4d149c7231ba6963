//! A double-ended queue whose first few items live inside its owner.
//!
//! A sender's per-minute buckets and per-day delivery counts are usually
//! one or two entries. In a `VecDeque` each sits in an allocation of its
//! own, which a message to a sender not seen for a while finds cold in
//! the cache: one more wait per message. Inline, they come with the
//! sender's state; a busy sender spills into a `VecDeque` as before.

use std::collections::VecDeque;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone)]
pub(crate) enum Deque<T: Copy + Default, const N: usize> {
    /// The first `len` items, oldest first.
    Inline {
        items: [T; N],
        len: u8,
    },
    Spilled(VecDeque<T>),
}

impl<T: Copy + Default, const N: usize> Default for Deque<T, N> {
    fn default() -> Self {
        Deque::Inline {
            items: [T::default(); N],
            len: 0,
        }
    }
}

impl<T: Copy + Default, const N: usize> Deque<T, N> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Deque::Inline { len, .. } => *len as usize,
            Deque::Spilled(v) => v.len(),
        }
    }

    pub(crate) fn front(&self) -> Option<&T> {
        match self {
            Deque::Inline { items, len } => items[..*len as usize].first(),
            Deque::Spilled(v) => v.front(),
        }
    }

    pub(crate) fn back_mut(&mut self) -> Option<&mut T> {
        match self {
            Deque::Inline { items, len } => items[..*len as usize].last_mut(),
            Deque::Spilled(v) => v.back_mut(),
        }
    }

    pub(crate) fn push_back(&mut self, x: T) {
        match self {
            Deque::Inline { items, len } if (*len as usize) < N => {
                items[*len as usize] = x;
                *len += 1;
            }
            Deque::Inline { items, len } => {
                let mut v = VecDeque::with_capacity(N * 2);
                v.extend(items[..*len as usize].iter().copied());
                v.push_back(x);
                *self = Deque::Spilled(v);
            }
            Deque::Spilled(v) => v.push_back(x),
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        match self {
            Deque::Inline { items, len } => {
                let n = *len as usize;
                let first = *items[..n].first()?;
                items.copy_within(1..n, 0);
                *len -= 1;
                Some(first)
            }
            Deque::Spilled(v) => v.pop_front(),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let (a, b) = match self {
            Deque::Inline { items, len } => (&items[..*len as usize], &[][..]),
            Deque::Spilled(v) => v.as_slices(),
        };
        a.iter().chain(b)
    }
}

/// Saved as the sequence of its items, as a `VecDeque` is: the saved
/// state of a sender ([`crate::STATE_FORMAT`]) does not change.
impl<T: Copy + Default + Serialize, const N: usize> Serialize for Deque<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Copy + Default + Deserialize<'de>, const N: usize> Deserialize<'de> for Deque<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: VecDeque<T> = Deserialize::deserialize(d)?;
        let mut q = Deque::default();
        for x in v {
            q.push_back(x);
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same operations on a `VecDeque` and on a `Deque` leave the
    /// same items, across the spill.
    #[test]
    fn behaves_as_a_vecdeque() {
        let mut model: VecDeque<u32> = VecDeque::new();
        let mut q: Deque<u32, 3> = Deque::default();
        let mut state = 11u64;
        for step in 0..5_000u32 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            match (state >> 60) % 4 {
                0 | 1 => {
                    model.push_back(step);
                    q.push_back(step);
                }
                2 => assert_eq!(q.pop_front(), model.pop_front()),
                _ => {
                    if let (Some(a), Some(b)) = (q.back_mut(), model.back_mut()) {
                        *a += 1;
                        *b += 1;
                    }
                }
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.front(), model.front());
            assert!(q.iter().eq(model.iter()), "step {step}");
        }
    }

    #[test]
    fn saved_as_a_vecdeque_is() {
        let mut q: Deque<(i64, u32), 2> = Deque::default();
        let mut v = VecDeque::new();
        for x in [(1, 2), (3, 4), (5, 6)] {
            q.push_back(x);
            v.push_back(x);
            let bytes = postcard::to_allocvec(&q).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(&v).unwrap());
            let back: Deque<(i64, u32), 2> = postcard::from_bytes(&bytes).unwrap();
            assert!(back.iter().eq(v.iter()));
        }
    }
}
