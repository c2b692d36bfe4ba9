//! Two layers run as one step of inference, so that the first one's output
//! never exists as a whole.
//!
//! A convolution followed by pooling is where a small network's RAM goes: in
//! LeNet, conv1's 24x24x8 output is 18 KiB, four times its pooled form. Run
//! fused, each convolution row is folded into the pooling windows that hold it
//! as soon as it is computed (still in registers on a Cortex-M), and the
//! inference workspace only holds the convolution's input and the pooled
//! output. [`sequential!`](crate::sequential) fuses every convolution that a
//! pooling layer directly follows; training keeps every layer's output for
//! the backward pass and runs them one by one.
//!
//! Results are bit-identical to the layers run one after the other: every
//! pooling window folds its elements in the same (row-major) order, and the
//! activation is applied before pooling, or after max or min pooling when it
//! is [`MONOTONE`](crate::Activation::MONOTONE) (relu), where both orders
//! give the same values, on a quarter of them for 2x2 windows.

use crate::kernels::dispatch3;
use crate::layers::activation::Activation;
use crate::layers::bias::BiasTerm;
use crate::layers::int8::{QConv2d, QPool2d};
use crate::layers::pool::{Pool2d, PoolKind};
use crate::layers::window::{window_span, windows_holding, Padding};
use crate::model::int8::Int8FuseWith;
use crate::{Conv2d, Float, Layer};

/// A layer that can run together with the layer `N` after it.
pub trait FuseWith<T: Float, N: Layer<T, Input = Self::Output>>: Layer<T> {
    /// `next.forward(self.forward(x))`, bit for bit, without `self`'s output.
    fn forward_fused(&self, next: &N, x: &Self::Input, y: &mut N::Output);
}

crate::layers::conv::conv_impl! {
    [K: PoolKind, const PKH: usize, const PKW: usize, const PSH: usize, const PSW: usize, const POH: usize, const POW: usize]
    <FuseWith<T, Pool2d<K, OH, OW, F, PKH, PKW, PSH, PSW, POH, POW>>> {
    fn forward_fused(
        &self,
        _pool: &Pool2d<K, OH, OW, F, PKH, PKW, PSH, PSW, POH, POW>,
        x: &[[[T; C]; W]; H],
        y: &mut [[[T; F]; POW]; POH],
    ) {
        let () = Self::SHAPE_OK;
        let () = Pool2d::<K, OH, OW, F, PKH, PKW, PSH, PSW, POH, POW>::SHAPE_OK;
        const { assert!(A::ELEMENTWISE, "a convolution with softmax over its filters cannot be fused with pooling") };
        let pool_then_activate = A::MONOTONE && !K::AVERAGE;
        dispatch3(
            self,
            x,
            y,
            #[inline(always)]
            |conv, x, y| {
                for r in 0..OH {
                    // Rows that no pooling window reads are not computed at all.
                    let Some((py_lo, py_hi)) = windows_holding(r, PKH, PSH, POH) else { continue };
                    conv.row(
                        x,
                        r,
                        #[inline(always)]
                        |ox, f0, v| {
                            if !pool_then_activate {
                                A::apply(v, F);
                            }
                            if PKH == PSH && PKW == PSW {
                                // Windows side by side (the usual 2x2/2): this
                                // output falls in one window, or none past the last.
                                let px = ox / PSW;
                                if px < POW {
                                    let out = &mut y[py_lo][px][f0..f0 + v.len()];
                                    if r.is_multiple_of(PSH) && ox.is_multiple_of(PSW) {
                                        out.copy_from_slice(v);
                                    } else {
                                        K::fold(out, v);
                                    }
                                }
                                return;
                            }
                            let Some((px_lo, px_hi)) = windows_holding(ox, PKW, PSW, POW) else { return };
                            for (py, y_row) in y.iter_mut().enumerate().take(py_hi + 1).skip(py_lo) {
                                for (px, out) in y_row.iter_mut().enumerate().take(px_hi + 1).skip(px_lo) {
                                    let out = &mut out[f0..f0 + v.len()];
                                    if r == py * PSH && ox == px * PSW {
                                        out.copy_from_slice(v);
                                    } else {
                                        K::fold(out, v);
                                    }
                                }
                            }
                        },
                    );
                    // The pooling row whose windows end with this row is complete.
                    if let Some(d) = (r + 1).checked_sub(PKH).filter(|d| d.is_multiple_of(PSH) && d / PSH < POH) {
                        for out in &mut y[d / PSH] {
                            K::finish(out, PKH * PKW);
                            if pool_then_activate {
                                A::apply(out, F);
                            }
                        }
                    }
                }
            },
        );
    }
}}

