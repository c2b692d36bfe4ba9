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
//! A depthwise convolution followed by a 1x1 convolution (a separable block,
//! [`SeparableWith`]) runs as one step too, row by row: each depthwise
//! output row is computed into a row buffer on the stack and the 1x1
//! convolution of it written over the input rows that no later row reads,
//! so the block's input and output share the workspace but for a gap of
//! about one row ([`separable_peak`](crate::model::shape::separable_peak)):
//! MLPerf Tiny's keyword-spotting model needs 8,490 bytes in int8 instead
//! of 16,000.
//!
//! Results are bit-identical to the layers run one after the other: every
//! pooling window folds its elements in the same (row-major) order, and the
//! activation is applied before pooling, or after max or min pooling when it
//! is [`MONOTONE`](crate::Activation::MONOTONE) (relu), where both orders
//! give the same values, on a quarter of them for 2x2 windows.

use crate::kernels::{axpy, dispatch3};
use crate::layers::activation::Activation;
use crate::layers::bias::BiasTerm;
use crate::layers::int8::{QConv2d, QDepthwiseConv2d, QPool2d};
use crate::layers::pool::{Pool2d, PoolKind};
use crate::layers::window::{window_span, windows_holding, Padding};
use crate::model::int8::Int8FuseWith;
use crate::quant::Bytes;
use crate::tensor::Element;
use crate::{Conv2d, DepthwiseConv2d, Float, Layer, Tensor};

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

/// A depthwise convolution that runs as one step with the 1x1 convolution
/// `N` after it, the output written over the input as rows are done.
pub trait SeparableWith<T: Element, N> {
    /// The depthwise layer's input.
    type Input: Tensor<T>;
    /// The 1x1 convolution's output.
    type Output: Tensor<T>;

    /// Reads the input at `buf[x_at..]` and writes `next`'s output at
    /// `buf[y_at..]`, output rows first to last when `ascending` (the
    /// output below the input), else last to first. `buf` must be as long
    /// as [`separable_peak`](crate::model::shape::separable_peak) says, the
    /// input at one end and the output at the other (as a [`Pass`](crate::model::Pass)
    /// places them), so that no row is overwritten before it has been read.
    fn forward_separable(&self, next: &N, buf: &mut [T], x_at: usize, y_at: usize, ascending: bool);
}

/// The row loop of a separable step: for each output row `r` (in the order
/// `ascending` says), `dw(x, r, row)` computes the depthwise row from the
/// input at `buf[x_at..]`, then `pw(row, out)` writes the 1x1 convolution of
/// it into output row `r` at `buf[y_at..]`, rows of `F` values per pixel.
#[inline(always)]
fn separable_rows<T: Element, X: Tensor<T>, R, const F: usize>(
    buf: &mut [T],
    (x_at, y_at, ascending): (usize, usize, bool),
    (rows, row_len): (usize, usize),
    row: &mut R,
    mut dw: impl FnMut(&X, usize, &mut R),
    mut pw: impl FnMut(&R, &mut [[T; F]]),
) {
    for i in 0..rows {
        let r = if ascending { i } else { rows - 1 - i };
        dw(super::view(&buf[x_at..x_at + X::LEN]), r, row);
        pw(row, buf[y_at + r * row_len..][..row_len].as_chunks_mut().0);
    }
}

