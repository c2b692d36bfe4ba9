//! Int8 two-dimensional convolution (TFLite's CONV_2D).

use super::{
    channels_valid, load_channels, load_weighted, quantize_bias, quantize_symmetric, Int8Layer, LoadTflite,
    QuantizeError, QuantizeLayer, QuantizeOptions, Range,
};
use crate::kernels::int8::{dot, requantize};
use crate::layers::activation::{Activation, Int8Fused};
use crate::layers::bias::BiasTerm;
use crate::layers::tflite::{padding_of, Fused, Op, OpNumbers, OpShape};
use crate::layers::window::Padding;
use crate::layers::{fingerprint, str_hash, LayerInfo};
use crate::quant::{activation_range, Bytes, Le32, QParams, Requant};
use crate::Conv2d;
use core::marker::PhantomData;

/// `F` filters of `KH x KW` over an `H x W x C` int8 input, stride `SH, SW`,
/// with `PH, PW` positions of zero padding *before* the first row and
/// column (TFLite's "same" may pad one more after), giving `OH x OW x F`,
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

/// Whether `out` windows of `window` at `stride`, starting `pad` before the
/// input, fit an input of `input` with `pad` or `pad + 1` after it.
pub(crate) const fn fits_padded(input: usize, window: usize, stride: usize, pad: usize, out: usize) -> bool {
    stride > 0
        && out > 0
        && (input + 2 * pad >= window && out == (input + 2 * pad - window) / stride + 1
            || input + 2 * pad + 1 >= window && out == (input + 2 * pad + 1 - window) / stride + 1)
}

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

    /// The output clamp of the fused activation.
    #[inline(always)]
    pub(crate) fn clamp(&self) -> (i32, i32) {
        activation_range(matches!(A::INT8, Int8Fused::Relu), self.output.zero_point())
    }

    /// `acc` of filter `f` as an output value.
    #[inline(always)]
    pub(crate) fn requantize(&self, f: usize, acc: i32, (lo, hi): (i32, i32)) -> i8 {
        let r = self.requant[f];
        requantize(acc, r.multiplier(), r.shift(), self.output.zero_point(), lo, hi)
    }

    /// Output row `oy` as accumulators (before requantization), handed to
    /// `emit(ox, f0, acc)` in pieces: `acc` holds filters `f0 ..
    /// f0 + acc.len()` of output pixel `ox`.
    #[inline(always)]
    pub(crate) fn row_acc(&self, x: &[[[i8; C]; W]; H], oy: usize, mut emit: impl FnMut(usize, usize, &[i32])) {
        let mut acc = [0i32; F];
        let mut ox = 0;
        while ox < OW {
            // Up to three pixels whose windows lie inside the input at a time.
            #[cfg(constnet_dsp)]
            if self.inside(oy, ox) {
                let n = (OW - ox).min(3);
                let n = (1..=n).rev().find(|&n| self.inside(oy, ox + n - 1)).unwrap_or(1);
                match n {
                    3 => self.block_dsp::<3>(x, oy, ox, &mut emit),
                    2 => self.block_dsp::<2>(x, oy, ox, &mut emit),
                    _ => self.block_dsp::<1>(x, oy, ox, &mut emit),
                }
                ox += n;
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

    /// The accumulators of output pixel `(oy, ox)`, any position: taps in
    /// the padding read the zero point.
    #[inline(always)]
    fn pixel_acc(&self, x: &[[[i8; C]; W]; H], oy: usize, ox: usize, acc: &mut [i32; F]) {
        let zp = self.input_zero_point.get() as i8;
        let y0 = (oy * SH) as isize - PH as isize;
        let x0 = (ox * SW) as isize - PW as isize;
        for (a, b) in acc.iter_mut().zip(&self.bias) {
            *a = b.get();
        }
        let inside_x = x0 >= 0 && x0 as usize + KW <= W;
        for ky in 0..KH {
            let iy = y0 + ky as isize;
            if inside_x && iy >= 0 && (iy as usize) < H {
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

    /// `P` (1 to 3) output pixels `(oy, ox ..)` whose windows lie inside
    /// the input, two filters at a time with the DSP kernels, handed to
    /// `emit` as [`Self::row_acc`] does.
    #[cfg(constnet_dsp)]
    #[inline(always)]
    fn block_dsp<const P: usize>(
        &self,
        x: &[[[i8; C]; W]; H],
        oy: usize,
        ox: usize,
        emit: &mut impl FnMut(usize, usize, &[i32]),
    ) {
        use crate::kernels::arm_dsp::{block3x2, block3x2_fits, block3x2_unrolled, dot};
        let (y0, x0) = (oy * SH - PH, ox * SW - PW);
        let span = |ky: usize, p: usize| x[y0 + ky][x0 + p * SW..x0 + p * SW + KW].as_flattened();
        let mut f = 0;
        while f + 2 <= F {
            let mut acc = [[self.bias[f].get(), self.bias[f + 1].get()]; 3];
            if const { block3x2_fits(KH, KW, C, W, SW) } {
                // The block reads rows y0 .. y0 + KH of pixels ox .. ox + 2's
                // windows and filters f, f + 1: all inside (`inside` holds for
                // both end pixels, and f + 1 < F).
                let xs = &x.as_flattened().as_flattened()[(y0 * W + x0) * C..];
                let ws = self.weight[f..f + 2].as_flattened().as_flattened().as_flattened();
                assert!(xs.len() >= (KH - 1) * W * C + (P - 1) * SW * C + KW * C && ws.len() == 2 * KH * KW * C);
                // SAFETY: the lengths asserted above are the bounds the
                // kernel reads; its offsets fit (`block3x2_fits`).
                unsafe { block3x2_unrolled::<P, KH, KW, C, W, SW>(xs.as_ptr(), ws.as_ptr(), &mut acc) };
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
        if P::EDGE || matches!(A::INT8, Int8Fused::Unsupported) {
            return Err(QuantizeError::Unsupported { kind });
        }
        let output = range.params();
        // Our layout is [ky][kx][c][f]; TFLite's (and QConv2d's) [f][ky][kx][c].
        let at = |f: usize, i: usize| {
            let (ky, rest) = (i / (KW * C), i % (KW * C));
            self.weight[ky][rest / C][rest % C][f]
        };
        let mut weights = [[[[0i8; C]; KW]; KH]; F];
        let scales = quantize_symmetric::<F>(kind, KH * KW * C, true, at, |f, i, v| {
            weights[f].as_flattened_mut().as_flattened_mut()[i] = v;
        })?;
        let mut bias = [0i32; F];
        for (f, b) in bias.iter_mut().enumerate() {
            let real = self.bias.values().map_or(0.0, |b| b[f]);
            *b = quantize_bias(kind, real, input.scale() * scales[f])?;
        }
        q.load_tflite(weights.as_flattened().as_flattened().as_flattened(), &bias, &scales, input, output)?;
        Ok(output)
    }
}
