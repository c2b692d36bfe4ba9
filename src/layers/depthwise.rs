//! Depthwise two-dimensional convolution over HWC images: each input channel
//! filtered on its own, the spatial half of MobileNet's and DS-CNN's
//! separable convolutions (a 1x1 [`Conv2d`](crate::Conv2d) mixes the
//! channels after it).
//!
//! # Fused with the pointwise convolution after it
//!
//! In a separable block (depthwise, then a 1x1 convolution) the depthwise
//! output exists only to be read once, pixel by pixel, by the 1x1 layer.
//! [`sequential!`](crate::sequential) runs the two as one step at inference
//! ([`SeparableWith`](crate::model::SeparableWith)): each depthwise output
//! row goes into a row buffer on the stack (`OW x C * M` values), and its
//! 1x1 convolution is written over the block's input rows that no later row
//! reads. What it saves:
//! - RAM: the workspace holds a block's input and output overlapped but
//!   for a gap of about one row ([`separable_peak`](crate::model::shape::separable_peak)),
//!   not the input and the depthwise output side by side: in MLPerf Tiny's
//!   keyword-spotting model (`zoo::DsCnn`, blocks of 25x5x64) the peak falls
//!   from 16,000 to 8,490 values (the input with the first convolution's
//!   output; a block needs 8,320), 8,490 bytes in int8, for 320 bytes of
//!   row buffer on the stack;
//! - time: the store and load of each intermediate value (8,000 of each
//!   per block in keyword spotting, against 8,000 x 73 multiply-accumulates
//!   of the two layers): little. Measured on the host (the crate README):
//!   6 % fewer instructions in f32, 1 % more in int8, whose fused 1x1
//!   convolution runs `QConv2d`'s row kernels (the assembly on Cortex-M).
//!
//! Results are the layers' own, bit for bit (`tests/separable.rs`).

use crate::kernels::{axpy, dispatch3, init_fan_in};
use crate::layers::activation::{Activation, Linear};
use crate::layers::bias::BiasTerm;
use crate::layers::window::{conv_label, fits_padded, pads_one_more, source, Label, Padding, ZeroPad};
use crate::layers::{fingerprint, str_hash, with_one_more};
use crate::{Backward, Float, Layer, LayerInfo, Params, Rng, TrainContext};
use core::marker::PhantomData;

/// Each of the `C` channels of an `H x W x C` input filtered on its own by
/// `M` filters of `KH x KW` (the depth multiplier), giving `OH x OW x OC`
/// with `OC = C * M`: output channel `c * M + m` reads input channel `c`.
/// Stride `SH, SW`, padding `PH, PW` (zero or edge-replicating, by `P`) and
/// the activation `A` as in [`Conv2d`](crate::Conv2d), TensorFlow's "same"
/// included.
///
/// Weights are laid out `[KH][KW][OC]`, TensorFlow's order (Keras's
/// `[KH][KW][C][M]`, TFLite's `[1][KH][KW][C * M]`): a tap's weights for
/// every output channel are contiguous, as the input pixel they meet, so
/// the inner loop runs over `OC` values and vectorizes.
///
/// `sequential!` computes `OC`, `OH`, `OW` and the padding; a hand-written
/// wrong one fails to build.
#[repr(C)]
pub struct DepthwiseConv2d<
    T,
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const OC: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const OH: usize,
    const OW: usize,
    A = Linear,
    B = [T; OC],
    P = ZeroPad,
> {
    /// Filter weights, `[ky][kx][output channel]`.
    pub weight: [[[T; OC]; KW]; KH],
    /// One bias per output channel (or [`NoBias`](crate::NoBias)).
    pub bias: B,
    kind: PhantomData<(A, P)>,
}

/// Writes an `impl` (inherent, or of the trait in `<...>`) for
/// `DepthwiseConv2d` with its generic parameters.
macro_rules! depthwise_impl {
    ($([$($more:tt)*])? $(<$tr:path>)? { $($body:tt)* }) => {
        impl<
                T: Float,
                const H: usize,
                const W: usize,
                const C: usize,
                const M: usize,
                const OC: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PH: usize,
                const PW: usize,
                const OH: usize,
                const OW: usize,
                A: Activation,
                B: BiasTerm<T, OC>,
                P: Padding,
                $($($more)*)?
            > $($tr for)? DepthwiseConv2d<T, H, W, C, M, OC, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
        {
            $($body)*
        }
    };
}

