//! Inner loops in assembly for hard-float Arm (Cortex-M4F and up), `f32`.
//!
//! Why assembly: the compiler's code for the blocked loops of
//! [`Dense`](crate::Dense) and [`Conv2d`](crate::Conv2d) loads each weight
//! with its own `vldr` beside its `vmla` (LLVM hands out S registers even ones
//! first, so it never merges loads into a `vldm`), and spills when the inputs
//! of neighbouring taps are kept in registers: 1.8 instructions per
//! multiply-add on LeNet's fc1, 1.5 to 1.85 on its convolutions, measured with
//! `tools/firmware-figures.sh`. Here one `vldm` loads up to 16 weights (or 8
//! inputs): 1.1 to 1.2 per multiply-add.
//!
//! The arithmetic is the generic loops', operation for operation:
//! `vmla.f32` rounds the product before adding (it is not fused), as the
//! compiler's code does, and every output sums its bias, then its terms in the
//! same order, so results stay bit-identical to the host's.
//!
//! S registers cannot be named as operands or clobbers on stable Rust (the
//! `sreg` class needs the unstable `vfp2` target feature), so each block saves
//! and restores d0-d15 (= s0-s31) on the stack itself. The blocks change the
//! condition and FP exception flags, which `asm!` allows without
//! `preserves_flags`.

use core::any::Any;
use core::arch::asm;

/// `x` as `Y` when they are the same type: how generic code over `T: Float`
/// reaches the `f32` kernels (the check folds away at compile time).
#[inline(always)]
pub(crate) fn same<X: Any, Y: Any>(x: &X) -> Option<&Y> {
    (x as &dyn Any).downcast_ref()
}

/// Mutable counterpart of [`same`].
#[inline(always)]
pub(crate) fn same_mut<X: Any, Y: Any>(x: &mut X) -> Option<&mut Y> {
    (x as &mut dyn Any).downcast_mut()
}

// ---- Dense: y += W x ------------------------------------------------------------

/// Outputs per block: their sums stay in s0-s15 over all the inputs; the
/// input goes in s16 and the weights in s17-s31.
const OUT_BLOCK: usize = 16;

/// Outputs in a full block, or in the last one of `o` if shorter (never
/// 0: the asm of an unused tail block still has to assemble).
const fn block_width(o: usize, tail: bool) -> usize {
    if tail && !o.is_multiple_of(OUT_BLOCK) {
        o % OUT_BLOCK
    } else {
        OUT_BLOCK
    }
}

/// `y += W x`, weights `[I][O]`.
pub(crate) fn affine<const I: usize, const O: usize>(x: &[f32; I], w: &[[f32; O]; I], y: &mut [f32; O]) {
    if I == 0 {
        return;
    }
    let (blocks, tail) = y.as_chunks_mut::<OUT_BLOCK>();
    for (b, acc) in blocks.iter_mut().enumerate() {
        dense_block::<I, O, false>(acc, x, w, b * OUT_BLOCK);
    }
    if !tail.is_empty() {
        dense_block::<I, O, true>(tail, x, w, O - tail.len());
    }
}

/// `s{k} += s16 * s{w}` for the lanes below `{n}`, the block's width.
macro_rules! lanes {
    ($($k:literal $w:literal)*) => {
        concat!($(".if {n} > ", $k, "\n vmla.f32 s", $k, ", s16, s", $w, "\n.endif\n"),*)
    };
}

/// `s{k} += s16 * w[k]` for the `{n}` outputs of the block, `w` the row of
/// weights at `$row`: one `vldm` of up to 15 into s17-s31, the 16th into
/// s17 again once lane 0 is done with it.
macro_rules! row {
    ($row:literal) => {
        concat!(
            "vldmia ", $row, ", {{s17-s{w_last}}}\n",
            lanes!(0 17 1 18 2 19 3 20 4 21 5 22 6 23 7 24 8 25 9 26 10 27 11 28 12 29 13 30 14 31),
            ".if {n} > 15\n vldr s17, [", $row, ", #60]\n vmla.f32 s15, s16, s17\n.endif\n",
        )
    };
}

