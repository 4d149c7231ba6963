//! Counting distinct values (recipient domains, client IPs) in bounded
//! memory: exact (by 64-bit hash, so nothing is copied; the first [`FEW`]
//! inline, with no allocation to look up) up to [`EXACT`] values, then a HyperLogLog sketch of 256
//! registers (about 6.5% standard error; linear counting keeps small counts
//! close), so a sender that mails a million
//! domains costs 256 bytes, not a million strings.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashSet, FxHasher};
use serde::{Deserialize, Serialize};

/// Values kept exactly before switching to the sketch.
pub const EXACT: usize = 64;
const P: u32 = 8;
const M: usize = 1 << P;

/// Values kept inline: most senders mail a few domains from a few IPs.
pub const FEW: usize = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Distinct {
    /// The first `len` hashes.
    Few {
        hashes: [u64; FEW],
        len: u8,
    },
    Exact(FxHashSet<u64>),
    Sketch(#[serde(with = "registers")] Box<[u8; M]>),
}

/// The sketch's registers as a byte string (serde's arrays stop at 32).
mod registers {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::M;

    pub(super) fn serialize<S: Serializer>(r: &[u8; M], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(r)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[u8; M]>, D::Error> {
        let v: Vec<u8> = Deserialize::deserialize(d)?;
        let n = v.len();
        v.into_boxed_slice()
            .try_into()
            .map_err(|_| D::Error::invalid_length(n, &"256 registers"))
    }
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Few {
            hashes: [0; FEW],
            len: 0,
        }
    }
}

/// FxHash, then splitmix64's finaliser so every bit is mixed (the sketch
/// takes its register index from the top bits).
fn hash<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = FxHasher::default();
    v.hash(&mut h);
    let mut z = h.finish().wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The hash of a name ignoring ASCII case (domains), without copying it.
pub fn hash_ci(name: &str) -> u64 {
    struct Lower<'a>(&'a str);
    impl Hash for Lower<'_> {
        fn hash<H: Hasher>(&self, h: &mut H) {
            for b in self.0.bytes() {
                h.write_u8(b.to_ascii_lowercase());
            }
        }
    }
    hash(&Lower(name))
}

fn add_hash(regs: &mut [u8; M], h: u64) {
    let idx = (h >> (64 - P)) as usize;
    let rest = h << P;
    let rank = (rest.leading_zeros() + 1).min(64 - P + 1) as u8;
    if regs[idx] < rank {
        regs[idx] = rank;
    }
}

impl Distinct {
    pub fn insert<T: Hash + ?Sized>(&mut self, v: &T) {
        self.insert_hashed(hash(v));
    }

    /// Inserts a value by its hash ([`hash_ci`]), worked out elsewhere.
    pub fn insert_hashed(&mut self, h: u64) {
        match self {
            Distinct::Few { hashes, len } => {
                let seen = &hashes[..*len as usize];
                if seen.contains(&h) {
                    return;
                }
                if seen.len() < FEW {
                    hashes[seen.len()] = h;
                    *len += 1;
                    return;
                }
                let mut set: FxHashSet<u64> = seen.iter().copied().collect();
                set.insert(h);
                *self = Distinct::Exact(set);
            }
            Distinct::Exact(set) => {
                if set.len() < EXACT || set.contains(&h) {
                    set.insert(h);
                    return;
                }
                let mut regs = Box::new([0u8; M]);
                for s in set.iter() {
                    add_hash(&mut regs, *s);
                }
                add_hash(&mut regs, h);
                *self = Distinct::Sketch(regs);
            }
            Distinct::Sketch(regs) => add_hash(regs, h),
        }
    }

    /// Inserts a name ignoring ASCII case (domains), without copying it.
    pub fn insert_ci(&mut self, name: &str) {
        self.insert_hashed(hash_ci(name));
    }

    /// The count: exact below [`EXACT`], an estimate above.
    pub fn count(&self) -> u64 {
        match self {
            Distinct::Few { len, .. } => *len as u64,
            Distinct::Exact(set) => set.len() as u64,
            Distinct::Sketch(regs) => {
                let m = M as f64;
                let alpha = 0.7213 / (1.0 + 1.079 / m);
                let sum: f64 = regs.iter().map(|r| 2f64.powi(-(*r as i32))).sum();
                let raw = alpha * m * m / sum;
                let zeros = regs.iter().filter(|r| **r == 0).count();
                let est = if raw <= 2.5 * m && zeros > 0 {
                    m * (m / zeros as f64).ln()
                } else {
                    raw
                };
                (est.round() as u64).max(EXACT as u64)
            }
        }
    }

    /// True when [`Distinct::count`] is an estimate.
    pub fn estimated(&self) -> bool {
        matches!(self, Distinct::Sketch(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_estimated_within_a_few_percent() {
        let mut d = Distinct::default();
        for i in 0..60 {
            d.insert_ci(&format!("D{i}.Example"));
            d.insert_ci(&format!("d{i}.example"));
        }
        assert_eq!(d.count(), 60);
        assert!(!d.estimated());
        // Around the inline ones.
        let mut d = Distinct::default();
        for i in 0..(FEW as u64 + 2) {
            d.insert(&i);
            d.insert(&i);
            assert_eq!(d.count(), i + 1);
        }
        for n in [1_000u64, 20_000, 200_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.insert(&format!("host{i}.example"));
            }
            let err = (d.count() as f64 - n as f64).abs() / n as f64;
            assert!(err < 0.2, "{n}: {} ({err:.3})", d.count());
            assert!(d.estimated());
        }
    }
}
