//! Integer arithmetic of TFLite's int8 scheme, as TensorFlow Lite Micro's
//! reference kernels compute it (and CMSIS-NN reproduces it bit for bit),
//! written from the published definitions: the fixed-point rescaling of an
//! `i32` accumulator, and gemmlowp's fixed-point `exp` and reciprocal that
//! the int8 softmax is made of.
//!
//! Every function here is exact integer arithmetic, so any target gives the
//! same bits; the order of a sum of products does not matter either
//! (wrapping `i32` addition is associative), which leaves the dot-product
//! loops free to be blocked however a target runs them fastest.

/// `(a * b * 2 + 2^31) >> 32` with TFLite's rounding (half away from zero)
/// and saturation: the high half of a doubled product, as gemmlowp's
/// `SaturatingRoundingDoublingHighMul`.
#[inline(always)]
pub fn rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    // gemmlowp writes `(ab + nudge) / 2^31` with `nudge` 2^30 for `ab >= 0`
    // and 1 - 2^30 below, dividing towards zero; for a negative sum that
    // division is `(sum + 2^31 - 1) >> 31`, and both cases become the one
    // arithmetic shift below (checked against the definition in a test).
    ((a as i64 * b as i64 + (1 << 30)) >> 31) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (gemmlowp's
/// `RoundingDivideByPOT`); `exponent` in `0..=31`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let mask = (1u32 << exponent).wrapping_sub(1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// `x * multiplier * 2^shift` with `multiplier` a Q31 mantissa, rounded
/// twice as TFLM's `MultiplyByQuantizedMultiplier`: a left shift first (for
/// `shift > 0`), the doubling high multiply, then a rounding right shift.
///
/// For a multiplier that is not negative (every valid one, checked when a
/// model is loaded) the doubling high multiply cannot saturate, and its
/// check is left out.
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift as u32 } else { 0 };
    let right = if shift > 0 { 0 } else { (-shift) as u32 };
    let high = if multiplier >= 0 {
        // `rounding_doubling_high_mul` without the saturation it never needs here.
        ((x.wrapping_shl(left) as i64 * multiplier as i64 + (1 << 30)) >> 31) as i32
    } else {
        rounding_doubling_high_mul(x.wrapping_shl(left), multiplier)
    };
    rounding_divide_by_pot(high, right)
}

/// An accumulator requantized to the output's scale, offset by its zero
/// point and clamped to `[lo, hi]` (the fused activation's range).
#[inline(always)]
pub fn requantize(acc: i32, multiplier: i32, shift: i32, zero_point: i32, lo: i32, hi: i32) -> i8 {
    ChannelRequant::new(multiplier, shift, zero_point, (lo, hi)).apply(acc)
}

/// [`requantize`] for one channel, its shifts decoded once: for loops that
/// requantize many accumulators of the same channel (a convolution's
/// filter over a whole image), where decoding them each time costs as
/// much as the arithmetic. [`multiply_by_quantized_multiplier`], the zero
/// point and the clamp, in one (checked against them in a test).
#[derive(Clone, Copy, Debug)]
pub struct ChannelRequant {
    multiplier: i32,
    left: u32,
    right: u32,
    mask: i32,
    zero_point: i32,
    lo: i32,
    hi: i32,
}

impl ChannelRequant {
    /// `multiplier * 2^shift`, then `zero_point` added and clamped to
    /// `[lo, hi]`, as [`requantize`] takes them.
    #[inline(always)]
    pub fn new(multiplier: i32, shift: i32, zero_point: i32, (lo, hi): (i32, i32)) -> Self {
        let (left, right) = if shift > 0 { (shift as u32, 0) } else { (0, (-shift) as u32) };
        let mask = (1u32 << right).wrapping_sub(1) as i32;
        Self { multiplier, left, right, mask, zero_point, lo, hi }
    }

    /// [`Self::apply`] out of line: for paths that are rare, so that each
    /// caller pays a call for them, not their code.
    #[cfg(constnet_dsp)]
    #[inline(never)]
    fn apply_cold(&self, acc: i32) -> i8 {
        self.apply(acc)
    }

    /// `acc` requantized.
    #[inline(always)]
    pub fn apply(&self, acc: i32) -> i8 {
        let x = acc.wrapping_shl(self.left);
        let high = if self.multiplier >= 0 {
            ((x as i64 * self.multiplier as i64 + (1 << 30)) >> 31) as i32
        } else {
            rounding_doubling_high_mul(x, self.multiplier)
        };
        let threshold = (self.mask >> 1) + (high < 0) as i32;
        let v = (high >> self.right) + ((high & self.mask) > threshold) as i32;
        v.wrapping_add(self.zero_point).clamp(self.lo, self.hi) as i8
    }
}

