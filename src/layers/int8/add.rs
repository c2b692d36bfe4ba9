//! Int8 addition of two tensors of one shape (TFLite's ADD, the join of a
//! residual block), computed as TFLM's reference kernel computes it.
//!
//! The two inputs have scales of their own, so they are brought to a common
//! one before they are added: each input, offset by its zero point, is
//! shifted left by 20 bits (headroom for the rescaling) and multiplied by
//! `its scale / (2 * the larger scale)`, a fixed-point multiplier below one;
//! the sum is multiplied by `2 * the larger scale / (2^20 * output scale)`,
//! offset by the output's zero point and clamped by the fused activation.
//! Each multiplication rounds as [`multiply_by_quantized_multiplier`] does
//! (a doubling high multiply, then a rounding right shift), the multipliers
//! are TFLite's `QuantizeMultiplier` of those ratios computed in `f64`.

use crate::kernels::int8::multiply_by_quantized_multiplier;
use crate::layers::activation::{Activation, Int8Fused};
use crate::layers::int8::QuantizeError;
use crate::quant::{activation_range, quantize_multiplier, Bytes, Le32, QParams, Requant};
use core::marker::PhantomData;

/// Bits the inputs are shifted left by before they are rescaled (TFLite's
/// `left_shift` for int8).
pub const LEFT_SHIFT: u32 = 20;

/// TFLite's int8 ADD of a main input (1) and a second input (2), with the
/// activation `A` (relu or none) as the output clamp.
#[repr(C)]
pub struct QAdd<A> {
    /// Input 1's zero point.
    pub input1_zero_point: Le32,
    /// Input 2's zero point.
    pub input2_zero_point: Le32,
    /// The output's quantization.
    pub output: QParams,
    /// `input1_scale / (2 * max_scale)`.
    pub input1: Requant,
    /// `input2_scale / (2 * max_scale)`.
    pub input2: Requant,
    /// `2 * max_scale / (2^20 * output_scale)`.
    pub rescale: Requant,
    activation: PhantomData<A>,
}

// SAFETY: `#[repr(C)]` of `Le32`, `QParams` and `Requant`s and a zero-sized
// marker: alignment 1, no padding.
unsafe impl<A> Bytes for QAdd<A> {}

/// The numbers of a [`QAdd`] as `i32`s, read once per tensor.
#[derive(Clone, Copy)]
pub(crate) struct Prepared {
    offsets: [i32; 2],
    multipliers: [(i32, i32); 2],
    rescale: (i32, i32),
    zero_point: i32,
    clamp: (i32, i32),
}

impl Prepared {
    /// The sum of `x` (input 1) and `y` (input 2), as TFLM's `AddFunc`.
    #[inline(always)]
    pub(crate) fn apply(&self, x: i8, y: i8) -> i8 {
        let scaled = |v: i8, k: usize| {
            let shifted = (self.offsets[k] + v as i32) * (1 << LEFT_SHIFT);
            let (m, s) = self.multipliers[k];
            multiply_by_quantized_multiplier(shifted, m, s)
        };
        let sum = scaled(x, 0).wrapping_add(scaled(y, 1));
        let out = multiply_by_quantized_multiplier(sum, self.rescale.0, self.rescale.1).wrapping_add(self.zero_point);
        out.clamp(self.clamp.0, self.clamp.1) as i8
    }
}

impl<A: Activation> QAdd<A> {
    /// Fails the build for an activation that has no int8 clamp.
    const CHECK: () = assert!(
        !matches!(A::INT8, Int8Fused::Unsupported),
        "int8: an add's activation has no int8 form (TFLite fuses only relu)"
    );

