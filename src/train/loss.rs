//! Loss functions, with softmax and sigmoid fused into the losses that need
//! them: the loss sees logits and returns a stable gradient.

use crate::layers::activation::sigmoid;
use crate::Float;

/// What the network's output is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean over outputs of `(y - t)²`: regression, or one-hot targets.
    MeanSquaredError,
    /// Categorical cross-entropy `-Σ t log softmax(z)`, for a network ending in
    /// softmax (fused: computed from logits) or linear (outputs are logits).
    CrossEntropy,
    /// Binary cross-entropy, mean over outputs, for a network ending in sigmoid
    /// (fused) or linear (outputs are logits).
    BinaryCrossEntropy,
}

/// The loss does not fit the network's last activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossMismatch {
    /// The loss.
    pub loss: Loss,
    /// The network's last activation.
    pub activation: &'static str,
}

impl core::fmt::Display for LossMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let wants = match self.loss {
            Loss::CrossEntropy => "softmax or linear",
            Loss::BinaryCrossEntropy => "sigmoid or linear",
            Loss::MeanSquaredError => "any",
        };
        write!(f, "{:?} needs a network ending in {wants}, this one ends in {}", self.loss, self.activation)
    }
}

impl Loss {
    /// Whether the loss works on logits instead of the activation's output,
    /// given the network's last activation; an error when they do not fit.
    pub fn fused_with(self, activation: &'static str) -> Result<bool, LossMismatch> {
        match (self, activation) {
            (Self::MeanSquaredError, _) => Ok(false),
            (Self::CrossEntropy, "softmax" | "linear") | (Self::BinaryCrossEntropy, "sigmoid" | "linear") => Ok(true),
            _ => Err(LossMismatch { loss: self, activation }),
        }
    }

    /// Loss of one sample and its gradient, written into `grad`. `out` is what
    /// the training forward pass produced: logits when [`Loss::fused_with`]
    /// says so, the activation's output otherwise; `grad` is then the
    /// gradient with respect to that same quantity. An empty `grad` skips
    /// the gradient.
    pub fn eval<T: Float>(self, out: &[T], target: &[T], grad: &mut [T]) -> T {
        let n = T::of(out.len().max(1) as f64);
        let mut grad = |i: usize, g: T| {
            if let Some(slot) = grad.get_mut(i) {
                *slot = g;
            }
        };
        match self {
            Self::MeanSquaredError => {
                let mut sum = T::zero();
                for (i, (&y, &t)) in out.iter().zip(target).enumerate() {
                    let d = y - t;
                    sum += d * d;
                    grad(i, (d + d) / n);
                }
                sum / n
            }
            Self::CrossEntropy => {
                // log Σ exp(z), shifted by the max so nothing overflows.
                // A select, not `f32::max` (see `Softmax::apply`).
                let max = out.iter().fold(T::neg_infinity(), |m, &z| if z > m { z } else { m });
                let sum_exp: T = out.iter().map(|&z| (z - max).libm_exp()).sum();
                let log_sum = max + sum_exp.ln();
                let t_sum: T = target.iter().copied().sum();
                let mut loss = T::zero();
                for (i, (&z, &t)) in out.iter().zip(target).enumerate() {
                    loss += t * (log_sum - z);
                    grad(i, (z - log_sum).libm_exp() * t_sum - t);
                }
                loss
            }
            Self::BinaryCrossEntropy => {
                let mut loss = T::zero();
                for (i, (&z, &t)) in out.iter().zip(target).enumerate() {
                    // max(z, 0) - z t + log(1 + e^-|z|): no overflow for any z.
                    loss += z.max(T::zero()) - z * t + (-z.abs()).libm_exp().ln_1p();
                    grad(i, (sigmoid(z) - t) / n);
                }
                loss / n
            }
        }
    }

    /// Loss of one sample from the network's inference output: logits when
    /// `logits` (the network ends linear), otherwise the activated output
    /// (probabilities for softmax and sigmoid, clamped away from 0 and 1).
    pub fn eval_activated<T: Float>(self, out: &[T], target: &[T], logits: bool) -> T {
        if logits || self == Self::MeanSquaredError {
            return self.eval(out, target, &mut []);
        }
        let one = T::one();
        let eps = T::of(1e-7);
        match self {
            Self::CrossEntropy => out.iter().zip(target).map(|(&p, &t)| -t * p.max(T::min_positive_value()).ln()).sum(),
            _ => {
                let n = T::of(out.len().max(1) as f64);
                let sum: T = out
                    .iter()
                    .zip(target)
                    .map(|(&p, &t)| {
                        let p = p.max(eps).min(one - eps);
                        -(t * p.ln() + (one - t) * (one - p).ln())
                    })
                    .sum();
                sum / n
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_grad(loss: Loss, out: &[f64], t: &[f64]) -> [f64; 3] {
        let mut g = [0.0; 3];
        let mut scratch = [0.0; 3];
        for i in 0..3 {
            let (mut p, mut m) = ([out[0], out[1], out[2]], [out[0], out[1], out[2]]);
            p[i] += 1e-6;
            m[i] -= 1e-6;
            g[i] = (loss.eval(&p, t, &mut scratch) - loss.eval(&m, t, &mut scratch)) / 2e-6;
        }
        g
    }

    #[test]
    fn gradients_match_finite_differences() {
        let z = [0.3, -1.2, 2.0];
        for (loss, t) in [
            (Loss::MeanSquaredError, [0.0, 1.0, 0.0]),
            (Loss::CrossEntropy, [0.0, 0.0, 1.0]),
            (Loss::BinaryCrossEntropy, [1.0, 0.0, 1.0]),
        ] {
            let mut g = [0.0; 3];
            loss.eval(&z, &t, &mut g);
            let n = numeric_grad(loss, &z, &t);
            for i in 0..3 {
                assert!((g[i] - n[i]).abs() < 1e-7, "{loss:?} {i}: {} vs {}", g[i], n[i]);
            }
        }
    }

    #[test]
    fn stable_for_large_logits() {
        let mut g = [0.0f32; 2];
        let ce = Loss::CrossEntropy.eval(&[1000.0f32, -1000.0], &[0.0, 1.0], &mut g);
        assert!((ce - 2000.0).abs() < 1e-2 && g == [1.0, -1.0], "{ce} {g:?}");
        let bce = Loss::BinaryCrossEntropy.eval(&[500.0f32, -500.0], &[1.0, 0.0], &mut g);
        assert_eq!(bce, 0.0);
        assert!(g.iter().all(|v| v.is_finite()));
        let bce = Loss::BinaryCrossEntropy.eval(&[-500.0f32], &[1.0], &mut g[..1]);
        assert_eq!(bce, 500.0);
    }

    #[test]
    fn mismatched_activation_is_an_error() {
        assert_eq!(Loss::CrossEntropy.fused_with("softmax"), Ok(true));
        assert_eq!(Loss::MeanSquaredError.fused_with("softmax"), Ok(false));
        assert!(Loss::BinaryCrossEntropy.fused_with("tanh").is_err());
    }
}
