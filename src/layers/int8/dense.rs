//! Int8 fully connected layer (TFLite's FULLY_CONNECTED).

use super::{
    channels_valid, load_channels, load_weighted, quantize_biases, quantize_symmetric, Int8Layer, LoadTflite,
    QuantizeError, QuantizeLayer, QuantizeOptions, Range,
};
use super::{QDenseSoftmax, QSoftmax};
#[cfg(not(constnet_dsp))]
use crate::kernels::int8::dot;
use crate::kernels::int8::requantize;
use crate::layers::activation::{Activation, Int8Fused, Softmax};
use crate::layers::bias::BiasTerm;
use crate::layers::tflite::{Fused, Op, OpNumbers, OpShape};
use crate::layers::{fingerprint, str_hash, LayerInfo};
use crate::quant::{activation_range, Bytes, Le32, QParams, Requant};
use crate::Dense;
use core::marker::PhantomData;

/// `O` outputs from `I` int8 inputs, then the activation `A` as a clamp.
/// Weights are TFLite's layout, `[O][I]`, with one scale per output or one
/// for the whole matrix (then every output's requantization is the same).
#[repr(C)]
pub struct QDense<const I: usize, const O: usize, A> {
    /// The input's zero point.
    pub input_zero_point: Le32,
    /// The output's quantization.
    pub output: QParams,
    /// Per output: TFLite's bias minus `input_zero_point * sum(weights)`.
    pub bias: [Le32; O],
    /// Per output: `input_scale * weight_scale / output_scale`.
    pub requant: [Requant; O],
    /// Weights, `[output][input]`, symmetric int8.
    pub weight: [[i8; I]; O],
    activation: PhantomData<A>,
}

// SAFETY: `#[repr(C)]` of alignment-1 fields and a zero-sized marker.
unsafe impl<const I: usize, const O: usize, A> Bytes for QDense<I, O, A> {}

impl<const I: usize, const O: usize, A: Activation> QDense<I, O, A> {
    /// Fails the build when the activation has no int8 form.
    const CHECK: () = assert!(
        !matches!(A::INT8, Int8Fused::Unsupported),
        "int8: this dense layer's activation has no int8 form (TFLite fuses only relu; softmax runs after it)"
    );

    /// Quantizes a float dense layer's weights with `output` as the output's
    /// quantization.
    fn quantize_from<B: BiasTerm<f32, O>, FA>(
        &mut self,
        dense: &Dense<f32, I, O, FA, B>,
        input: QParams,
        output: QParams,
        options: &QuantizeOptions,
    ) -> Result<(), QuantizeError> {
        let kind = "Dense";
        let mut weights = [[0i8; I]; O];
        // Our layout is [input][output]; TFLite's [output][input].
        let scales = quantize_symmetric::<O>(
            kind,
            I,
            options.dense_per_channel,
            |o, i| dense.weight[i][o],
            |o, i, v| weights[o][i] = v,
        )?;
        let bias = quantize_biases(kind, dense.bias.values(), input.scale(), &scales)?;
        self.load_tflite(weights.as_flattened(), &bias, &scales, input, output)
    }
}

impl<const I: usize, const O: usize, A> LoadTflite for QDense<I, O, A> {
    fn load_tflite(
        &mut self,
        weights: &[i8],
        bias: &[i32],
        weight_scales: &[f32],
        input: QParams,
        output: QParams,
    ) -> Result<(), QuantizeError> {
        if weights.len() != I * O {
            return Err(QuantizeError::Unsupported { kind: "QDense" });
        }
        let sum = |o: usize| weights[o * I..(o + 1) * I].iter().map(|&v| v as i32).sum();
        load_channels("QDense", &mut self.bias, &mut self.requant, sum, bias, weight_scales, (input, output))?;
        self.input_zero_point = Le32::new(input.zero_point());
        self.output = output;
        self.weight.as_flattened_mut().copy_from_slice(weights);
        Ok(())
    }
}

