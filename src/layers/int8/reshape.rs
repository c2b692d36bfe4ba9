//! Int8 layers without weights: flatten, identity (dropout, linear), relu,
//! upsample, and the stand-in for layers that have no int8 form.

use super::{Int8Layer, QuantizeError, QuantizeLayer, QuantizeOptions, Range, Retype};
use crate::layers::activation::{Linear, Relu, Sigmoid, Tanh};
use crate::layers::tflite::{Op, OpShape};
use crate::layers::{fingerprint, str_hash, LayerInfo};
use crate::quant::{Bytes, Le32, QParams};
use crate::{Activate, Dropout, Flatten, Layer, Tensor, Upsample};
use core::marker::PhantomData;

/// The `quantize` of a layer whose output keeps its input's quantization.
macro_rules! keeps_quantization {
    () => {
        fn quantize(
            &self,
            input: $crate::quant::QParams,
            _: $crate::layers::int8::Range,
            _: &$crate::layers::int8::QuantizeOptions,
            _: &mut Self::Int8,
        ) -> Result<$crate::quant::QParams, $crate::layers::int8::QuantizeError> {
            Ok(input)
        }
    };
}
pub(crate) use keeps_quantization;

/// Views an `H x W x C` int8 image as a vector of `N` values, in place.
#[repr(C)]
pub struct QFlatten<const H: usize, const W: usize, const C: usize, const N: usize>(PhantomData<()>);
// SAFETY: zero-sized, alignment 1.
unsafe impl<const H: usize, const W: usize, const C: usize, const N: usize> Bytes for QFlatten<H, W, C, N> {}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Int8Layer for QFlatten<H, W, C, N> {
    type Input = [[[i8; C]; W]; H];
    type Output = [i8; N];
    const INFO: LayerInfo = LayerInfo { kind: "Flatten", activation: "-", bias: false, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("Flatten"), H as u64, W as u64, C as u64]);
    const IN_PLACE: bool = true;
    const TFLITE: Option<&'static [OpShape]> = Some(&[OpShape { op: Op::Reshape, input: &[H, W, C], output: &[N] }]);

    fn forward(&self, x: &Self::Input, y: &mut [i8; N]) {
        const { assert!(H * W * C == N, "Flatten: N must be H * W * C") };
        y.copy_from_slice(x.as_flat());
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> QuantizeLayer for Flatten<H, W, C, N> {
    type Int8 = QFlatten<H, W, C, N>;
    keeps_quantization!();
}

/// A layer that passes its int8 input on unchanged: dropout at inference, a
/// linear activation.
#[repr(C)]
pub struct QIdentity<X>(PhantomData<fn() -> X>);
// SAFETY: zero-sized, alignment 1.
unsafe impl<X> Bytes for QIdentity<X> {}

impl<X: Tensor<i8>> Int8Layer for QIdentity<X> {
    type Input = X;
    type Output = X;
    const INFO: LayerInfo = LayerInfo { kind: "Identity", activation: "-", bias: false, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("Identity"), X::LEN as u64]);
    const IN_PLACE: bool = true;
    /// No op: dropout and linear layers leave nothing in a TFLite graph.
    const TFLITE: Option<&'static [OpShape]> = Some(&[]);

    fn forward(&self, x: &X, y: &mut X) {
        y.as_flat_mut().copy_from_slice(x.as_flat());
    }
}

impl<X: Tensor<f32> + Retype, const PERMILLE: u32> QuantizeLayer for Dropout<X, PERMILLE> {
    type Int8 = QIdentity<X::Int8>;
    keeps_quantization!();
}

impl<X: Tensor<f32> + Retype> QuantizeLayer for Activate<Linear, X> {
    type Int8 = QIdentity<X::Int8>;
    keeps_quantization!();
}

/// Relu on int8 values: a clamp at the quantized zero, keeping the input's
/// quantization.
#[repr(C)]
pub struct QRelu<X> {
    /// The input's (and output's) zero point.
    pub zero_point: Le32,
    tensor: PhantomData<fn() -> X>,
}
// SAFETY: `#[repr(C)]` of a `Le32` and a zero-sized marker.
unsafe impl<X> Bytes for QRelu<X> {}

