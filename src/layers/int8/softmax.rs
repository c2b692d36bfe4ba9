//! Int8 softmax (TFLite's SOFTMAX with int8 output: scale 1/256, zero point
//! -128), computed as TFLM's reference kernel computes it: input
//! differences rescaled to five integer bits, gemmlowp's fixed-point `exp`,
//! a sum with twelve integer bits and its fixed-point reciprocal.

use super::{Int8Layer, QDense, QuantizeError, QuantizeLayer, QuantizeOptions, Range};
use crate::kernels::int8::fixed::{exp_on_negative_values, multiply_by_pot, reciprocal};
use crate::kernels::int8::{rounding_divide_by_pot, rounding_doubling_high_mul};
use crate::layers::activation::{Linear, Softmax};
use crate::layers::tflite::{Fused, Op, OpNumbers, OpShape};
use crate::layers::{fingerprint, str_hash, LayerInfo};
use crate::quant::{quantize_multiplier, Bytes, Le32, QParams};
use crate::{Activate, Tensor};
use core::marker::PhantomData;

/// Integer bits of a rescaled input difference.
const DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials.
const SUM_INTEGER_BITS: i32 = 12;

/// Softmax over the last axis of an int8 tensor `X`, in place.
#[repr(C)]
pub struct QSoftmax<X> {
    /// `beta * input_scale * 2^26` as a Q31 mantissa...
    pub input_multiplier: Le32,
    /// ... and its left shift (TFLite's `PreprocessSoftmaxScaling`).
    pub input_left_shift: Le32,
    /// Input differences below this give an output of -128.
    pub diff_min: Le32,
    tensor: PhantomData<fn() -> X>,
}

// SAFETY: `#[repr(C)]` of `Le32`s and a zero-sized marker.
unsafe impl<X> Bytes for QSoftmax<X> {}

impl<X> QSoftmax<X> {
    /// TFLM's parameters for an input of scale `input_scale` and `beta`.
    pub fn new(input_scale: f32, beta: f32) -> Self {
        let real = (beta as f64 * input_scale as f64 * (1i64 << (31 - DIFF_INTEGER_BITS)) as f64)
            .min((1i64 << 31) as f64 - 1.0);
        let (multiplier, shift) = quantize_multiplier(real);
        // CalculateInputRadius(5, shift): the largest difference that does
        // not saturate once rescaled.
        let radius = ((1i64 << DIFF_INTEGER_BITS) - 1) as f64 * (1i64 << (31 - DIFF_INTEGER_BITS)) as f64
            / (1i64 << shift.clamp(0, 62)) as f64;
        Self {
            input_multiplier: Le32::new(multiplier),
            input_left_shift: Le32::new(shift),
            diff_min: Le32::new(-(libm::floor(radius) as i32)),
            tensor: PhantomData,
        }
    }

    /// The softmax of one group of logits, in place.
    #[inline(never)]
    fn group(&self, xs: &mut [i8]) {
        // The length is opaque to the optimizer: with its one caller's
        // constant it unrolls both loops over the group, 2 KB of flash
        // for a few dozen instructions saved.
        let xs = core::hint::black_box(xs);
        let multiplier = self.input_multiplier.get();
        let shift = self.input_left_shift.get() as u32;
        let diff_min = self.diff_min.get();
        let max = xs.iter().copied().max().unwrap_or(0) as i32;
        let scaled_exp = |x: i8| {
            let diff = x as i32 - max;
            (diff >= diff_min).then(|| {
                let rescaled = rounding_doubling_high_mul(diff.wrapping_shl(shift), multiplier);
                exp_on_negative_values::<DIFF_INTEGER_BITS>(rescaled)
            })
        };
        let mut sum = 0i32;
        for &x in xs.iter() {
            if let Some(e) = scaled_exp(x) {
                sum = sum.wrapping_add(multiply_by_pot(e, -SUM_INTEGER_BITS));
            }
        }
        let (scale, bits_over_unit) = reciprocal(sum, SUM_INTEGER_BITS);
        let exponent = (bits_over_unit + 31 - 8).clamp(0, 31) as u32;
        for x in xs.iter_mut() {
            *x = match scaled_exp(*x) {
                Some(e) => {
                    let unsat = rounding_divide_by_pot(rounding_doubling_high_mul(scale, e), exponent);
                    (unsat - 128).clamp(-128, 127) as i8
                }
                None => -128,
            };
        }
    }
}

