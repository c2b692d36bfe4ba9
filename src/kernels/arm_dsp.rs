//! Int8 inner loops for Arm cores with the DSP extension (Cortex-M4, M7).
//!
//! `SXTB16` widens bytes 0 and 2 of a word (or, rotated by 8, bytes 1 and
//! 3) into two signed halfwords, and `SMLAD` adds both halfword products to
//! an accumulator in one instruction. Applied alike to four input bytes and
//! four weight bytes, the two pairs line up (0 with 0, 2 with 2; 1 with 1,
//! 3 with 3), so two `SMLAD`s take a word's four multiply-accumulates with
//! no reordering of either operand. Integer sums do not depend on their
//! order, so results equal the portable loops' exactly.
//!
//! Stable Rust has no DSP intrinsics, so each instruction is one `asm!`
//! (pure, no memory, no stack: the compiler still allocates the registers and
//! schedules the loads). The blocks keep 3 pixels x 2 filters of
//! accumulators in registers, with each input word widened once for both
//! filters and each weight word once for all three pixels.

use core::arch::asm;

/// Bytes 0 and 2 of `x`, sign-extended to halfwords.
#[inline(always)]
fn sxtb16(x: u32) -> u32 {
    let r: u32;
    // SAFETY: register-only arithmetic.
    unsafe {
        asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
    };
    r
}

/// Bytes 1 and 3 of `x`, sign-extended to halfwords.
#[inline(always)]
fn sxtb16_ror8(x: u32) -> u32 {
    let r: u32;
    // SAFETY: register-only arithmetic.
    unsafe {
        asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
    };
    r
}

/// `acc + a.lo * b.lo + a.hi * b.hi` on signed halfwords.
#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: register-only arithmetic. SMLAD sets the Q flag on overflow,
    // which nothing reads; the sum wraps like the portable code's.
    unsafe {
        asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc,
             options(pure, nomem, nostack))
    };
    r
}

/// Four bytes from `s` at `at` as a little-endian word (one `LDR`: ARMv7-M
/// loads words from any address).
#[inline(always)]
fn word(s: &[i8], at: usize) -> u32 {
    let b: &[i8; 4] = s[at..at + 4].try_into().expect("in bounds");
    u32::from_le_bytes(b.map(|v| v as u8))
}

/// Adds, for pixels `p` of 3 and filters `f` of 2, the dot product of the
/// `n` bytes `x[p]` and `w[f]` to `acc[p][f]` (`n` is a constant where it is
/// inlined, so the loops unroll and the bounds checks fold away).
#[inline(always)]
pub(crate) fn block3x2(x: [&[i8]; 3], w: [&[i8]; 2], n: usize, acc: &mut [[i32; 2]; 3]) {
    let (x, w) = (x.map(|s| &s[..n]), w.map(|s| &s[..n]));
    let mut a = *acc;
    let mut j = 0;
    while j + 4 <= n {
        let (w0, w1) = (word(w[0], j), word(w[1], j));
        let (w0a, w0b, w1a, w1b) = (sxtb16(w0), sxtb16_ror8(w0), sxtb16(w1), sxtb16_ror8(w1));
        for (p, a) in a.iter_mut().enumerate() {
            let xv = word(x[p], j);
            let (xa, xb) = (sxtb16(xv), sxtb16_ror8(xv));
            a[0] = smlad(xb, w0b, smlad(xa, w0a, a[0]));
            a[1] = smlad(xb, w1b, smlad(xa, w1a, a[1]));
        }
        j += 4;
    }
    while j < n {
        for (p, a) in a.iter_mut().enumerate() {
            let xv = x[p][j] as i32;
            a[0] = a[0].wrapping_add(xv * w[0][j] as i32);
            a[1] = a[1].wrapping_add(xv * w[1][j] as i32);
        }
        j += 1;
    }
    *acc = a;
}

/// The dot product of `x` and `w` (of the same length), plus `acc`. Not
/// inlined: a loop where the rest of a layer's outputs need it.
#[inline(never)]
pub(crate) fn dot(x: &[i8], w: &[i8], acc: i32) -> i32 {
    let n = x.len().min(w.len());
    let (mut a, mut b) = (acc, 0);
    let mut j = 0;
    while j + 4 <= n {
        let (xv, wv) = (word(x, j), word(w, j));
        a = smlad(sxtb16(xv), sxtb16(wv), a);
        b = smlad(sxtb16_ror8(xv), sxtb16_ror8(wv), b);
        j += 4;
    }
    while j < n {
        a = a.wrapping_add(x[j] as i32 * w[j] as i32);
        j += 1;
    }
    a.wrapping_add(b)
}

