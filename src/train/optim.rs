//! Optimizers: update a model's parameters from averaged gradients.
//!
//! They work on the flat parameter view, and their state (momentum, Adam's
//! moments) is shaped like the model. Its storage `S` is the model type
//! itself, which needs no heap (a `static` optimizer allows fine-tuning on
//! the device itself), or with `std` a `Box` of it (`new_boxed`), for models
//! too big for the stack.

use crate::kernels::{dispatch2, dispatch3, dispatch4};
use crate::{Float, Params};
use core::borrow::BorrowMut;
use core::marker::PhantomData;
#[cfg(feature = "std")]
use std::boxed::Box;

/// Updates parameters from a gradient of the same shape.
pub trait Optimizer<T: Float, M: Params<T>> {
    /// One update: `params` moves against `grads`.
    fn step(&mut self, params: &mut M, grads: &M);
}

/// Plain stochastic gradient descent: `w -= lr * g`.
#[derive(Clone, Copy, Debug)]
pub struct Sgd<T> {
    /// Learning rate.
    pub lr: T,
}

impl<T: Float, M: Params<T>> Optimizer<T, M> for Sgd<T> {
    fn step(&mut self, params: &mut M, grads: &M) {
        let lr = self.lr;
        dispatch2(
            params.flat_mut(),
            grads.flat(),
            #[inline(always)]
            move |ws, gs| {
                for (w, &g) in ws.iter_mut().zip(gs) {
                    *w -= lr * g;
                }
            },
        );
    }
}

/// SGD with momentum (PyTorch's form): `v = μ v + g; w -= lr * v`.
///
/// The velocity, shaped like the model `M`, lives in `S`: `M` itself
/// ([`Momentum::new`]) or `Box<M>` ([`Momentum::new_boxed`]).
pub struct Momentum<T, M, S = M> {
    /// Learning rate.
    pub lr: T,
    /// Momentum μ, e.g. 0.9.
    pub momentum: T,
    velocity: S,
    model: PhantomData<M>,
}

impl<T: Float, M: Params<T>> Momentum<T, M> {
    /// Momentum SGD with zero initial velocity, held in the optimizer (the
    /// model's size, on the stack unless in a `static`; see
    /// [`Momentum::new_boxed`]).
    pub fn new(lr: T, momentum: T) -> Self {
        Self { lr, momentum, velocity: crate::zeroed(), model: PhantomData }
    }
}

#[cfg(feature = "std")]
impl<T: Float, M: Params<T>> Momentum<T, M, Box<M>> {
    /// [`Momentum::new`] with the velocity on the heap, never on the stack.
    pub fn new_boxed(lr: T, momentum: T) -> Self {
        Self { lr, momentum, velocity: crate::zeroed_boxed(), model: PhantomData }
    }
}

impl<T: Float, M: Params<T>, S: BorrowMut<M>> Optimizer<T, M> for Momentum<T, M, S> {
    fn step(&mut self, params: &mut M, grads: &M) {
        let (lr, momentum) = (self.lr, self.momentum);
        dispatch3(
            params.flat_mut(),
            self.velocity.borrow_mut().flat_mut(),
            grads.flat(),
            #[inline(always)]
            move |ws, vs, gs| {
                for ((w, v), &g) in ws.iter_mut().zip(vs).zip(gs) {
                    *v = flush_subnormal(momentum * *v + g);
                    *w -= lr * *v;
                }
            },
        );
    }
}

/// Adam (Kingma & Ba), with bias correction, as PyTorch and Keras compute it.
///
/// The two moments, each shaped like the model `M`, live in `S`: `M` itself
/// ([`Adam::new`], [`Adam::with`]) or `Box<M>` ([`Adam::new_boxed`]).
pub struct Adam<T, M, S = M> {
    /// Learning rate (1e-3 by default).
    pub lr: T,
    /// Decay of the first moment (0.9).
    pub beta1: T,
    /// Decay of the second moment (0.999).
    pub beta2: T,
    /// Added to the root of the second moment (1e-8).
    pub eps: T,
    m: S,
    v: S,
    /// `beta1^t` and `beta2^t` after `t` steps.
    beta_pow: (T, T),
    model: PhantomData<M>,
}

impl<T: Float, M, S> Adam<T, M, S> {
    /// Adam with the usual defaults, learning rate `lr` and the zero moments given.
    fn with_moments(lr: T, m: S, v: S) -> Self {
        Self {
            lr,
            beta1: T::of(0.9),
            beta2: T::of(0.999),
            eps: T::of(1e-8),
            m,
            v,
            beta_pow: (T::one(), T::one()),
            model: PhantomData,
        }
    }
}

impl<T: Float, M: Params<T>> Adam<T, M> {
    /// Adam with the usual defaults and learning rate `lr`, its two moments
    /// held in the optimizer (twice the model's size, on the stack unless in
    /// a `static`; see [`Adam::new_boxed`]).
    pub fn new(lr: T) -> Self {
        Self::with_moments(lr, crate::zeroed(), crate::zeroed())
    }

