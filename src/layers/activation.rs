//! Activation functions: fused into [`Conv2d`](crate::Conv2d) and
//! [`Dense`](crate::Dense), or used on their own as an [`Activate`] layer.
//!
//! Each one is a zero-sized type. Backward passes are written in terms of the
//! activation's *output*, which the layer keeps anyway, so no pre-activation
//! buffer is stored.

use crate::layers::{fingerprint, str_hash};
use crate::{Backward, Float, Layer, LayerInfo, Params, Tensor, TrainContext};
use core::marker::PhantomData;

/// An activation in an int8 model, fused into the layer before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Fused {
    /// Outputs clamped to the `i8` range only.
    Identity,
    /// Outputs clamped at the quantized zero.
    Relu,
    /// Not part of TFLite's int8 scheme as a fused activation: an int8
    /// model using it fails to build.
    Unsupported,
}

/// An elementwise (or, for softmax, per-vector) nonlinearity.
pub trait Activation: Copy + Default + Send + Sync + 'static {
    /// Name shown in summaries.
    const NAME: &'static str;
    /// Scale of the initial weights of the layer it follows: `sqrt(2)` for
    /// relu (He), `1` otherwise (LeCun), so activations keep their variance.
    const INIT_GAIN: f64 = 1.0;
    /// `true` when `apply` treats each value on its own (all but softmax):
    /// layers may then apply it to any part of their output.
    const ELEMENTWISE: bool = true;
    /// `true` when the function is non-decreasing *exactly*, in floating
    /// point (relu, linear): it then commutes with max and min pooling, and
    /// inference applies it to the pooled values only.
    const MONOTONE: bool = false;
    /// What an int8 model does for this activation fused into a convolution
    /// or dense layer (TFLite fuses only relu-like clamps).
    const INT8: Int8Fused = Int8Fused::Unsupported;
    /// Applies the function in place. `group` is the length of the last axis
    /// (channels of an image, the whole vector otherwise); softmax normalizes
    /// over each group, the others ignore it.
    fn apply<T: Float>(xs: &mut [T], group: usize);
    /// Turns `dy` (gradient w.r.t. the output `y`) into the gradient w.r.t.
    /// the pre-activation, in place.
    fn backward<T: Float>(y: &[T], dy: &mut [T], group: usize);
}

/// Identity: `y = x`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Linear;
/// Rectified linear unit: `y = max(x, 0)`. The gradient at 0 is taken as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu;
/// Logistic sigmoid: `y = 1 / (1 + e^-x)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;
/// Hyperbolic tangent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;
/// Softmax over the last axis (max-shifted, so large inputs do not overflow).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softmax;

impl Activation for Linear {
    const NAME: &'static str = "linear";
    const MONOTONE: bool = true;
    const INT8: Int8Fused = Int8Fused::Identity;
    #[inline]
    fn apply<T: Float>(_: &mut [T], _: usize) {}
    #[inline]
    fn backward<T: Float>(_: &[T], _: &mut [T], _: usize) {}
}

impl Activation for Relu {
    const NAME: &'static str = "relu";
    const INT8: Int8Fused = Int8Fused::Relu;
    const INIT_GAIN: f64 = core::f64::consts::SQRT_2;
    const MONOTONE: bool = true;
    #[inline]
    fn apply<T: Float>(xs: &mut [T], _: usize) {
        for x in xs {
            *x = if *x > T::zero() { *x } else { T::zero() };
        }
    }
    #[inline]
    fn backward<T: Float>(y: &[T], dy: &mut [T], _: usize) {
        // Every element is stored, so that the loop is not vectorized into
        // masked stores (`vmaskmovps`, microcoded and slow on AMD CPUs). The
        // `+ 0` keeps LLVM from turning the select back into a conditional
        // store; it only turns a -0.0 gradient into +0.0.
        for (d, &y) in dy.iter_mut().zip(y) {
            *d = if y <= T::zero() { T::zero() } else { *d } + T::zero();
        }
    }
}

/// `1 / (1 + e^-x)` without overflow for large `|x|`.
#[inline]
pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).libm_exp())
    } else {
        let e = x.libm_exp();
        e / (T::one() + e)
    }
}

