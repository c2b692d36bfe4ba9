//! constnet on an emulated STM32F405 (QEMU `netduinoplus2`, Cortex-M4F): the
//! LeNet of `constnet::zoo` classifies 300 Fashion-MNIST test images with
//! weights from a postcard blob, and every output is checked against the
//! host's.
//!
//! Embedded in flash (`include_bytes!`, written by
//! `cargo run --release --features std --example firmware_data` in the parent
//! crate):
//! - `model/lenet.postcard`: the weights (16-byte header + 82,088 bytes +
//!   4-byte CRC-32), 16-byte aligned through [`constnet::persist::Aligned`];
//! - `model/images.bin`: 300 images of 784 raw `u8` pixels;
//! - `model/labels.bin`: 300 labels;
//! - `model/host_outputs.bin`: the host's 300 x 10 `f32` outputs.
//!
//! Two ways to use the weights:
//! - default: [`constnet::view`] uses them where they lie, in flash. RAM holds
//!   only the workspace (which also holds the input image) and the stack.
//! - feature `load-into-ram`: [`constnet::load_into`] copies them into
//!   `static mut MODEL` (82 KB of `.bss`), as for weights received at run
//!   time.
//!
//! Both first show that bad blobs are refused (truncated, another
//! architecture, garbage, format version 1), then check the embedded blob
//! (markers 3 -> 4: the cost of `view` or `load_into`), run one measured
//! inference (instruction markers 0 -> 255, stack painted), the 300
//! inferences (markers 1 -> 2), and one layer-by-layer pass with a marker
//! before it (id 9) and after each of its 5 steps (ids 10..=14, named with
//! their multiply-accumulates on the `layers:` line). The last line is
//!
//! ```text
//! agree=<k>/<n> acc=<x.xxxx> stack_peak=<bytes> stack_inference=<bytes> static_ram_rt=<bytes> bit_identical=<k>/<n> ...
//! ```
//!
//! An inference *agrees* when its argmax equals the host's and each of its 10
//! outputs is within [`check::TOLERANCE`] of the host's (the checking code,
//! `src/check.rs`, is shared with firmware-m0). The firmware exits with
//! status 0 only if all 300 agree, every bad blob was refused with the
//! expected error and the layer-by-layer pass reproduced `predict` exactly.
//!
//! Feature `perturb-one-ulp` flashes the blob with the lowest bit of weight
//! [`PERTURBED_WEIGHT`] flipped and the checksum recomputed: it loads, and
//! the outputs drift in their last bits (up to 60 ulps), within
//! [`check::TOLERANCE`]. The firmware then still agrees, but is no longer
//! bit-identical to the host (`bit_identical=` below `n`), which
//! `tools/firmware-ci.sh` requires its bit-identical gate to catch.

#![no_std]
#![no_main]

mod check;
mod measure;

use core::ptr::addr_of_mut;

use constnet::model::Pass;
use constnet::persist::{reseal, saved_len, Aligned, LoadError, HEADER_LEN};
use constnet::zoo::{Lenet, SmallConvNet};
use constnet::{Model, Params, Tensor};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprint, hprintln};
use panic_semihosting as _;

use check::{Eval, TestSet, CLASSES, PIXELS};
use measure::{constnet_mark, measure_stack, MARK_END, MARK_START};

type Net = Lenet<f32>;
type Output = <Net as Model<f32>>::Output;
type Ws = <Net as Model<f32>>::Workspace;

/// Test images embedded.
const SAMPLES: usize = 300;
const BLOB_LEN: usize = saved_len::<f32, Net>();

// ---------------------------------------------------------------------------
// Flash
// ---------------------------------------------------------------------------

/// The weight that feature `perturb-one-ulp` changes: the first weight of
/// conv1 (one ulp of it changes 260 of the 300 host outputs in the last bits).
const PERTURBED_WEIGHT: usize = 0;

