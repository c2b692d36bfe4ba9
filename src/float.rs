//! The scalar type a network computes in.

use core::fmt::{Debug, Display};
use core::iter::Sum;
use core::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar: `f32` (firmware, training) or `f64` (gradient checks).
///
/// Sealed: every bit pattern of an implementor must be a valid value, which the
/// flat parameter views of [`crate::Params`] rely on.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + crate::tensor::Element
    + sealed::Sealed
{
    /// Size in bytes, as written by postcard (little-endian IEEE 754).
    const BYTES: usize;
    /// A short name for summaries and fingerprints (`"f32"`).
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest.
    fn of(x: f64) -> Self;
    /// `e^x` from the `libm` crate on every target, so the host and a
    /// microcontroller compute bit-identical softmax and sigmoid outputs
    /// (std's `exp` is the platform's and may differ in the last bit).
    fn libm_exp(self) -> Self;
    /// `tanh` from the `libm` crate on every target (see [`Float::libm_exp`]).
    fn libm_tanh(self) -> Self;
    /// Widens (or keeps) to `f64`.
    fn to_f64_lossless(self) -> f64;
    /// Little-endian bytes of `self` appended through `put`.
    fn write_le(self, put: &mut impl FnMut(u8));
    /// Reads a value from exactly [`Float::BYTES`] little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;
}

impl Float for f32 {
    const BYTES: usize = 4;
    const NAME: &'static str = "f32";
    #[inline]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn libm_exp(self) -> Self {
        libm::expf(self)
    }
    #[inline]
    fn libm_tanh(self) -> Self {
        libm::tanhf(self)
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self as f64
    }
    fn write_le(self, put: &mut impl FnMut(u8)) {
        self.to_le_bytes().into_iter().for_each(put)
    }
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[..4]);
        f32::from_le_bytes(b)
    }
}

impl Float for f64 {
    const BYTES: usize = 8;
    const NAME: &'static str = "f64";
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn libm_exp(self) -> Self {
        libm::exp(self)
    }
    #[inline]
    fn libm_tanh(self) -> Self {
        libm::tanh(self)
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self
    }
    fn write_le(self, put: &mut impl FnMut(u8)) {
        self.to_le_bytes().into_iter().for_each(put)
    }
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[..8]);
        f64::from_le_bytes(b)
    }
}
