//! Trainable parameters as one flat slice.
//!
//! Every layer and every model is a `#[repr(C)]` struct of `T` arrays, so its
//! parameters are one contiguous run of `T`. Optimizers, gradient reduction and
//! persistence all work on that flat view instead of walking each layer: one
//! loop, no per-layer code, and a model in flash can be used in place.

use crate::Float;
use core::mem::{align_of, size_of};

/// A type made only of `T` values: a layer's weights, a model, or a gradient
/// buffer shaped like them.
///
/// # Safety
/// Implementors must consist solely of `T` values with no padding and no
/// other fields (zero-sized fields are fine): a `#[repr(C)]` struct whose
/// fields are `[T; N]` arrays (nested or not), other `Params<T>` types or
/// zero-sized types with alignment 1. Then `size_of::<Self>()` is a multiple
/// of `size_of::<T>()`, every bit pattern is a valid value (see [`Float`]),
/// and the flat views below are sound. [`Params::LEN`] checks the size part of
/// this at compile time.
pub unsafe trait Params<T: Float>: Sized {
    /// Number of trainable scalars (the length of [`Params::flat`]).
    const LEN: usize = {
        assert!(
            size_of::<Self>().is_multiple_of(size_of::<T>())
                && (size_of::<Self>() == 0 || align_of::<Self>() == align_of::<T>()),
            "a Params type must be made only of T values"
        );
        size_of::<Self>() / size_of::<T>()
    };

    /// The parameters in memory order.
    #[inline]
    fn flat(&self) -> &[T] {
        if Self::LEN == 0 {
            return &[];
        }
        // SAFETY: by the trait contract `Self` is `LEN` contiguous `T`s with the
        // alignment of `T`, so the cast covers exactly `self` and is aligned.
        unsafe { core::slice::from_raw_parts(self as *const Self as *const T, Self::LEN) }
    }

    /// The parameters in memory order, mutably.
    #[inline]
    fn flat_mut(&mut self) -> &mut [T] {
        if Self::LEN == 0 {
            return &mut [];
        }
        // SAFETY: as in `flat`; the exclusive borrow of `self` is carried over,
        // and any bit pattern written through the slice is a valid `T`.
        unsafe { core::slice::from_raw_parts_mut(self as *mut Self as *mut T, Self::LEN) }
    }
}

// SAFETY: an array of `T` is `N` contiguous `T`s.
unsafe impl<T: Float, const N: usize> Params<T> for [T; N] {}

/// All parameters zero: a fresh model to load weights into, or a gradient or
/// optimizer-moment buffer. `const`, so it can initialize a `static`:
///
/// ```
/// static mut GRADS: [f32; 4] = constnet::zeroed();
/// ```
pub const fn zeroed<T: Float, P: Params<T>>() -> P {
    // SAFETY: by the `Params` contract `P` holds only `T`s (and zero-sized
    // fields), and all-zero bits are `0.0` for both `Float` types.
    unsafe { core::mem::zeroed() }
}

/// All parameters zero, on the heap: [`zeroed`] for models, gradients and
/// optimizer moments too big for the stack (the value is never built on the
/// stack, whatever its size).
#[cfg(feature = "std")]
pub fn zeroed_boxed<T: Float, P: Params<T>>() -> std::boxed::Box<P> {
    // SAFETY: as in `zeroed`, all-zero bytes are a valid `P`.
    unsafe { std::boxed::Box::new_zeroed().assume_init() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_view_is_the_array() {
        let mut a = [1.0f32, 2.0, 3.0];
        assert_eq!(<[f32; 3] as Params<f32>>::LEN, 3);
        a.flat_mut()[1] = 5.0;
        assert_eq!(a.flat(), &[1.0, 5.0, 3.0]);
    }
}