// f32: the 1x1 convolution of each pixel sums bias, then channels in order,
// as `Conv2d` does, so the results are its bits.
crate::layers::depthwise::depthwise_impl! {
    [const F: usize, A2: Activation, B2: BiasTerm<T, F>, P2: Padding]
    <SeparableWith<T, Conv2d<T, OH, OW, OC, F, 1, 1, 1, 1, 0, 0, OH, OW, A2, B2, P2>>> {
    type Input = [[[T; C]; W]; H];
    type Output = [[[T; F]; OW]; OH];

    fn forward_separable(
        &self,
        pw: &Conv2d<T, OH, OW, OC, F, 1, 1, 1, 1, 0, 0, OH, OW, A2, B2, P2>,
        buf: &mut [T],
        x_at: usize,
        y_at: usize,
        ascending: bool,
    ) {
        let () = Self::SHAPE_OK;
        let () = Conv2d::<T, OH, OW, OC, F, 1, 1, 1, 1, 0, 0, OH, OW, A2, B2, P2>::SHAPE_OK;
        let bias = pw.bias.values().copied().unwrap_or([T::zero(); F]);
        let mut row = [[T::zero(); OC]; OW];
        dispatch3(
            (self, pw),
            buf,
            &mut row,
            #[inline(always)]
            |(dw, pw), buf, row| {
                separable_rows(
                    buf,
                    (x_at, y_at, ascending),
                    (OH, OW * F),
                    row,
                    |x, r, row| dw.row(x, r, row, true),
                    |row, out: &mut [[T; F]]| {
                        for (px, out) in row.iter().zip(out) {
                            *out = bias;
                            for (&v, w) in px.iter().zip(&pw.weight[0][0]) {
                                axpy(out, v, w);
                            }
                            A2::apply(out, F);
                        }
                    },
                );
            },
        );
    }
}}

// Int8: the 1x1 convolution runs as one of a single row (the same bytes: a
// `QConv2d`'s fields do not depend on its height), so its kernels (the DSP
// and Cortex-M0 assembly included) run on the row buffer.
crate::layers::int8::qdepthwise_impl! {
    [const F: usize, A2: Activation]
    <SeparableWith<i8, QConv2d<OH, OW, OC, F, 1, 1, 1, 1, 0, 0, OH, OW, A2>>> {
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; F]; OW]; OH];

    // Not inlined: the row buffer lives in a frame of its own.
    #[inline(never)]
    fn forward_separable(
        &self,
        pw: &QConv2d<OH, OW, OC, F, 1, 1, 1, 1, 0, 0, OH, OW, A2>,
        buf: &mut [i8],
        x_at: usize,
        y_at: usize,
        ascending: bool,
    ) {
        let () = Self::CHECK;
        let () = QConv2d::<OH, OW, OC, F, 1, 1, 1, 1, 0, 0, OH, OW, A2>::CHECK;
        let pw = QConv2d::<1, OW, OC, F, 1, 1, 1, 1, 0, 0, 1, OW, A2>::from_bytes(pw.as_bytes())
            .expect("a QConv2d's layout does not depend on its height");
        let clamp = pw.clamp();
        let mut row = [[[0i8; OC]; OW]; 1];
        // With the DSP extension, the 1x1 convolution's row of accumulators
        // is requantized a channel at a time ([`requantize_rows`]).
        #[cfg(constnet_dsp)]
        let mut acc_row = [[0i32; F]; OW];
        separable_rows(
            buf,
            (x_at, y_at, ascending),
            (OH, OW * F),
            &mut row,
            |x, r, row| self.row(x, r, &mut row[0]),
            |row, out: &mut [[i8; F]]| {
                #[cfg(constnet_dsp)]
                {
                    pw.row_acc(row, 0, |ox, f0, acc| acc_row[ox][f0..f0 + acc.len()].copy_from_slice(acc));
                    let out: &mut [[i8; F]; OW] = out.try_into().expect("a row of OW pixels");
                    let numbers = (&pw.requant, &pw.bias, OC);
                    crate::kernels::int8::requantize_rows(&acc_row, (out, 0), numbers, pw.output.zero_point(), clamp);
                }
                #[cfg(not(constnet_dsp))]
                pw.row_acc(row, 0, |ox, f0, acc| {
                    for (k, (o, &a)) in out[ox][f0..].iter_mut().zip(acc).enumerate() {
                        *o = pw.requantize(f0 + k, a, clamp);
                    }
                });
            },
        );
    }
}}
