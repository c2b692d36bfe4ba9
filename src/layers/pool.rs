//! Max, min and average pooling over HWC images.

use crate::kernels::{axpy, dispatch2, dispatch4};
use crate::layers::window::{fits, window_label, Label};
use crate::layers::{fingerprint, str_hash};
use crate::{Backward, Float, Layer, LayerInfo, Params, TrainContext};
use core::marker::PhantomData;

/// How a pooling window combines its values.
pub trait PoolKind: Copy + Default + Send + Sync + 'static {
    /// Name shown in summaries.
    const NAME: &'static str;
    /// `true` for averaging; otherwise the window picks one element.
    const AVERAGE: bool;
    /// Folds `x` into the running result `acc`, per channel.
    fn fold<T: Float>(acc: &mut [T], x: &[T]);
    /// Where an int8 window's fold starts.
    const INT8_START: i32;
    /// Folds an int8 value (or a convolution's accumulator, for max and
    /// min) into the running `acc`.
    fn fold_i32(acc: i32, x: i32) -> i32;
    /// Turns the fold of a whole window of `count` elements into the result.
    #[inline(always)]
    fn finish<T: Float>(_acc: &mut [T], _count: usize) {}
}

/// Maximum of each window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Max;
/// Minimum of each window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Min;
/// Mean of each window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Avg;

impl PoolKind for Max {
    const NAME: &'static str = "MaxPool2d";
    const AVERAGE: bool = false;
    const INT8_START: i32 = i32::MIN;
    #[inline(always)]
    fn fold_i32(acc: i32, x: i32) -> i32 {
        acc.max(x)
    }
    #[inline(always)]
    fn fold<T: Float>(acc: &mut [T], x: &[T]) {
        for (a, &x) in acc.iter_mut().zip(x) {
            *a = if x > *a { x } else { *a };
        }
    }
}
impl PoolKind for Min {
    const NAME: &'static str = "MinPool2d";
    const AVERAGE: bool = false;
    const INT8_START: i32 = i32::MAX;
    #[inline(always)]
    fn fold_i32(acc: i32, x: i32) -> i32 {
        acc.min(x)
    }
    #[inline(always)]
    fn fold<T: Float>(acc: &mut [T], x: &[T]) {
        for (a, &x) in acc.iter_mut().zip(x) {
            *a = if x < *a { x } else { *a };
        }
    }
}
impl PoolKind for Avg {
    const NAME: &'static str = "AvgPool2d";
    const AVERAGE: bool = true;
    const INT8_START: i32 = 0;
    #[inline(always)]
    fn fold_i32(acc: i32, x: i32) -> i32 {
        acc.wrapping_add(x)
    }
    #[inline(always)]
    fn fold<T: Float>(acc: &mut [T], x: &[T]) {
        axpy(acc, T::one(), x);
    }
    #[inline(always)]
    fn finish<T: Float>(acc: &mut [T], count: usize) {
        let scale = T::one() / T::of(count as f64);
        acc.iter_mut().for_each(|v| *v *= scale);
    }
}

/// Pooling of `KH x KW` windows with stride `SH, SW` over an `H x W x C`
/// input, giving `OH x OW x C`. Window and stride are independent: `2x2/2`
/// halves the image, `2x2/1` overlaps.
///
/// Max and min pooling send each output's gradient to one input element: the
/// first in row-major window order that holds the chosen value (on ties, the
/// top-left one).
#[derive(Default)]
pub struct Pool2d<
    K,
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
>(PhantomData<K>);

/// Writes an `impl` (inherent, or of the trait in `<...>`) for `Pool2d`.
macro_rules! pool_impl {
    ($(<$tr:path>)? { $($body:tt)* }) => {
        impl<
                T: Float,
                K: PoolKind,
                const H: usize,
                const W: usize,
                const C: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const OH: usize,
                const OW: usize,
            > $($tr for)? Pool2d<K, H, W, C, KH, KW, SH, SW, OH, OW>
        {
            $($body)*
        }
    };
}

