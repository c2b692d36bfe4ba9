//! Int8 layers: the inference-only counterparts of the float layers, in
//! TFLite's int8 scheme ([`crate::quant`]), computing what TensorFlow Lite
//! Micro's reference kernels compute, bit for bit.
//!
//! Each float layer names its int8 counterpart through [`QuantizeLayer`], so
//! an int8 model is derived from the same declaration as the float one, and
//! knows how to fill it from trained weights (post-training quantization).
//! Like the float layers, these use the kernels and never the model
//! machinery.

use crate::layers::tflite::{OpNumbers, OpShape};
use crate::layers::LayerInfo;
use crate::quant::{channel_requant, Bytes, Le32, QParams, Requant};
use crate::Tensor;

mod add;
mod conv;
mod dense;
mod depthwise;
mod pool;
mod reshape;
mod softmax;

pub use add::QAdd;
pub(crate) use conv::qconv_impl;
pub use conv::QConv2d;
pub use dense::QDense;
pub(crate) use depthwise::qdepthwise_impl;
pub use depthwise::QDepthwiseConv2d;
pub use pool::QPool2d;
pub use reshape::{QFlatten, QIdentity, QRelu, QUpsample, Unsupported};
pub use softmax::{QDenseSoftmax, QSoftmax};

/// An int8 layer with a statically known input and output shape.
pub trait Int8Layer: Bytes {
    /// The activation this layer reads.
    type Input: Tensor<i8>;
    /// The activation this layer writes.
    type Output: Tensor<i8>;
    /// Kind, activation and bias, for summaries.
    const INFO: LayerInfo;
    /// Changes with the layer's kind, shapes, options and stored layout.
    const FINGERPRINT: u64;
    /// `true` for layers computed over their input's memory.
    const IN_PLACE: bool = false;

    /// Computes `y` from `x`.
    fn forward(&self, x: &Self::Input, y: &mut Self::Output);

    /// Computes the output over the input's own memory (only called when
    /// [`Int8Layer::IN_PLACE`]); the default is the identity.
    #[inline]
    fn forward_in_place(&self, _xy: &mut [i8]) {}

    /// Whether the stored numbers are usable (valid zero points, scales and
    /// multipliers), checked when a model is loaded; outputs of a layer that
    /// passes are what TFLM computes, and no input makes it panic.
    fn is_valid(&self) -> bool {
        true
    }

    /// The TensorFlow Lite ops this layer stands for, in order, with their
    /// options and shapes (`None`: it has none). The TFLite reader checks a
    /// file's graph against them.
    const TFLITE: Option<&'static [OpShape]> = None;

    /// Fills the layer from the numbers a file holds for its ops, one
    /// [`OpNumbers`] per op of [`Int8Layer::TFLITE`], already checked against
    /// it; the default (layers without numbers) does nothing.
    fn load_ops(&mut self, _ops: &[OpNumbers<'_>]) -> Result<(), QuantizeError> {
        Ok(())
    }
}

/// A layer filled from the numbers a `.tflite` file stores for it.
pub trait LoadTflite {
    /// Weights in TFLite's layout (`[F][KH][KW][C]`, `[O][I]`), the int32
    /// bias, one weight scale per output channel (or one for all), the
    /// input's and the output's quantization.
    fn load_tflite(
        &mut self,
        weights: &[i8],
        bias: &[i32],
        weight_scales: &[f32],
        input: QParams,
        output: QParams,
    ) -> Result<(), QuantizeError>;
}

/// [`Int8Layer::load_ops`] of a layer with weights and one op: its numbers
/// through [`LoadTflite`].
pub(crate) fn load_weighted<L: LoadTflite>(layer: &mut L, ops: &[OpNumbers<'_>]) -> Result<(), QuantizeError> {
    match ops {
        [op] => layer.load_tflite(op.weights, op.bias, op.weight_scales, op.input, op.output),
        _ => Err(QuantizeError::Unsupported { kind: "a layer of one op" }),
    }
}

/// Fills the per-channel numbers every weighted int8 layer stores, from
/// TFLite's: `bias_out[c]` = `bias[c] - input_zero_point * weight_sum(c)` (the
/// input offset folded in) and `requant_out[c]` from the channel's weight
/// scale (`weight_scales` has one per channel, or one for all). `kind` names
/// the layer in the error for numbers of the wrong length.
pub(crate) fn load_channels<const N: usize>(
    kind: &'static str,
    bias_out: &mut [Le32; N],
    requant_out: &mut [Requant; N],
    weight_sum: impl Fn(usize) -> i32,
    bias: &[i32],
    weight_scales: &[f32],
    (input, output): (QParams, QParams),
) -> Result<(), QuantizeError> {
    if bias.len() != N || !(weight_scales.len() == N || weight_scales.len() == 1) {
        return Err(QuantizeError::Unsupported { kind });
    }
    for c in 0..N {
        bias_out[c] = Le32::new(bias[c].wrapping_sub(input.zero_point().wrapping_mul(weight_sum(c))));
        let ws = weight_scales[if weight_scales.len() == 1 { 0 } else { c }];
        requant_out[c] = channel_requant(input.scale(), ws, output.scale());
    }
    Ok(())
}

/// Whether a weighted int8 layer's stored quantization is usable: an `i8`
/// input zero point, a valid output quantization and valid multipliers.
/// Not inlined: it runs once per load, and inlined per layer shape it is
/// a few hundred bytes of flash each time.
#[inline(never)]
pub(crate) fn channels_valid(input_zero_point: Le32, output: QParams, requant: &[Requant]) -> bool {
    (-128..=127).contains(&input_zero_point.get()) && output.is_valid() && requant.iter().all(|r| r.is_valid())
}

/// How a layer's output range was seen on the calibration data, in floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
}

impl Range {
    /// No value seen yet.
    pub const EMPTY: Self = Self { min: f32::INFINITY, max: f32::NEG_INFINITY };