/// The blob as flashed: `blob` itself, or with `perturb-one-ulp` the lowest
/// mantissa bit of weight [`PERTURBED_WEIGHT`] (the first of its
/// little-endian bytes) flipped and the trailer recomputed, at compile time.
const fn flashed(mut blob: [u8; BLOB_LEN]) -> [u8; BLOB_LEN] {
    if cfg!(feature = "perturb-one-ulp") {
        blob[HEADER_LEN + 4 * PERTURBED_WEIGHT] ^= 1;
        reseal(&mut blob);
    }
    blob
}

/// The committed blob (compile time only: what is flashed is [`WEIGHTS`]).
const BLOB: &[u8; BLOB_LEN] = include_bytes!("../model/lenet.postcard");
/// The trained bits of weight [`PERTURBED_WEIGHT`], from the committed blob.
const TRAINED_BITS: u32 = {
    let at = HEADER_LEN + 4 * PERTURBED_WEIGHT;
    u32::from_le_bytes([BLOB[at], BLOB[at + 1], BLOB[at + 2], BLOB[at + 3]])
};

/// The weights, aligned so that `view` can use them in place.
static WEIGHTS: Aligned<[u8; BLOB_LEN]> = Aligned(flashed(*BLOB));
static IMAGES: [u8; SAMPLES * PIXELS] = *include_bytes!("../model/images.bin");
static LABELS: [u8; SAMPLES] = *include_bytes!("../model/labels.bin");
static HOST_OUTPUTS: [u8; SAMPLES * CLASSES * 4] = *include_bytes!("../model/host_outputs.bin");
static TEST: TestSet<SAMPLES> = TestSet::new(&IMAGES, &LABELS, &HOST_OUTPUTS);

// ---------------------------------------------------------------------------
// RAM (.bss): the workspace, which also holds the input image
// (`Model::staged_input`); the model too with
// `load-into-ram`.
// ---------------------------------------------------------------------------

static mut WORKSPACE: Ws = Ws::new();
#[cfg(feature = "load-into-ram")]
static mut MODEL: Net = constnet::zeroed();

// ---------------------------------------------------------------------------
// Bad blobs
// ---------------------------------------------------------------------------

/// A bad blob: what it is, its bytes, and the error it must give.
type BadBlob<'a> = (&'a str, &'a [u8], fn(&LoadError) -> bool);

/// Offers the model bad blobs and checks each is refused with the expected
/// error. Returns whether all were. Uses slices of flash and one 16-byte
/// header on the stack: no copy of the weights.
#[inline(never)]
fn check_bad_blobs(how: &str, load: &mut impl FnMut(&[u8]) -> Result<(), LoadError>) -> bool {
    let blob: &[u8] = &WEIGHTS.0;
    // The header of a SmallConvNet blob: our magic, version and scalar size,
    // SmallConvNet's fingerprint. The fingerprint is checked before the length.
    let mut other = [0u8; HEADER_LEN];
    other[..8].copy_from_slice(&blob[..8]);
    other[8..].copy_from_slice(&<SmallConvNet<f32> as Model<f32>>::FINGERPRINT.to_le_bytes());
    // Our header as format version 1 wrote it (that format had no trailer).
    let mut v1 = [0u8; HEADER_LEN];
    v1.copy_from_slice(&blob[..HEADER_LEN]);
    v1[4] = 1;

    let cases: [BadBlob; 6] = [
        ("truncated blob (last byte cut)", &blob[..BLOB_LEN - 1], |e| matches!(e, LoadError::Truncated { .. })),
        ("truncated blob (header only)", &blob[..HEADER_LEN], |e| matches!(e, LoadError::Truncated { .. })),
        ("SmallConvNet header", &other, |e| matches!(e, LoadError::WrongArchitecture { .. })),
        ("garbage (image bytes)", &IMAGES[..BLOB_LEN], |e| matches!(e, LoadError::BadMagic)),
        ("blob one byte off", &blob[1..], |e| matches!(e, LoadError::BadMagic)),
        ("format version 1 header", &v1, |e| matches!(e, LoadError::UnsupportedVersion { found: 1, expected: 2 })),
    ];
    let mut ok = true;
    for (what, bytes, expected) in cases {
        match load(bytes) {
            Err(e) if expected(&e) => hprintln!("{}: {} -> error {:?}", how, what, e),
            Err(e) => {
                hprintln!("FAIL: {}: {} -> unexpected error {:?}", how, what, e);
                ok = false;
            }
            Ok(()) => {
                hprintln!("FAIL: {}: {} -> loaded", how, what);
                ok = false;
            }
        }
    }
    // The other way round: our Lenet blob offered to a SmallConvNet.
    match constnet::view::<f32, SmallConvNet<f32>>(blob) {
        Err(e @ LoadError::WrongArchitecture { .. }) => hprintln!("view: Lenet blob as SmallConvNet -> error {:?}", e),
        Err(e) => {
            hprintln!("FAIL: view: Lenet blob as SmallConvNet -> unexpected error {:?}", e);
            ok = false;
        }
        Ok(_) => {
            hprintln!("FAIL: view: Lenet blob as SmallConvNet -> loaded");
            ok = false;
        }
    }
    ok
}