impl<
        K: PoolKind,
        const H: usize,
        const W: usize,
        const C: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    > Pool2d<K, H, W, C, KH, KW, SH, SW, OH, OW>
{
    /// The summary's kind: window and stride (`"MaxPool2d 2x2/2"`).
    const LABEL: &'static Label = &window_label(K::NAME, [KH, KW], [SH, SW]);

    /// Fails the build when the output size is not the one the geometry gives.
    pub(crate) const SHAPE_OK: () = assert!(
        fits(H, KH, SH, 0, OH) && fits(W, KW, SW, 0, OW),
        "Pool2d: OH/OW do not match (H - KH) / SH + 1, or the window does not fit"
    );
}

// SAFETY: zero-sized, alignment 1.
unsafe impl<
        T: Float,
        K,
        const H: usize,
        const W: usize,
        const C: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    > Params<T> for Pool2d<K, H, W, C, KH, KW, SH, SW, OH, OW>
{
}

pool_impl! {<Layer<T>> {
    type Input = [[[T; C]; W]; H];
    type Output = [[[T; C]; OW]; OH];
    const INFO: LayerInfo = LayerInfo { kind: Self::LABEL.as_str(), activation: "-", bias: false, window: [KH, KW] };
    const FINGERPRINT: u64 = fingerprint(&[
        str_hash(K::NAME),
        H as u64,
        W as u64,
        C as u64,
        KH as u64,
        KW as u64,
        SH as u64,
        SW as u64,
    ]);

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        let () = Self::SHAPE_OK;
        dispatch2(
            x,
            y,
            #[inline(always)]
            |x, y| {
                for (oy, row) in y.iter_mut().enumerate() {
                    for (ox, out) in row.iter_mut().enumerate() {
                        // Folded in a local and stored once: folding into
                        // `out` in place is vectorized into masked stores
                        // (slow on AMD CPUs).
                        let mut acc = x[oy * SH][ox * SW];
                        for ky in 0..KH {
                            for kx in 0..KW {
                                if ky + kx > 0 {
                                    K::fold(&mut acc, &x[oy * SH + ky][ox * SW + kx]);
                                }
                            }
                        }
                        K::finish(&mut acc, KH * KW);
                        *out = acc;
                    }
                }
            },
        );
    }
}}

pool_impl! {<Backward<T>> {
    #[inline(never)]
    fn backward(
        &self,
        x: &Self::Input,
        y: &Self::Output,
        dy: &mut Self::Output,
        dx: Option<&mut Self::Input>,
        _: &mut Self,
        _: &TrainContext,
    ) {
        let Some(dx) = dx else { return };
        dispatch4(
            x,
            y,
            &*dy,
            dx,
            #[inline(always)]
            |x, y, dy, dx| {
                *dx = [[[T::zero(); C]; W]; H];
                let scale = T::one() / T::of((KH * KW) as f64);
                for (oy, row) in dy.iter().enumerate() {
                    for (ox, g) in row.iter().enumerate() {
                        if K::AVERAGE {
                            for ky in 0..KH {
                                for kx in 0..KW {
                                    axpy(&mut dx[oy * SH + ky][ox * SW + kx], scale, g);
                                }
                            }
                            continue;
                        }
                        // The gradient goes to the first element (row-major)
                        // equal to the chosen value, per channel: `rest` holds
                        // it until then, zero after, so every element of the
                        // window adds either the gradient or zero (adding zero
                        // leaves `dx`, which is never -0.0, unchanged), with
                        // selects, not branches. If none is equal (a NaN
                        // input), the first element gets it.
                        let ys = &y[oy][ox];
                        let mut rest = *g;
                        for ky in 0..KH {
                            for kx in 0..KW {
                                let (iy, ix) = (oy * SH + ky, ox * SW + kx);
                                let xs = &x[iy][ix];
                                for (((d, r), &xc), &yc) in dx[iy][ix].iter_mut().zip(&mut rest).zip(xs).zip(ys) {
                                    let hit = xc == yc;
                                    *d += if hit { *r } else { T::zero() };
                                    *r = if hit { T::zero() } else { *r };
                                }
                            }
                        }
                        for (d, &r) in dx[oy * SH][ox * SW].iter_mut().zip(&rest) {
                            *d += r;
                        }
                    }
                }
            },
        );
    }
}}
