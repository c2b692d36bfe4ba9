//! constnet on an emulated STM32F405 (QEMU `netduinoplus2`, Cortex-M4F).
//!
//! Prints one line `agree=<k>/<n> acc=<x.xxxx> stack_peak=<bytes>` and exits
//! through semihosting with status 0 (all good) or 1 (a check failed).
//! `tools/firmware-figures.sh` adds flash, static RAM and the instruction
//! count of one inference. See README.md.
//!
//! STAND-IN: until the real model is integrated, `run_inference` is a fixed
//! f32 matrix-vector product (64x256 weights in flash), checked exactly
//! against an integer reference. `agree` is then 1/1 when the product is
//! exact and `acc=0.0000` is a PLACEHOLDER. Replace `run_inference` (and the
//! evaluation in `main`) with the model: run it over the test samples, count
//! agreements with the host's predictions (`agree`) and correct labels (`acc`).

#![no_std]
#![no_main]

mod measure;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

use measure::{constnet_mark, measure_stack, Fixed4, StackUse, MARK_END, MARK_START};

// Keeps the library linked in (and building for the target) before it is used.
#[allow(unused_imports)]
use constnet as _;

// ---------------------------------------------------------------------------
// STAND-IN workload: y = W x with W: 64x256, x: 256, all f32 (16384 MACs).
// The values are small integers, so every partial sum is exact in f32 and the
// result can be checked exactly against integer arithmetic.
// ---------------------------------------------------------------------------

const ROWS: usize = 64;
const COLS: usize = 256;

const fn w_int(i: usize, j: usize) -> i32 {
    ((i * 7 + j * 3) % 17) as i32 - 8
}

const fn x_int(j: usize) -> i32 {
    ((j * 5) % 11) as i32 - 5
}

/// Weights live in flash (a `static` of a const-evaluated array): 64 KiB.
static WEIGHTS: [[f32; COLS]; ROWS] = {
    let mut w = [[0.0; COLS]; ROWS];
    let mut i = 0;
    while i < ROWS {
        let mut j = 0;
        while j < COLS {
            w[i][j] = w_int(i, j) as f32;
            j += 1;
        }
        i += 1;
    }
    w
};

static INPUT: [f32; COLS] = {
    let mut x = [0.0; COLS];
    let mut j = 0;
    while j < COLS {
        x[j] = x_int(j) as f32;
        j += 1;
    }
    x
};

/// One inference. STAND-IN: replace with the model's forward pass.
#[inline(never)]
fn run_inference(x: &[f32; COLS]) -> [f32; ROWS] {
    // Hide the weights' values from the optimizer so it cannot fold the product.
    let w: &[[f32; COLS]; ROWS] = core::hint::black_box(&WEIGHTS);
    let mut y = [0.0f32; ROWS];
    for (yi, row) in y.iter_mut().zip(w.iter()) {
        let mut acc = 0.0f32;
        for (a, b) in row.iter().zip(x.iter()) {
            acc += a * b;
        }
        *yi = acc;
    }
    y
}

/// STAND-IN check: the product must equal the integer reference exactly.
fn stand_in_is_exact(y: &[f32; ROWS]) -> bool {
    (0..ROWS).all(|i| {
        let r: i32 = (0..COLS).map(|j| w_int(i, j) * x_int(j)).sum();
        y[i] == r as f32
    })
}

/// Prints the line `tools/firmware-figures.sh` reads. Kept out of line so that
/// the formatting machinery's stack frame is not part of `main`'s frame, and
/// so not counted in the measured stack peak.
#[inline(never)]
fn report(agree: u32, n: u32, acc: f32, stack: StackUse) {
    hprintln!(
        "agree={}/{} acc={} stack_peak={} stack_inference={} static_ram_rt={}",
        agree,
        n,
        Fixed4(acc),
        stack.peak,
        stack.measured,
        measure::static_ram()
    );
}

#[entry]
fn main() -> ! {
    let x = core::hint::black_box(&INPUT);

    // One measured inference: markers for the instruction count, stack
    // repainted before and scanned after.
    let (y, stack) = measure_stack(|| {
        constnet_mark(MARK_START);
        let y = run_inference(x);
        constnet_mark(MARK_END);
        y
    });

    // STAND-IN evaluation: one "sample", agreeing when the product is exact.
    // `acc` is a PLACEHOLDER (0) until the real model and test set are in.
    let n = 1u32;
    let agree = stand_in_is_exact(&y) as u32;
    let acc = 0.0f32;

    let induce_failure = cfg!(feature = "induce-failure");
    if induce_failure {
        hprintln!("induced failure (feature `induce-failure`)");
    }

    report(agree, n, acc, stack);

    let ok = agree == n && !induce_failure;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
