//! constnet on an emulated nRF51822 (QEMU `microbit`: Cortex-M0, no FPU,
//! 256 KiB flash, 16 KiB RAM): the LeNet of `constnet::zoo`, weights used in
//! flash with [`constnet::view`], classifies the first [`SAMPLES`] test images
//! of `firmware-example/model/`, and every output is checked against the
//! host's, as `firmware-example` does on the Cortex-M4F.
//!
//! The data are firmware-example's files, embedded with `include_bytes!`;
//! 256 KiB of flash hold the weights (82,108 bytes with header and CRC-32
//! trailer) and the first
//! [`SAMPLES`] images with their labels and host outputs, not all 300. The
//! marker and stack tools (`src/measure.rs`) and the checking code
//! (`src/check.rs`: input scaling, host outputs, the agreement tally and the
//! `agree=` line) are firmware-example's, included as modules.
//!
//! Runs one measured inference (instruction markers 0 -> 255, stack
//! repainted), then the [`SAMPLES`] inferences (markers 1 -> 2). The last line is
//!
//! ```text
//! agree=<k>/<n> acc=<x.xxxx> stack_peak=<bytes> stack_inference=<bytes> static_ram_rt=<bytes> bit_identical=<k>/<n> ...
//! ```
//!
//! An inference *agrees* when its argmax equals the host's and each of its 10
//! outputs is within [`check::TOLERANCE`] of the host's. The firmware exits with
//! status 0 only if all agree.

#![no_std]
#![no_main]

#[path = "../../firmware-example/src/check.rs"]
mod check;
#[path = "../../firmware-example/src/measure.rs"]
mod measure;

use core::ptr::addr_of_mut;

use constnet::persist::{saved_len, Aligned};
use constnet::zoo::Lenet;
use constnet::{Model, Tensor};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

use check::{Eval, TestSet, CLASSES, PIXELS};
use measure::{constnet_mark, measure_stack, MARK_END, MARK_START};

type Net = Lenet<f32>;
type Ws = <Net as Model<f32>>::Workspace;

/// Test images embedded and run: the first `SAMPLES` of firmware-example's
/// 300. Flash would hold about 180 next to the weights and code; the run
/// time (about 0.13 s of QEMU per soft-float inference) sets the number.
const SAMPLES: usize = 100;
const BLOB_LEN: usize = saved_len::<f32, Net>();

// ---------------------------------------------------------------------------
// Flash
// ---------------------------------------------------------------------------

/// The first `N` bytes of `bytes`, at compile time: only they are flashed.
const fn first<const N: usize>(bytes: &[u8]) -> [u8; N] {
    match bytes.first_chunk::<N>() {
        Some(a) => *a,
        None => panic!("embedded file too short"),
    }
}

/// The weights, aligned so that `view` can use them in place.
static WEIGHTS: Aligned<[u8; BLOB_LEN]> = Aligned(*include_bytes!("../../firmware-example/model/lenet.postcard"));
static IMAGES: [u8; SAMPLES * PIXELS] = first(include_bytes!("../../firmware-example/model/images.bin"));
static LABELS: [u8; SAMPLES] = first(include_bytes!("../../firmware-example/model/labels.bin"));
static HOST_OUTPUTS: [u8; SAMPLES * CLASSES * 4] =
    first(include_bytes!("../../firmware-example/model/host_outputs.bin"));
static TEST: TestSet<SAMPLES> = TestSet::new(&IMAGES, &LABELS, &HOST_OUTPUTS);

// ---------------------------------------------------------------------------
// RAM (.bss): the workspace, which also holds the input image
// ---------------------------------------------------------------------------

static mut WORKSPACE: Ws = Ws::new();

#[entry]
fn main() -> ! {
    let model: &Net = match constnet::view(&WEIGHTS.0) {
        Ok(m) => m,
        Err(e) => panic!("embedded weights refused: {:?}", e),
    };
    hprintln!("weights: view, in flash at {:p} ({} bytes); {} test images", model, BLOB_LEN, SAMPLES);

    // SAFETY: the only reference to WORKSPACE, taken once.
    let ws: &'static mut Ws = unsafe { &mut *addr_of_mut!(WORKSPACE) };

    // One measured inference: markers for the instruction count, stack
    // repainted before and scanned after.
    TEST.fill_input(Net::staged_input(ws).as_flat_mut(), 0);
    let (y0, stack) = measure_stack(|| {
        constnet_mark(MARK_START);
        let y = model.predict_staged(ws);
        constnet_mark(MARK_END);
        *y
    });

    // The test images, each inference between markers 1 and 2.
    let mut eval = Eval::default();
    let mut repeatable = true;
    for i in 0..SAMPLES {
        TEST.fill_input(Net::staged_input(ws).as_flat_mut(), i);
        constnet_mark(1);
        let y = model.predict_staged(ws);
        constnet_mark(2);
        if i == 0 && y != &y0 {
            hprintln!("FAIL: image 0 gave different outputs in two runs");
            repeatable = false;
        }
        eval.add(&TEST, i, y);
    }

    let induce_failure = cfg!(feature = "induce-failure");
    if induce_failure {
        hprintln!("induced failure (feature `induce-failure`)");
    }
    eval.report(&TEST, stack);

    let ok = eval.all_agree(&TEST) && repeatable && !induce_failure;
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}
