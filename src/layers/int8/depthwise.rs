//! Int8 depthwise convolution (TFLite's DEPTHWISE_CONV_2D).

use super::conv::conv_output;
use super::{
    channels_valid, load_channels, load_weighted, quantize_biases, quantize_symmetric, Int8Layer, LoadTflite,
    QuantizeError, QuantizeLayer, QuantizeOptions, Range,
};
use crate::kernels::int8::requantize;
#[cfg(constnet_dsp)]
use crate::kernels::int8::requantize_rows;
use crate::layers::activation::{Activation, Int8Fused};
use crate::layers::bias::BiasTerm;
use crate::layers::tflite::{padding_of, Fused, Op, OpNumbers, OpShape};
use crate::layers::window::{fits_padded, Padding};
use crate::layers::{fingerprint, str_hash, LayerInfo};
use crate::quant::{activation_range, Bytes, Le32, QParams, Requant};
use crate::DepthwiseConv2d;
use core::marker::PhantomData;

/// Each of the `C` input channels of an `H x W x C` int8 input filtered on
/// its own by `M` filters of `KH x KW` (the depth multiplier), giving
/// `OH x OW x OC` with `OC = C * M`: output channel `c * M + m` reads input
/// channel `c`. Stride, padding before the input and activation as
/// [`QConv2d`](super::QConv2d).
///
/// Weights are TFLite's layout, `[KH][KW][OC]` (one scale per output
/// channel): a tap's weights for every output channel are contiguous, as
/// the input pixel they meet.
#[repr(C)]
pub struct QDepthwiseConv2d<
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
> {
    /// The input's zero point; padding reads it (the real zero).
    pub input_zero_point: Le32,
    /// The output's quantization.
    pub output: QParams,
    /// Per output channel: TFLite's bias minus `input_zero_point * sum(weights)`.
    pub bias: [Le32; OC],
    /// Per output channel: `input_scale * weight_scale / output_scale`.
    pub requant: [Requant; OC],
    /// Weights, `[ky][kx][output channel]`, symmetric int8.
    pub weight: [[[i8; OC]; KW]; KH],
    activation: PhantomData<A>,
}

/// Writes an `impl` (inherent, or of the trait in `<...>`) for `QDepthwiseConv2d`.
macro_rules! qdepthwise_impl {
    ($([$($more:tt)*])? $(<$tr:path>)? { $($body:tt)* }) => {
        impl<
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
                $($($more)*)?
            > $($tr for)? QDepthwiseConv2d<H, W, C, M, OC, KH, KW, SH, SW, PH, PW, OH, OW, A>
        {
            $($body)*
        }
    };
}
pub(crate) use qdepthwise_impl;

// SAFETY: `#[repr(C)]` of alignment-1 fields and a zero-sized marker.
unsafe impl<
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
    > Bytes for QDepthwiseConv2d<H, W, C, M, OC, KH, KW, SH, SW, PH, PW, OH, OW, A>
{
}

qdepthwise_impl! {{
    /// Fails the build when the geometry is wrong or the activation has no
    /// int8 form.
    pub(crate) const CHECK: () = {
        assert!(
            OC == C * M && M > 0 && fits_padded(H, KH, SH, PH, OH) && fits_padded(W, KW, SW, PW, OW),
            "QDepthwiseConv2d: OC must be C * M, and OH/OW match the input, kernel, stride and padding"
        );
        assert!(
            !matches!(A::INT8, Int8Fused::Unsupported),
            "int8: this convolution's activation has no int8 form (TFLite fuses only relu)"
        );
    };
}}

