//! Fixed-size activations: the arrays that flow between layers.
//!
//! Images are HWC (`[[[T; C]; W]; H]`, channels last, as Keras, TFLM and
//! CMSIS-NN); vectors are `[T; N]`. Both are contiguous `T`s, so every tensor
//! has a free flat view, which is what makes `Flatten` cost nothing.

use crate::model::Zeroable;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for i8 {}
}

/// What a tensor holds: `f32` or `f64` (float networks) or `i8` (quantized
/// ones). Sealed; all-zero bytes are a valid value of each.
pub trait Element: Copy + Default + PartialOrd + Send + Sync + Zeroable + 'static + sealed::Sealed {
    /// Zero.
    const ZERO: Self;
}
impl Element for f32 {
    const ZERO: Self = 0.0;
}
impl Element for f64 {
    const ZERO: Self = 0.0;
}
impl Element for i8 {
    const ZERO: Self = 0;
}

/// A fixed-size array of `T` that a layer takes or produces.
pub trait Tensor<T: Element>: Sized + Zeroable + 'static {
    /// Number of scalars.
    const LEN: usize;
    /// Shape as written in summaries: `[H, W, C]` for images, `[N]` for vectors.
    const SHAPE: &'static [usize];

    /// An all-zero tensor.
    fn zeroed() -> Self;
    /// The scalars in memory order.
    fn as_flat(&self) -> &[T];
    /// The scalars in memory order, mutably.
    fn as_flat_mut(&mut self) -> &mut [T];
    /// Views the first [`Tensor::LEN`] scalars of `flat` as this tensor,
    /// or `None` when `flat` is shorter.
    fn from_flat(flat: &[T]) -> Option<&Self>;
    /// Mutable counterpart of [`Tensor::from_flat`].
    fn from_flat_mut(flat: &mut [T]) -> Option<&mut Self>;
}

impl<T: Element, const N: usize> Tensor<T> for [T; N] {
    const LEN: usize = N;
    const SHAPE: &'static [usize] = &[N];

    fn zeroed() -> Self {
        [T::ZERO; N]
    }
    fn as_flat(&self) -> &[T] {
        self
    }
    fn as_flat_mut(&mut self) -> &mut [T] {
        self
    }
    fn from_flat(flat: &[T]) -> Option<&Self> {
        flat.get(..N)?.try_into().ok()
    }
    fn from_flat_mut(flat: &mut [T]) -> Option<&mut Self> {
        flat.get_mut(..N)?.try_into().ok()
    }
}

impl<T: Element, const H: usize, const W: usize, const C: usize> Tensor<T> for [[[T; C]; W]; H] {
    const LEN: usize = H * W * C;
    const SHAPE: &'static [usize] = &[H, W, C];

    fn zeroed() -> Self {
        [[[T::ZERO; C]; W]; H]
    }
    fn as_flat(&self) -> &[T] {
        self.as_flattened().as_flattened()
    }
    fn as_flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut().as_flattened_mut()
    }
    fn from_flat(flat: &[T]) -> Option<&Self> {
        let (pixels, _) = flat.get(..H * W * C)?.as_chunks::<C>();
        let (rows, _) = pixels.as_chunks::<W>();
        rows.try_into().ok()
    }
    fn from_flat_mut(flat: &mut [T]) -> Option<&mut Self> {
        let (pixels, _) = flat.get_mut(..H * W * C)?.as_chunks_mut::<C>();
        let (rows, _) = pixels.as_chunks_mut::<W>();
        rows.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_views_round_trip_in_hwc_order() {
        let flat: [f32; 12] = core::array::from_fn(|i| i as f32);
        let img = <[[[f32; 3]; 2]; 2]>::from_flat(&flat).unwrap();
        assert_eq!(img[1][0][2], 8.0); // (y * W + x) * C + c
        assert_eq!(img.as_flat(), &flat[..]);
        assert!(<[[[f32; 3]; 2]; 2]>::from_flat(&flat[..11]).is_none());
        assert_eq!(<[[[f32; 3]; 2]; 2] as Tensor<f32>>::SHAPE, &[2, 2, 3]);
    }
}
