//! TFLite's int8 quantization scheme: what the numbers of an int8 model mean.
//!
//! A real value `r` is stored as `q` with `r = scale * (q - zero_point)`.
//! Activations are `i8` with one ([`QParams`]) per tensor, asymmetric;
//! convolution and dense weights are `i8` symmetric (zero point 0, range
//! -127..=127), one scale per output channel (or one for the tensor); biases
//! are `i32` at scale `input_scale * weight_scale`. Each layer turns its
//! `i32` accumulator into the output's scale with a [`Requant`]: a Q31
//! mantissa and a power-of-two shift, from [`quantize_multiplier`].
//!
//! Int8 models are stored with alignment 1 ([`Le32`] for every `i32`), so a
//! model has no padding, is its own byte image ([`Bytes`]) and can be used
//! from any address in flash.

use crate::kernels::int8::multiply_by_quantized_multiplier;
use core::mem::{align_of, size_of};

/// A little-endian `i32` with alignment 1.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Le32([u8; 4]);

impl Le32 {
    /// Stores `v`.
    pub const fn new(v: i32) -> Self {
        Self(v.to_le_bytes())
    }
    /// The stored value.
    #[inline(always)]
    pub const fn get(self) -> i32 {
        i32::from_le_bytes(self.0)
    }
}

impl core::fmt::Debug for Le32 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.get().fmt(f)
    }
}

/// A type made only of bytes: `u8`/`i8` arrays, [`Le32`]s and other `Bytes`
/// types, with alignment 1 and therefore no padding. Every byte pattern is a
/// valid value, so a model of such layers is its own saved form.
///
/// # Safety
/// Implementors must be `#[repr(C)]` (or transparent) structs or arrays of
/// such fields and zero-sized types of alignment 1; [`Bytes::SIZE`] checks
/// the alignment at compile time.
pub unsafe trait Bytes: Sized {
    /// Size in bytes.
    const SIZE: usize = {
        assert!(align_of::<Self>() == 1, "a Bytes type must have alignment 1");
        size_of::<Self>()
    };

    /// The bytes in memory order.
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Self` is `SIZE` initialized bytes (no padding, by contract).
        unsafe { core::slice::from_raw_parts(self as *const Self as *const u8, Self::SIZE) }
    }

    /// The bytes in memory order, mutably; any bytes written are a valid value.
    #[inline]
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_bytes`, and every byte pattern is a valid `Self`.
        unsafe { core::slice::from_raw_parts_mut(self as *mut Self as *mut u8, Self::SIZE) }
    }

    /// Views `bytes` as a `Self`, or `None` when the length differs.
    #[inline]
    fn from_bytes(bytes: &[u8]) -> Option<&Self> {
        if bytes.len() != Self::SIZE {
            return None;
        }
        // SAFETY: the length matches, alignment 1 always holds, and every byte
        // pattern is a valid `Self`.
        Some(unsafe { &*(bytes.as_ptr() as *const Self) })
    }
}

// SAFETY: bytes.
unsafe impl<const N: usize> Bytes for [u8; N] {}
// SAFETY: bytes.
unsafe impl<const N: usize> Bytes for [i8; N] {}
// SAFETY: an array of `Bytes` of alignment 1 has no padding.
unsafe impl<B: Bytes, const N: usize> Bytes for [B; N] {}
// SAFETY: four bytes.
unsafe impl Bytes for Le32 {}

/// All-zero bytes: a blank int8 model to load into (`const`, for a `static`).
pub const fn zeroed_bytes<B: Bytes>() -> B {
    // SAFETY: every byte pattern, zero included, is a valid `Bytes` value.
    unsafe { core::mem::zeroed() }
}

/// All-zero bytes on the heap: [`zeroed_bytes`] for a model too big for the
/// stack (never built there).
#[cfg(feature = "std")]
pub fn zeroed_bytes_boxed<B: Bytes>() -> std::boxed::Box<B> {
    // SAFETY: every byte pattern, zero included, is a valid `Bytes` value.
    unsafe { std::boxed::Box::new_zeroed().assume_init() }
}

/// Quantization of one tensor: `real = scale * (q - zero_point)`.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct QParams {
    scale: Le32,
    zero_point: Le32,
}

// SAFETY: two `Le32`s.
unsafe impl Bytes for QParams {}

impl QParams {
    /// Scale and zero point.
    pub const fn new(scale: f32, zero_point: i32) -> Self {
        Self { scale: Le32::new(scale.to_bits() as i32), zero_point: Le32::new(zero_point) }
    }
    /// The scale.
    #[inline]
    pub const fn scale(self) -> f32 {
        f32::from_bits(self.scale.get() as u32)
    }
    /// The zero point.
    #[inline(always)]
    pub const fn zero_point(self) -> i32 {
        self.zero_point.get()
    }
    /// TFLite's int8 softmax output: scale 1/256, zero point -128.
    pub const SOFTMAX: Self = Self::new(1.0 / 256.0, -128);