/// Marks around the check of the embedded blob (`view`, or `load_into` and
/// its copy): what a device pays once at boot.
const MARK_LOAD: u8 = 3;
/// See [`MARK_LOAD`].
const MARK_LOADED: u8 = 4;

/// The model, from the embedded blob: used in flash by default.
#[cfg(not(feature = "load-into-ram"))]
fn model(blob_ok: &mut bool) -> &'static Net {
    *blob_ok &= check_bad_blobs("view", &mut |b| constnet::view::<f32, Net>(b).map(|_| ()));
    constnet_mark(MARK_LOAD);
    let checked = constnet::view::<f32, Net>(&WEIGHTS.0);
    constnet_mark(MARK_LOADED);
    match checked {
        Ok(m) => {
            hprintln!("weights: view, in flash at {:p} ({} bytes)", m, BLOB_LEN);
            m
        }
        Err(e) => panic!("embedded weights refused: {:?}", e),
    }
}

/// The model, from the embedded blob: loaded into `MODEL` in RAM.
#[cfg(feature = "load-into-ram")]
fn model(blob_ok: &mut bool) -> &'static Net {
    // SAFETY: the only reference to MODEL, taken once, before any other use.
    let m: &'static mut Net = unsafe { &mut *addr_of_mut!(MODEL) };
    *blob_ok &= check_bad_blobs("load_into", &mut |b| constnet::load_into::<f32, Net>(b, m));
    constnet_mark(MARK_LOAD);
    let loaded = constnet::load_into(&WEIGHTS.0, m);
    constnet_mark(MARK_LOADED);
    match loaded {
        Ok(()) => {
            hprintln!("weights: load_into, in RAM at {:p} ({} bytes)", m, core::mem::size_of::<Net>());
            m
        }
        Err(e) => panic!("embedded weights refused: {:?}", e),
    }
}

// ---------------------------------------------------------------------------
// Layer by layer
// ---------------------------------------------------------------------------

/// Marker after step `k` (0-based) in [`layer_by_layer`] is
/// `FIRST_LAYER_MARK + k`; the pass starts with mark `FIRST_LAYER_MARK - 1`.
/// The `layers:` line names them for `tools/firmware-figures.sh`.
const FIRST_LAYER_MARK: u8 = 10;

/// The layers (indices into `LAYERS`) that each step of [`layer_by_layer`]
/// runs: each convolution runs fused with the pooling after it, as in
/// `predict_staged`.
const STEPS: [&[usize]; 5] = [&[0, 1], &[2, 3], &[4], &[5], &[6]];