/// One `P`-pixel (1 to 3) x 2-filter block of a convolution over an
/// `H x W x C` input with `KH x KW` filters at column stride `SW`: with
/// `ROW = W * C`, `SPAN = KW * C` (`SPAN / 4` words and `SPAN % 4` more
/// bytes), `XSTEP = SW * C` and `FSTEP = KH * SPAN`, adds the dot products
/// of pixel `p`'s window (rows at `x + ky * ROW + p * XSTEP`) and filter
/// `f`'s weights (rows at `w + f * FSTEP + ky * SPAN`) to `acc[p][f]`, for
/// `p < P` (the other accumulators pass through).
///
/// A row of taps is unrolled; rows are unrolled too when a filter is at most
/// [`UNROLL_ROWS_BYTES`], else looped over (the count kept on the stack).
/// Not inlined: one copy per layer shape and `P`. Every input word is
/// widened once for both filters and every weight word once for the `P`
/// pixels; the six accumulators, four widened weight halves, two
/// temporaries and two pointers use fourteen registers, so r6 and r7 (which
/// `asm!` cannot take as operands) are saved and restored around the block.
///
/// # Safety
/// Every byte read must be in bounds: `x .. x + (KH - 1) * ROW + (P - 1) *
/// XSTEP + SPAN` and `w .. w + FSTEP + KH * SPAN`, and every offset below
/// 4,096 (`ldr.w` immediates): see [`block3x2_fits`].
#[inline(never)]
pub(crate) unsafe fn block3x2_unrolled<
    const P: usize,
    const KH: usize,
    const KW: usize,
    const C: usize,
    const W: usize,
    const SW: usize,
>(
    x: *const i8,
    w: *const i8,
    acc: &mut [[i32; 2]; 3],
) {
    const { assert!(P >= 1 && P <= 3, "1 to 3 pixels") };
    let [[mut a00, mut a01], [mut a10, mut a11], [mut a20, mut a21]] = *acc;
    let (mut x, mut w) = (x, w);
    // SAFETY: the caller guarantees the reads are in bounds; r6 and r7 are
    // pushed and popped inside the block, and so is the row counter;
    // everything else it writes is an operand or a declared clobber.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            ".if {loops} > 1",
            "  movs r6, #{loops}",
            "  push {{r6}}",
            "2:",
            ".endif",
            ".set cn_xr, 0",
            ".set cn_wr, 0",
            ".rept {rows}",
            "  .set cn_j, 0",
            "  .rept {words}",
            // Three loads back to back (pipelined: 4 cycles, not 6): both
            // filters' weight words and pixel 0's input word.
            "    ldr.w r10, [r9, #(cn_wr + cn_j)]",
            "    ldr.w r12, [r9, #(cn_wr + cn_j + {fstep})]",
            "    ldr.w r6, [r8, #(cn_xr + cn_j)]",
            "    sxtb16 r11, r10, ror #8",
            "    sxtb16 r10, r10",
            "    sxtb16 lr, r12, ror #8",
            "    sxtb16 r12, r12",
            "    sxtb16 r7, r6",
            "    sxtb16 r6, r6, ror #8",
            "    smlad r0, r7, r10, r0",
            "    smlad r0, r6, r11, r0",
            "    smlad r1, r7, r12, r1",
            "    smlad r1, r6, lr, r1",
            "    .if {p} > 1",
            "    ldr.w r6, [r8, #(cn_xr + cn_j + {xstep})]",
            "    sxtb16 r7, r6",
            "    sxtb16 r6, r6, ror #8",
            "    smlad r2, r7, r10, r2",
            "    smlad r2, r6, r11, r2",
            "    smlad r3, r7, r12, r3",
            "    smlad r3, r6, lr, r3",
            "    .endif",
            "    .if {p} > 2",
            "    ldr.w r6, [r8, #(cn_xr + cn_j + 2 * {xstep})]",
            "    sxtb16 r7, r6",
            "    sxtb16 r6, r6, ror #8",
            "    smlad r4, r7, r10, r4",
            "    smlad r4, r6, r11, r4",
            "    smlad r5, r7, r12, r5",
            "    smlad r5, r6, lr, r5",
            "    .endif",
            "    .set cn_j, cn_j + 4",
            "  .endr",
            "  .rept {tail}",
            "    ldrsb.w r10, [r9, #(cn_wr + cn_j)]",
            "    ldrsb.w r11, [r9, #(cn_wr + cn_j + {fstep})]",
            "    ldrsb.w r6, [r8, #(cn_xr + cn_j)]",
            "    smlabb r0, r6, r10, r0",
            "    smlabb r1, r6, r11, r1",
            "    .if {p} > 1",
            "    ldrsb.w r6, [r8, #(cn_xr + cn_j + {xstep})]",
            "    smlabb r2, r6, r10, r2",
            "    smlabb r3, r6, r11, r3",
            "    .endif",
            "    .if {p} > 2",
            "    ldrsb.w r6, [r8, #(cn_xr + cn_j + 2 * {xstep})]",
            "    smlabb r4, r6, r10, r4",
            "    smlabb r5, r6, r11, r5",
            "    .endif",
            "    .set cn_j, cn_j + 1",
            "  .endr",
            "  .set cn_xr, cn_xr + {row}",
            "  .set cn_wr, cn_wr + {span}",
            ".endr",
            ".if {loops} > 1",
            "  addw r8, r8, #{row}",
            "  addw r9, r9, #{span}",
            "  ldr r6, [sp]",
            "  subs r6, r6, #1",
            "  str r6, [sp]",
            "  bne 2b",
            "  add sp, sp, #4",
            ".endif",
            "pop {{r6, r7}}",
            p = const P,
            loops = const KH / rows::<KH, KW, C>(),
            rows = const rows::<KH, KW, C>(),
            words = const KW * C / 4,
            tail = const KW * C % 4,
            span = const KW * C,
            row = const W * C,
            xstep = const SW * C,
            fstep = const KH * KW * C,
            inout("r0") a00,
            inout("r1") a01,
            inout("r2") a10,
            inout("r3") a11,
            inout("r4") a20,
            inout("r5") a21,
            inout("r8") x,
            inout("r9") w,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("lr") _,
        );
    }
    let _ = (x, w);
    *acc = [[a00, a01], [a10, a11], [a20, a21]];
}

