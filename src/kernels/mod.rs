//! Inner loops, one file per instruction set: [`portable`] Rust that the
//! compiler vectorizes (every target), and beside it the assembly that a
//! target needs where measurements asked for it (`arm_fpu`: hard-float Arm,
//! `f32`; `arm_dsp`: Arm with the DSP extension, int8; `armv6m`: Arm
//! without it, int8; `int8` holds the portable integer arithmetic of
//! TFLite's scheme). On x86-64, [`dispatch`]'s dispatchers run the hot
//! loops compiled with AVX2 and FMA where the CPU has them.
//!
//! Layers call these; kernels know nothing of layers or models. Every
//! architecture's kernel computes exactly what the portable one does, in the
//! same order, so outputs are bit-identical on every target.

#[cfg(constnet_dsp)]
pub(crate) mod arm_dsp;
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
pub(crate) mod arm_fpu;
#[cfg(all(target_arch = "arm", not(constnet_dsp)))]
pub(crate) mod armv6m;
pub mod dispatch;
pub(crate) mod int8;
pub(crate) mod portable;

pub(crate) use dispatch::{dispatch2, dispatch3, dispatch4};
pub(crate) use portable::{add, axpy, axpy_fused, dot, dot4, init_fan_in};
