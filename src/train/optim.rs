//! Optimizers: update a model's parameters from averaged gradients.
//!
//! They work on the flat parameter view, and their state (momentum, Adam's
//! moments) is shaped like the model, so they need no heap: a `static`
//! optimizer allows fine-tuning on the device itself.

use crate::{Float, Params};

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
        for (w, &g) in params.flat_mut().iter_mut().zip(grads.flat()) {
            *w -= self.lr * g;
        }
    }
}

/// SGD with momentum (PyTorch's form): `v = μ v + g; w -= lr * v`.
pub struct Momentum<T, M> {
    /// Learning rate.
    pub lr: T,
    /// Momentum μ, e.g. 0.9.
    pub momentum: T,
    velocity: M,
}

impl<T: Float, M: Params<T>> Momentum<T, M> {
    /// Momentum SGD with zero initial velocity.
    pub fn new(lr: T, momentum: T) -> Self {
        Self { lr, momentum, velocity: crate::zeroed() }
    }
}

impl<T: Float, M: Params<T>> Optimizer<T, M> for Momentum<T, M> {
    fn step(&mut self, params: &mut M, grads: &M) {
        let v = self.velocity.flat_mut();
        for ((w, v), &g) in params.flat_mut().iter_mut().zip(v).zip(grads.flat()) {
            *v = self.momentum * *v + g;
            *w -= self.lr * *v;
        }
    }
}

/// Adam (Kingma & Ba), with bias correction, as PyTorch and Keras compute it.
pub struct Adam<T, M> {
    /// Learning rate (1e-3 by default).
    pub lr: T,
    /// Decay of the first moment (0.9).
    pub beta1: T,
    /// Decay of the second moment (0.999).
    pub beta2: T,
    /// Added to the root of the second moment (1e-8).
    pub eps: T,
    m: M,
    v: M,
    /// `beta1^t` and `beta2^t` after `t` steps.
    beta_pow: (T, T),
}

impl<T: Float, M: Params<T>> Adam<T, M> {
    /// Adam with the usual defaults and learning rate `lr`.
    pub fn new(lr: T) -> Self {
        Self::with(lr, T::of(0.9), T::of(0.999), T::of(1e-8))
    }

    /// Adam with every coefficient given.
    pub fn with(lr: T, beta1: T, beta2: T, eps: T) -> Self {
        Self { lr, beta1, beta2, eps, m: crate::zeroed(), v: crate::zeroed(), beta_pow: (T::one(), T::one()) }
    }
}

impl<T: Float, M: Params<T>> Optimizer<T, M> for Adam<T, M> {
    fn step(&mut self, params: &mut M, grads: &M) {
        self.beta_pow = (self.beta_pow.0 * self.beta1, self.beta_pow.1 * self.beta2);
        let one = T::one();
        // Folding both bias corrections into the step size and epsilon gives
        // the same update as correcting m and v one by one, in fewer operations.
        let step = self.lr / (one - self.beta_pow.0);
        let inv_root_c2 = one / (one - self.beta_pow.1).sqrt();
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let ms = self.m.flat_mut().iter_mut();
        let vs = self.v.flat_mut().iter_mut();
        for (((w, m), v), &g) in params.flat_mut().iter_mut().zip(ms).zip(vs).zip(grads.flat()) {
            *m = b1 * *m + (one - b1) * g;
            *v = b2 * *v + (one - b2) * g * g;
            *w -= step * *m / (v.sqrt() * inv_root_c2 + eps);
        }
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
    fn momentum_accumulates_velocity() {
        let mut opt = Momentum::new(0.1, 0.9);
        let mut w = [0.0f64];
        opt.step(&mut w, &[1.0]);
        opt.step(&mut w, &[1.0]);
        assert!((w[0] - -(0.1 + 0.19)).abs() < 1e-12);
    }
}