/// One output pixel of a depthwise convolution (depth multiplier 1) over
/// `C` channels (a multiple of 4), before requantization: `acc[c] =
/// bias[c] +` the sum over the `KH x KW` taps of input byte `c` at `x + (ky
/// * WR + kx) * C` (rows of `WR` pixels) times weight byte `c` at `w + (ky
/// * KW + kx) * C`, `bias` as `C` little-endian words.
///
/// Four channels at a time (a loop, its count in r6), the taps unrolled:
/// per tap one word of input and one of weights, each widened twice
/// (channels 0 and 2, 1 and 3), and each product one `SMLABB` or
/// `SMLATT`. A depthwise convolution sums over taps, not over channels, so
/// the pairs `SMLAD` adds are not what it needs.
///
/// # Safety
/// `x .. x + ((KH - 1) * WR + KW) * C`, `w .. w + KH * KW * C` and `bias ..
/// bias + 4 * C` must be readable, and the offsets must fit the `ldr.w`
/// immediates: see [`depthwise_fits`].
#[inline(never)]
pub(crate) unsafe fn depthwise_pixel<const KH: usize, const KW: usize, const C: usize, const WR: usize>(
    x: *const i8,
    w: *const i8,
    bias: *const u8,
    acc: &mut [i32; C],
) {
    const { assert!(C.is_multiple_of(4) && C > 0, "channels in whole words") };
    // SAFETY: the caller guarantees the reads, `acc` holds the `C` words
    // written; r6 and r7 are saved and restored; everything else written
    // is an operand or a clobber.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            "movs r6, #{groups}",
            "2:",
            "ldr r0, [r10]",
            "ldr r1, [r10, #4]",
            "ldr r2, [r10, #8]",
            "ldr r3, [r10, #12]",
            ".set cn_ky, 0",
            ".rept {kh}",
            "  .set cn_kx, 0",
            "  .rept {kw}",
            "    ldr.w r4, [r8, #(cn_ky * {row} + cn_kx * {c})]",
            "    ldr.w r5, [r9, #((cn_ky * {kw} + cn_kx) * {c})]",
            "    sxtb16 r12, r4",
            "    sxtb16 r4, r4, ror #8",
            "    sxtb16 lr, r5",
            "    sxtb16 r5, r5, ror #8",
            "    smlabb r0, r12, lr, r0",
            "    smlatt r2, r12, lr, r2",
            "    smlabb r1, r4, r5, r1",
            "    smlatt r3, r4, r5, r3",
            "    .set cn_kx, cn_kx + 1",
            "  .endr",
            "  .set cn_ky, cn_ky + 1",
            ".endr",
            // r0 .. r3: channels c .. c + 3.
            "stm r11!, {{r0, r1, r2, r3}}",
            "adds r8, r8, #4",
            "adds r9, r9, #4",
            "adds r10, r10, #16",
            "subs r6, r6, #1",
            "bne 2b",
            "pop {{r6, r7}}",
            groups = const C / 4,
            kh = const KH,
            kw = const KW,
            c = const C,
            row = const WR * C,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            inout("r8") x => _,
            inout("r9") w => _,
            inout("r10") bias => _,
            inout("r11") acc.as_mut_ptr() => _,
            out("r12") _,
            out("lr") _,
        );
    }
}

/// Whether [`depthwise_pixel`]'s offsets fit its `ldr.w` immediates for
/// this shape (and rows of `row` bytes), and its loop count its `movs`.
pub(crate) const fn depthwise_fits(kh: usize, kw: usize, c: usize, row: usize) -> bool {
    c / 4 <= 255 && (kh - 1) * row + (kw - 1) * c < 4096 && (kh * kw - 1) * c < 4096
}

