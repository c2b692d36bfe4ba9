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

use crate::layers::activation::Activation;
use crate::layers::bias::BiasTerm;
use crate::layers::pool::{Pool2d, PoolKind};
use crate::layers::window::{windows_holding, Padding};
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
        for r in 0..OH {
            // Rows that no pooling window reads are not computed at all.
            let Some((py_lo, py_hi)) = windows_holding(r, PKH, PSH, POH) else { continue };
            self.row(
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
    }
}}