/// `acc[k] += x[i] * w[i][col + k]` for each nonzero `x[i]`, `i` ascending.
fn dense_block<const I: usize, const O: usize, const TAIL: bool>(
    acc: &mut [f32],
    x: &[f32; I],
    w: &[[f32; O]; I],
    col: usize,
) {
    let n = block_width(O, TAIL);
    assert!(I > 0 && (1..=OUT_BLOCK).contains(&n) && acc.len() == n && col + n <= O);
    // SAFETY: reads and writes `acc` (`n` floats), reads `x` (`I > 0`; an
    // odd first one alone, then pairs up to the end) and `n` weights of
    // each row from `col`, rows `O` floats apart: all in bounds (asserted
    // above; with an odd `I`, `row` starts a row before the weights but is
    // only dereferenced one row on), and 4-aligned as `ldrd`, `vldm` and
    // `vstm` need. S registers cannot be named as operands or clobbers on
    // stable Rust (the `sreg` class needs the unstable `vfp2` target
    // feature), so the block saves and restores d0-d15 (= s0-s31) on the
    // stack itself. It changes the condition and FP exception flags, which
    // asm! allows without `preserves_flags`.
    unsafe {
        asm!(
            "vpush {{d0-d15}}",
            "vldmia {acc}, {{s0-s{acc_last}}}",
            // Two inputs per turn. An odd count starts at the second half,
            // as if the inputs began one row earlier.
            ".if {odd}",
            "ldr r5, [{x}], #4",
            "sub {row}, {row}, {stride}",
            "b 3f",
            ".endif",
            "2:",
            // r4, r5: in Arm (A32) mode `ldrd` needs an even, consecutive pair.
            "ldrd r4, r5, [{x}], #8",
            // ±0.0 are the floats whose bits are zero but the sign: skip
            // their row, as the generic loop's `x != 0` does (with
            // FPSCR.FZ clear, the reset default, which the bit-identity
            // with the host needs anyway).
            "lsls {r}, r4, #1",
            "beq 3f",
            "vmov s16, r4",
            row!("{row}"),
            "3:",
            "lsls {r}, r5, #1",
            "beq 4f",
            "vmov s16, r5",
            "add {r}, {row}, {stride}",
            row!("{r}"),
            "4:",
            "add {row}, {row}, {stride}, lsl #1",
            "cmp {x}, {x_end}",
            "bne 2b",
            "vstmia {acc}, {{s0-s{acc_last}}}",
            "vpop {{d0-d15}}",
            acc = in(reg) acc.as_mut_ptr(),
            x = inout(reg) x.as_ptr() => _,
            x_end = in(reg) x.as_ptr_range().end,
            row = inout(reg) w.as_flattened()[col..].as_ptr() => _,
            stride = in(reg) O * 4,
            r = out(reg) _,
            odd = const I % 2,
            n = const block_width(O, TAIL),
            acc_last = const block_width(O, TAIL) - 1,
            w_last = const 16 + if block_width(O, TAIL) < 15 { block_width(O, TAIL) } else { 15 },
            out("r4") _,
            out("r5") _,
        );
    }
}

// ---- Conv2d: one output pixel, 16 filters --------------------------------------

/// `s{f} += s{x} * w[f]` for the 16 filters, `w` the next row of weights: two
/// `vldm` of 8 into s24-s31, then the row skip when `F > 16`.
macro_rules! tap16 {
    ($x:literal) => {
        concat!(
            "vldmia {w}!, {{s24-s31}}\n",
            "vmla.f32 s0, ",
            $x,
            ", s24\n vmla.f32 s1, ",
            $x,
            ", s25\n",
            "vmla.f32 s2, ",
            $x,
            ", s26\n vmla.f32 s3, ",
            $x,
            ", s27\n",
            "vmla.f32 s4, ",
            $x,
            ", s28\n vmla.f32 s5, ",
            $x,
            ", s29\n",
            "vmla.f32 s6, ",
            $x,
            ", s30\n vmla.f32 s7, ",
            $x,
            ", s31\n",
            "vldmia {w}!, {{s24-s31}}\n",
            "vmla.f32 s8, ",
            $x,
            ", s24\n vmla.f32 s9, ",
            $x,
            ", s25\n",
            "vmla.f32 s10, ",
            $x,
            ", s26\n vmla.f32 s11, ",
            $x,
            ", s27\n",
            "vmla.f32 s12, ",
            $x,
            ", s28\n vmla.f32 s13, ",
            $x,
            ", s29\n",
            "vmla.f32 s14, ",
            $x,
            ", s30\n vmla.f32 s15, ",
            $x,
            ", s31\n",
            ".if {w_skip}\n add {w}, {w}, {w_gap}\n.endif\n",
        )
    };
}

