//! Layers that move or drop values without weights: flatten, dropout, upsample.

use crate::kernels::axpy;
use crate::layers::window::Label;
use crate::layers::{fingerprint, str_hash};
use crate::rng::splitmix64;
use crate::{Backward, Float, Layer, LayerInfo, Params, Tensor, TrainContext};
use core::marker::PhantomData;

/// Views an `H x W x C` image as a vector of `N = H * W * C` values. Free: the
/// memory is already in that order, so inference does no work and no copy.
pub struct Flatten<const H: usize, const W: usize, const C: usize, const N: usize>(PhantomData<()>);

impl<const H: usize, const W: usize, const C: usize, const N: usize> Default for Flatten<H, W, C, N> {
    fn default() -> Self {
        Self(PhantomData)
    }
}
// SAFETY: zero-sized, alignment 1.
unsafe impl<T: Float, const H: usize, const W: usize, const C: usize, const N: usize> Params<T>
    for Flatten<H, W, C, N>
{
}

impl<T: Float, const H: usize, const W: usize, const C: usize, const N: usize> Layer<T> for Flatten<H, W, C, N> {
    type Input = [[[T; C]; W]; H];
    type Output = [T; N];
    const INFO: LayerInfo = LayerInfo { kind: "Flatten", activation: "-", bias: false, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("Flatten"), H as u64, W as u64, C as u64]);
    const IN_PLACE: bool = true;

    fn forward(&self, x: &Self::Input, y: &mut [T; N]) {
        const { assert!(N == H * W * C, "Flatten: N must be H * W * C") };
        y.copy_from_slice(x.as_flat());
    }
}

impl<T: Float, const H: usize, const W: usize, const C: usize, const N: usize> Backward<T> for Flatten<H, W, C, N> {
    fn backward(
        &self,
        _: &Self::Input,
        _: &[T; N],
        dy: &mut [T; N],
        dx: Option<&mut Self::Input>,
        _: &mut Self,
        _: &TrainContext,
    ) {
        if let Some(dx) = dx {
            dx.as_flat_mut().copy_from_slice(dy);
        }
    }
}

/// Inverted dropout over a tensor `X`: in training each value is zeroed with
/// probability `PERMILLE / 1000` and the rest scaled by `1 / (1 - p)`; at
/// inference it is the identity and costs nothing.
///
/// The mask is a hash of the training step's seed and the element index, so
/// the backward pass recomputes it instead of storing it.
pub struct Dropout<X, const PERMILLE: u32>(PhantomData<fn() -> X>);

impl<X, const PERMILLE: u32> Default for Dropout<X, PERMILLE> {
    fn default() -> Self {
        Self(PhantomData)
    }
}
// SAFETY: zero-sized, alignment 1.
unsafe impl<T: Float, X, const PERMILLE: u32> Params<T> for Dropout<X, PERMILLE> {}

impl<X, const PERMILLE: u32> Dropout<X, PERMILLE> {
    /// Whether element `i` is kept in the step seeded by `seed`.
    #[inline]
    fn keep(seed: u64, i: usize) -> bool {
        // Compare the top 32 bits against the keep probability.
        let r = splitmix64(seed ^ splitmix64(i as u64)) >> 32;
        r * 1000 >= (PERMILLE as u64) << 32
    }
    fn scale<T: Float>() -> T {
        T::of(1000.0 / (1000 - PERMILLE) as f64)
    }
}

impl<T: Float, X: Tensor<T>, const PERMILLE: u32> Layer<T> for Dropout<X, PERMILLE> {
    type Input = X;
    type Output = X;
    const INFO: LayerInfo = LayerInfo { kind: "Dropout", activation: "-", bias: false, window: [0, 0] };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("Dropout"), X::LEN as u64, PERMILLE as u64]);
    const IN_PLACE: bool = true;

    fn forward(&self, x: &X, y: &mut X) {
        const { assert!(PERMILLE < 1000, "Dropout: the rate must be below 1") };
        y.as_flat_mut().copy_from_slice(x.as_flat());
    }
}

