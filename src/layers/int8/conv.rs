//! Int8 two-dimensional convolution (TFLite's CONV_2D).

use super::{
    channels_valid, load_channels, load_weighted, quantize_biases, quantize_symmetric, Int8Layer, LoadTflite,
    QuantizeError, QuantizeLayer, QuantizeOptions, Range,
};
use crate::kernels::int8::{dot, ChannelRequant};
use crate::layers::activation::{Activation, Int8Fused};
use crate::layers::bias::BiasTerm;
use crate::layers::tflite::{padding_of, Fused, Op, OpNumbers, OpShape};
use crate::layers::window::{fits_padded, Padding};
use crate::layers::{fingerprint, str_hash, LayerInfo};
use crate::quant::{activation_range, Bytes, Le32, QParams, Requant};
use crate::Conv2d;
use core::marker::PhantomData;

/// `F` filters of `KH x KW` over an `H x W x C` int8 input, stride `SH, SW`,
/// with `PH, PW` positions of zero padding before the first row and
/// column and as many after, or one more in TFLite's "same" geometry
/// (even kernels, stride 2 over an even input), giving `OH x OW x F`,
/// then the activation `A` as a clamp (relu or none).
///
/// Weights are TFLite's layout, `[F][KH][KW][C]`: one filter's row of taps
/// is `KW * C` contiguous bytes, as is the input it meets, so each tap row
/// is one dot product.
#[repr(C)]
pub struct QConv2d<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const OH: usize,
    const OW: usize,
    A,
> {
    /// The input's zero point; padding reads it (the real zero).
    pub input_zero_point: Le32,
    /// The output's quantization.
    pub output: QParams,
    /// Per filter: TFLite's bias minus `input_zero_point * sum(weights)`, the
    /// input offset folded in (as CMSIS-NN folds it), so the inner loops
    /// multiply raw int8 values.
    pub bias: [Le32; F],
    /// Per filter: `input_scale * weight_scale / output_scale`.
    pub requant: [Requant; F],
    /// Filter weights, `[filter][ky][kx][c_in]`, symmetric int8.
    pub weight: [[[[i8; C]; KW]; KH]; F],
    activation: PhantomData<A>,
}

/// Writes an `impl` (inherent, or of the trait in `<...>`) for `QConv2d`.
macro_rules! qconv_impl {
    ($([$($more:tt)*])? $(<$tr:path>)? { $($body:tt)* }) => {
        impl<
                const H: usize,
                const W: usize,
                const C: usize,
                const F: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PH: usize,
                const PW: usize,
                const OH: usize,
                const OW: usize,
                A: Activation,
                $($($more)*)?
            > $($tr for)? QConv2d<H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A>
        {
            $($body)*
        }
    };
}
pub(crate) use qconv_impl;

// SAFETY: `#[repr(C)]` of `Le32`, `QParams`, `Requant` and `i8` arrays and a
// zero-sized marker: alignment 1, no padding.
unsafe impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const F: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PH: usize,
        const PW: usize,
        const OH: usize,
        const OW: usize,
        A,
    > Bytes for QConv2d<H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A>
{
}

