//! Layers: one file per kind, and here the traits every layer implements
//! ([`Layer`] forward, [`Backward`] for training).
//!
//! Layers use the kernels (`src/kernels/`) and the scalar, tensor and
//! parameter types at the crate's top; never the model machinery
//! ([`model`](crate::model)), which composes them.

use crate::{Float, Params, Rng, Tensor};

pub mod activation;
pub(crate) mod bias;
pub(crate) mod conv;
mod dense;
pub(crate) mod depthwise;
pub mod int8;
pub mod pool;
mod reshape;
pub mod tflite;
pub(crate) mod window;

pub use activation::{Activate, Activation, Linear, Relu, Sigmoid, Softmax, Tanh};
pub use bias::{BiasTerm, NoBias};
pub use conv::Conv2d;
pub use dense::Dense;
pub use depthwise::DepthwiseConv2d;
pub use pool::{Pool2d, PoolKind};
pub use reshape::{Dropout, Flatten, Upsample};
pub use window::{EdgePad, Padding, ZeroPad};

/// What a summary shows about a layer, beyond its shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// Kind of layer, with the geometry of window layers: kernel (or pool
    /// window), stride and, for a convolution, padding: `"Conv2d 5x5/1 valid"`,
    /// `"Conv2d 3x3/2 pad 1"` (zero padding), `"Conv2d 3x3/1 edge 1"`
    /// (edge-replicating), `"MaxPool2d 2x2/2"`, `"Upsample 2x2"`, `"Dense"`.
    /// A number is written once when height and width agree, else as
    /// `HxW` (`"Conv2d 3x2/1x2 pad 1x0"`).
    pub kind: &'static str,
    /// Name of the fused activation, or `"-"`.
    pub activation: &'static str,
    /// Whether the layer adds a bias.
    pub bias: bool,
    /// Window (kernel or pool) height and width; `[0, 0]` for other layers.
    pub window: [usize; 2],
}

/// A layer with a statically known input and output shape.
///
/// Chaining layers requires `next::Input == prev::Output`, so an adjacency
/// mismatch is a type error that names both array types.
pub trait Layer<T: Float>: Params<T> {
    /// The activation this layer reads.
    type Input: Tensor<T>;
    /// The activation this layer writes.
    type Output: Tensor<T>;
    /// Kind, activation and bias, for summaries.
    const INFO: LayerInfo;
    /// A number that changes whenever the layer's kind, shapes or
    /// hyper-parameters change; models combine them into the fingerprint
    /// that saved weights are checked against.
    const FINGERPRINT: u64;
    /// `true` for layers that transform their input where it lies (activations,
    /// flatten, dropout at inference): the inference workspace then needs no
    /// second buffer for them and calls [`Layer::forward_in_place`].
    const IN_PLACE: bool = false;

    /// Draws initial parameters (fan-in-scaled uniform for weights, zero bias).
    /// Parameterless layers keep the default, which does nothing.
    #[inline]
    fn init(&mut self, _rng: &mut Rng) {}

    /// Computes `y` from `x` (inference mode).
    fn forward(&self, x: &Self::Input, y: &mut Self::Output);

    /// Computes the output over the input's own memory. Only called when
    /// [`Layer::IN_PLACE`] is true; the default is the identity (flatten,
    /// dropout at inference).
    #[inline]
    fn forward_in_place(&self, _xy: &mut [T]) {}
}

/// Per-sample state of a training step, shared by every layer of the model.
#[derive(Clone, Copy, Debug)]
pub struct TrainContext {
    /// Seed for randomness drawn during this sample's forward pass (dropout).
    /// Forward and backward draw the same values from it, so no mask is stored.
    pub seed: u64,
    /// The loss is fused with this (last) layer's activation, as softmax with
    /// cross-entropy: the training forward pass leaves the activation out
    /// (the loss sees logits) and `dy` is the gradient of the pre-activation.
    pub fused: bool,
}

/// A layer that can be trained: a forward pass in training mode and a
/// backward pass that accumulates parameter gradients.
pub trait Backward<T: Float>: Layer<T> {
    /// Training-mode forward (dropout draws its mask); defaults to
    /// [`Layer::forward`].
    #[inline]
    fn forward_train(&self, x: &Self::Input, y: &mut Self::Output, _ctx: &TrainContext) {
        self.forward(x, y)
    }

    /// Given the input `x`, the output `y` the forward pass produced from it
    /// and the loss gradient `dy` with respect to `y`, adds the parameter
    /// gradients to `grads` and, when `dx` is given, writes the gradient with
    /// respect to `x` into it. `dy` may be overwritten (a fused activation
    /// turns it into the gradient of its pre-activation in place).
    fn backward(
        &self,
        x: &Self::Input,
        y: &Self::Output,
        dy: &mut Self::Output,
        dx: Option<&mut Self::Input>,
        grads: &mut Self,
        ctx: &TrainContext,
    );
}

/// FNV-1a over a list of numbers: a `const` fingerprint of shapes and kinds.
pub const fn fingerprint(parts: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < parts.len() {
        let mut b = 0;
        while b < 8 {
            h ^= (parts[i] >> (8 * b)) & 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            b += 1;
        }
        i += 1;
    }
    h
}

/// A window layer's fingerprint `base`, changed when an axis pads one more
/// after the input than before (TF's "same"); unchanged otherwise, so
/// symmetric layers keep the fingerprints their saved weights carry.
pub(crate) const fn with_one_more(base: u64, one_more: [bool; 2]) -> u64 {
    if one_more[0] || one_more[1] {
        fingerprint(&[base, str_hash("pads one more after"), one_more[0] as u64, one_more[1] as u64])
    } else {
        base
    }
}

/// Hash of a string, for folding names into a [`fingerprint`].
pub const fn str_hash(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}