    /// Widens the range to hold `values`.
    pub fn observe(&mut self, values: &[f32]) {
        for &v in values {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// TFLite's asymmetric int8 parameters for this range (widened to hold
    /// zero, as TFLite does, so that zero padding and relu are exact).
    pub fn params(self) -> QParams {
        let (lo, hi) = (self.min.min(0.0), self.max.max(0.0));
        if !(lo.is_finite() && hi.is_finite()) || hi - lo <= 0.0 {
            return QParams::new(1.0 / 255.0, -128);
        }
        let scale = (hi - lo) / 255.0;
        let zp = libm::roundf(-128.0 - lo / scale).clamp(-128.0, 127.0) as i32;
        QParams::new(scale, zp)
    }
}

/// How weights are quantized by post-training quantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantizeOptions {
    /// Dense layers with one weight scale per output (TFLite's current
    /// default) instead of one for the whole matrix. Convolutions are always
    /// per output channel.
    pub dense_per_channel: bool,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        Self { dense_per_channel: true }
    }
}

/// Why a layer could not be quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantizeError {
    /// The layer kind has no int8 form (say, sigmoid or edge padding).
    Unsupported {
        /// The layer's kind.
        kind: &'static str,
    },
    /// A weight or a calibrated range is NaN or infinite.
    NonFinite {
        /// The layer's kind.
        kind: &'static str,
    },
    /// A bias does not fit in `i32` at scale `input_scale * weight_scale`.
    BiasOverflow {
        /// The layer's kind.
        kind: &'static str,
    },
}

impl core::fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unsupported { kind } => write!(f, "{kind} has no int8 form in TFLite's scheme"),
            Self::NonFinite { kind } => write!(f, "{kind}: a weight or calibrated range is not finite"),
            Self::BiasOverflow { kind } => write!(f, "{kind}: a bias does not fit in i32 after quantization"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for QuantizeError {}

/// A float layer that has an int8 counterpart.
pub trait QuantizeLayer: crate::Layer<f32> {
    /// The int8 layer.
    type Int8: Int8Layer;

    /// Fills `q` from this layer's trained weights: the input is quantized
    /// with `input`, and `range` is what calibration saw at this layer's
    /// output (before the activation, when the layer is the last one and
    /// its activation is softmax). Returns the output's quantization.
    fn quantize(
        &self,
        input: QParams,
        range: Range,
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError>;
}

/// Maps a float tensor type to the `i8` tensor of the same shape.
pub trait Retype {
    /// The `i8` tensor.
    type Int8: Tensor<i8>;
}
impl<const N: usize> Retype for [f32; N] {
    type Int8 = [i8; N];
}
impl<const H: usize, const W: usize, const C: usize> Retype for [[[f32; C]; W]; H] {
    type Int8 = [[[i8; C]; W]; H];
}

/// Symmetric per-channel (or per-tensor, with one group) weight
/// quantization: the scale of each group is `max |w| / 127`. `weight(g, i)`
/// reads element `i` of group `g`; returns the scales, writing `put(g, i, q)`.
pub(crate) fn quantize_symmetric<const G: usize>(
    kind: &'static str,
    len: usize,
    per_channel: bool,
    weight: impl Fn(usize, usize) -> f32,
    mut put: impl FnMut(usize, usize, i8),
) -> Result<[f32; G], QuantizeError> {
    let mut scales = [0f32; G];
    let mut global = 0f32;
    for (g, s) in scales.iter_mut().enumerate() {
        for i in 0..len {
            let w = weight(g, i);
            if !w.is_finite() {
                return Err(QuantizeError::NonFinite { kind });
            }
            *s = s.max(w.abs());
        }
        global = global.max(*s);
    }
    for s in &mut scales {
        let m = if per_channel { *s } else { global };
        *s = if m > 0.0 { m / 127.0 } else { 1.0 };
    }
    for (g, &s) in scales.iter().enumerate() {
        for i in 0..len {
            put(g, i, libm::roundf(weight(g, i) / s).clamp(-127.0, 127.0) as i8);
        }
    }
    Ok(scales)
}

/// Per output channel, the bias `bias[c]` (none: zero) quantized at
/// `input_scale * weight_scales[c]`, as TFLite: rounded to nearest.
pub(crate) fn quantize_biases<const N: usize>(
    kind: &'static str,
    bias: Option<&[f32; N]>,
    input_scale: f32,
    weight_scales: &[f32; N],
) -> Result<[i32; N], QuantizeError> {
    let mut out = [0i32; N];
    for (c, q) in out.iter_mut().enumerate() {
        let b = bias.map_or(0.0, |b| b[c]);
        let v = libm::round(b as f64 / (input_scale * weight_scales[c]) as f64);
        if !v.is_finite() || v.abs() > i32::MAX as f64 {
            return Err(QuantizeError::BiasOverflow { kind });
        }
        *q = v as i32;
    }
    Ok(out)
}