/// A row of `N` pixels' accumulators of `C` channels (`acc`, `[[i32; C];
/// N]`) requantized into `out`, pixel `p`'s channels `S * p ..` (a row
/// `[[i8; S]; N]` from some channel on), channel `c` by `requant + 8 * c`
/// (a [`Requant`](crate::quant::Requant): multiplier and shift, two
/// little-endian words), the zero point `zp` added and the result clamped
/// to `[lo, hi]` (within -128 to 127). A loop over channels (its count in
/// r6), the pixels unrolled, 9 instructions a value (13 where the bounds
/// are narrower than -128 to 127):
///
/// - TFLite's rounding doubling high multiply `(acc * m + 2^30) >> 31` is
///   `(2 * acc * m + 2^31) >> 32`, one `SMMULR` of `2 * acc` (exact while
///   `2 * acc` fits);
/// - its shift right by `-shift`, rounding half away from zero, is `(h +
///   2^(-shift - 1) - (h < 0)) >> -shift`;
/// - the clamp is `SSAT` to 8 bits, then the bounds.
///
/// # Safety
/// `acc` and `out` must hold the row, `requant` the `F` channels'; every
/// shift must be -31 to -1 and every accumulator within `-2^30 .. 2^30`
/// (see [`requantize_fits`]), and `4 * C * N` and `S * N` below 4,096.
#[inline(never)]
pub(crate) unsafe fn requantize_block<const N: usize, const C: usize, const S: usize>(
    acc: *const i32,
    out: *mut i8,
    requant: *const u8,
    zp: i32,
    (lo, hi): (i32, i32),
) {
    const { assert!(N >= 1 && C >= 1 && 4 * C * N < 4096 && S * N < 4096, "offsets within ldr.w and strb.w immediates") };
    // SAFETY: the caller guarantees the reads, writes and numbers; r6 and
    // r7 are saved and restored; everything else written is an operand or
    // a clobber.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            "movw r6, #{c}",
            ".macro cn_channels clamp",
            "  2:",
            // Multiplier in r3, right shift in r4, 2^(right - 1) in r5.
            "  ldr r3, [r2]",
            "  ldr r4, [r2, #4]",
            "  adds r2, r2, #8",
            "  rsbs r4, r4, #0",
            "  subs r5, r4, #1",
            "  movs r7, #1",
            "  lsl r5, r7, r5",
            "  .set cn_p, 0",
            "  .rept {n}",
            "    ldr.w r11, [r0, #(cn_p * 4 * {c})]",
            "    add r11, r11, r11",
            "    smmulr r11, r11, r3",
            "    add r12, r11, r5",
            "    sub r12, r12, r11, lsr #31",
            "    asr r12, r12, r4",
            "    add r12, r12, r8",
            "    ssat r12, #8, r12",
            // The bounds, bytewise: SSUB8 sets GE[0] where the byte is at
            // least `lo`'s (at most `hi`'s), SEL keeps it there.
            "    .if \\clamp",
            "      ssub8 r7, r12, r9",
            "      sel r12, r12, r9",
            "      ssub8 r7, r10, r12",
            "      sel r12, r12, r10",
            "    .endif",
            "    strb.w r12, [r1, #(cn_p * {s})]",
            "    .set cn_p, cn_p + 1",
            "  .endr",
            "  adds r0, r0, #4",
            "  adds r1, r1, #1",
            "  subs r6, r6, #1",
            "  bne 2b",
            ".endm",
            // Bounds of -128 and 127 are SSAT's own.
            "cmn r9, #128",
            "bgt 3f",
            "cmp r10, #127",
            "blt 3f",
            "cn_channels 0",
            "b 4f",
            "3:",
            "cn_channels 1",
            "4:",
            ".purgem cn_channels",
            "pop {{r6, r7}}",
            n = const N,
            c = const C,
            s = const S,
            inout("r0") acc => _,
            inout("r1") out => _,
            inout("r2") requant => _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            in("r8") zp,
            in("r9") lo,
            in("r10") hi,
            out("r11") _,
            out("r12") _,
            options(nostack),
        );
    }
}

/// Whether [`requantize_block`] computes a channel's requantization
/// exactly: a shift of -31 to -1 (a right shift, none left) and
/// accumulators within `-2^30 .. 2^30` (`bound` is the largest magnitude
/// one can have).
pub(crate) const fn requantize_fits(shift: i32, bound: u64) -> bool {
    shift >= -31 && shift <= -1 && bound < 1 << 30
}

/// Filters of at most this many bytes have their rows unrolled in
/// [`block3x2_unrolled`]; larger ones loop over rows.
pub(crate) const UNROLL_ROWS_BYTES: usize = 64;

/// Rows of taps [`block3x2_unrolled`] unrolls per loop iteration: all of
/// them for a small filter, else one.
const fn rows<const KH: usize, const KW: usize, const C: usize>() -> usize {
    if KH * KW * C <= UNROLL_ROWS_BYTES {
        KH
    } else {
        1
    }
}

/// Whether [`block3x2_unrolled`]'s offsets fit its `ldr.w` and `add.w`
/// immediates.
pub(crate) const fn block3x2_fits(kh: usize, kw: usize, c: usize, w: usize, sw: usize) -> bool {
    (kh - 1) * w * c + 2 * sw * c + kw * c < 4096 && kh * kw * c * 2 < 4096 && w * c < 4096
}