qconv_impl! {{
    /// Fails the build when the geometry is wrong or the activation has no
    /// int8 form.
    pub(crate) const CHECK: () = {
        assert!(
            fits_padded(H, KH, SH, PH, OH) && fits_padded(W, KW, SW, PW, OW) && C > 0 && F > 0,
            "QConv2d: OH/OW do not match the input, kernel, stride and padding"
        );
        assert!(
            !matches!(A::INT8, Int8Fused::Unsupported),
            "int8: this convolution's activation has no int8 form (TFLite fuses only relu)"
        );
    };

    /// Whether every window lies inside the input: no padding before, and
    /// none after (TFLite's "same" can add a row or column there).
    pub(crate) const UNPADDED: bool = PH == 0 && PW == 0 && (OH - 1) * SH + KH <= H && (OW - 1) * SW + KW <= W;

    /// The output clamp of the fused activation.
    #[inline(always)]
    pub(crate) fn clamp(&self) -> (i32, i32) {
        activation_range(matches!(A::INT8, Int8Fused::Relu), self.output.zero_point())
    }

    /// `acc` of filter `f` as an output value.
    #[inline(always)]
    pub(crate) fn requantize(&self, f: usize, acc: i32, clamp: (i32, i32)) -> i8 {
        self.channel_requant(f, clamp).apply(acc)
    }

    /// Filter `f`'s requantization, decoded for many accumulators.
    #[inline(always)]
    pub(crate) fn channel_requant(&self, f: usize, clamp: (i32, i32)) -> ChannelRequant {
        let r = self.requant[f];
        ChannelRequant::new(r.multiplier(), r.shift(), self.output.zero_point(), clamp)
    }

    /// Output row `oy` as accumulators (before requantization), handed to
    /// `emit(ox, f0, acc)` in pieces: `acc` holds filters `f0 ..
    /// f0 + acc.len()` of output pixel `ox`.
    #[inline(always)]
    pub(crate) fn row_acc(&self, x: &[[[i8; C]; W]; H], oy: usize, mut emit: impl FnMut(usize, usize, &[i32])) {
        #[cfg(constnet_dsp)]
        let mut window = [[[self.input_zero_point.get() as i8; C]; KW]; KH];
        let mut acc = [0i32; F];
        let mut ox = 0;
        while ox < OW {
            // Up to three pixels whose windows lie inside the input at a time.
            #[cfg(constnet_dsp)]
            if self.inside(oy, ox) {
                let n = (OW - ox).min(3);
                let n = (1..=n).rev().find(|&n| self.inside(oy, ox + n - 1)).unwrap_or(1);
                let xs = &x.as_flattened().as_flattened()[((oy * SH - PH) * W + ox * SW - PW) * C..];
                match n {
                    3 => self.block_dsp::<3, W>(xs, ox, &mut emit),
                    2 => self.block_dsp::<2, W>(xs, ox, &mut emit),
                    _ => self.block_dsp::<1, W>(xs, ox, &mut emit),
                }
                ox += n;
                continue;
            }
            // A window across the border: copied, the padding filled with
            // the zero point, for the same kernel.
            #[cfg(constnet_dsp)]
            if const { crate::kernels::arm_dsp::block3x2_fits(KH, KW, C, KW, SW) } {
                self.window(x, oy, ox, &mut window);
                self.block_dsp::<1, KW>(window.as_flattened().as_flattened(), ox, &mut emit);
                ox += 1;
                continue;
            }
            self.pixel_acc(x, oy, ox, &mut acc);
            emit(ox, 0, &acc);
            ox += 1;
        }
    }

    /// Whether the window of output pixel `(oy, ox)` lies inside the input.
    #[cfg(constnet_dsp)]
    #[inline(always)]
    fn inside(&self, oy: usize, ox: usize) -> bool {
        oy * SH >= PH && oy * SH - PH + KH <= H && ox * SW >= PW && ox * SW - PW + KW <= W
    }

    /// The window of output pixel `(oy, ox)` into `window`, positions in
    /// the padding as the zero point.
    #[cfg(constnet_dsp)]
    #[inline(always)]
    fn window(&self, x: &[[[i8; C]; W]; H], oy: usize, ox: usize, window: &mut [[[i8; C]; KW]; KH]) {
        let zp = self.input_zero_point.get() as i8;
        let (y0, x0) = ((oy * SH) as isize - PH as isize, (ox * SW) as isize - PW as isize);
        // The columns inside the input, taps k0 .. k1 of the window.
        let (lo, hi) = (x0.clamp(0, W as isize) as usize, (x0 + KW as isize).clamp(0, W as isize) as usize);
        let (k0, k1) = ((lo as isize - x0) as usize, (hi as isize - x0).max(0) as usize);
        for (ky, row) in window.iter_mut().enumerate() {
            let iy = y0 + ky as isize;
            let row = row.as_flattened_mut();
            if iy >= 0 && (iy as usize) < H && k0 < k1 {
                row[..k0 * C].fill(zp);
                row[k0 * C..k1 * C].copy_from_slice(x[iy as usize][lo..hi].as_flattened());
                row[k1 * C..].fill(zp);
            } else {
                row.fill(zp);
            }
        }
    }

    /// The accumulators of output pixel `(oy, ox)`, any position: taps in
    /// the padding read the zero point.
    #[inline(always)]
    fn pixel_acc(&self, x: &[[[i8; C]; W]; H], oy: usize, ox: usize, acc: &mut [i32; F]) {
        let zp = self.input_zero_point.get() as i8;
        let y0 = (oy * SH) as isize - PH as isize;
        let x0 = (ox * SW) as isize - PW as isize;
        acc.fill(0);
        let inside_x = x0 >= 0 && x0 as usize + KW <= W;
        for ky in 0..KH {
            let iy = y0 + ky as isize;
            // Without padding the padded branch is not even compiled.
            if Self::UNPADDED || inside_x && iy >= 0 && (iy as usize) < H {
                let x0 = x0 as usize;
                let span = x[iy as usize][x0..x0 + KW].as_flattened();
                #[cfg(all(target_arch = "arm", not(constnet_dsp)))]
                let done = self.quads_armv6m(span, ky, acc);
                #[cfg(not(all(target_arch = "arm", not(constnet_dsp))))]
                let done = 0;
                for (a, w) in acc.iter_mut().zip(&self.weight).skip(done) {
                    *a = a.wrapping_add(dot(span, w[ky].as_flattened()));
                }
            } else {
                for kx in 0..KW {
                    let ix = x0 + kx as isize;
                    let inside = iy >= 0 && (iy as usize) < H && ix >= 0 && (ix as usize) < W;
                    for c in 0..C {
                        let v = if inside { x[iy as usize][ix as usize][c] } else { zp } as i32;
                        for (a, w) in acc.iter_mut().zip(&self.weight) {
                            *a = a.wrapping_add(v * w[ky][kx][c] as i32);
                        }
                    }
                }
            }
        }
        // The bias last: added first, the copy of its unaligned bytes is a
        // `memcpy` call (600 bytes of flash on a Cortex-M0); wrapping sums
        // do not depend on the order.
        for (a, b) in acc.iter_mut().zip(&self.bias) {
            *a = a.wrapping_add(b.get());
        }
    }

    /// Adds row `ky` of filters `0 .. 4 * (F / 4)` applied to `span` to
    /// their accumulators, four filters at a time; returns how many it did
    /// (none for rows under 16 taps).
    #[cfg(all(target_arch = "arm", not(constnet_dsp)))]
    #[inline(always)]
    fn quads_armv6m(&self, span: &[i8], ky: usize, acc: &mut [i32; F]) -> usize {
        // Short rows cost more in the call than they save (conv1's 5 taps).
        if KW * C < 16 {
            return 0;
        }
        let (acc4, _) = acc.as_chunks_mut::<4>();
        for (q, a) in acc4.iter_mut().enumerate() {
            let rows = self.weight[4 * q..4 * q + 4].as_flattened().as_flattened().as_flattened();
            let first = &rows[ky * KW * C..];
            assert!(span.len() == KW * C && first.len() >= 3 * KH * KW * C + KW * C && KW * C > 0);
            // SAFETY: `span` is the `KW * C` input bytes, and `first` the
            // first row of taps of four filters `KH * KW * C` bytes apart,
            // the fourth row inside `first` (asserted above).
            unsafe { crate::kernels::armv6m::dot4(span.as_ptr(), first.as_ptr(), KH * KW * C, KW * C, a) };
        }
        4 * (F / 4)
    }

    /// `P` (1 to 3) output pixels `ox ..` whose windows start at `xs`,
    /// `SW * C` bytes apart, in rows of `WR` pixels (the input's `W`, or
    /// `KW` for a copied window), two filters at a time with the DSP
    /// kernels, handed to `emit` as [`Self::row_acc`] does.
    #[cfg(constnet_dsp)]
    #[inline(always)]
    fn block_dsp<const P: usize, const WR: usize>(
        &self,
        xs: &[i8],
        ox: usize,
        emit: &mut impl FnMut(usize, usize, &[i32]),
    ) {
        use crate::kernels::arm_dsp::{block3x2, block3x2_fits, block3x2_unrolled, dot};
        let span = |ky: usize, p: usize| &xs[(ky * WR + p * SW) * C..][..KW * C];
        let mut f = 0;
        while f + 2 <= F {
            let mut acc = [[self.bias[f].get(), self.bias[f + 1].get()]; 3];
            if const { block3x2_fits(KH, KW, C, WR, SW) } {
                // The block reads rows 0 .. KH of the `P` windows and filters
                // f, f + 1: inside `xs` (asserted) and `self.weight` (f + 1 < F).
                let ws = self.weight[f..f + 2].as_flattened().as_flattened().as_flattened();
                assert!(xs.len() >= (KH - 1) * WR * C + (P - 1) * SW * C + KW * C && ws.len() == 2 * KH * KW * C);
                // SAFETY: the lengths asserted above are the bounds the
                // kernel reads; its offsets fit (`block3x2_fits`).
                unsafe { block3x2_unrolled::<P, KH, KW, C, WR, SW>(xs.as_ptr(), ws.as_ptr(), &mut acc) };
            } else {
                for ky in 0..KH {
                    let w = [self.weight[f][ky].as_flattened(), self.weight[f + 1][ky].as_flattened()];
                    let last = |p: usize| span(ky, p.min(P - 1));
                    block3x2([last(0), last(1), last(2)], w, KW * C, &mut acc);
                }
            }
            for (p, a) in acc.iter().enumerate().take(P) {
                emit(ox + p, f, a);
            }
            f += 2;
        }
        if f < F {
            for p in 0..P {
                let a = (0..KH).fold(self.bias[f].get(), |a, ky| dot(span(ky, p), self.weight[f][ky].as_flattened(), a));
                emit(ox + p, f, &[a]);
            }
        }
    }
}}