    /// Adam with every coefficient given.
    pub fn with(lr: T, beta1: T, beta2: T, eps: T) -> Self {
        Self { beta1, beta2, eps, ..Self::new(lr) }
    }
}

#[cfg(feature = "std")]
impl<T: Float, M: Params<T>> Adam<T, M, Box<M>> {
    /// [`Adam::new`] with the moments on the heap, never on the stack (set
    /// the public coefficients afterwards for other ones).
    pub fn new_boxed(lr: T) -> Self {
        Self::with_moments(lr, crate::zeroed_boxed(), crate::zeroed_boxed())
    }
}

impl<T: Float, M: Params<T>, S: BorrowMut<M>> Optimizer<T, M> for Adam<T, M, S> {
    fn step(&mut self, params: &mut M, grads: &M) {
        self.beta_pow = (self.beta_pow.0 * self.beta1, self.beta_pow.1 * self.beta2);
        let one = T::one();
        // Folding both bias corrections into the step size and epsilon gives
        // the same update as correcting m and v one by one, in fewer operations.
        let step = self.lr / (one - self.beta_pow.0);
        let inv_root_c2 = one / (one - self.beta_pow.1).sqrt();
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        dispatch4(
            params.flat_mut(),
            self.m.borrow_mut().flat_mut(),
            self.v.borrow_mut().flat_mut(),
            grads.flat(),
            #[inline(always)]
            move |ws, ms, vs, gs| {
                for (((w, m), v), &g) in ws.iter_mut().zip(ms).zip(vs).zip(gs) {
                    *m = flush_subnormal(b1 * *m + (one - b1) * g);
                    *v = flush_subnormal(b2 * *v + (one - b2) * g * g);
                    *w -= step * *m / (v.sqrt() * inv_root_c2 + eps);
                }
            },
        );
    }
}

/// `x`, or zero when `x` is subnormal.
///
/// A moment whose gradient stays zero (the weights of a dead relu unit)
/// decays geometrically into the subnormal range and stays there: `0.9 *
/// k * 2^-149` rounds back to `k * 2^-149` for small `k`. Arithmetic on
/// subnormals costs tens to hundreds of cycles on x86 CPUs, so such moments
/// made training slow by an amount that depended on how many units the
/// seed left dead. Flushing here, in the code rather than by the CPU's
/// flush-to-zero mode, gives the same result on every target; the update a
/// subnormal moment makes is far below a weight's last bit anyway.
#[inline(always)]
fn flush_subnormal<T: Float>(x: T) -> T {
    if x.abs() < T::min_positive_value() {
        T::zero()
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimizes (w - 3)² from w = 0.
    fn descend(opt: &mut impl Optimizer<f64, [f64; 1]>, steps: usize) -> f64 {
        let mut w = [0.0];
        for _ in 0..steps {
            let g = [2.0 * (w[0] - 3.0)];
            opt.step(&mut w, &g);
        }
        w[0]
    }

    #[test]
    fn all_optimizers_converge_on_a_parabola() {
        assert!((descend(&mut Sgd { lr: 0.1 }, 200) - 3.0).abs() < 1e-6);
        assert!((descend(&mut Momentum::new(0.05, 0.9), 400) - 3.0).abs() < 1e-6);
        assert!((descend(&mut Adam::new(0.1), 2000) - 3.0).abs() < 1e-3);
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        // With bias correction the first step is lr * g / (|g| + eps).
        let mut w = [1.0f64, 1.0];
        Adam::new(0.01).step(&mut w, &[4.0, -0.5]);
        assert!((w[0] - 0.99).abs() < 1e-9 && (w[1] - 1.01).abs() < 1e-9, "{w:?}");
    }

    #[test]
    fn moments_of_zero_gradients_reach_zero_not_subnormals() {
        // Without the flush, m settles at a few multiples of 2^-149 for ever.
        let (mut adam, mut momentum) = (Adam::new(1e-3), Momentum::new(1e-3, 0.9));
        let mut w = [0.5f32];
        adam.step(&mut w, &[1.0]);
        momentum.step(&mut w, &[1.0]);
        for _ in 0..2000 {
            adam.step(&mut w, &[0.0]);
            momentum.step(&mut w, &[0.0]);
            for x in [adam.m[0], adam.v[0], momentum.velocity[0]] {
                assert!(x == 0.0 || x.is_normal(), "subnormal moment {x:e}");
            }
        }
        assert_eq!((adam.m[0], momentum.velocity[0]), (0.0, 0.0));
    }

    #[test]
    fn momentum_accumulates_velocity() {
        let mut opt = Momentum::new(0.1, 0.9);
        let mut w = [0.0f64];
        opt.step(&mut w, &[1.0]);
        opt.step(&mut w, &[1.0]);
        assert!((w[0] - -(0.1 + 0.19)).abs() < 1e-12);
    }
}