/// `acc[k] += dot(x, w + k * I)` over the `I` bytes of `x` for `ROWS` (1
/// to 6) weight rows `I` bytes apart (a dense layer's outputs `o .. o +
/// ROWS`): each input word is widened once for all the rows, whose words
/// are loaded two at a time, back to back (the loads pipeline). A loop
/// over pairs of words (the count in r12), each pair unrolled, and the odd
/// word.
///
/// # Safety
/// `x .. x + I` and `w .. w + ROWS * I` must be readable, `ROWS` 1 to 6,
/// `I` a positive multiple of 4 and `5 * I` below 4,096 (`ldr.w`
/// immediates).
#[inline(never)]
pub(crate) unsafe fn dot_rows<const I: usize, const ROWS: usize>(x: *const i8, w: *const i8, acc: &mut [i32; 6]) {
    let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5] = *acc;
    // SAFETY: the caller guarantees the bounds; r6 and r7 are saved and
    // restored; everything else written is an operand or a clobber.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            // Rows k and k + 1's words into r10 and lr, back to back (the
            // loads pipeline), then their products into accumulators a, b.
            ".macro cn_load k",
            "  .if \\k < {rows}",
            "    ldr.w r10, [r9, #(\\k * {stride})]",
            "  .endif",
            "  .if \\k + 1 < {rows}",
            "    ldr.w lr, [r9, #((\\k + 1) * {stride})]",
            "  .endif",
            ".endm",
            ".macro cn_macs k, a, b",
            "  .if \\k < {rows}",
            "    sxtb16 r11, r10",
            "    sxtb16 r10, r10, ror #8",
            "    smlad \\a, r7, r11, \\a",
            "    smlad \\a, r6, r10, \\a",
            "  .endif",
            "  .if \\k + 1 < {rows}",
            "    sxtb16 r11, lr",
            "    sxtb16 lr, lr, ror #8",
            "    smlad \\b, r7, r11, \\b",
            "    smlad \\b, r6, lr, \\b",
            "  .endif",
            ".endm",
            ".macro cn_dot_word",
            "  ldr r6, [r8], #4",
            "  cn_load 0",
            "  sxtb16 r7, r6",
            "  sxtb16 r6, r6, ror #8",
            "  cn_macs 0, r0, r1",
            "  cn_load 2",
            "  cn_macs 2, r2, r3",
            "  cn_load 4",
            "  cn_macs 4, r4, r5",
            "  adds r9, r9, #4",
            ".endm",
            ".if {stride} / 8",
            "  movs r12, #({stride} / 8)",
            "  2:",
            "  cn_dot_word",
            "  cn_dot_word",
            "  subs r12, r12, #1",
            "  bne 2b",
            ".endif",
            ".if {stride} % 8",
            "  cn_dot_word",
            ".endif",
            ".purgem cn_dot_word",
            ".purgem cn_load",
            ".purgem cn_macs",
            "pop {{r6, r7}}",
            stride = const I,
            rows = const ROWS,
            inout("r0") a0,
            inout("r1") a1,
            inout("r2") a2,
            inout("r3") a3,
            inout("r4") a4,
            inout("r5") a5,
            inout("r8") x => _,
            inout("r9") w => _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("lr") _,
        );
    }
    *acc = [a0, a1, a2, a3, a4, a5];
}

/// Row `ky` of two single-channel five-tap filters `a` and `b` as
/// [`pool2x2_c1k5`] multiplies them: `[a0, a2]`, `[a1, a3]`, `[b0, b2]`,
/// `[b1, b3]` and the fifth taps `[a4, b4]` (each pair low halfword first).
pub(crate) fn c1k5_rows(a: [i8; 5], b: [i8; 5]) -> [u32; 5] {
    let pair = |lo: i8, hi: i8| (lo as i16 as u16 as u32) | ((hi as i16 as u16 as u32) << 16);
    [pair(a[0], a[2]), pair(a[1], a[3]), pair(b[0], b[2]), pair(b[1], b[3]), pair(a[4], b[4])]
}