/// Runs the model one step at a time with the library's own
/// `constnet::model::Pass` (what `predict_staged` runs), with a marker after
/// each: the per-layer instruction counts.
#[inline(never)]
fn layer_by_layer(m: &Net, ws: &mut Ws) -> Output {
    constnet_mark(FIRST_LAYER_MARK - 1);
    let pass = Pass::staged::<<Net as Model<f32>>::Input>(ws.as_mut());
    let pass = pass.then_fused(&m.conv1, &m.pool1);
    constnet_mark(FIRST_LAYER_MARK);
    let pass = pass.then_fused(&m.conv2, &m.pool2);
    constnet_mark(FIRST_LAYER_MARK + 1);
    let pass = pass.then(&m.flat);
    constnet_mark(FIRST_LAYER_MARK + 2);
    let pass = pass.then(&m.fc1);
    constnet_mark(FIRST_LAYER_MARK + 3);
    let pass = pass.then(&m.out);
    constnet_mark(FIRST_LAYER_MARK + 4);
    *pass.output::<Output>()
}

/// `layers: 9=start 10=conv1+pool1:115200 ...`: the step-by-step markers,
/// each with the names of the step's layers and their multiply-accumulates.
#[inline(never)]
fn print_layer_marks() {
    let layers = <Net as Model<f32>>::LAYERS;
    hprint!("layers: {}=start", FIRST_LAYER_MARK - 1);
    for (k, step) in STEPS.iter().enumerate() {
        hprint!(" {}=", FIRST_LAYER_MARK as usize + k);
        for (j, &i) in step.iter().enumerate() {
            hprint!("{}{}", if j > 0 { "+" } else { "" }, layers[i].name);
        }
        hprint!(":{}", step.iter().map(|&i| macs(&layers[i])).sum::<usize>());
    }
    hprintln!();
}

/// Multiply-accumulates of a conv or dense layer: every weight is used once
/// per output position (output length / channels); other layers have none.
fn macs(layer: &constnet::LayerSummary) -> usize {
    let channels = layer.output.last().copied().unwrap_or(1).max(1);
    let positions: usize = layer.output.iter().product::<usize>() / channels;
    let weights = layer.params - if layer.info.bias { channels } else { 0 };
    weights * positions
}

#[entry]
fn main() -> ! {
    let mut blob_ok = true;
    let model = model(&mut blob_ok);

    // SAFETY: the only references to these statics, taken once.
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

    // The test set, each inference between markers 1 and 2 (min/max over the data).
    let mut eval = Eval::default();
    for i in 0..SAMPLES {
        TEST.fill_input(Net::staged_input(ws).as_flat_mut(), i);
        constnet_mark(1);
        let y = model.predict_staged(ws);
        constnet_mark(2);
        if i == 0 && y != &y0 {
            hprintln!("FAIL: image 0 gave different outputs in two runs");
            blob_ok = false;
        }
        eval.add(&TEST, i, y);
    }

    // Layer by layer on image 0: per-layer instruction counts; must give
    // exactly what predict gave.
    TEST.fill_input(Net::staged_input(ws).as_flat_mut(), 0);
    print_layer_marks();
    let y_layers = layer_by_layer(model, ws);
    let layers_ok = y_layers == y0;
    if !layers_ok {
        hprintln!("FAIL: the layer-by-layer pass differs from predict");
    }

    if cfg!(feature = "perturb-one-ulp") {
        let w = <Net as Params<f32>>::flat(model)[PERTURBED_WEIGHT].to_bits();
        hprintln!("perturb-one-ulp: weight {} is {:#010x}, trained {:#010x}", PERTURBED_WEIGHT, w, TRAINED_BITS);
    }
    let induce_failure = cfg!(feature = "induce-failure");
    if induce_failure {
        hprintln!("induced failure (feature `induce-failure`)");
    }
    if !blob_ok {
        hprintln!("FAIL: a bad blob was not refused as expected");
    }

    eval.report(&TEST, stack);

    let ok = eval.all_agree(&TEST) && blob_ok && layers_ok && !induce_failure;
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}