impl<T: Float, X: Tensor<T>, const PERMILLE: u32> Backward<T> for Dropout<X, PERMILLE> {
    fn forward_train(&self, x: &X, y: &mut X, ctx: &TrainContext) {
        let scale = Self::scale::<T>();
        for (i, (y, &x)) in y.as_flat_mut().iter_mut().zip(x.as_flat()).enumerate() {
            *y = if Self::keep(ctx.seed, i) { x * scale } else { T::zero() };
        }
    }

    fn backward(&self, _: &X, _: &X, dy: &mut X, dx: Option<&mut X>, _: &mut Self, ctx: &TrainContext) {
        let Some(dx) = dx else { return };
        let scale = Self::scale::<T>();
        for (i, (d, &g)) in dx.as_flat_mut().iter_mut().zip(dy.as_flat()).enumerate() {
            *d = if Self::keep(ctx.seed, i) { g * scale } else { T::zero() };
        }
    }
}

/// Nearest-neighbour upsampling by `FH` rows and `FW` columns: each input
/// pixel becomes an `FH x FW` block of an `OH x OW x C` output.
pub struct Upsample<
    const H: usize,
    const W: usize,
    const C: usize,
    const FH: usize,
    const FW: usize,
    const OH: usize,
    const OW: usize,
>(PhantomData<()>);

/// Writes an `impl` (inherent, or of the trait in `<...>`) for `Upsample`.
macro_rules! upsample_impl {
    ($(<$tr:path>)? $(, $t:ident: $tb:path)? { $($body:tt)* }) => {
        impl<
                $($t: $tb,)?
                const H: usize,
                const W: usize,
                const C: usize,
                const FH: usize,
                const FW: usize,
                const OH: usize,
                const OW: usize,
            > $($tr for)? Upsample<H, W, C, FH, FW, OH, OW>
        {
            $($body)*
        }
    };
}

upsample_impl! {{
    /// The summary's kind: the factors (`"Upsample 2x2"`).
    const LABEL: &'static Label = &Label::new().text("Upsample ").num(FH).text("x").num(FW);
}}

upsample_impl! {<Default> {
    fn default() -> Self {
        Self(PhantomData)
    }
}}

// SAFETY: zero-sized, alignment 1.
unsafe impl<
        T: Float,
        const H: usize,
        const W: usize,
        const C: usize,
        const FH: usize,
        const FW: usize,
        const OH: usize,
        const OW: usize,
    > Params<T> for Upsample<H, W, C, FH, FW, OH, OW>
{
}

upsample_impl! {<Layer<T>>, T: Float {
    type Input = [[[T; C]; W]; H];
    type Output = [[[T; C]; OW]; OH];
    const INFO: LayerInfo = LayerInfo { kind: Self::LABEL.as_str(), activation: "-", bias: false, window: [0, 0] };
    const FINGERPRINT: u64 =
        fingerprint(&[str_hash("Upsample"), H as u64, W as u64, C as u64, FH as u64, FW as u64]);

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        const { assert!(OH == H * FH && OW == W * FW && FH > 0 && FW > 0, "Upsample: OH/OW must be H*FH, W*FW") };
        for (oy, row) in y.iter_mut().enumerate() {
            for (ox, px) in row.iter_mut().enumerate() {
                *px = x[oy / FH][ox / FW];
            }
        }
    }
}}

upsample_impl! {<Backward<T>>, T: Float {
    fn backward(&self, _: &Self::Input, _: &Self::Output, dy: &mut Self::Output, dx: Option<&mut Self::Input>, _: &mut Self, _: &TrainContext) {
        let Some(dx) = dx else { return };
        *dx = [[[T::zero(); C]; W]; H];
        for (oy, row) in dy.iter().enumerate() {
            for (ox, g) in row.iter().enumerate() {
                axpy(&mut dx[oy / FH][ox / FW], T::one(), g);
            }
        }
    }
}}