pub(crate) use depthwise_impl;

// SAFETY: `#[repr(C)]` of a `T` array, a `Params<T>` bias and a ZST marker.
unsafe impl<
        T: Float,
        const H: usize,
        const W: usize,
        const C: usize,
        const M: usize,
        const OC: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PH: usize,
        const PW: usize,
        const OH: usize,
        const OW: usize,
        A,
        B: Params<T>,
        P,
    > Params<T> for DepthwiseConv2d<T, H, W, C, M, OC, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
{
}

depthwise_impl! {{
    /// Whether each axis pads one more after the input than before (TF's "same").
    const ONE_MORE: [bool; 2] = [pads_one_more(H, KH, SH, PH, OH), pads_one_more(W, KW, SW, PW, OW)];

    /// The summary's kind: kernel, stride and padding (`"DepthwiseConv2d 3x3/1 pad 1"`).
    const LABEL: &'static Label = &conv_label("DepthwiseConv2d", P::NAME, [KH, KW], [SH, SW], [PH, PW], Self::ONE_MORE);

    /// Fails the build when the output size or channel count is not the one
    /// the geometry gives.
    pub(crate) const SHAPE_OK: () = assert!(
        fits_padded(H, KH, SH, PH, OH) && fits_padded(W, KW, SW, PW, OW) && C > 0 && M > 0 && OC == C * M,
        "DepthwiseConv2d: OC must be C * M, and OH/OW match (H + 2*PH - KH) / SH + 1 (or TF's \"same\")"
    );

    /// The convolution, then the activation when `activate`.
    fn convolve(&self, x: &[[[T; C]; W]; H], y: &mut [[[T; OC]; OW]; OH], activate: bool) {
        let () = Self::SHAPE_OK;
        dispatch3(
            self,
            x,
            y,
            #[inline(always)]
            |layer, x, y| {
                for (oy, row) in y.iter_mut().enumerate() {
                    layer.row(x, oy, row, activate);
                }
            },
        );
    }

    /// Output row `oy` into `out`: bias, taps in `(ky, kx)` order, then the
    /// activation when `activate`.
    #[inline(always)]
    pub(crate) fn row(&self, x: &[[[T; C]; W]; H], oy: usize, out: &mut [[T; OC]; OW], activate: bool) {
        let bias = self.bias.values().copied().unwrap_or([T::zero(); OC]);
        for (ox, px) in out.iter_mut().enumerate() {
            *px = bias;
            Self::taps(oy, ox, |ky, kx, iy, ix| channel_products::<T, M>(px, &x[iy][ix], &self.weight[ky][kx]));
            if activate {
                A::apply(px, OC);
            }
        }
    }

    /// Elements this layer and a 1x1 convolution to `filters` channels
    /// after it need at once, run as one step
    /// ([`separable_peak`](crate::model::shape::separable_peak)).
    #[doc(hidden)]
    pub const fn separable_peak(filters: usize) -> usize {
        crate::model::shape::separable_peak(H, W * C, OH, OW * filters, KH, SH, PH)
    }

    /// Calls `tap(ky, kx, iy, ix)` for every kernel tap of output pixel
    /// `(oy, ox)` that reads the input (none in zero padding; edge padding
    /// reads the nearest edge), in `(ky, kx)` order.
    #[inline(always)]
    fn taps(oy: usize, ox: usize, mut tap: impl FnMut(usize, usize, usize, usize)) {
        for ky in 0..KH {
            let Some(iy) = source(oy, ky, SH, PH, H, P::EDGE) else { continue };
            for kx in 0..KW {
                if let Some(ix) = source(ox, kx, SW, PW, W, P::EDGE) {
                    tap(ky, kx, iy, ix);
                }
            }
        }
    }
}}