impl<const I: usize, const O: usize, A: Activation> Int8Layer for QDense<I, O, A> {
    type Input = [i8; I];
    type Output = [i8; O];
    const INFO: LayerInfo = LayerInfo { kind: "QDense", activation: A::NAME, bias: true, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("QDense/int8/OI"), I as u64, O as u64, str_hash(A::NAME)]);

    fn forward(&self, x: &[i8; I], y: &mut [i8; O]) {
        let () = Self::CHECK;
        let (lo, hi) = activation_range(matches!(A::INT8, Int8Fused::Relu), self.output.zero_point());
        let zp = self.output.zero_point();
        // Output `o` from its dot product (bias not yet added).
        let out = |o: usize, dot: i32| {
            let r = self.requant[o];
            requantize(self.bias[o].get().wrapping_add(dot), r.multiplier(), r.shift(), zp, lo, hi)
        };
        let mut o = 0;
        // Six outputs at a time on the DSP, each input word widened once,
        // then the rest in one block.
        #[cfg(constnet_dsp)]
        if I.is_multiple_of(4) && I > 0 && 5 * I < 4096 {
            use crate::kernels::arm_dsp::dot_rows;
            while o < O {
                let mut acc = [0i32; 6];
                let rows = self.weight[o..].as_flattened();
                let n = (O - o).min(6);
                assert!(rows.len() >= n * I);
                // SAFETY: `rows` holds the `n` rows, `I` bytes apart, and `x`
                // its `I` bytes (asserted); `I` is a positive multiple of 4
                // and 5 * I fits an immediate (checked above).
                unsafe {
                    if n == 6 {
                        dot_rows::<I, 6>(x.as_ptr(), rows.as_ptr(), &mut acc);
                    } else {
                        // The last `O % 6` outputs.
                        match O % 6 {
                            1 => dot_rows::<I, 1>(x.as_ptr(), rows.as_ptr(), &mut acc),
                            2 => dot_rows::<I, 2>(x.as_ptr(), rows.as_ptr(), &mut acc),
                            3 => dot_rows::<I, 3>(x.as_ptr(), rows.as_ptr(), &mut acc),
                            4 => dot_rows::<I, 4>(x.as_ptr(), rows.as_ptr(), &mut acc),
                            _ => dot_rows::<I, 5>(x.as_ptr(), rows.as_ptr(), &mut acc),
                        }
                    }
                }
                for (k, &a) in acc.iter().enumerate().take(n) {
                    y[o + k] = out(o + k, a);
                }
                o += n;
            }
        }
        // Four outputs at a time on Arm without the DSP extension.
        #[cfg(all(target_arch = "arm", not(constnet_dsp)))]
        if I >= 16 {
            while o + 4 <= O {
                let mut acc = [0i32; 4];
                let rows = self.weight[o..o + 4].as_flattened();
                // SAFETY: `rows` holds the four rows, `I` bytes apart, and `x`
                // its `I` bytes (`I` positive).
                unsafe { crate::kernels::armv6m::dot4(x.as_ptr(), rows.as_ptr(), I, I, &mut acc) };
                for (k, a) in acc.into_iter().enumerate() {
                    y[o + k] = out(o + k, a);
                }
                o += 4;
            }
        }
        while o < O {
            #[cfg(constnet_dsp)]
            let d = crate::kernels::arm_dsp::dot(x, &self.weight[o], 0);
            #[cfg(not(constnet_dsp))]
            let d = dot(x, &self.weight[o]);
            y[o] = out(o, d);
            o += 1;
        }
    }

    fn is_valid(&self) -> bool {
        channels_valid(self.input_zero_point, self.output, &self.requant)
    }

    const TFLITE: Option<&'static [OpShape]> = match Fused::of::<A>() {
        Some(activation) => Some(&[OpShape { op: Op::FullyConnected { activation }, input: &[I], output: &[O] }]),
        None => None,
    };

    fn load_ops(&mut self, ops: &[OpNumbers<'_>]) -> Result<(), QuantizeError> {
        load_weighted(self, ops)
    }
}

/// Which int8 layer a float dense layer becomes: itself with the clamp, or
/// (for softmax) the dense layer followed by TFLite's int8 softmax.
pub trait DenseInt8<const I: usize, const O: usize>: Activation {
    /// The int8 layer.
    type Int8: Int8Layer<Input = [i8; I], Output = [i8; O]>;
    /// Quantizes `dense` into `q`; `range` is the output's (the logits',
    /// for softmax).
    fn quantize<B: BiasTerm<f32, O>>(
        dense: &Dense<f32, I, O, Self, B>,
        input: QParams,
        range: Range,
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError>;
}

/// Every activation but softmax stays fused into the int8 dense layer.
macro_rules! dense_clamp {
    ($($act:ident)*) => {$(
        impl<const I: usize, const O: usize> DenseInt8<I, O> for crate::layers::activation::$act {
            type Int8 = QDense<I, O, Self>;
            fn quantize<B: BiasTerm<f32, O>>(
                dense: &Dense<f32, I, O, Self, B>,
                input: QParams,
                range: Range,
                options: &QuantizeOptions,
                q: &mut Self::Int8,
            ) -> Result<QParams, QuantizeError> {
                if matches!(<Self as Activation>::INT8, Int8Fused::Unsupported) {
                    return Err(QuantizeError::Unsupported { kind: "Dense" });
                }
                let output = range.params();
                q.quantize_from(dense, input, output, options)?;
                Ok(output)
            }
        }
    )*};
}
dense_clamp!(Linear Relu Sigmoid Tanh);

impl<const I: usize, const O: usize> DenseInt8<I, O> for Softmax {
    type Int8 = QDenseSoftmax<I, O>;
    fn quantize<B: BiasTerm<f32, O>>(
        dense: &Dense<f32, I, O, Self, B>,
        input: QParams,
        range: Range,
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError> {
        let logits = range.params();
        q.dense.quantize_from(dense, input, logits, options)?;
        q.softmax = QSoftmax::new(logits.scale(), 1.0);
        Ok(QParams::SOFTMAX)
    }
}

impl<const I: usize, const O: usize, A: DenseInt8<I, O>, B: BiasTerm<f32, O>> QuantizeLayer for Dense<f32, I, O, A, B> {
    type Int8 = A::Int8;

    fn quantize(
        &self,
        input: QParams,
        range: Range,
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError> {
        A::quantize(self, input, range, options, q)
    }
}