    /// The int8 nearest to `x / scale + zero_point` (ties away from zero,
    /// as `roundf`), saturated. `const`, so a firmware can tabulate an
    /// input's quantization at compile time.
    pub const fn quantize(self, x: f32) -> i8 {
        let v = x / self.scale();
        // `v - trunc(v)` is exact in f32 (an f32 of magnitude 2^23 or more
        // is an integer), so comparing it with one half rounds as `roundf`;
        // `as` saturates (NaN to 0) like `roundf(v) as i32`.
        let t = v as i32;
        let frac = v - t as f32;
        let r = if frac >= 0.5 {
            t.saturating_add(1)
        } else if frac <= -0.5 {
            t.saturating_sub(1)
        } else {
            t
        };
        let q = r.saturating_add(self.zero_point());
        (if q < -128 {
            -128
        } else if q > 127 {
            127
        } else {
            q
        }) as i8
    }
    /// The real value `q` stands for.
    pub fn dequantize(self, q: i8) -> f32 {
        self.scale() * (q as i32 - self.zero_point()) as f32
    }
    /// Whether these can be used: a finite positive scale, a zero point in
    /// the `i8` range.
    pub fn is_valid(self) -> bool {
        let s = self.scale();
        s.is_finite() && s > 0.0 && (-128..=127).contains(&self.zero_point())
    }
}

impl core::fmt::Debug for QParams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QParams").field("scale", &self.scale()).field("zero_point", &self.zero_point()).finish()
    }
}

/// A real multiplier as TFLite stores it: `multiplier * 2^(shift - 31)`,
/// with `multiplier` a Q31 mantissa in `[2^30, 2^31)` (or 0).
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Requant {
    multiplier: Le32,
    shift: Le32,
}

// SAFETY: two `Le32`s.
unsafe impl Bytes for Requant {}

impl Requant {
    /// From a mantissa and a shift.
    pub const fn new(multiplier: i32, shift: i32) -> Self {
        Self { multiplier: Le32::new(multiplier), shift: Le32::new(shift) }
    }
    /// TFLite's representation of `real` ([`quantize_multiplier`]).
    pub fn from_real(real: f64) -> Self {
        let (m, s) = quantize_multiplier(real);
        Self::new(m, s)
    }
    /// The Q31 mantissa.
    #[inline(always)]
    pub fn multiplier(self) -> i32 {
        self.multiplier.get()
    }
    /// The power-of-two shift.
    #[inline(always)]
    pub fn shift(self) -> i32 {
        self.shift.get()
    }
    /// `acc` times the multiplier, rounded as TFLM rounds.
    #[inline(always)]
    pub fn apply(self, acc: i32) -> i32 {
        multiply_by_quantized_multiplier(acc, self.multiplier(), self.shift())
    }
    /// Whether TFLM's kernels accept it: shift in `-31..=30`, mantissa not
    /// negative.
    pub fn is_valid(self) -> bool {
        (-31..=30).contains(&self.shift()) && self.multiplier() >= 0
    }
}

/// TFLite's `QuantizeMultiplier`: `real = q * 2^shift` with `q` in
/// `[0.5, 1)` rounded to Q31 (half away from zero).
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(real);
    let mut q_fixed = libm::round(q * (1i64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// The requantization of a convolution or dense output channel, computed as
/// TFLite computes it: `input_scale * weight_scale / output_scale` in `f64`.
pub fn channel_requant(input_scale: f32, weight_scale: f32, output_scale: f32) -> Requant {
    Requant::from_real(input_scale as f64 * weight_scale as f64 / output_scale as f64)
}

/// The clamp of a fused activation on int8 outputs with zero point `zp`:
/// relu clamps at the quantized zero, linear at the `i8` range.
pub const fn activation_range(relu: bool, zp: i32) -> (i32, i32) {
    if relu {
        (if zp > -128 { zp } else { -128 }, 127)
    } else {
        (-128, 127)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_round_trips() {
        for &real in &[0.5, 0.75, 0.001_234, 1.5, 3.0e-6, 0.999_999_999_9] {
            let (m, s) = quantize_multiplier(real);
            let back = m as f64 / (1u64 << 31) as f64 * 2f64.powi(s);
            assert!((back - real).abs() <= real * 1e-9, "{real}: {m} {s}");
            assert!((1 << 30..=i32::MAX).contains(&m));
        }
        // Rounding up to 2^31 moves to the next power of two.
        assert_eq!(quantize_multiplier(0.999_999_999_99), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
    }

    #[test]
    fn qparams_quantize_and_dequantize() {
        let q = QParams::new(0.5, -3);
        assert_eq!(q.quantize(1.0), -1);
        assert_eq!(q.quantize(1000.0), 127);
        assert_eq!(q.dequantize(-1), 1.0);
        assert!(q.is_valid());
        assert!(!QParams::new(0.0, 0).is_valid());
    }

    #[test]
    fn quantize_rounds_as_roundf() {
        let reference = |q: QParams, x: f32| {
            (libm::roundf(x / q.scale()) as i32).saturating_add(q.zero_point()).clamp(-128, 127) as i8
        };
        let mut state = 0x853c_49e6_748f_ea9bu64;
        for i in 0..200_000u32 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let q =
                QParams::new(f32::from_bits(0x3a00_0000 + (state >> 40) as u32 % 0x0800_0000), (i % 256) as i32 - 128);
            // Values over the whole range, and exact ties of the scale.
            let x = if i % 3 == 0 { (i as f32 / 2.0 - 50_000.0) * q.scale() } else { f32::from_bits(state as u32) };
            assert_eq!(q.quantize(x), reference(q, x), "{x} / {}", q.scale());
        }
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30, 0.5, -0.5, 1.5, -2.5] {
            let q = QParams::new(1.0, 0);
            assert_eq!(q.quantize(x), reference(q, x), "{x}");
        }
    }

    #[test]
    fn bytes_views() {
        let r = Requant::new(0x4000_0000, -3);
        assert_eq!(r.as_bytes(), &[0, 0, 0, 0x40, 0xfd, 0xff, 0xff, 0xff]);
        assert_eq!(Requant::from_bytes(r.as_bytes()), Some(&r));
        assert_eq!(Requant::from_bytes(&[0; 7]), None);
    }
}
