//! Optional bias of conv and dense layers, chosen by type so that a layer
//! without bias stores nothing.

use crate::{Float, Params};

/// The bias term of a layer with `N` outputs: `[T; N]` or [`NoBias`].
pub trait BiasTerm<T: Float, const N: usize>: Params<T> + Send + Sync {
    /// Whether a bias is added.
    const ENABLED: bool;
    /// The bias values, when enabled.
    fn values(&self) -> Option<&[T; N]>;
    /// The bias values (or their gradient), mutably, when enabled.
    fn values_mut(&mut self) -> Option<&mut [T; N]>;
}

impl<T: Float, const N: usize> BiasTerm<T, N> for [T; N] {
    const ENABLED: bool = true;
    #[inline]
    fn values(&self) -> Option<&[T; N]> {
        Some(self)
    }
    #[inline]
    fn values_mut(&mut self) -> Option<&mut [T; N]> {
        Some(self)
    }
}

/// No bias: the layer computes `W x` only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoBias;

// SAFETY: zero-sized, alignment 1.
unsafe impl<T: Float> Params<T> for NoBias {}

impl<T: Float, const N: usize> BiasTerm<T, N> for NoBias {
    const ENABLED: bool = false;
    #[inline]
    fn values(&self) -> Option<&[T; N]> {
        None
    }
    #[inline]
    fn values_mut(&mut self) -> Option<&mut [T; N]> {
        None
    }
}