/// A row of `N` pixels' accumulators of `C` channels requantized into
/// channels `first .. first + C` of a row of `S`-channel pixels: channel
/// `c` by `requant[c]`, the zero point added, clamped to `clamp`, as
/// [`requantize`] does. The accumulators started at `bias` and added
/// `taps` products each: where that bounds them well within 31 bits, and
/// every shift is a right shift, the assembly loop
/// ([`requantize_block`](crate::kernels::arm_dsp::requantize_block))
/// computes the same values in half the instructions.
#[cfg(constnet_dsp)]
#[inline(always)]
pub(crate) fn requantize_rows<const N: usize, const C: usize, const S: usize>(
    acc: &[[i32; C]; N],
    (out, first): (&mut [[i8; S]; N], usize),
    (requant, bias, taps): (&[crate::quant::Requant; C], &[crate::quant::Le32; C], usize),
    zero_point: i32,
    clamp: (i32, i32),
) {
    use crate::kernels::arm_dsp::{requantize_block, requantize_fits};
    assert!(first + C <= S, "channels {first} + {C} of {S}");
    let bound = |c: usize| bias[c].get().unsigned_abs() as u64 + 16_256 * taps as u64;
    if const { 4 * C * N < 4096 && S * N < 4096 } && (0..C).all(|c| requantize_fits(requant[c].shift(), bound(c))) {
        // SAFETY: `acc` and `requant` are the row's `[[i32; C]; N]` and `C`
        // pairs of words, `out` from channel `first` holds `N` pixels of
        // `S` bytes with `C` of them written each (asserted above); the
        // shifts and bounds are as it needs (checked above), and so are its
        // offsets.
        unsafe {
            requantize_block::<N, C, S>(
                acc.as_ptr().cast(),
                out.as_mut_ptr().cast::<i8>().add(first),
                requant.as_ptr().cast(),
                zero_point,
                clamp,
            )
        };
        return;
    }
    for (c, q) in requant.iter().enumerate() {
        let r = ChannelRequant::new(q.multiplier(), q.shift(), zero_point, clamp);
        for (o, a) in out.iter_mut().zip(acc) {
            o[first + c] = r.apply_cold(a[c]);
        }
    }
}

/// `sum(a[i] * b[i])` over `i8`s, in `i32`.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = 0i32;
    for (&x, &w) in a.iter().zip(b) {
        acc = acc.wrapping_add(x as i32 * w as i32);
    }
    acc
}

/// TFLM's average of `count` values summing to `sum`: rounded to nearest,
/// ties away from zero.
#[inline(always)]
pub fn rounded_average(sum: i32, count: i32) -> i32 {
    if sum > 0 {
        (sum + count / 2) / count
    } else {
        (sum - count / 2) / count
    }
}

/// gemmlowp's fixed-point helpers for the int8 softmax. A value with `I`
/// integer bits is an `i32` raw `r` meaning `r / 2^(31 - I)`.
pub mod fixed {
    use super::{rounding_divide_by_pot, rounding_doubling_high_mul as mul};

    /// One with zero integer bits: saturated to the largest raw value.
    const ONE_Q0: i32 = i32::MAX;

    /// `x * 2^EXP` with saturation (`EXP > 0`) or rounding (`EXP < 0`),
    /// gemmlowp's `SaturatingRoundingMultiplyByPOT`.
    #[inline(always)]
    pub fn multiply_by_pot(x: i32, exp: i32) -> i32 {
        if exp >= 0 {
            let threshold = (1i32 << (31 - exp)) - 1;
            if x > threshold {
                i32::MAX
            } else if x < -threshold {
                i32::MIN
            } else {
                x << exp
            }
        } else {
            rounding_divide_by_pot(x, (-exp) as u32)
        }
    }

