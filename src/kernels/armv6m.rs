//! Int8 inner loop for Arm cores without the DSP extension (Cortex-M0, M0+,
//! M1, M3: Thumb-1 instructions).
//!
//! Why assembly: the Cortex-M0 has eight low registers for loads and
//! multiplies, and byte loads only with a register offset. The compiler's
//! code for a dot product keeps sums and offsets on the stack (about 5
//! instructions per multiply-accumulate, measured). Here four filters share
//! each input byte: the input and the four weight rows are addressed from
//! one running index, the four sums live in high registers (`add` reaches
//! them), and a step of four multiply-accumulates is 15 instructions.
//! Integer sums do not depend on their order: results equal the portable
//! loops' exactly.

use core::arch::asm;

/// `acc[k] += sum(x[i] * w[k * fstep + i])` for `i < n`: four weight rows
/// `fstep` bytes apart (four filters' rows of taps, or four dense outputs).
///
/// # Safety
/// `x .. x + n` and `w .. w + 3 * fstep + n` must be in bounds, and `n`
/// positive and below `isize::MAX`.
#[inline(never)]
pub(crate) unsafe fn dot4(x: *const i8, w: *const i8, fstep: usize, n: usize, acc: &mut [i32; 4]) {
    // The rows end at `base + n`; the index runs from -n up to 0. The sums
    // and the index go in and out through memory: Thumb-1 `asm!` takes no
    // high registers as operands.
    let end = |p: *const i8| p.wrapping_add(n);
    let (x, w0, w1, w2, w3) =
        (end(x), end(w), end(w.wrapping_add(fstep)), end(w.wrapping_add(2 * fstep)), end(w.wrapping_add(3 * fstep)));
    let mut io = [acc[0], acc[1], acc[2], acc[3], (n as i32).wrapping_neg()];
    // SAFETY: every address read is `row end + index` with `-n <= index < 0`,
    // inside the rows by the caller's guarantee; `io` is five words; r6 and
    // r7 (not allowed as operands) and the `io` pointer are saved and
    // restored around the loop; r8-r11 are declared clobbered.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            "ldr r6, [r5, #0]",
            "mov r8, r6",
            "ldr r6, [r5, #4]",
            "mov r9, r6",
            "ldr r6, [r5, #8]",
            "mov r10, r6",
            "ldr r6, [r5, #12]",
            "mov r11, r6",
            "ldr r6, [r5, #16]",
            "push {{r5}}",
            "mov r5, r6",
            "2:",
            "ldrsb r6, [r0, r5]",
            "ldrsb r7, [r1, r5]",
            "muls r7, r6, r7",
            "add r8, r7",
            "ldrsb r7, [r2, r5]",
            "muls r7, r6, r7",
            "add r9, r7",
            "ldrsb r7, [r3, r5]",
            "muls r7, r6, r7",
            "add r10, r7",
            "ldrsb r7, [r4, r5]",
            "muls r7, r6, r7",
            "add r11, r7",
            "adds r5, #1",
            "bne 2b",
            "pop {{r5}}",
            "mov r6, r8",
            "str r6, [r5, #0]",
            "mov r6, r9",
            "str r6, [r5, #4]",
            "mov r6, r10",
            "str r6, [r5, #8]",
            "mov r6, r11",
            "str r6, [r5, #12]",
            "pop {{r6, r7}}",
            in("r0") x,
            in("r1") w0,
            in("r2") w1,
            in("r3") w2,
            in("r4") w3,
            in("r5") io.as_mut_ptr(),
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
        );
    }
    acc.copy_from_slice(&io[..4]);
}