impl<X: Tensor<i8>> Int8Layer for QSoftmax<X> {
    type Input = X;
    type Output = X;
    const INFO: LayerInfo = LayerInfo { kind: "QSoftmax", activation: "softmax", bias: false, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("QSoftmax"), X::LEN as u64, Self::DEPTH as u64]);
    const IN_PLACE: bool = true;

    fn forward(&self, x: &X, y: &mut X) {
        y.as_flat_mut().copy_from_slice(x.as_flat());
        self.forward_in_place(y.as_flat_mut());
    }

    fn forward_in_place(&self, xy: &mut [i8]) {
        for group in xy.chunks_exact_mut(Self::DEPTH) {
            self.group(group);
        }
    }

    fn is_valid(&self) -> bool {
        (0..=31).contains(&self.input_left_shift.get()) && self.input_multiplier.get() >= 0 && self.diff_min.get() <= 0
    }

    const TFLITE: Option<&'static [OpShape]> = Some(&[OpShape { op: Op::Softmax, input: X::SHAPE, output: X::SHAPE }]);

    fn load_ops(&mut self, ops: &[OpNumbers<'_>]) -> Result<(), QuantizeError> {
        match ops {
            [op] => {
                *self = Self::new(op.input.scale(), op.beta);
                Ok(())
            }
            _ => Err(QuantizeError::Unsupported { kind: "QSoftmax" }),
        }
    }
}

impl<X: Tensor<i8>> QSoftmax<X> {
    /// Length of the axis softmax normalizes over: the last one.
    const DEPTH: usize = X::SHAPE[X::SHAPE.len() - 1];
}

/// A dense layer whose softmax runs as TFLite's int8 softmax after it: the
/// int8 form of `Dense<O> => Softmax`.
#[repr(C)]
pub struct QDenseSoftmax<const I: usize, const O: usize> {
    /// The dense layer, with the logits' quantization as output.
    pub dense: QDense<I, O, Linear>,
    /// The softmax over its output.
    pub softmax: QSoftmax<[i8; O]>,
}

// SAFETY: `#[repr(C)]` of two `Bytes` types.
unsafe impl<const I: usize, const O: usize> Bytes for QDenseSoftmax<I, O> {}

impl<const I: usize, const O: usize> Int8Layer for QDenseSoftmax<I, O> {
    type Input = [i8; I];
    type Output = [i8; O];
    const INFO: LayerInfo = LayerInfo { kind: "QDense", activation: "softmax", bias: true, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[
        str_hash("QDenseSoftmax"),
        <QDense<I, O, Linear> as Int8Layer>::FINGERPRINT,
        <QSoftmax<[i8; O]> as Int8Layer>::FINGERPRINT,
    ]);

    fn forward(&self, x: &[i8; I], y: &mut [i8; O]) {
        self.dense.forward(x, y);
        self.softmax.forward_in_place(y);
    }

    fn is_valid(&self) -> bool {
        self.dense.is_valid() && self.softmax.is_valid()
    }

    const TFLITE: Option<&'static [OpShape]> = Some(&[
        OpShape { op: Op::FullyConnected { activation: Fused::None }, input: &[I], output: &[O] },
        OpShape { op: Op::Softmax, input: &[O], output: &[O] },
    ]);

    fn load_ops(&mut self, ops: &[OpNumbers<'_>]) -> Result<(), QuantizeError> {
        match ops {
            [dense, softmax] => {
                self.dense.load_ops(core::slice::from_ref(dense))?;
                self.softmax.load_ops(core::slice::from_ref(softmax))
            }
            _ => Err(QuantizeError::Unsupported { kind: "QDenseSoftmax" }),
        }
    }
}

/// A softmax layer of its own.
impl<X: Tensor<f32> + super::Retype> QuantizeLayer for Activate<Softmax, X> {
    type Int8 = QSoftmax<X::Int8>;

    fn quantize(
        &self,
        input: QParams,
        _: Range,
        _: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError> {
        *q = QSoftmax::new(input.scale(), 1.0);
        Ok(QParams::SOFTMAX)
    }
}