    /// `exp(a)` for `a` in `[-1/4, 0)`, zero integer bits in and out: a
    /// Taylor expansion around -1/8.
    fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
        const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8)
        const ONE_THIRD: i32 = 715_827_883;
        let x = a.wrapping_add(1 << 28); // a + 1/8
        let x2 = mul(x, x);
        let x3 = mul(x2, x);
        let x4 = mul(x2, x2);
        let x4_over_4 = multiply_by_pot(x4, -2);
        let poly = multiply_by_pot(mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2), -1);
        CONSTANT_TERM.wrapping_add(mul(CONSTANT_TERM, x.wrapping_add(poly)))
    }

    /// `exp(a)` for `a <= 0` with `INTEGER_BITS` integer bits; the result has
    /// zero integer bits (gemmlowp's `exp_on_negative_values`). Not inlined:
    /// softmax calls it twice per value, and inlined it is a few hundred
    /// instructions each time.
    #[inline(never)]
    pub fn exp_on_negative_values<const INTEGER_BITS: i32>(a: i32) -> i32 {
        let fractional_bits = 31 - INTEGER_BITS;
        let one_quarter = 1i32 << (fractional_bits - 2);
        let mask = one_quarter - 1;
        let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
        let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(multiply_by_pot(
            a_mod_quarter_minus_one_quarter,
            INTEGER_BITS,
        ));
        let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
        // exp(-2^e) for e = -2 ..= 4, zero integer bits.
        const BARREL: [(i32, i32); 7] = [
            (-2, 1_672_461_947),
            (-1, 1_302_514_674),
            (0, 790_015_084),
            (1, 290_630_308),
            (2, 39_332_535),
            (3, 720_401),
            (4, 242),
        ];
        for (exponent, multiplier) in BARREL {
            if INTEGER_BITS > exponent {
                let bit = fractional_bits + exponent;
                if remainder & (1 << bit) != 0 {
                    result = mul(result, multiplier);
                }
            }
        }
        if a == 0 {
            ONE_Q0
        } else {
            result
        }
    }

    /// `1 / (1 + a)` for `a` in `[0, 1)`, zero integer bits in, and the
    /// result with zero integer bits (Newton-Raphson, gemmlowp's
    /// `one_over_one_plus_x_for_x_in_0_1`).
    fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
        // RoundingHalfSum(a, 1).
        let sum = a as i64 + ONE_Q0 as i64;
        let half_denominator = ((sum + if sum >= 0 { 1 } else { -1 }) / 2) as i32;
        const C48_OVER_17: i32 = 1_515_870_810; // two integer bits
        const NEG_32_OVER_17: i32 = -1_010_580_540;
        const ONE_Q2: i32 = 1 << 29;
        let mut x = C48_OVER_17.wrapping_add(mul(half_denominator, NEG_32_OVER_17));
        for _ in 0..3 {
            let half_denominator_times_x = mul(half_denominator, x);
            let one_minus = ONE_Q2.wrapping_sub(half_denominator_times_x);
            x = x.wrapping_add(multiply_by_pot(mul(x, one_minus), 2));
        }
        // ExactMulByPot<-1> keeps the raw value; Rescale<0> from one integer bit.
        multiply_by_pot(x, 1)
    }

    /// The reciprocal of `x` (with `integer_digits` integer bits) scaled into
    /// zero integer bits, and how many bits it was scaled by (TFLite's
    /// `GetReciprocal`). Not inlined: once per softmax, and its Newton
    /// iterations are most of a softmax's code.
    #[inline(never)]
    pub fn reciprocal(x: i32, integer_digits: i32) -> (i32, i32) {
        let headroom_plus_one = (x as u32).leading_zeros() as i32;
        let num_bits_over_unit = integer_digits - headroom_plus_one;
        let shifted_sum_minus_one = ((x as u32) << headroom_plus_one).wrapping_sub(1 << 31) as i32;
        (one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requantization_matches_its_definition() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for i in 0..200_000u32 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let x = (state >> 32) as i32 >> (i % 20);
            let m = (state as i32).wrapping_abs() | (1 << 30);
            let shift = (i % 40) as i32 - 31;
            let left = shift.max(0) as u32;
            let right = (-shift).max(0) as u32;
            let reference = {
                let h = doubling_high_mul_reference(x.wrapping_shl(left), m);
                let mask = ((1i64 << right) - 1) as i32;
                let threshold = (mask >> 1) + (h < 0) as i32;
                (h >> right) + ((h & mask) > threshold) as i32
            };
            assert_eq!(multiply_by_quantized_multiplier(x, m, shift), reference, "{x} {m} {shift}");
        }
    }

    /// The arithmetic of `arm_dsp::requantize_block`, step by step as its
    /// instructions take it (SMMULR of `2 * acc`, add-and-shift, the zero
    /// point, SSAT, the bounds bytewise), equals TFLite's requantization
    /// wherever `requantize_fits` lets the kernel run (overflow in the
    /// steps would fail the test): shifts -31 to -1,
    /// accumulators within `-2^30 .. 2^30`, ties included (`m = 2^30`
    /// makes exact halves). The firmware runs the kernel itself on the
    /// MLPerf Tiny models, bit-identical to the host (tools/mlperf-tiny.sh).
    #[test]
    fn the_dsp_requantization_steps_are_tflites() {
        let smmulr = |a: i32, b: i32| ((a as i64 * b as i64 + 0x8000_0000) >> 32) as i32;
        let mut state = 0x0ddc_0ffe_e15f_f00du64;
        for i in 0..300_000u32 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let acc = ((state >> 32) as i32 >> (1 + i % 24)).clamp(-(1 << 30), (1 << 30) - 1);
            let m = if i % 5 == 0 { 1 << 30 } else { (state as i32).wrapping_abs() | (1 << 30) };
            let right = 1 + i % 31;
            let zp = (i % 256) as i32 - 128;
            let (lo, hi) = [(-128, 127), (zp, 127), (zp.max(-128), (zp + 100).min(127))][i as usize % 3];
            let h = smmulr(acc + acc, m);
            let v = ((h + (1 << (right - 1)) - (h < 0) as i32) >> right) + zp;
            let saturated = v.clamp(-128, 127) as i8;
            let steps = if (lo, hi) == (-128, 127) { saturated } else { saturated.max(lo as i8).min(hi as i8) } as i32;
            let expected = multiply_by_quantized_multiplier(acc, m, -(right as i32)).wrapping_add(zp).clamp(lo, hi);
            assert_eq!(steps, expected, "{acc} {m} {right} {zp}");
        }
    }

    #[test]
    fn channel_requant_is_requantize() {
        let mut state = 0x1234_5678_9abc_def1u64;
        for i in 0..300_000u32 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let acc = (state >> 32) as i32 >> (i % 24);
            let m = if i % 97 == 0 {
                -((state as i32).wrapping_abs() | 1)
            } else {
                (state as i32).wrapping_abs() | (1 << 30)
            };
            let shift = (i % 40) as i32 - 31;
            let zp = (i % 256) as i32 - 128;
            let clamp = if i % 2 == 0 { (-128, 127) } else { (zp.max(-128), 127) };
            let expected =
                multiply_by_quantized_multiplier(acc, m, shift).wrapping_add(zp).clamp(clamp.0, clamp.1) as i8;
            assert_eq!(ChannelRequant::new(m, shift, zp, clamp).apply(acc), expected, "{acc} {m} {shift} {zp}");
        }
    }

    #[test]
    fn rounding_divide_ties_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }

    /// gemmlowp's definition, as written there.
    fn doubling_high_mul_reference(a: i32, b: i32) -> i32 {
        if a == i32::MIN && b == i32::MIN {
            return i32::MAX;
        }
        let ab = a as i64 * b as i64;
        let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
        ((ab + nudge) / (1i64 << 31)) as i32
    }

    #[test]
    fn doubling_high_mul_is_gemmlowps() {
        let edges = [i32::MIN, i32::MIN + 1, -(1 << 30) - 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3, 1 << 30, i32::MAX];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(rounding_doubling_high_mul(a, b), doubling_high_mul_reference(a, b), "{a} {b}");
            }
        }
        // Ties on both sides of zero: products of +-2^30 +- small.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..1_000_000u32 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (a, b) = ((state >> 32) as i32, state as i32);
            let b = if i % 4 == 0 { b >> (i % 31) } else { b };
            assert_eq!(rounding_doubling_high_mul(a, b), doubling_high_mul_reference(a, b), "{a} {b}");
        }
    }

    #[test]
    fn doubling_high_mul_rounds_and_saturates() {
        assert_eq!(rounding_doubling_high_mul(i32::MIN, i32::MIN), i32::MAX);
        // 0.5 * 0.5 = 0.25 in Q31.
        assert_eq!(rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
        assert_eq!(rounding_doubling_high_mul(-(1 << 30), 1 << 30), -(1 << 29));
    }

    #[test]
    fn average_rounds_half_away_from_zero() {
        assert_eq!(rounded_average(6, 4), 2); // 1.5 -> 2
        assert_eq!(rounded_average(-6, 4), -2);
        assert_eq!(rounded_average(5, 4), 1);
    }

    #[test]
    fn fixed_point_exp_and_reciprocal_are_close_to_real() {
        for i in 0..64 {
            let a = -(i as f64) / 4.0; // five integer bits: raw = a * 2^26
            let raw = (a * (1u64 << 26) as f64) as i32;
            let e = fixed::exp_on_negative_values::<5>(raw) as f64 / 2f64.powi(31);
            assert!((e - a.exp()).abs() < 1e-6, "exp({a}) = {e}");
        }
        let (r, bits) = fixed::reciprocal(3 << 19, 12); // 3.0 with 12 integer bits
        let value = r as f64 / 2f64.powi(31) / 2f64.powi(bits);
        assert!((value - 1.0 / 3.0).abs() < 1e-6, "{value}");
    }
}