qconv_impl! {{
    /// Whether [`Self::max_pool2x2_dsp`] computes this convolution fused
    /// with 2x2/2 max pooling: stride 1, no padding ([`Self::UNPADDED`]), and either a single
    /// channel with five taps per row and filters in pairs, or channels in
    /// whole words and a window that [`pool2x2_q15`](crate::kernels::arm_dsp::pool2x2_q15) takes.
    #[cfg(constnet_dsp)]
    pub(crate) const MAX_POOL2X2_DSP: bool = SH == 1
        && SW == 1
        && Self::UNPADDED
        && F.is_multiple_of(2)
        && (Self::C1K5 || W * C < 4096 && crate::kernels::arm_dsp::pool2x2_q15_fits(KH, KW, C));

    #[cfg(constnet_dsp)]
    const C1K5: bool = C == 1 && KW == 5 && F.is_multiple_of(2) && KH * W + 2 < 4096;

    /// This convolution (see [`Self::MAX_POOL2X2_DSP`]) and a 2x2/2 max
    /// pooling without padding: each pooling window's four accumulators
    /// are computed together and their maximum requantized (requantization
    /// is monotone), so nothing but the pooled output is stored. Called
    /// only where `MAX_POOL2X2_DSP` holds (the fused step checks it at
    /// compile time); the reads are bounds-checked in any case.
    #[cfg(constnet_dsp)]
    #[inline(always)]
    pub(crate) fn max_pool2x2_dsp<const POH: usize, const POW: usize>(
        &self,
        x: &[[[i8; C]; W]; H],
        y: &mut [[[i8; F]; POW]; POH],
    ) {
        use crate::kernels::arm_dsp::{c1k5_rows, pool2x2_c1k5, pool2x2_q15, q15_row_bytes, widen_window, Q15_WINDOW_BYTES};
        use crate::kernels::int8::requantize_rows;
        let clamp = self.clamp();
        let x = x.as_flattened().as_flattened();
        if Self::C1K5 {
            for f in (0..F).step_by(2) {
                // Both filters' rows as the kernel multiplies them.
                let mut rows = [[0u32; 5]; KH];
                for (ky, r) in rows.iter_mut().enumerate() {
                    let taps = |g: usize| [0, 1, 2, 3, 4].map(|kx| self.weight[f + g][ky][kx][0]);
                    *r = c1k5_rows(taps(0), taps(1));
                }
                let bias = [self.bias[f].get(), self.bias[f + 1].get()];
                let (requant, biases) = (self.requant[f..].first_chunk(), self.bias[f..].first_chunk());
                let numbers = (requant.expect("filters in pairs"), biases.expect("filters in pairs"), KH * KW);
                let mut acc = [[0i32; 2]; POW];
                for (py, y_row) in y.iter_mut().enumerate() {
                    let windows = &x[2 * py * W..];
                    assert!(windows.len() >= KH * W + 2 * POW + 4);
                    // SAFETY: the kernel reads `KH * W + 2 * (POW - 1) + 6`
                    // bytes of `windows` (asserted) and the `5 * KH` words of
                    // `rows`, and writes `acc`; `C1K5` bounds its offsets.
                    unsafe { pool2x2_c1k5::<KH, W, POW>(windows.as_ptr(), rows.as_flattened().as_ptr(), bias, &mut acc) };
                    requantize_rows(&acc, (y_row, f), numbers, self.output.zero_point(), clamp);
                }
            }
            return;
        }
        let mut widened = [0u32; Q15_WINDOW_BYTES / 4];
        for (py, y_row) in y.iter_mut().enumerate() {
            // Two windows at a time, the last one alone if their count is odd.
            for (pair, ys) in y_row.chunks_mut(2).enumerate() {
                let n = ys.len();
                let (at, pixels, row) = ((2 * py * W + 4 * pair) * C, 2 * n + KW - 1, q15_row_bytes(n, KW, C) / 4);
                assert!(at + KH * W * C + pixels * C <= x.len() && (KH + 1) * row <= widened.len());
                // SAFETY: the reads and writes are within `x` and `widened`
                // (asserted), a row of `x` is `W * C` bytes (below 4,096:
                // `MAX_POOL2X2_DSP`).
                unsafe {
                    if POW.is_multiple_of(2) || n == 2 {
                        widen_window::<2, KH, KW, C, W>(x[at..].as_ptr(), widened.as_mut_ptr());
                    } else {
                        widen_window::<1, KH, KW, C, W>(x[at..].as_ptr(), widened.as_mut_ptr());
                    }
                }
                for f in (0..F).step_by(2) {
                    let (w, bias) = (self.weight[f].as_ptr().cast(), [self.bias[f].get(), self.bias[f + 1].get()]);
                    let (requant, biases) = (self.requant[f..].first_chunk(), self.bias[f..].first_chunk());
                    let numbers = (requant.expect("filters in pairs"), biases.expect("filters in pairs"), KH * KW * C);
                    let zp = self.output.zero_point();
                    // SAFETY: the kernel reads the `KH + 1` widened rows of
                    // `n` windows (asserted above) and filters `f` and `f +
                    // 1`'s `2 * KH * KW * C` bytes (`F` even); `pool2x2_q15_fits`
                    // bounds its offsets. (`POW` even: every chunk is a pair,
                    // and the one-window kernel is not even compiled.)
                    if POW.is_multiple_of(2) || n == 2 {
                        let m = unsafe { pool2x2_q15::<2, KH, KW, C>(widened.as_ptr(), w, bias) };
                        let ys: &mut [_; 2] = ys.try_into().expect("a pair of windows");
                        requantize_rows(&m, (ys, f), numbers, zp, clamp);
                    } else {
                        let m = unsafe { pool2x2_q15::<1, KH, KW, C>(widened.as_ptr(), w, bias) };
                        let ys: &mut [_; 1] = ys.try_into().expect("one window");
                        requantize_rows(&m, (ys, f), numbers, zp, clamp);
                    }
                }
            }
        }
    }
}}