impl Activation for Sigmoid {
    const NAME: &'static str = "sigmoid";
    #[inline]
    fn apply<T: Float>(xs: &mut [T], _: usize) {
        for x in xs {
            *x = sigmoid(*x);
        }
    }
    #[inline]
    fn backward<T: Float>(y: &[T], dy: &mut [T], _: usize) {
        for (d, &y) in dy.iter_mut().zip(y) {
            *d *= y * (T::one() - y);
        }
    }
}

impl Activation for Tanh {
    const NAME: &'static str = "tanh";
    #[inline]
    fn apply<T: Float>(xs: &mut [T], _: usize) {
        for x in xs {
            *x = x.libm_tanh();
        }
    }
    #[inline]
    fn backward<T: Float>(y: &[T], dy: &mut [T], _: usize) {
        for (d, &y) in dy.iter_mut().zip(y) {
            *d *= T::one() - y * y;
        }
    }
}

impl Activation for Softmax {
    const NAME: &'static str = "softmax";
    const ELEMENTWISE: bool = false;
    fn apply<T: Float>(xs: &mut [T], group: usize) {
        for g in xs.chunks_mut(group.max(1)) {
            // A select, not `max`: with AVX, rustc 1.95 was seen to vectorize a
            // `max` fold over 10 values wrongly (it skipped the tail).
            let max = g.iter().fold(T::neg_infinity(), |m, &x| if x > m { x } else { m });
            let mut sum = T::zero();
            for x in g.iter_mut() {
                *x = (*x - max).libm_exp();
                sum += *x;
            }
            for x in g.iter_mut() {
                *x /= sum;
            }
        }
    }
    fn backward<T: Float>(y: &[T], dy: &mut [T], group: usize) {
        let group = group.max(1);
        for (yg, dg) in y.chunks(group).zip(dy.chunks_mut(group)) {
            let dot: T = yg.iter().zip(dg.iter()).map(|(&y, &d)| y * d).sum();
            for (d, &y) in dg.iter_mut().zip(yg) {
                *d = y * (*d - dot);
            }
        }
    }
}

/// Length of the last axis of a tensor: the group softmax normalizes over.
pub(crate) fn last_axis<T: Float, X: Tensor<T>>() -> usize {
    X::SHAPE.last().copied().unwrap_or(1)
}

/// An activation used as a layer of its own, in place over a tensor `X`.
pub struct Activate<A, X>(PhantomData<(A, fn() -> X)>);

impl<A, X> Default for Activate<A, X> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

// SAFETY: zero-sized with alignment 1 (PhantomData only).
unsafe impl<T: Float, A, X> Params<T> for Activate<A, X> {}

impl<T: Float, A: Activation, X: Tensor<T>> Layer<T> for Activate<A, X> {
    type Input = X;
    type Output = X;
    const INFO: LayerInfo = LayerInfo { kind: "Activation", activation: A::NAME, bias: false, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("Activate"), str_hash(A::NAME), X::LEN as u64]);
    const IN_PLACE: bool = true;

    fn forward(&self, x: &X, y: &mut X) {
        y.as_flat_mut().copy_from_slice(x.as_flat());
        A::apply(y.as_flat_mut(), last_axis::<T, X>());
    }
    fn forward_in_place(&self, xy: &mut [T]) {
        A::apply(&mut xy[..X::LEN], last_axis::<T, X>());
    }
}

impl<T: Float, A: Activation, X: Tensor<T>> Backward<T> for Activate<A, X> {
    fn forward_train(&self, x: &X, y: &mut X, ctx: &TrainContext) {
        y.as_flat_mut().copy_from_slice(x.as_flat());
        if !ctx.fused {
            A::apply(y.as_flat_mut(), last_axis::<T, X>());
        }
    }

    fn backward(&self, _: &X, y: &X, dy: &mut X, dx: Option<&mut X>, _: &mut Self, ctx: &TrainContext) {
        if !ctx.fused {
            A::backward(y.as_flat(), dy.as_flat_mut(), last_axis::<T, X>());
        }
        if let Some(dx) = dx {
            dx.as_flat_mut().copy_from_slice(dy.as_flat());
        }
    }
}
