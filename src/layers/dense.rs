//! Fully connected layer.

#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
use crate::kernels::arm_fpu as fpu;
use crate::kernels::{axpy, axpy_fused, dispatch3, dot, dot4, init_fan_in};
use crate::layers::activation::{Activation, Linear};
use crate::layers::bias::BiasTerm;
use crate::layers::{fingerprint, str_hash};
use crate::{Backward, Float, Layer, LayerInfo, Params, Rng, TrainContext};
use core::marker::PhantomData;

/// `O` outputs, each a weighted sum of all `I` inputs (plus bias), then the
/// activation `A`.
///
/// Weights are laid out `[I][O]`, outputs last, so the forward pass adds one
/// input times a contiguous row of `O` weights at a time (vectorizes).
#[repr(C)]
pub struct Dense<T, const I: usize, const O: usize, A = Linear, B = [T; O]> {
    /// Weights, `[input][output]`.
    pub weight: [[T; O]; I],
    /// One bias per output (or [`NoBias`](crate::NoBias)).
    pub bias: B,
    activation: PhantomData<A>,
}

// SAFETY: `#[repr(C)]` of a `T` array, a `Params<T>` bias and a ZST marker.
unsafe impl<T: Float, const I: usize, const O: usize, A, B: Params<T>> Params<T> for Dense<T, I, O, A, B> {}

impl<T: Float, const I: usize, const O: usize, A: Activation, B: BiasTerm<T, O>> Layer<T> for Dense<T, I, O, A, B> {
    type Input = [T; I];
    type Output = [T; O];
    const INFO: LayerInfo = LayerInfo { kind: "Dense", activation: A::NAME, bias: B::ENABLED, window: [0, 0] };
    const FINGERPRINT: u64 =
        fingerprint(&[str_hash("Dense"), I as u64, O as u64, str_hash(A::NAME), B::ENABLED as u64]);

    fn init(&mut self, rng: &mut Rng) {
        init_fan_in(self.weight.as_flattened_mut(), I, A::INIT_GAIN, rng);
        if let Some(b) = self.bias.values_mut() {
            *b = [T::zero(); O];
        }
    }

    fn forward(&self, x: &[T; I], y: &mut [T; O]) {
        self.affine(x, y);
        A::apply(y, O);
    }
}

impl<T: Float, const I: usize, const O: usize, A, B: BiasTerm<T, O>> Dense<T, I, O, A, B> {
    /// `W x + b`, before the activation.
    fn affine(&self, x: &[T; I], y: &mut [T; O]) {
        *y = self.bias.values().copied().unwrap_or([T::zero(); O]);
        // Hard-float Arm, `f32`: the assembly kernel.
        #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
        if let (Some(x), Some(w), Some(y)) = (fpu::same(x), fpu::same(&self.weight), fpu::same_mut(y)) {
            fpu::affine::<I, O>(x, w, y);
            return;
        }
        if cfg!(target_arch = "arm") {
            // `f64`, or no FPU (Cortex-M0), or an FPU without the hard-float
            // ABI: OB outputs at a time, their accumulators in registers over
            // all the inputs (64 at once spill on a 32-register FPU). Each
            // output still sums bias, then inputs in order: bit-identical to
            // the loop below.
            const OB: usize = 16;
            let (blocks, tail) = y.as_chunks_mut::<OB>();
            for (b, acc) in blocks.iter_mut().enumerate() {
                let mut a = *acc;
                for (&xi, wi) in x.iter().zip(&self.weight) {
                    // After a relu, many inputs are zero: their rows cost nothing.
                    if xi != T::zero() {
                        let w: &[T; OB] = wi[b * OB..(b + 1) * OB].try_into().unwrap();
                        axpy(&mut a, xi, w);
                    }
                }
                *acc = a;
            }
            let done = O - tail.len();
            for (&xi, wi) in x.iter().zip(&self.weight) {
                if xi != T::zero() {
                    axpy(tail, xi, &wi[done..]);
                }
            }
            return;
        }
        dispatch3(
            &self.weight,
            x,
            y,
            #[inline(always)]
            |weight, x, y| {
                for (&xi, wi) in x.iter().zip(weight) {
                    // After a relu, many inputs are zero: their rows cost nothing.
                    if xi != T::zero() {
                        axpy(y, xi, wi);
                    }
                }
            },
        );
    }
}

impl<T: Float, const I: usize, const O: usize, A: Activation, B: BiasTerm<T, O>> Backward<T> for Dense<T, I, O, A, B> {
    fn forward_train(&self, x: &[T; I], y: &mut [T; O], ctx: &TrainContext) {
        self.affine(x, y);
        if !ctx.fused {
            A::apply(y, O);
        }
    }

    #[inline(never)]
    fn backward(
        &self,
        x: &[T; I],
        y: &[T; O],
        dy: &mut [T; O],
        dx: Option<&mut [T; I]>,
        grads: &mut Self,
        ctx: &TrainContext,
    ) {
        if !ctx.fused {
            A::backward(y, dy, O);
        }
        if let Some(db) = grads.bias.values_mut() {
            axpy(db, T::one(), dy);
        }
        dispatch3(
            x,
            &*dy,
            &mut grads.weight,
            #[inline(always)]
            |x, dy, gw| {
                for (&xi, gw) in x.iter().zip(gw.iter_mut()) {
                    if xi != T::zero() {
                        axpy_fused(gw, xi, dy);
                    }
                }
            },
        );
        if let Some(dx) = dx {
            dispatch3(
                &self.weight,
                &*dy,
                dx,
                #[inline(always)]
                |weight, dy, dx| {
                    // Four rows at a time: four independent dot products share each
                    // load of `dy` and hide the latency of the multiply-adds.
                    let (rows, rest) = weight.as_chunks::<4>();
                    let (dx4, dx_rest) = dx.as_chunks_mut::<4>();
                    for (d, w) in dx4.iter_mut().zip(rows) {
                        *d = dot4(w, dy);
                    }
                    for (d, wi) in dx_rest.iter_mut().zip(rest) {
                        *d = dot(wi, dy);
                    }
                },
            );
        }
    }
}