/// The largest accumulators of `N` side-by-side 2x2 pooling windows of a
/// single-channel convolution with `KH x 5` filters (stride 1), for two
/// filters, each starting at `bias`, into `out` (`[filter 0, filter 1]`
/// per window): a pooled row of LeNet's first layer, where rows of five
/// one-byte taps fit [`block3x2_unrolled`] badly.
///
/// `x` is the first window's top-left input pixel in an input `ROW` bytes
/// wide (window `k` starts `2 * k` bytes on); `w` holds, per filter row
/// `ky`, both filters' [`c1k5_rows`] (`5 * KH` words). Every
/// input word is widened once for the two pixels of a row and both
/// filters: with `E_k = [x_k, x_k+2]` (SXTB16 of the word at `k`, or the
/// rotated SXTB16 of the word at `k - 1`), pixel `c`'s row is `E_c . [w0,
/// w2] + E_c+1 . [w1, w3] + x_c+4 * w4`, and `x_c+4` is the top half of
/// `E_c+2` (SMLATB, SMLATT for the second filter's fifth tap). So two
/// words per row serve both pixels; a window's
/// two conv rows run one after the other (the first one's four sums wait
/// on the stack), and the maxima are taken in registers. The bias, `out`
/// and the window count live on the stack.
///
/// # Safety
/// `x .. x + KH * ROW + 2 * (N - 1) + 6` bytes and `w .. w + 5 * KH` words
/// must be readable, `N >= 1`, and `KH * ROW + 2` below 4,096 (`ldr.w`
/// immediates).
#[inline(never)]
pub(crate) unsafe fn pool2x2_c1k5<const KH: usize, const ROW: usize, const N: usize>(
    x: *const i8,
    w: *const u32,
    bias: [i32; 2],
    out: &mut [[i32; 2]; N],
) {
    const { assert!(N >= 1) };
    // SAFETY: the caller guarantees the reads, and `out` holds the `N`
    // pairs written; r6 and r7 (not operands in `asm!`), the bias, `out`,
    // the count and the first conv row's sums are pushed and popped inside
    // the block; everything else written is an operand or a clobber.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            // [sp]: bias 0, bias 1, out, windows left.
            "push {{r0, r1, r2, r3}}",
            // `op a, x, w` accumulating, or starting the sum in the first row.
            ".macro cn_mac op, a, x, w",
            "  .if cn_first",
            "    smuad \\a, \\x, \\w",
            "  .else",
            "    \\op \\a, \\x, \\w, \\a",
            "  .endif",
            ".endm",
            "3:",
            ".irp cn_pass, 0, 1",
            "  .if \\cn_pass",
            "    push {{r0, r1, r2, r3}}",
            "    sub.w lr, lr, #(20 * {kh})",
            "  .endif",
            // The first row starts the sums (SMUAD): the bias is added to
            // the maxima.
            "  .set cn_o, \\cn_pass * {row}",
            "  .set cn_first, 1",
            "  .rept {kh}",
            // Filter 0's pairs in r4, r5, filter 1's in r6, r7, the fifth
            // taps in r8; both input words loaded back to back.
            "    ldm lr!, {{r4, r5, r6, r7, r8}}",
            "    ldr.w r10, [r12, #cn_o]",
            "    ldr.w r11, [r12, #(cn_o + 2)]",
            "    sxtb16 r9, r10",
            "    sxtb16 r10, r10, ror #8",
            "    cn_mac smlad, r0, r9, r4",
            "    cn_mac smlad, r1, r9, r6",
            "    smlad r0, r10, r5, r0",
            "    smlad r1, r10, r7, r1",
            "    cn_mac smlad, r2, r10, r4",
            "    cn_mac smlad, r3, r10, r6",
            "    sxtb16 r9, r11",
            "    sxtb16 r11, r11, ror #8",
            "    smlad r2, r9, r5, r2",
            "    smlad r3, r9, r7, r3",
            "    smlatb r0, r9, r8, r0",
            "    smlatt r1, r9, r8, r1",
            "    smlatb r2, r11, r8, r2",
            "    smlatt r3, r11, r8, r3",
            "    .set cn_o, cn_o + {row}",
            "    .set cn_first, 0",
            "  .endr",
            ".endr",
            // The first row's sums (filter 0, 1 of pixel 0, then of pixel 1).
            "pop {{r4, r5, r6, r7}}",
            ".irp cn_m, r2, r4, r6",
            "  cmp r0, \\cn_m",
            "  it lt",
            "  movlt r0, \\cn_m",
            ".endr",
            ".irp cn_m, r3, r5, r7",
            "  cmp r1, \\cn_m",
            "  it lt",
            "  movlt r1, \\cn_m",
            ".endr",
            "ldm sp, {{r4, r5, r6}}",
            "add r0, r0, r4",
            "add r1, r1, r5",
            "stm r6!, {{r0, r1}}",
            "str r6, [sp, #8]",
            "sub.w lr, lr, #(20 * {kh})",
            "adds r12, r12, #2",
            "ldr r4, [sp, #12]",
            "subs r4, r4, #1",
            "str r4, [sp, #12]",
            "bne 3b",
            ".purgem cn_mac",
            "add sp, sp, #16",
            "pop {{r6, r7}}",
            kh = const KH,
            row = const ROW,
            inout("r0") bias[0] => _,
            inout("r1") bias[1] => _,
            inout("r2") out.as_mut_ptr() => _,
            inout("r3") N => _,
            out("r4") _,
            out("r5") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            inout("r12") x => _,
            inout("lr") w => _,
        );
    }
}

/// Bytes of the widened input [`pool2x2_q15`] reads: two of LeNet's
/// second-layer windows side by side (6 x 8 pixels of 8 channels) fit.
pub(crate) const Q15_WINDOW_BYTES: usize = 768;

