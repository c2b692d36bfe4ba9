//! Int8 max, min and average pooling (TFLite's MAX_POOL_2D, AVERAGE_POOL_2D).

use super::reshape::keeps_quantization;
use super::{Int8Layer, QuantizeLayer};
use crate::kernels::int8::rounded_average;
use crate::layers::pool::PoolKind;
use crate::layers::tflite::{padding_of, Op, OpShape};
use crate::layers::window::{fits_padded, window_span};
use crate::layers::{fingerprint, str_hash, LayerInfo};
use crate::quant::Bytes;
use crate::Pool2d;
use core::marker::PhantomData;

/// Pooling of `KH x KW` windows with stride `SH, SW` over an `H x W x C`
/// int8 input, starting `PH, PW` positions before it (TFLite's "same"
/// padding; padded positions are left out, and an average divides by the
/// positions inside), giving `OH x OW x C`. The output keeps the input's
/// quantization, as TFLite requires.
#[repr(C)]
pub struct QPool2d<
    K,
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const OH: usize,
    const OW: usize,
>(PhantomData<K>);

// SAFETY: zero-sized, alignment 1.
unsafe impl<
        K,
        const H: usize,
        const W: usize,
        const C: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PH: usize,
        const PW: usize,
        const OH: usize,
        const OW: usize,
    > Bytes for QPool2d<K, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW>
{
}

/// Writes an `impl` (inherent, or of the trait in `<...>`) for `QPool2d`.
macro_rules! qpool_impl {
    ($(<$tr:path>)? { $($body:tt)* }) => {
        impl<
                K: PoolKind,
                const H: usize,
                const W: usize,
                const C: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PH: usize,
                const PW: usize,
                const OH: usize,
                const OW: usize,
            > $($tr for)? QPool2d<K, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW>
        {
            $($body)*
        }
    };
}

qpool_impl! {{
    /// Fails the build when the geometry is wrong.
    pub(crate) const CHECK: () = assert!(
        fits_padded(H, KH, SH, PH, OH) && fits_padded(W, KW, SW, PW, OW) && PH < KH && PW < KW,
        "QPool2d: OH/OW do not match the input, window, stride and padding"
    );

    /// The start of window `o` along an axis and how many of its positions
    /// lie inside the input.
    #[inline(always)]
    pub(crate) fn span(o: usize, k: usize, stride: usize, pad: usize, len: usize) -> (usize, usize) {
        window_span(o, k, stride, pad, len)
    }

    /// The value of a window from the fold `acc` of its `count` elements.
    #[inline(always)]
    pub(crate) fn finish(acc: i32, count: usize) -> i8 {
        let v = if K::AVERAGE { rounded_average(acc, count as i32) } else { acc };
        v.clamp(-128, 127) as i8
    }
}}

qpool_impl! {<Int8Layer> {
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; C]; OW]; OH];
    const INFO: LayerInfo = LayerInfo { kind: K::NAME, activation: "-", bias: false, window: [KH, KW] };
    const FINGERPRINT: u64 = fingerprint(&[
        str_hash("QPool2d"), str_hash(K::NAME),
        H as u64, W as u64, C as u64, KH as u64, KW as u64, SH as u64, SW as u64, PH as u64, PW as u64,
    ]);
    const TFLITE: Option<&'static [OpShape]> =
        match Op::pool(K::NAME, [KH, KW], [SH, SW], padding_of([H, W], [KH, KW], [SH, SW], [PH, PW], [OH, OW])) {
            Some(op) => Some(&[OpShape { op, input: &[H, W, C], output: &[OH, OW, C] }]),
            None => None,
        };

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        let () = Self::CHECK;
        for (oy, row) in y.iter_mut().enumerate() {
            let (y0, ny) = Self::span(oy, KH, SH, PH, H);
            for (ox, out) in row.iter_mut().enumerate() {
                let (x0, nx) = Self::span(ox, KW, SW, PW, W);
                for (c, o) in out.iter_mut().enumerate() {
                    let mut acc = K::INT8_START;
                    for in_row in &x[y0..y0 + ny] {
                        for px in &in_row[x0..x0 + nx] {
                            acc = K::fold_i32(acc, px[c] as i32);
                        }
                    }
                    *o = Self::finish(acc, ny * nx);
                }
            }
        }
    }
}}

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
    > QuantizeLayer for Pool2d<K, H, W, C, KH, KW, SH, SW, OH, OW>
{
    type Int8 = QPool2d<K, H, W, C, KH, KW, SH, SW, 0, 0, OH, OW>;

    keeps_quantization!();
}
