//! What a layer stands for in a TensorFlow Lite graph: the ops, with their
//! options and tensor shapes, that the TFLite reader (`constnet::tflite`,
//! host side) checks a file against, and the numbers it hands the layer.
//!
//! Each int8 layer states its ops in [`Int8Layer::TFLITE`](super::int8::Int8Layer::TFLITE)
//! (a dense layer ending in softmax is two: FULLY_CONNECTED, then SOFTMAX; a
//! flatten is a RESHAPE; dropout is none) and takes their numbers in
//! [`Int8Layer::load_ops`](super::int8::Int8Layer::load_ops). A new layer
//! kind plugs in with one more [`Op`] and those two items. Everything here
//! is `no_std` and allocation-free: only the reader needs `std`.

use super::activation::{Activation, Int8Fused};
use super::int8::QuantizeError;
use crate::quant::QParams;

/// TFLite's padding modes. `Same` pads `floor(total / 2)` before and the rest
/// after (one more at the end when the total is odd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding.
    Valid,
    /// Output `ceil(input / stride)`, padded as TFLite pads.
    Same,
    /// Padding no TFLite mode gives (`[before_h, before_w]`): a declared layer
    /// that no file can match.
    Other([usize; 2]),
}

/// A fused activation: the output clamp TFLite applies inside an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fused {
    /// None.
    None,
    /// `max(0, x)`.
    Relu,
    /// `min(max(0, x), 6)` (constnet has no such layer).
    Relu6,
    /// `min(max(-1, x), 1)` (constnet has no such layer).
    ReluN1To1,
    /// Another of TFLite's (tanh, sign bit): constnet has none of them.
    Other,
}

impl Fused {
    /// The fused activation of constnet's activation `A`, if TFLite has one.
    pub const fn of<A: Activation>() -> Option<Self> {
        match A::INT8 {
            Int8Fused::Identity => Some(Self::None),
            Int8Fused::Relu => Some(Self::Relu),
            Int8Fused::Unsupported => None,
        }
    }
}

/// A TFLite builtin op that constnet reads, with the options that change what
/// it computes. Kernel sizes come from the weight tensor for convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// CONV_2D (dilation 1).
    Conv2D {
        /// `[KH, KW]`.
        kernel: [usize; 2],
        /// `[SH, SW]`.
        stride: [usize; 2],
        /// Padding mode.
        padding: Padding,
        /// Fused activation.
        activation: Fused,
    },
    /// DEPTHWISE_CONV_2D (dilation 1).
    DepthwiseConv2D {
        /// `[KH, KW]`.
        kernel: [usize; 2],
        /// `[SH, SW]`.
        stride: [usize; 2],
        /// Padding mode.
        padding: Padding,
        /// Output channels per input channel.
        depth_multiplier: usize,
        /// Fused activation.
        activation: Fused,
    },
    /// MAX_POOL_2D.
    MaxPool2D {
        /// `[KH, KW]`.
        window: [usize; 2],
        /// `[SH, SW]`.
        stride: [usize; 2],
        /// Padding mode.
        padding: Padding,
        /// Fused activation.
        activation: Fused,
    },
    /// AVERAGE_POOL_2D.
    AveragePool2D {
        /// `[KH, KW]`.
        window: [usize; 2],
        /// `[SH, SW]`.
        stride: [usize; 2],
        /// Padding mode.
        padding: Padding,
        /// Fused activation.
        activation: Fused,
    },
    /// FULLY_CONNECTED (default weights format).
    FullyConnected {
        /// Fused activation.
        activation: Fused,
    },
    /// RESHAPE: only the shapes matter.
    Reshape,
    /// SOFTMAX (its `beta` is one of the op's numbers, [`OpNumbers::beta`]).
    Softmax,
    /// ADD of two tensors of one shape.
    Add {
        /// Fused activation.
        activation: Fused,
    },
}

impl Op {
    /// TFLite's name of the op (`"CONV_2D"`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Conv2D { .. } => "CONV_2D",
            Self::DepthwiseConv2D { .. } => "DEPTHWISE_CONV_2D",
            Self::MaxPool2D { .. } => "MAX_POOL_2D",
            Self::AveragePool2D { .. } => "AVERAGE_POOL_2D",
            Self::FullyConnected { .. } => "FULLY_CONNECTED",
            Self::Reshape => "RESHAPE",
            Self::Softmax => "SOFTMAX",
            Self::Add { .. } => "ADD",
        }
    }
}