qconv_impl! {<Int8Layer> {
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; F]; OW]; OH];
    const INFO: LayerInfo = LayerInfo { kind: "QConv2d", activation: A::NAME, bias: true, window: [KH, KW] };
    const FINGERPRINT: u64 = fingerprint(&[
        str_hash("QConv2d/int8/OHWI"),
        H as u64, W as u64, C as u64, F as u64, KH as u64, KW as u64,
        SH as u64, SW as u64, PH as u64, PW as u64, OH as u64, OW as u64,
        str_hash(A::NAME),
    ]);

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        let () = Self::CHECK;
        let clamp = self.clamp();
        for (oy, row) in y.iter_mut().enumerate() {
            self.row_acc(x, oy, |ox, f0, acc| {
                for (k, (out, &a)) in row[ox][f0..].iter_mut().zip(acc).enumerate() {
                    *out = self.requantize(f0 + k, a, clamp);
                }
            });
        }
    }

    fn is_valid(&self) -> bool {
        channels_valid(self.input_zero_point, self.output, &self.requant)
    }

    const TFLITE: Option<&'static [OpShape]> = match Fused::of::<A>() {
        Some(activation) => Some(&[OpShape {
            op: Op::Conv2D {
                kernel: [KH, KW],
                stride: [SH, SW],
                padding: padding_of([H, W], [KH, KW], [SH, SW], [PH, PW], [OH, OW]),
                activation,
            },
            input: &[H, W, C],
            output: &[OH, OW, F],
        }]),
        None => None,
    };

    fn load_ops(&mut self, ops: &[OpNumbers<'_>]) -> Result<(), QuantizeError> {
        load_weighted(self, ops)
    }
}}