// Int8: each pooling row's windows are folded as the convolution rows they
// read are computed: max and min on the accumulators (requantization is
// monotone, so the pooled accumulator requantizes to the pooled output,
// with a quarter of the requantizations for 2x2 windows), averages on the
// requantized values, as TFLM averages its convolution's int8 output.
// Convolution rows shared by overlapping windows are computed once per
// pooling row that reads them.
/// Whether `K` is max pooling (which starts from the smallest value).
#[cfg(constnet_dsp)]
const fn is_max<K: PoolKind>() -> bool {
    !K::AVERAGE && K::INT8_START == i32::MIN
}

crate::layers::int8::qconv_impl! {
    [K: PoolKind, const PKH: usize, const PKW: usize, const PSH: usize, const PSW: usize,
     const PPH: usize, const PPW: usize, const POH: usize, const POW: usize]
    <Int8FuseWith<QPool2d<K, OH, OW, F, PKH, PKW, PSH, PSW, PPH, PPW, POH, POW>>> {
    // Not inlined: each fused layer's row of pooled accumulators lives in a
    // frame of its own, not all of them at once in the caller's.
    #[inline(never)]
    fn forward_fused(
        &self,
        _pool: &QPool2d<K, OH, OW, F, PKH, PKW, PSH, PSW, PPH, PPW, POH, POW>,
        x: &[[[i8; C]; W]; H],
        y: &mut [[[i8; F]; POW]; POH],
    ) {
        let () = Self::CHECK;
        let () = QPool2d::<K, OH, OW, F, PKH, PKW, PSH, PSW, PPH, PPW, POH, POW>::CHECK;
        #[cfg(constnet_dsp)]
        if const { Self::MAX_POOL2X2_DSP && is_max::<K>() && PKH == 2 && PKW == 2 && PSH == 2 && PSW == 2 && PPH == 0 && PPW == 0 } {
            return self.max_pool2x2_dsp(x, y);
        }
        let clamp = self.clamp();
        let mut acc = [[0i32; F]; POW];
        for (py, out_row) in y.iter_mut().enumerate() {
            acc.iter_mut().for_each(|a| *a = [K::INT8_START; F]);
            let (r0, rows) = window_span(py, PKH, PSH, PPH, OH);
            for r in r0..r0 + rows {
                self.row_acc(x, r, |ox, f0, v| {
                    // Windows side by side (the usual 2x2/2): one window, or none.
                    let (px_lo, px_hi) = if PKW == PSW && PPW == 0 {
                        (ox / PSW, ox / PSW)
                    } else {
                        match windows_holding(ox + PPW, PKW, PSW, POW) {
                            Some(w) => w,
                            None => return,
                        }
                    };
                    for a in acc.iter_mut().take(px_hi + 1).skip(px_lo) {
                        for (k, (a, &v)) in a[f0..].iter_mut().zip(v).enumerate() {
                            let v = if K::AVERAGE { self.requantize(f0 + k, v, clamp) as i32 } else { v };
                            *a = K::fold_i32(*a, v);
                        }
                    }
                });
            }
            for (px, (out, a)) in out_row.iter_mut().zip(&acc).enumerate() {
                let (_, cols) = window_span(px, PKW, PSW, PPW, OW);
                for (f, (o, &a)) in out.iter_mut().zip(a).enumerate() {
                    *o = if K::AVERAGE {
                        QPool2d::<K, OH, OW, F, PKH, PKW, PSH, PSW, PPH, PPW, POH, POW>::finish(a, rows * cols)
                    } else {
                        self.requantize(f, a, clamp)
                    };
                }
            }
        }
    }
}}