/// One convolution output pixel, 16 filters from `f0`: over the window rows
/// `ky < KH` and, in each, the `KW * C` inputs `j` (`[kx][c]`, contiguous in
/// HWC) in that order, `acc[f] += x[ky * W * C + j] * w[ky][j][f0 + f]`. `x`
/// starts at the window's top-left input; `w` is the filter bank
/// `[KH][KW][C][F]`, flat.
///
/// The caller checks that the window lies inside the input; the asserts below
/// keep every access in bounds regardless.
#[inline(always)]
pub(crate) fn window16<const KH: usize, const KW: usize, const C: usize, const W: usize, const F: usize>(
    acc: &mut [f32; 16],
    x: &[f32],
    w: &[f32],
    f0: usize,
) {
    // (`movw` takes the chunk count: at most 65,535.)
    assert!(KH > 0 && KW * C > 0 && KW * C / 8 <= 0xFFFF && KW <= W && f0 + 16 <= F);
    assert!((KH - 1) * W * C + KW * C <= x.len() && KH * KW * C * F <= w.len());
    // SAFETY: reads `KH` rows of `KW * C` floats of `x`, `W * C` apart, and
    // for each of the `KH * KW * C` taps 16 weights at `f0` of a row of `F`: in bounds by
    // the asserts. Reads and writes the 16 floats of `acc`. All 4-aligned, as
    // `vldm` and `vstm` need. Saves and restores the S registers it uses
    // (see the module docs).
    unsafe {
        asm!(
            "vpush {{d0-d15}}",
            "vldmia {acc}, {{s0-s15}}",
            "2:",
            // Taps eight at a time: one `vldm` of the inputs, then their rows.
            ".if {chunks}",
            "movw {n}, #{chunks}",
            "3:",
            "vldmia {x}!, {{s16-s23}}",
            tap16!("s16"),
            tap16!("s17"),
            tap16!("s18"),
            tap16!("s19"),
            tap16!("s20"),
            tap16!("s21"),
            tap16!("s22"),
            tap16!("s23"),
            "subs {n}, {n}, #1",
            "bne 3b",
            ".endif",
            // The rest of the row one at a time.
            ".rept {rest}",
            "vldmia {x}!, {{s16}}",
            tap16!("s16"),
            ".endr",
            "add {x}, {x}, {x_gap}",
            "subs {rows}, {rows}, #1",
            "bne 2b",
            "vstmia {acc}, {{s0-s15}}",
            "vpop {{d0-d15}}",
            acc = in(reg) acc.as_mut_ptr(),
            x = inout(reg) x.as_ptr() => _,
            w = inout(reg) w[f0..].as_ptr() => _,
            rows = inout(reg) KH => _,
            n = out(reg) _,
            x_gap = in(reg) (W - KW) * C * 4,
            w_gap = in(reg) (F - 16) * 4,
            chunks = const KW * C / 8,
            rest = const KW * C % 8,
            w_skip = const (F > 16) as usize,
        );
    }
}

// ---- Conv2d: two output pixels, 8 filters --------------------------------------