/// `acc[c * M + m] += x[c] * w[c * M + m]`: one tap of a depthwise
/// convolution (and, with the output gradient as `w`, of its weight gradient).
#[inline(always)]
fn channel_products<T: Float, const M: usize>(acc: &mut [T], x: &[T], w: &[T]) {
    if M == 1 {
        for ((a, &x), &w) in acc.iter_mut().zip(x).zip(w) {
            *a += x * w;
        }
    } else {
        for ((a, w), &x) in acc.chunks_exact_mut(M).zip(w.chunks_exact(M)).zip(x) {
            axpy(a, x, w);
        }
    }
}

/// `dx[c] += sum over m of w[c * M + m] * g[c * M + m]`: one tap of the input
/// gradient.
#[inline(always)]
fn channel_sums<T: Float, const M: usize>(dx: &mut [T], w: &[T], g: &[T]) {
    for ((d, w), g) in dx.iter_mut().zip(w.chunks_exact(M)).zip(g.chunks_exact(M)) {
        *d = w.iter().zip(g).fold(*d, |s, (&w, &g)| s + w * g);
    }
}

depthwise_impl! {<Layer<T>> {
    type Input = [[[T; C]; W]; H];
    type Output = [[[T; OC]; OW]; OH];
    const INFO: LayerInfo = LayerInfo {
        kind: Self::LABEL.as_str(),
        activation: A::NAME,
        bias: B::ENABLED,
        window: [KH, KW],
    };
    const FINGERPRINT: u64 = with_one_more(
        fingerprint(&[
            str_hash("DepthwiseConv2d"),
            H as u64,
            W as u64,
            C as u64,
            M as u64,
            KH as u64,
            KW as u64,
            SH as u64,
            SW as u64,
            PH as u64,
            PW as u64,
            str_hash(A::NAME),
            B::ENABLED as u64,
            P::EDGE as u64,
        ]),
        Self::ONE_MORE,
    );

    fn init(&mut self, rng: &mut Rng) {
        // Each output reads KH * KW inputs, of one channel.
        init_fan_in(self.weight.as_flattened_mut().as_flattened_mut(), KH * KW, A::INIT_GAIN, rng);
        if let Some(b) = self.bias.values_mut() {
            *b = [T::zero(); OC];
        }
    }

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        self.convolve(x, y, true);
    }
}}

depthwise_impl! {<Backward<T>> {
    fn forward_train(&self, x: &Self::Input, y: &mut Self::Output, ctx: &TrainContext) {
        self.convolve(x, y, !ctx.fused);
    }

    fn backward(
        &self,
        x: &Self::Input,
        y: &Self::Output,
        dy: &mut Self::Output,
        dx: Option<&mut Self::Input>,
        grads: &mut Self,
        ctx: &TrainContext,
    ) {
        if !ctx.fused {
            A::backward(y.as_flattened().as_flattened(), dy.as_flattened_mut().as_flattened_mut(), OC);
        }
        if let Some(db) = grads.bias.values_mut() {
            for g in dy.as_flattened() {
                axpy(db, T::one(), g);
            }
        }
        dispatch3(
            x,
            &*dy,
            &mut grads.weight,
            #[inline(always)]
            |x, dy, gw| {
                for (oy, row) in dy.iter().enumerate() {
                    for (ox, g) in row.iter().enumerate() {
                        Self::taps(oy, ox, |ky, kx, iy, ix| channel_products::<T, M>(&mut gw[ky][kx], &x[iy][ix], g));
                    }
                }
            },
        );
        if let Some(dx) = dx {
            dispatch3(
                &self.weight,
                &*dy,
                dx,
                #[inline(always)]
                |weight, dy, dx| {
                    *dx = [[[T::zero(); C]; W]; H];
                    for (oy, row) in dy.iter().enumerate() {
                        for (ox, g) in row.iter().enumerate() {
                            Self::taps(oy, ox, |ky, kx, iy, ix| channel_sums::<T, M>(&mut dx[iy][ix], &weight[ky][kx], g));
                        }
                    }
                },
            );
        }
    }
}}