impl<X: Tensor<i8>> Int8Layer for QRelu<X> {
    type Input = X;
    type Output = X;
    const INFO: LayerInfo = LayerInfo { kind: "Activate", activation: "relu", bias: false, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("QRelu"), X::LEN as u64]);
    const IN_PLACE: bool = true;

    fn forward(&self, x: &X, y: &mut X) {
        y.as_flat_mut().copy_from_slice(x.as_flat());
        self.forward_in_place(y.as_flat_mut());
    }

    fn forward_in_place(&self, xy: &mut [i8]) {
        let zp = self.zero_point.get().clamp(-128, 127) as i8;
        xy.iter_mut().for_each(|v| *v = (*v).max(zp));
    }

    fn is_valid(&self) -> bool {
        (-128..=127).contains(&self.zero_point.get())
    }
}

impl<X: Tensor<f32> + Retype> QuantizeLayer for Activate<Relu, X> {
    type Int8 = QRelu<X::Int8>;
    fn quantize(
        &self,
        input: QParams,
        _: Range,
        _: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError> {
        q.zero_point = Le32::new(input.zero_point());
        Ok(input)
    }
}

/// Nearest-neighbour upsampling of int8 images (a copy: the quantization is
/// kept).
#[repr(C)]
pub struct QUpsample<
    const H: usize,
    const W: usize,
    const C: usize,
    const FH: usize,
    const FW: usize,
    const OH: usize,
    const OW: usize,
>(PhantomData<()>);
// SAFETY: zero-sized, alignment 1.
unsafe impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const FH: usize,
        const FW: usize,
        const OH: usize,
        const OW: usize,
    > Bytes for QUpsample<H, W, C, FH, FW, OH, OW>
{
}

impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const FH: usize,
        const FW: usize,
        const OH: usize,
        const OW: usize,
    > Int8Layer for QUpsample<H, W, C, FH, FW, OH, OW>
{
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; C]; OW]; OH];
    const INFO: LayerInfo = LayerInfo { kind: "Upsample", activation: "-", bias: false, window: [FH, FW] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("Upsample"), H as u64, W as u64, C as u64, FH as u64, FW as u64]);

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        const { assert!(OH == H * FH && OW == W * FW && FH > 0 && FW > 0, "Upsample: OH/OW must be H*FH, W*FW") };
        for (oy, row) in y.iter_mut().enumerate() {
            for (ox, px) in row.iter_mut().enumerate() {
                *px = x[oy / FH][ox / FW];
            }
        }
    }
}

impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const FH: usize,
        const FW: usize,
        const OH: usize,
        const OW: usize,
    > QuantizeLayer for Upsample<H, W, C, FH, FW, OH, OW>
{
    type Int8 = QUpsample<H, W, C, FH, FW, OH, OW>;
    keeps_quantization!();
}

/// The int8 stand-in for a float layer `L` that has no int8 form (sigmoid
/// and tanh as layers): quantizing returns an error, and running it fails
/// the build, so a model that has one still declares and trains in float.
#[repr(C)]
pub struct Unsupported<L>(PhantomData<fn() -> L>);
// SAFETY: zero-sized, alignment 1.
unsafe impl<L> Bytes for Unsupported<L> {}

impl<L: Layer<f32>> Int8Layer for Unsupported<L>
where
    L::Input: Retype,
    L::Output: Retype,
{
    type Input = <L::Input as Retype>::Int8;
    type Output = <L::Output as Retype>::Int8;
    const INFO: LayerInfo = L::INFO;
    const FINGERPRINT: u64 = L::FINGERPRINT;

    fn forward(&self, _: &Self::Input, _: &mut Self::Output) {
        let () = Self::FAIL;
    }
}

impl<L> Unsupported<L> {
    /// Evaluated only when an int8 model that runs this layer is built.
    const FAIL: () = panic!("int8: this layer has no int8 form in TFLite's scheme (sigmoid, tanh)");
}

/// Sigmoid and tanh layers.
macro_rules! unsupported {
    ($($act:ident)*) => {$(
        impl<X: Tensor<f32> + Retype> QuantizeLayer for Activate<$act, X> {
            type Int8 = Unsupported<Self>;
            fn quantize(&self, _: QParams, _: Range, _: &QuantizeOptions, _: &mut Self::Int8) -> Result<QParams, QuantizeError> {
                Err(QuantizeError::Unsupported { kind: stringify!($act) })
            }
        }
    )*};
}
unsupported!(Sigmoid Tanh);