/// Widens the input of `N` (1 or 2) side-by-side 2x2 pooling windows of
/// a convolution with `KH x KW` filters over `C` channels (`C % 4 == 0`)
/// for [`pool2x2_q15`]: `KH + 1` rows of `2 * N + KW - 1` pixels, `W *
/// C` bytes apart from `x` on, into `out`, one row after the other. Each
/// input word `[x0, x1, x2, x3]` becomes `[x0, x2]` and `[x1, x3]` as
/// halfwords, the pairs SMLAD multiplies with a weight word's SXTB16
/// halves. Two words at a time: two pipelined loads, four SXTB16s, one
/// STM; a loop over rows (the count in r12).
///
/// # Safety
/// `x .. x + KH * ROW + (2 * N + KW - 1) * C` must be readable (any
/// alignment) and `out` must hold `KH + 1` rows of [`q15_row_bytes`]
/// (4-aligned); `ROW = W * C` below 4,096.
#[inline(never)]
pub(crate) unsafe fn widen_window<const N: usize, const KH: usize, const KW: usize, const C: usize, const W: usize>(
    x: *const i8,
    out: *mut u32,
) {
    // SAFETY: the caller guarantees the reads and writes; everything
    // written is an operand or a clobber.
    unsafe {
        asm!(
            "movs r12, #({kh} + 1)",
            "2:",
            ".set cn_k, 0",
            ".rept {words} / 2",
            "  ldr r3, [r0, #(8 * cn_k)]",
            "  ldr r5, [r0, #(8 * cn_k + 4)]",
            "  sxtb16 r2, r3",
            "  sxtb16 r3, r3, ror #8",
            "  sxtb16 r4, r5",
            "  sxtb16 r5, r5, ror #8",
            "  stm r1!, {{r2, r3, r4, r5}}",
            "  .set cn_k, cn_k + 1",
            ".endr",
            ".if {words} % 2",
            "  ldr r3, [r0, #(8 * cn_k)]",
            "  sxtb16 r2, r3",
            "  sxtb16 r3, r3, ror #8",
            "  stm r1!, {{r2, r3}}",
            ".endif",
            "addw r0, r0, #{row}",
            "subs r12, r12, #1",
            "bne 2b",
            kh = const KH,
            words = const (2 * N + KW - 1) * C / 4,
            row = const W * C,
            inout("r0") x => _,
            inout("r1") out => _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            out("r12") _,
            options(nostack),
        );
    }
}

/// Bytes of one widened input row of `n` (1 or 2) side-by-side 2x2
/// pooling windows of a convolution with `kw` taps per row over `c`
/// channels: `2 * n + kw - 1` pixels.
pub(crate) const fn q15_row_bytes(n: usize, kw: usize, c: usize) -> usize {
    (2 * n + kw - 1) * c * 2
}