/// `s{f} += $a * w[f]` and `s{8 + f} += $b * w[f]` for the 8 filters, `w` the
/// next row of weights: one `vldm` into s24-s31 serves both pixels.
macro_rules! tap8x2 {
    ($a:literal, $b:literal) => {
        concat!(
            "vldmia {w}!, {{s24-s31}}\n",
            "vmla.f32 s0, ",
            $a,
            ", s24\n vmla.f32 s1, ",
            $a,
            ", s25\n",
            "vmla.f32 s2, ",
            $a,
            ", s26\n vmla.f32 s3, ",
            $a,
            ", s27\n",
            "vmla.f32 s4, ",
            $a,
            ", s28\n vmla.f32 s5, ",
            $a,
            ", s29\n",
            "vmla.f32 s6, ",
            $a,
            ", s30\n vmla.f32 s7, ",
            $a,
            ", s31\n",
            "vmla.f32 s8, ",
            $b,
            ", s24\n vmla.f32 s9, ",
            $b,
            ", s25\n",
            "vmla.f32 s10, ",
            $b,
            ", s26\n vmla.f32 s11, ",
            $b,
            ", s27\n",
            "vmla.f32 s12, ",
            $b,
            ", s28\n vmla.f32 s13, ",
            $b,
            ", s29\n",
            "vmla.f32 s14, ",
            $b,
            ", s30\n vmla.f32 s15, ",
            $b,
            ", s31\n",
            ".if {w_skip}\n add {w}, {w}, {w_gap}\n.endif\n",
        )
    };
}

/// Two neighbouring convolution output pixels, 8 filters from `f0`: as
/// [`window16`], with `acc[..8]` the first pixel's filters and `acc[8..]` the
/// second's, whose window starts `SW * C` inputs further along `x`. Each
/// weight load serves both pixels.
#[inline(always)]
pub(crate) fn window8x2<
    const KH: usize,
    const KW: usize,
    const C: usize,
    const W: usize,
    const F: usize,
    const SW: usize,
>(
    acc: &mut [f32; 16],
    x: &[f32],
    w: &[f32],
    f0: usize,
) {
    assert!(KH > 0 && KW * C > 0 && KW * C / 4 <= 0xFFFF && KW <= W && f0 + 8 <= F);
    assert!((KH - 1) * W * C + SW * C + KW * C <= x.len() && KH * KW * C * F <= w.len());
    // SAFETY: reads `KH` rows of `KW * C` floats of `x`, `W * C` apart, from
    // its start and from `SW * C` on, and for each of the `KH * KW * C` taps 8
    // weights at `f0` of a row of `F`: in bounds by the asserts. Reads and
    // writes the 16 floats of `acc`. All 4-aligned, as `vldm` and `vstm`
    // need. Saves and restores the S registers it uses (see the module docs).
    unsafe {
        asm!(
            "vpush {{d0-d15}}",
            "vldmia {acc}, {{s0-s15}}",
            "2:",
            // Taps four at a time: one `vldm` of each pixel's inputs.
            ".if {chunks}",
            "movw {n}, #{chunks}",
            "3:",
            "vldmia {x0}!, {{s16-s19}}",
            "vldmia {x1}!, {{s20-s23}}",
            tap8x2!("s16", "s20"),
            tap8x2!("s17", "s21"),
            tap8x2!("s18", "s22"),
            tap8x2!("s19", "s23"),
            "subs {n}, {n}, #1",
            "bne 3b",
            ".endif",
            ".rept {rest}",
            "vldmia {x0}!, {{s16}}",
            "vldmia {x1}!, {{s20}}",
            tap8x2!("s16", "s20"),
            ".endr",
            "add {x0}, {x0}, {x_gap}",
            "add {x1}, {x1}, {x_gap}",
            "subs {rows}, {rows}, #1",
            "bne 2b",
            "vstmia {acc}, {{s0-s15}}",
            "vpop {{d0-d15}}",
            acc = in(reg) acc.as_mut_ptr(),
            x0 = inout(reg) x.as_ptr() => _,
            x1 = inout(reg) x[SW * C..].as_ptr() => _,
            w = inout(reg) w[f0..].as_ptr() => _,
            rows = inout(reg) KH => _,
            n = out(reg) _,
            x_gap = in(reg) (W - KW) * C * 4,
            w_gap = in(reg) (F - 8) * 4,
            chunks = const KW * C / 4,
            rest = const KW * C % 4,
            w_skip = const (F > 8) as usize,
        );
    }
}