qdepthwise_impl! {{
    /// Output row `oy` into `out`.
    #[inline(always)]
    pub(crate) fn row(&self, x: &[[[i8; C]; W]; H], oy: usize, out: &mut [[i8; OC]; OW]) {
        #[cfg(constnet_dsp)]
        if const { M == 1 && C.is_multiple_of(4) } {
            return self.row_dsp(x, oy, out);
        }
        self.row_portable(x, oy, out);
    }

    /// [`Self::row`] on any target.
    #[inline(always)]
    fn row_portable(&self, x: &[[[i8; C]; W]; H], oy: usize, out: &mut [[i8; OC]; OW]) {
        let (lo, hi) = activation_range(matches!(A::INT8, Int8Fused::Relu), self.output.zero_point());
        let zp = self.input_zero_point.get() as i8;
        let padding = [zp; C];
        let mut acc = [0i32; OC];
        for (ox, out) in out.iter_mut().enumerate() {
            for (a, b) in acc.iter_mut().zip(&self.bias) {
                *a = b.get();
            }
            for (ky, w_row) in self.weight.iter().enumerate() {
                let iy = (oy * SH + ky) as isize - PH as isize;
                for (kx, w) in w_row.iter().enumerate() {
                    let ix = (ox * SW + kx) as isize - PW as isize;
                    let inside = iy >= 0 && (iy as usize) < H && ix >= 0 && (ix as usize) < W;
                    // Positions outside read the zero point (the folded bias
                    // counted every tap).
                    let px = if inside { &x[iy as usize][ix as usize] } else { &padding };
                    for (c, &v) in px.iter().enumerate() {
                        for m in 0..M {
                            let oc = c * M + m;
                            acc[oc] = acc[oc].wrapping_add(v as i32 * w[oc] as i32);
                        }
                    }
                }
            }
            for (oc, (o, &a)) in out.iter_mut().zip(&acc).enumerate() {
                let r = self.requant[oc];
                *o = requantize(a, r.multiplier(), r.shift(), self.output.zero_point(), lo, hi);
            }
        }
    }
}}

qdepthwise_impl! {{
    /// [`Self::row`] for a depth multiplier of 1 and channels in whole
    /// words, with the DSP extension ([`depthwise_pixel`](crate::kernels::arm_dsp::depthwise_pixel)).
    /// A pixel whose window crosses the border has its window copied first,
    /// the padding filled with the zero point, so every pixel runs the
    /// same kernel. The row's accumulators are requantized a channel at a
    /// time, its multiplier and shifts decoded once for the row.
    #[cfg(constnet_dsp)]
    #[inline(always)]
    fn row_dsp(&self, x: &[[[i8; C]; W]; H], oy: usize, out: &mut [[i8; OC]; OW]) {
        use crate::kernels::arm_dsp::{depthwise_fits, depthwise_pixel};
        if const { !depthwise_fits(KH, KW, C, W * C) } {
            return self.row_portable(x, oy, out);
        }
        let zp = self.input_zero_point.get() as i8;
        let mut window = [[[zp; C]; KW]; KH];
        let mut acc = [[0i32; OC]; OW];
        let flat = x.as_flattened().as_flattened();
        let (w, bias) = (self.weight.as_flattened().as_flattened(), self.bias.as_ptr().cast::<u8>());
        assert!(w.len() == KH * KW * C && core::mem::size_of_val(&self.bias) == 4 * C);
        for (ox, acc) in acc.iter_mut().enumerate() {
            let acc: &mut [i32; C] = (&mut acc[..]).try_into().expect("OC == C");
            let (y0, x0) = ((oy * SH) as isize - PH as isize, (ox * SW) as isize - PW as isize);
            if y0 >= 0 && y0 as usize + KH <= H && x0 >= 0 && x0 as usize + KW <= W {
                let xs = &flat[(y0 as usize * W + x0 as usize) * C..];
                assert!(xs.len() >= ((KH - 1) * W + KW) * C);
                // SAFETY: the window's `KH` rows of `W` pixels are in `xs`
                // (asserted), the weights and biases are the lengths asserted
                // above, and the offsets fit (`depthwise_fits`).
                unsafe { depthwise_pixel::<KH, KW, C, W>(xs.as_ptr(), w.as_ptr(), bias, acc) };
            } else {
                // The columns inside the input, then the padding around them.
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
                // SAFETY: as above, the window being `KH` rows of `KW` pixels.
                unsafe { depthwise_pixel::<KH, KW, C, KW>(window.as_ptr().cast(), w.as_ptr(), bias, acc) };
            }
        }
        let clamp = activation_range(matches!(A::INT8, Int8Fused::Relu), self.output.zero_point());
        requantize_rows(&acc, (out, 0), (&self.requant, &self.bias, KH * KW), self.output.zero_point(), clamp);
    }
}}