qconv_impl! {<LoadTflite> {
    fn load_tflite(
        &mut self,
        weights: &[i8],
        bias: &[i32],
        weight_scales: &[f32],
        input: QParams,
        output: QParams,
    ) -> Result<(), QuantizeError> {
        let n = KH * KW * C;
        if weights.len() != F * n {
            return Err(QuantizeError::Unsupported { kind: "QConv2d" });
        }
        let sum = |f: usize| weights[f * n..(f + 1) * n].iter().map(|&v| v as i32).sum();
        load_channels("QConv2d", &mut self.bias, &mut self.requant, sum, bias, weight_scales, (input, output))?;
        self.input_zero_point = Le32::new(input.zero_point());
        self.output = output;
        self.weight.as_flattened_mut().as_flattened_mut().as_flattened_mut().copy_from_slice(weights);
        Ok(())
    }
}}

/// The output quantization of a convolution (plain or depthwise) calibrated
/// to `range`, or the error when it has no int8 form: edge padding, or an
/// activation TFLite does not fuse.
pub(crate) fn conv_output<P: Padding, A: Activation>(
    kind: &'static str,
    range: Range,
) -> Result<QParams, QuantizeError> {
    if P::EDGE || matches!(A::INT8, Int8Fused::Unsupported) {
        return Err(QuantizeError::Unsupported { kind });
    }
    Ok(range.params())
}

