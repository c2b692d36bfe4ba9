//! Portable inner loops shared by the layers, written so the compiler vectorizes them.
//!
//! Two kinds of multiply-add, by what runs them. Inference (every forward
//! pass, also the training one) rounds the product, then the sum: [`axpy`],
//! as the Cortex-M4F's `vmla` and the Cortex-M0's soft float compute it, so
//! that host and firmware outputs are bit-identical. Loops that only
//! training runs (the backward passes, on the host) use fused multiply-adds,
//! one rounding: [`axpy_fused`], [`dot`], [`dot4`]. On x86-64 the AVX2 build
//! makes them `vfmadd` instructions; where the CPU has no FMA the standard
//! library computes them in software, slowly but with the same bits, so a
//! seed trains to the same weights on every build and thread count.

use crate::{Float, Rng};

/// `y += a * x`, elementwise, rounded twice (the inference loops').
#[inline(always)]
pub(crate) fn axpy<T: Float>(y: &mut [T], a: T, x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `y += x`, elementwise.
#[inline(always)]
pub(crate) fn add<T: Float>(y: &mut [T], x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// `y += a * x`, elementwise, with fused multiply-adds (the training loops').
#[inline(always)]
pub(crate) fn axpy_fused<T: Float>(y: &mut [T], a: T, x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = a.mul_add(x, *y);
    }
}

/// Dot product with fused multiply-adds and eight independent partial sums:
/// strict IEEE order would forbid the compiler from vectorizing a single
/// running sum.
#[inline(always)]
pub(crate) fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    const LANES: usize = 8;
    let mut acc = [T::zero(); LANES];
    let (ac, ar) = a.as_chunks::<LANES>();
    let (bc, br) = b.as_chunks::<LANES>();
    for (x, y) in ac.iter().zip(bc) {
        for l in 0..LANES {
            acc[l] = x[l].mul_add(y[l], acc[l]);
        }
    }
    let mut tail = T::zero();
    for (&x, &y) in ar.iter().zip(br) {
        tail = x.mul_add(y, tail);
    }
    acc.iter().fold(tail, |s, &v| s + v)
}

/// Four dot products of the rows of `a` with `b` at once, fused as [`dot`].
#[inline(always)]
pub(crate) fn dot4<T: Float, const N: usize>(a: &[[T; N]; 4], b: &[T; N]) -> [T; 4] {
    const LANES: usize = 8;
    let mut acc = [[T::zero(); LANES]; 4];
    let (bc, br) = b.as_chunks::<LANES>();
    for (j, y) in bc.iter().enumerate() {
        for (acc, row) in acc.iter_mut().zip(a) {
            for l in 0..LANES {
                acc[l] = row[j * LANES + l].mul_add(y[l], acc[l]);
            }
        }
    }
    let tail = N - br.len();
    core::array::from_fn(|r| {
        let rest = a[r][tail..].iter().zip(br).fold(T::zero(), |s, (&x, &y)| x.mul_add(y, s));
        acc[r].iter().fold(rest, |s, &v| s + v)
    })
}

/// Fills `w` uniformly in `±gain * sqrt(3 / fan_in)`: variance `gain² / fan_in`
/// (He init for relu with `gain = √2`, LeCun otherwise).
pub(crate) fn init_fan_in<T: Float>(w: &mut [T], fan_in: usize, gain: f64, rng: &mut Rng) {
    let bound = gain * libm::sqrt(3.0 / fan_in.max(1) as f64);
    for w in w {
        *w = T::of(rng.uniform(bound));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum() {
        let a: [f64; 19] = core::array::from_fn(|i| i as f64 * 0.5);
        let b: [f64; 19] = core::array::from_fn(|i| 3.0 - i as f64);
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-12);
        let rows = [a, b, a, b];
        let four = dot4(&rows, &b);
        assert!((four[0] - naive).abs() < 1e-12 && (four[3] - dot(&b, &b)).abs() < 1e-12);
    }
}