qdepthwise_impl! {<LoadTflite> {
    fn load_tflite(
        &mut self,
        weights: &[i8],
        bias: &[i32],
        weight_scales: &[f32],
        input: QParams,
        output: QParams,
    ) -> Result<(), QuantizeError> {
        let kind = "QDepthwiseConv2d";
        if weights.len() != KH * KW * OC {
            return Err(QuantizeError::Unsupported { kind });
        }
        let sum = |oc: usize| weights.iter().skip(oc).step_by(OC).map(|&w| w as i32).sum();
        load_channels(kind, &mut self.bias, &mut self.requant, sum, bias, weight_scales, (input, output))?;
        self.input_zero_point = Le32::new(input.zero_point());
        self.output = output;
        self.weight.as_flattened_mut().as_flattened_mut().copy_from_slice(weights);
        Ok(())
    }
}}

qdepthwise_impl! {<Int8Layer> {
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; OC]; OW]; OH];
    const INFO: LayerInfo = LayerInfo { kind: "QDepthwiseConv2d", activation: A::NAME, bias: true, window: [KH, KW] };
    const FINGERPRINT: u64 = fingerprint(&[
        str_hash("QDepthwiseConv2d/int8/HWO"),
        H as u64, W as u64, C as u64, M as u64, KH as u64, KW as u64,
        SH as u64, SW as u64, PH as u64, PW as u64, OH as u64, OW as u64,
        str_hash(A::NAME),
    ]);
    const TFLITE: Option<&'static [OpShape]> = match Fused::of::<A>() {
        Some(activation) => Some(&[OpShape {
            op: Op::DepthwiseConv2D {
                kernel: [KH, KW],
                stride: [SH, SW],
                padding: padding_of([H, W], [KH, KW], [SH, SW], [PH, PW], [OH, OW]),
                depth_multiplier: M,
                activation,
            },
            input: &[H, W, C],
            output: &[OH, OW, OC],
        }]),
        None => None,
    };

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        let () = Self::CHECK;
        for (oy, row) in y.iter_mut().enumerate() {
            self.row(x, oy, row);
        }
    }

    fn is_valid(&self) -> bool {
        channels_valid(self.input_zero_point, self.output, &self.requant)
    }

    fn load_ops(&mut self, ops: &[OpNumbers<'_>]) -> Result<(), QuantizeError> {
        load_weighted(self, ops)
    }
}}

/// The int8 form of a zero-padded depthwise convolution; edge padding has none.
impl<
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
        B: BiasTerm<f32, OC>,
        P: Padding,
    > QuantizeLayer for DepthwiseConv2d<f32, H, W, C, M, OC, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
{
    type Int8 = QDepthwiseConv2d<H, W, C, M, OC, KH, KW, SH, SW, PH, PW, OH, OW, A>;

    fn quantize(
        &self,
        input: QParams,
        range: Range,
        _options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError> {
        let kind = "DepthwiseConv2d";
        let output = conv_output::<P, A>(kind, range)?;
        // The float layout is TFLite's, [ky][kx][output channel]: output
        // channel `oc`'s taps are `KH * KW` values `OC` apart.
        let taps = self.weight.as_flattened();
        let mut weights = [[[0i8; OC]; KW]; KH];
        let flat = weights.as_flattened_mut();
        let scales = quantize_symmetric::<OC>(kind, KH * KW, true, |oc, t| taps[t][oc], |oc, t, v| flat[t][oc] = v)?;
        let bias = quantize_biases(kind, self.bias.values(), input.scale(), &scales)?;
        q.load_tflite(weights.as_flattened().as_flattened(), &bias, &scales, input, output)?;
        Ok(output)
    }
}
