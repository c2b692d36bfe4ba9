//! A small seeded random number generator (xoshiro256++, seeded by SplitMix64).
//!
//! Weight initialization, dropout masks and shuffling all draw from it, so the
//! same seed gives the same network on every machine, with or without `std`.

/// Seeded pseudo-random generator; not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

/// One step of SplitMix64: a good 64-bit hash of a counter.
#[inline]
pub const fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub const fn new(seed: u64) -> Self {
        let a = splitmix64(seed);
        let b = splitmix64(a);
        let c = splitmix64(b);
        let d = splitmix64(c);
        Self { s: [a, b, c, d] }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[-bound, bound)`.
    #[inline]
    pub fn uniform(&mut self, bound: f64) -> f64 {
        (2.0 * self.next_f64() - 1.0) * bound
    }

    /// Uniform integer in `0..n` (`n > 0`), without modulo bias worth noting
    /// for the `n` used here (dataset sizes).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let x = Rng::new(1).uniform(0.5);
        assert!((-0.5..0.5).contains(&x));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: [usize; 50] = core::array::from_fn(|i| i);
        Rng::new(3).shuffle(&mut v);
        let mut s = v;
        s.sort_unstable();
        assert_eq!(s, core::array::from_fn(|i| i));
        assert_ne!(v, s);
    }
}