impl Op {
    /// The pooling op of constnet's pooling kind `kind` (its
    /// [`PoolKind::NAME`](crate::PoolKind::NAME)); `None` for min pooling,
    /// which TFLite does not have.
    pub const fn pool(kind: &str, window: [usize; 2], stride: [usize; 2], padding: Padding) -> Option<Self> {
        let activation = Fused::None;
        if same_text(kind, "AvgPool2d") {
            Some(Self::AveragePool2D { window, stride, padding, activation })
        } else if same_text(kind, "MaxPool2d") {
            Some(Self::MaxPool2D { window, stride, padding, activation })
        } else {
            None
        }
    }
}

/// `a == b`, in a `const fn`.
const fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// An op with the shapes of its (first) input and its output, without the
/// batch dimension: `[H, W, C]` or `[N]`, as [`Tensor::SHAPE`](crate::Tensor::SHAPE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpShape {
    /// The op and its options.
    pub op: Op,
    /// The input's shape.
    pub input: &'static [usize],
    /// The output's shape.
    pub output: &'static [usize],
}

/// The numbers a file holds for one op, as a layer loads them: weights in
/// TFLite's layout, the int32 bias, the weight scales (one per output channel,
/// or one), the input's and output's quantization, and the softmax `beta`.
/// Ops without weights have empty slices.
#[derive(Clone, Copy, Debug)]
pub struct OpNumbers<'a> {
    /// Weights, int8.
    pub weights: &'a [i8],
    /// Bias, int32 (zeros when the op has none).
    pub bias: &'a [i32],
    /// Weight scales.
    pub weight_scales: &'a [f32],
    /// The input's quantization.
    pub input: QParams,
    /// The output's quantization.
    pub output: QParams,
    /// SOFTMAX's beta (1 for other ops).
    pub beta: f32,
}

/// TFLite's padding mode for a window layer of constnet's with padding
/// `pad` before (per axis) and output `out` from `input`: `Valid`, `Same`,
/// or `Other` when neither mode gives these numbers.
pub const fn padding_of(
    input: [usize; 2],
    window: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    out: [usize; 2],
) -> Padding {
    let mut valid = true;
    let mut same = true;
    let mut i = 0;
    while i < 2 {
        let s = if stride[i] == 0 { 1 } else { stride[i] };
        valid &= pad[i] == 0 && input[i] >= window[i] && out[i] == (input[i] - window[i]) / s + 1;
        let same_out = input[i].div_ceil(s);
        let total = ((same_out - 1) * s + window[i]).saturating_sub(input[i]);
        same &= out[i] == same_out && pad[i] == total / 2;
        i += 1;
    }
    // A 1x1 window at stride 1 is both: TFLite writes either.
    if valid {
        Padding::Valid
    } else if same {
        Padding::Same
    } else {
        Padding::Other(pad)
    }
}

/// A source of TFLite ops for a model's layers, visited in order by
/// [`Int8Model::load_layers`](crate::Int8Model::load_layers): the reader checks
/// each layer's ops against the file and, to fill an int8 model, calls `load`
/// with their numbers.
pub trait LayerSource {
    /// Why a layer does not match.
    type Error;
    /// The quantization of the model's input and output.
    fn quantization(&self) -> (QParams, QParams);
    /// The layer named `name` stands for `ops` (`None`: it has no TFLite
    /// form); `load` fills it from the numbers of those ops.
    fn layer(
        &mut self,
        name: &'static str,
        ops: Option<&'static [OpShape]>,
        load: &mut dyn FnMut(&[OpNumbers<'_>]) -> Result<(), QuantizeError>,
    ) -> Result<(), Self::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_modes_as_tflite_computes_them() {
        // LeNet's 5x5 valid convolution, 28 -> 24.
        assert_eq!(padding_of([28, 28], [5, 5], [1, 1], [0, 0], [24, 24]), Padding::Valid);
        // 3x3 same at stride 1 pads 1.
        assert_eq!(padding_of([8, 8], [3, 3], [1, 1], [1, 1], [8, 8]), Padding::Same);
        // 2x2 same at stride 2 over 7: 0 before, 1 after, 4 out.
        assert_eq!(padding_of([7, 7], [2, 2], [2, 2], [0, 0], [4, 4]), Padding::Same);
        // KWS's first layer: 10x4 at stride 2 over 49x10 gives 25x5.
        assert_eq!(padding_of([49, 10], [10, 4], [2, 2], [4, 1], [25, 5]), Padding::Same);
        // Padding 1 around a 3x3 at stride 2 over 8 is neither mode (same pads 0 before).
        assert_eq!(padding_of([8, 8], [3, 3], [2, 2], [1, 1], [4, 4]), Padding::Other([1, 1]));
    }
}
