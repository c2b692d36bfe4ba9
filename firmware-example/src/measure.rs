//! Measuring helpers: instruction-count markers and stack-peak measurement.
//!
//! Nothing here prints: the f32 firmwares print with `core::fmt` (`check.rs`),
//! the int8 ones without it (`out.rs`).

use core::arch::asm;
use core::ptr::{addr_of, read_volatile};
use core::sync::atomic::{compiler_fence, Ordering};

// ---------------------------------------------------------------------------
// Instruction-count markers
// ---------------------------------------------------------------------------

/// Mark id for "an inference starts". `tools/firmware-figures.sh` reports the
/// instructions from the first `MARK_START` to the next [`MARK_END`] as
/// `instructions_per_inference`.
pub const MARK_START: u8 = 0;
/// Mark id for "an inference ends".
pub const MARK_END: u8 = 255;
// Ids 1..=254 are free for marks in between (e.g. one after each layer); the
// plugin then prints the instructions between every two consecutive marks.

/// Records "mark `id` reached" for the QEMU plugin in `tools/icount`.
///
/// The plugin counts every executed guest instruction; on each call of this
/// function it records (id, instructions so far). At exit it prints
/// `id_from -> id_to: N instructions` for every consecutive pair of marks, a
/// per-pair summary, and the first `MARK_START -> MARK_END` span.
///
/// QEMU 7.2's plugin API cannot read guest registers, so `id` cannot be taken
/// from `r0`. Instead it travels as an *address*: this function does one
/// volatile byte load from `(address of constnet_mark) + id`, i.e. from its own
/// code in flash (harmless, costs no memory), and the plugin, which watches
/// byte loads made by this function, recovers `id` as load address minus
/// function address. Hence `id` is a `u8` (keeps the load within 255 bytes of
/// the function).
///
/// Cost: a call, a few instructions, nothing in RAM. On real hardware it is a
/// no-op apart from those few cycles.
#[inline(never)]
#[no_mangle]
pub extern "C" fn constnet_mark(id: u8) {
    compiler_fence(Ordering::SeqCst);
    // Thumb function pointers have bit 0 set; the code starts at the even address.
    let base = (constnet_mark as extern "C" fn(u8) as usize) & !1;
    // SAFETY: reads a byte of flash at most 255 bytes past this function's
    // first instruction, which is always inside the (readable) flash image.
    unsafe { read_volatile((base + id as usize) as *const u8) };
    cortex_m::asm::nop();
    compiler_fence(Ordering::SeqCst);
}

// ---------------------------------------------------------------------------
// Stack peak
// ---------------------------------------------------------------------------

/// The value cortex-m-rt's `paint-stack` feature fills the stack with
/// (`cortex_m_rt::STACK_PAINT_VALUE`), and the one we repaint with.
pub const PAINT: u32 = 0xCCCC_CCCC;

extern "C" {
    // From cortex-m-rt's link.x: the stack grows down from `_stack_start`
    // (end of RAM) towards `_stack_end` (end of .bss/.uninit, 4-aligned).
    static _stack_start: u32;
    static _stack_end: u32;
}

fn stack_top() -> usize {
    addr_of!(_stack_start) as usize
}

fn stack_bottom() -> usize {
    addr_of!(_stack_end) as usize
}

/// Repaints every stack word below the current stack pointer.
///
/// The boot-time paint is already scrubbed by whatever ran before (printing
/// uses a few hundred bytes of stack); repainting lets [`measure_stack`]
/// report the peak of the measured code alone. Written in assembly so that SP
/// is read and the memory below it painted with no stack access in between
/// (in Rust, the compiler may push registers after reading SP, and the paint
/// would then overwrite the saved return address).
#[inline(never)]
fn repaint_below_sp() {
    // SAFETY: paints [_stack_end, sp), which no one is using; no stack use,
    // only the three named registers are touched. `stm` with writeback (not
    // post-indexed `str`) keeps it valid on ARMv6-M too.
    unsafe {
        asm!(
            "mov {top}, sp",
            "0:",
            "cmp {p}, {top}",
            "bhs 1f",
            "stm {p}!, {{{v}}}",
            "b 0b",
            "1:",
            p = inout(reg) stack_bottom() => _,
            top = out(reg) _,
            v = in(reg) PAINT,
            options(nostack),
        );
    }
}

/// Deepest stack use since the last paint, in bytes from the top of RAM:
/// scans up from `_stack_end` to the first word that is no longer painted.
#[inline(never)]
pub fn stack_peak_since_paint() -> usize {
    let top = stack_top();
    let mut p = stack_bottom();
    // SAFETY: [_stack_end, _stack_start) is RAM.
    while p < top && unsafe { read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

/// Stack use of the code run by [`measure_stack`].
#[derive(Clone, Copy, Debug)]
pub struct StackUse {
    /// Deepest point the stack reached while the code ran, in bytes below the
    /// top of RAM: what the device needs, including the frames of `main` and
    /// of the callers (the figure `tools/firmware-figures.sh` reports).
    pub peak: usize,
    /// The part of `peak` below `measure_stack`'s own frame: the measured
    /// code's stack alone, independent of how `main` is written.
    pub measured: usize,
}

/// Runs `f` and returns its result with its stack use (see [`StackUse`]).
#[inline(never)]
pub fn measure_stack<R>(f: impl FnOnce() -> R) -> (R, StackUse) {
    let sp: usize;
    // SAFETY: reads SP only.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    repaint_below_sp();
    let r = f();
    compiler_fence(Ordering::SeqCst);
    let peak = stack_peak_since_paint();
    let measured = peak.saturating_sub(stack_top() - sp);
    (r, StackUse { peak, measured })
}

/// Static RAM (.data + .bss + .uninit) as seen by the linker, at run time.
pub fn static_ram() -> usize {
    extern "C" {
        static __sdata: u32;
    }
    // .data starts at the beginning of RAM and .bss/.uninit follow it; the
    // stack region begins where they end.
    stack_bottom() - addr_of!(__sdata) as usize
}