/// The int8 form of a zero-padded convolution; edge padding has none.
impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const F: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PH: usize,
        const PW: usize,
        const OH: usize,
        const OW: usize,
        A: Activation,
        B: BiasTerm<f32, F>,
        P: Padding,
    > QuantizeLayer for Conv2d<f32, H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
{
    type Int8 = QConv2d<H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A>;

    fn quantize(
        &self,
        input: QParams,
        range: Range,
        _options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError> {
        let kind = "Conv2d";
        let output = conv_output::<P, A>(kind, range)?;
        // Our layout is [ky][kx][c][f]; TFLite's (and QConv2d's) [f][ky][kx][c].
        let at = |f: usize, i: usize| {
            let (ky, rest) = (i / (KW * C), i % (KW * C));
            self.weight[ky][rest / C][rest % C][f]
        };
        let mut weights = [[[[0i8; C]; KW]; KH]; F];
        let scales = quantize_symmetric::<F>(kind, KH * KW * C, true, at, |f, i, v| {
            weights[f].as_flattened_mut().as_flattened_mut()[i] = v;
        })?;
        let bias = quantize_biases(kind, self.bias.values(), input.scale(), &scales)?;
        q.load_tflite(weights.as_flattened().as_flattened().as_flattened(), &bias, &scales, input, output)?;
        Ok(output)
    }
}
