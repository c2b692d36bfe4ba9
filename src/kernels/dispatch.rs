//! Which build of the inner loops runs, chosen at run time.
//!
//! A crate that depends on constnet compiles it for its target's baseline,
//! on x86-64 SSE2 (128-bit vectors), unless it sets `-C target-feature`
//! itself. So the hot loops (convolution, pooling and dense layers forward
//! and backward, the optimizers, the trainer's gradient sum) exist twice on x86-64:
//! as written, and compiled with AVX2 and FMA enabled (256-bit vectors). The
//! first call checks the CPU once (CPUID, and XGETBV for the operating
//! system's support of the AVX registers; no `std` needed) and caches the
//! answer in an atomic; every later call costs one relaxed load. Every other
//! architecture has only the portable build.
//!
//! Both builds compute the same operations in the same order, so their
//! results are bit-identical: Rust never contracts a multiply and an add into
//! a fused multiply-add (enabling `fma` only lets LLVM use it where the source
//! asks, `mul_add`, which constnet never does), and wider vectors only hold
//! more of the independent sums the loops already keep. This is what keeps
//! host results equal to the Cortex-M firmware's, bit for bit.

/// The build of the inner loops in use (see [`kernels`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// Compiled for the target features of the build (SSE2 on x86-64 by
    /// default; every target that is not x86-64).
    Portable,
    /// Compiled with AVX2 and FMA enabled: x86-64 CPUs that have both.
    Avx2Fma,
}

/// The inner loops that run on this machine from now on: [`Kernels::Avx2Fma`]
/// on an x86-64 CPU with AVX2 and FMA (checked at the first call), unless
/// [`force_portable`] says otherwise; [`Kernels::Portable`] elsewhere.
pub fn kernels() -> Kernels {
    if fast() {
        Kernels::Avx2Fma
    } else {
        Kernels::Portable
    }
}

/// Runs the portable loops from now on even where the CPU has AVX2 and FMA
/// (`true`), or the fastest build again (`false`), for every thread. Results
/// are bit-identical either way: this is for measurements and for tests that
/// compare the two.
pub fn force_portable(on: bool) {
    #[cfg(target_arch = "x86_64")]
    x86::force_portable(on);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = on;
}

/// Whether the dispatchers run the AVX2 and FMA build.
#[inline(always)]
fn fast() -> bool {
    #[cfg(target_arch = "x86_64")]
    return x86::fast();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Writes `dispatch2`, `dispatch3`, ...: each calls `f` with its arguments,
/// compiled with AVX2 and FMA enabled when [`kernels`] says so.
///
/// The loops' references are passed as arguments, not captured by `f`: a
/// reference argument carries the compiler's knowledge that it aliases
/// nothing else, a captured one is loaded from the closure and loses it, and
/// without it loops that store through one reference and load through
/// another are not vectorized (measured: 3x slower than the portable build).
/// Put `#[inline(always)]` on `f` and on the functions it calls down to the
/// loops: only code inlined into the AVX2 instance is compiled for AVX2.
macro_rules! dispatchers {
    ($($name:ident($($arg:ident: $ty:ident),+);)+) => {$(
        #[inline(always)]
        pub(crate) fn $name<$($ty,)+ R>($($arg: $ty,)+ f: impl FnOnce($($ty),+) -> R) -> R {
            #[cfg(target_arch = "x86_64")]
            if x86::fast() {
                /// `f(...)`, compiled for AVX2 and FMA with whatever is inlined into it.
                #[target_feature(enable = "avx2,fma")]
                fn avx2_fma<$($ty,)+ R>($($arg: $ty,)+ f: impl FnOnce($($ty),+) -> R) -> R {
                    f($($arg),+)
                }
                // SAFETY: `fast` is true only when CPUID and XGETBV said that
                // the CPU has AVX2 and FMA and the operating system saves the
                // AVX registers (the test `detection_agrees_with_std` compares
                // this with the standard library's detection).
                return unsafe { avx2_fma($($arg,)+ f) };
            }
            f($($arg),+)
        }
    )+};
}

dispatchers! {
    dispatch2(a: A, b: B);
    dispatch3(a: A, b: B, c: C);
    dispatch4(a: A, b: B, c: C, d: D);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
    use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

    /// Bits of [`STATE`]: the CPU was checked; it has AVX2 and FMA;
    /// [`force_portable`] is on.
    const CHECKED: u8 = 1;
    const AVX2_FMA: u8 = 2;
    const FORCED_PORTABLE: u8 = 4;

    /// What the CPU check found and what [`force_portable`] asked; zero
    /// until the first check.
    static STATE: AtomicU8 = AtomicU8::new(0);

    #[inline(always)]
    pub(super) fn fast() -> bool {
        let mut state = STATE.load(Relaxed);
        if state & CHECKED == 0 {
            state = check();
        }
        state & (AVX2_FMA | FORCED_PORTABLE) == AVX2_FMA
    }

    pub(super) fn force_portable(on: bool) {
        if on {
            STATE.fetch_or(FORCED_PORTABLE, Relaxed);
        } else {
            STATE.fetch_and(!FORCED_PORTABLE, Relaxed);
        }
    }

    /// Checks the CPU and records the answer; returns the new state.
    #[cold]
    #[inline(never)]
    fn check() -> u8 {
        let found = CHECKED | if has_avx2_fma() { AVX2_FMA } else { 0 };
        STATE.fetch_or(found, Relaxed) | found
    }

    /// AVX2 and FMA as the standard library's `is_x86_feature_detected!`
    /// decides them: FMA (leaf 1, ECX bit 12) and AVX2 (leaf 7, EBX bit 5),
    /// both only if the operating system has enabled XSAVE (leaf 1, ECX bit
    /// 27) and saves the SSE and AVX registers (XCR0 bits 1 and 2).
    pub(super) fn has_avx2_fma() -> bool {
        if __cpuid(0).eax < 7 {
            return false;
        }
        let ecx = __cpuid(1).ecx;
        let (fma, osxsave) = (ecx & 1 << 12 != 0, ecx & 1 << 27 != 0);
        if !(fma && osxsave) {
            return false;
        }
        // SAFETY: XGETBV exists when the OS has enabled XSAVE (OSXSAVE, just checked).
        let xcr0 = unsafe { xcr0() };
        xcr0 & 0b110 == 0b110 && __cpuid_count(7, 0).ebx & 1 << 5 != 0
    }

    /// Extended control register 0: which register states the OS saves.
    ///
    /// # Safety
    /// The operating system must have enabled XSAVE (CPUID leaf 1, ECX bit
    /// 27): XGETBV is an invalid instruction otherwise.
    #[target_feature(enable = "xsave")]
    unsafe fn xcr0() -> u64 {
        _xgetbv(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    #[test]
    fn detection_agrees_with_std() {
        extern crate std;
        let std_says = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        assert_eq!(x86::has_avx2_fma(), std_says);
    }

    #[test]
    fn forcing_the_portable_build_and_back() {
        let best = kernels();
        force_portable(true);
        assert_eq!(kernels(), Kernels::Portable);
        assert_eq!(dispatch2(1, 2, |a, b| a + b), 3);
        force_portable(false);
        assert_eq!(kernels(), best);
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(best, Kernels::Portable);
    }
}