    /// The add of inputs quantized as `input1` and `input2` into `output`,
    /// with the multipliers TFLite's `Prepare` computes from those three
    /// (the quantization a `.tflite` file stores for ADD's tensors). An
    /// error when a scale is not finite and positive.
    pub fn new(input1: QParams, input2: QParams, output: QParams) -> Result<Self, QuantizeError> {
        let kind = "Add";
        let finite = |q: QParams| q.scale().is_finite() && q.scale() > 0.0;
        if !(finite(input1) && finite(input2) && finite(output)) {
            return Err(QuantizeError::NonFinite { kind });
        }
        // As TFLite: `2 * max(s1, s2)` in float, the ratios in double.
        let twice_max = (2.0 * input1.scale().max(input2.scale())) as f64;
        let requant = |real: f64| {
            let (m, s) = quantize_multiplier(real);
            Requant::new(m, s)
        };
        Ok(Self {
            input1_zero_point: Le32::new(input1.zero_point()),
            input2_zero_point: Le32::new(input2.zero_point()),
            output,
            input1: requant(input1.scale() as f64 / twice_max),
            input2: requant(input2.scale() as f64 / twice_max),
            rescale: requant(twice_max / ((1u32 << LEFT_SHIFT) as f32 * output.scale()) as f64),
            activation: PhantomData,
        })
    }

    /// The numbers as the inner loop reads them.
    #[inline(always)]
    pub(crate) fn prepared(&self) -> Prepared {
        let () = Self::CHECK;
        let zp = self.output.zero_point();
        let pair = |r: Requant| (r.multiplier(), r.shift());
        Prepared {
            offsets: [-self.input1_zero_point.get(), -self.input2_zero_point.get()],
            multipliers: [pair(self.input1), pair(self.input2)],
            rescale: pair(self.rescale),
            zero_point: zp,
            clamp: activation_range(matches!(A::INT8, Int8Fused::Relu), zp),
        }
    }

    /// `out[i] = x[i] + y[i]` for int8 tensors of one length.
    pub fn forward(&self, x: &[i8], y: &[i8], out: &mut [i8]) {
        let add = self.prepared();
        for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
            *o = add.apply(x, y);
        }
    }

    /// Whether TFLM accepts these numbers: zero points in the `i8` range,
    /// a valid output quantization, multipliers below one (TFLite's
    /// `QuantizeMultiplierSmallerThanOneExp`: shift at most 0).
    pub fn is_valid(&self) -> bool {
        let below_one = |r: Requant| r.is_valid() && r.shift() <= 0;
        (-128..=127).contains(&self.input1_zero_point.get())
            && (-128..=127).contains(&self.input2_zero_point.get())
            && self.output.is_valid()
            && below_one(self.input1)
            && below_one(self.input2)
            && below_one(self.rescale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Relu;

    /// The add against its definition in real numbers: within one step of
    /// the rounded real sum.
    #[test]
    fn adds_real_values_within_one_step() {
        let (a, b, o) = (QParams::new(0.05, -3), QParams::new(0.11, 7), QParams::new(0.13, -20));
        let add = QAdd::<crate::Linear>::new(a, b, o).unwrap();
        assert!(add.is_valid());
        let p = add.prepared();
        for x in [-128i8, -50, -3, 0, 1, 90, 127] {
            for y in [-128i8, -7, 7, 8, 100, 127] {
                let real = a.dequantize(x) + b.dequantize(y);
                let want = (real / o.scale()).round() as i32 + o.zero_point();
                let got = p.apply(x, y) as i32;
                assert!((got - want.clamp(-128, 127)).abs() <= 1, "{x} + {y}: {got} vs {want}");
            }
        }
        // The larger input scale gets the multiplier 1/2.
        assert_eq!((add.input2.multiplier(), add.input2.shift()), (1 << 30, 0));
    }

    #[test]
    fn relu_clamps_at_the_output_zero_point() {
        let q = QParams::new(0.1, 5);
        let add = QAdd::<Relu>::new(q, q, q).unwrap();
        let mut out = [0i8; 2];
        add.forward(&[-100, 20], &[-100, 20], &mut out);
        assert_eq!(out, [5, 35]);
        assert!(QAdd::<Relu>::new(QParams::new(f32::NAN, 0), q, q).is_err());
    }
}