/// The largest of the four accumulators (starting at `bias`) of each of
/// `N` (1 or 2) side-by-side 2x2 pooling windows of a convolution with
/// `KH x KW` filters over `C` channels (`C % 4 == 0`, stride 1), for two
/// filters (`w` and the next one, `KH * KW * C` bytes on), from the
/// windows' input already widened ([`widen_window`]): `x` holds `KH + 1`
/// rows of [`q15_row_bytes`], pixel `(dy, dx)`'s taps of filter row `ky`
/// starting at `(dy + ky) * row + dx * 2 * C`; a filter row is `KW * C /
/// 4` weight words. Window `k`'s maxima are `[k][0]` (first filter) and
/// `[k][1]`.
///
/// The pixels go in blocks that share each loaded input pair between both
/// filters (an `LDRD` and four `SMLAD`s per pixel and word) and each
/// widened weight word between the block's pixels: per window, pixels
/// (0,0), (0,1), (1,0) (six accumulators, the four weight halves, the pair
/// and two pointers: all fourteen registers), then the windows' pixels
/// (1,1) together. On LeNet's second layer, 1.23 estimated cycles per MAC
/// (qemu-cycles) against 1.45 with one filter over eight pixels. Each block loops over the filter rows (the count on the
/// stack), each row unrolled.
///
/// # Safety
/// `x .. x + (KH + 1) * row` (4-aligned) and `w .. w + 2 * KH * KW * C`
/// must be readable, and the shape must fit: see [`pool2x2_q15_fits`].
#[inline(never)]
pub(crate) unsafe fn pool2x2_q15<const N: usize, const KH: usize, const KW: usize, const C: usize>(
    x: *const u32,
    w: *const i8,
    bias: [i32; 2],
) -> [[i32; 2]; N] {
    const { assert!(N == 1 || N == 2, "one or two windows") };
    let (mut m0, mut m1) = (bias[0], bias[1]);
    let (m2, m3): (i32, i32);
    // SAFETY: the caller guarantees the reads; r6 and r7 are saved and
    // restored, the counts, biases and maxima live on the stack inside the
    // block; everything else written is an operand or a clobber.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            // [sp]: rows left, [sp, #4]: the next window's maxima, [sp, #8]:
            // the biases, [sp, #16]: the windows' maxima (filter 0, 1).
            "sub sp, sp, #32",
            "strd r0, r1, [sp, #8]",
            "add r6, sp, #16",
            "str r6, [sp, #4]",
            // Word `j` of both filters into r7 and r11, widened after the
            // loads that follow (r6, r7 and r10, r11): back-to-back loads
            // pipeline, one cycle each after the first.
            ".macro cn_load_weights j",
            "  ldr r7, [r9, #(4 * \\j)]",
            "  ldr r11, [r9, #({filter} + 4 * \\j)]",
            ".endm",
            ".macro cn_widen_weights",
            "  sxtb16 r6, r7",
            "  sxtb16 r7, r7, ror #8",
            "  sxtb16 r10, r11",
            "  sxtb16 r11, r11, ror #8",
            ".endm",
            // One pixel's widened pair (x0, x1) into accumulators a, b.
            ".macro cn_macs a, b, x0, x1",
            "  smlad \\a, \\x0, r6, \\a",
            "  smlad \\a, \\x1, r7, \\a",
            "  smlad \\b, \\x0, r10, \\b",
            "  smlad \\b, \\x1, r11, \\b",
            ".endm",
            ".macro cn_pixel a, b, off, j",
            "  ldrd r12, lr, [r8, #(8 * \\j + \\off)]",
            "  cn_macs \\a, \\b, r12, lr",
            ".endm",
            // The filter rows' loop around `body`, pointers restored after.
            ".macro cn_rows body",
            "  movs r6, #{kh}",
            "  str r6, [sp]",
            "  2:",
            "  .set cn_j, 0",
            "  .rept {words}",
            "    \\body cn_j",
            "    .set cn_j, cn_j + 1",
            "  .endr",
            "  addw r8, r8, #{rowq}",
            "  addw r9, r9, #(4 * {words})",
            "  ldr r6, [sp]",
            "  subs r6, r6, #1",
            "  str r6, [sp]",
            "  bne 2b",
            "  subw r8, r8, #({kh} * {rowq})",
            "  subw r9, r9, #({kh} * 4 * {words})",
            ".endm",
            ".macro cn_max a, b",
            "  cmp \\a, \\b",
            "  it lt",
            "  movlt \\a, \\b",
            ".endm",
            // The first pixel's pair loaded with the weights (no register
            // is left for more).
            ".macro cn_three j",
            "  cn_load_weights \\j",
            "  ldr r12, [r8, #(8 * \\j)]",
            "  ldr lr, [r8, #(8 * \\j + 4)]",
            "  cn_widen_weights",
            "  cn_macs r0, r1, r12, lr",
            "  cn_pixel r2, r3, {pixq}, \\j",
            "  cn_pixel r4, r5, {rowq}, \\j",
            ".endm",
            // Both pixels' pairs loaded with the weights (r4, r5 are free).
            ".macro cn_fourth j",
            "  cn_load_weights \\j",
            "  ldr r12, [r8, #(8 * \\j + {rowq} + {pixq})]",
            "  ldr lr, [r8, #(8 * \\j + {rowq} + {pixq} + 4)]",
            "  .if {n} == 2",
            "    ldr r4, [r8, #(8 * \\j + {rowq} + 3 * {pixq})]",
            "    ldr r5, [r8, #(8 * \\j + {rowq} + 3 * {pixq} + 4)]",
            "  .endif",
            "  cn_widen_weights",
            "  cn_macs r0, r1, r12, lr",
            "  .if {n} == 2",
            "    cn_macs r2, r3, r4, r5",
            "  .endif",
            ".endm",
            // Each window's first three pixels.
            "3:",
            "ldrd r0, r1, [sp, #8]",
            "mov r2, r0",
            "mov r3, r1",
            "mov r4, r0",
            "mov r5, r1",
            "cn_rows cn_three",
            "cn_max r0, r2",
            "cn_max r0, r4",
            "cn_max r1, r3",
            "cn_max r1, r5",
            "ldr r6, [sp, #4]",
            "strd r0, r1, [r6], #8",
            "str r6, [sp, #4]",
            "add r8, r8, #(2 * {pixq})",
            "add r7, sp, #(16 + 8 * {n})",
            "cmp r6, r7",
            "bne 3b",
            "sub r8, r8, #({n} * 2 * {pixq})",
            // The windows' fourth pixels, and the maxima.
            "ldrd r0, r1, [sp, #8]",
            "mov r2, r0",
            "mov r3, r1",
            "cn_rows cn_fourth",
            "ldrd r4, r5, [sp, #16]",
            "cn_max r0, r4",
            "cn_max r1, r5",
            ".if {n} == 2",
            "  ldrd r4, r5, [sp, #24]",
            "  cn_max r2, r4",
            "  cn_max r3, r5",
            ".endif",
            ".purgem cn_load_weights",
            ".purgem cn_widen_weights",
            ".purgem cn_macs",
            ".purgem cn_pixel",
            ".purgem cn_rows",
            ".purgem cn_max",
            ".purgem cn_three",
            ".purgem cn_fourth",
            "add sp, sp, #32",
            "pop {{r6, r7}}",
            n = const N,
            kh = const KH,
            words = const KW * C / 4,
            filter = const KH * KW * C,
            rowq = const q15_row_bytes(N, KW, C),
            pixq = const 2 * C,
            inout("r0") m0,
            inout("r1") m1,
            out("r2") m2,
            out("r3") m3,
            out("r4") _,
            out("r5") _,
            inout("r8") x => _,
            inout("r9") w => _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("lr") _,
        );
    }
    let maxima = [[m0, m1], [m2, m3]];
    core::array::from_fn(|k| maxima[k])
}

/// Whether [`pool2x2_q15`] takes this shape for one and two windows:
/// channels in whole words, two windows' widened input within
/// [`Q15_WINDOW_BYTES`], offsets within the `ldrd` (1,020), `ldr` and
/// `addw` / `subw` (4,095) immediates.
pub(crate) const fn pool2x2_q15_fits(kh: usize, kw: usize, c: usize) -> bool {
    let (words, row) = (kw * c / 4, q15_row_bytes(2, kw, c));
    c.is_multiple_of(4)
        && kh >= 1
        && kh <= 255
        && (kh + 1) * row <= Q15_WINDOW_BYTES
        && 8 * (words - 1) + row + 6 * c <= 1020
        && kh * kw * c + 4 * words < 4096
        && kh * row < 4096
        && kh * 4 * words < 4096
}
