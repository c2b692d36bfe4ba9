//! The int8 LeNet on a microcontroller, shared by firmware-example's `int8`
//! binary (Cortex-M4F, DSP kernels) and firmware-m0's (Cortex-M0, portable
//! integer Rust): the int8 model of `constnet::zoo::Lenet` used in place
//! from flash (`constnet::persist::view_int8`), `N` embedded test images,
//! each output compared with the host's int8 output byte for byte.
//!
//! Embedded (written by `cargo run --release --features std --example
//! firmware_data` in the parent crate): `model/lenet_int8.postcard` and
//! `model/host_outputs_int8.bin` (10 `i8` per image), with the f32
//! firmware's `images.bin` and `labels.bin`.
//!
//! Runs bad blobs first (each must be refused), then one measured inference
//! (markers 0 -> 255, stack painted), then the `N` images (markers 1 -> 2),
//! then one pass a step at a time (markers 9 -> 10 ... 14, named on the
//! `layers:` line).
//! The last line is
//!
//! ```text
//! agree=<k>/<n> bit_identical=<k>/<n> acc=<x.xxxx> stack_peak=<bytes> static_ram_rt=<bytes>
//! ```
//!
//! An inference *agrees* when its class is the host's; it is *bit-identical*
//! when all ten outputs are. Exits 0 only if every inference is
//! bit-identical and every bad blob was refused.

use constnet::model::Pass;
use constnet::persist::{reseal, saved_len_int8, view_int8, LoadError, HEADER_LEN};
use constnet::quant::QParams;
use constnet::zoo::Lenet;
use constnet::{Int8, Int8Model, Tensor};
use cortex_m_semihosting::debug;

use crate::measure::{self, constnet_mark, measure_stack, StackUse, MARK_END, MARK_START};
use crate::out::{say, Fixed4, Hex};

/// The int8 LeNet.
pub type Net = Int8<Lenet>;
type Ws = <Net as Int8Model>::Workspace;

/// Pixels per image, classes per output.
pub const PIXELS: usize = 28 * 28;
/// Outputs per image.
pub const CLASSES: usize = 10;
/// Bytes of the int8 blob.
pub const BLOB_LEN: usize = saved_len_int8::<Net>();

/// The int8 model (header + 21,676 bytes + CRC-32), used in place:
/// alignment 1. With feature `perturb-one-ulp`, the lowest bit of conv1's
/// first weight flipped and the trailer recomputed, at compile time: it
/// loads and runs, and only the byte-for-byte comparison can notice.
pub static BLOB: [u8; BLOB_LEN] = flashed(*include_bytes!("../model/lenet_int8.postcard"));

const fn flashed(mut blob: [u8; BLOB_LEN]) -> [u8; BLOB_LEN] {
    if cfg!(feature = "perturb-one-ulp") {
        blob[HEADER_LEN + core::mem::offset_of!(Net, conv1.weight)] ^= 1;
        reseal(&mut blob);
    }
    blob
}

/// The first `N` bytes of `bytes`, at compile time: only they are flashed.
pub const fn first<const N: usize>(bytes: &[u8]) -> [u8; N] {
    match bytes.first_chunk::<N>() {
        Some(a) => *a,
        None => panic!("embedded file too short"),
    }
}

/// The model's input quantization, read from the blob at compile time
/// (`QParams` is its scale's and then its zero point's little-endian
/// bytes; [`load_model`] checks the result against the loaded model).
const INPUT_PARAMS: QParams = {
    let at = HEADER_LEN + core::mem::offset_of!(Net, input);
    let b = &BLOB;
    let scale = f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    QParams::new(scale, i32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]))
};

/// Each pixel value's model input: scaled to `[0, 1]` as the host's loader
/// does (`p as f64 / 255.0`) and quantized as the host's `quantize_input`
/// does, tabulated at compile time: the firmware does no float arithmetic
/// (a Cortex-M0 would need a kilobyte and a half of soft-float routines).
static PIXEL_TO_INPUT: [i8; 256] = {
    let mut t = [0i8; 256];
    let mut p = 0;
    while p < 256 {
        t[p] = INPUT_PARAMS.quantize((p as f64 / 255.0) as f32);
        p += 1;
    }
    t
};

/// Image `i`'s pixels into the model's input. Not inlined: one copy for
/// every caller.
#[inline(never)]
fn fill_input(images: &[u8], i: usize, x: &mut [i8]) {
    for (q, &p) in x.iter_mut().zip(&images[i * PIXELS..(i + 1) * PIXELS]) {
        *q = PIXEL_TO_INPUT[p as usize];
    }
}

/// The class with the largest of `CLASSES` outputs, `y(i)` the `i`-th.
fn argmax(y: impl Fn(usize) -> i8) -> usize {
    (0..CLASSES).fold(0, |best, i| if y(i) > y(best) { i } else { best })
}

/// A bad blob: what it is, its bytes, and the error it must give.
type BadBlob<'a> = (&'a str, &'a [u8], fn(&LoadError) -> bool);

/// Bad blobs must be refused with the expected error. Not inlined: its frame
/// is gone before the measured inference.
#[inline(never)]
fn check_bad_blobs() -> bool {
    let mut other = [0u8; 16];
    other.copy_from_slice(&BLOB[..16]);
    other[8] ^= 1;
    let cases: [BadBlob; 3] = [
        ("truncated", &BLOB[..BLOB_LEN - 1], |e| matches!(e, LoadError::Truncated { .. })),
        ("another architecture", &other, |e| matches!(e, LoadError::WrongArchitecture { .. })),
        ("one byte off", &BLOB[1..], |e| matches!(e, LoadError::BadMagic)),
    ];
    let mut ok = true;
    for (what, bytes, expected) in cases {
        match view_int8::<Net>(bytes) {
            Err(e) if expected(&e) => say!("view_int8: ", what, " -> refused as expected\n"),
            other => {
                say!("FAIL: view_int8: ", what, " -> ", if other.is_ok() { "loaded\n" } else { "another error\n" });
                ok = false;
            }
        }
    }
    ok
}

/// Marker after step `k` of [`layer_by_layer`] is `FIRST_LAYER_MARK + k`;
/// the pass starts with `FIRST_LAYER_MARK - 1`.
const FIRST_LAYER_MARK: u8 = 10;

/// Each step's layers and multiply-accumulates, for the `layers:` line that
/// `tools/firmware-figures.sh` turns into a per-step table.
const STEPS: [(&str, usize); 5] =
    [("conv1+pool1", 115_200), ("conv2+pool2", 204_800), ("flat", 0), ("fc1", 16_384), ("out", 640)];

/// The inference one step at a time (what `predict_staged` runs), with a
/// marker after each; returns whether the output equals `expected`
/// (`predict`'s).
#[inline(never)]
fn layer_by_layer(m: &Net, ws: &mut Ws, expected: &<Net as Int8Model>::Output) -> bool {
    constnet_mark(FIRST_LAYER_MARK - 1);
    let pass = Pass::staged::<<Net as Int8Model>::Input>(ws.as_mut());
    let pass = pass.then_int8_fused(&m.conv1, &m.pool1);
    constnet_mark(FIRST_LAYER_MARK);
    let pass = pass.then_int8_fused(&m.conv2, &m.pool2);
    constnet_mark(FIRST_LAYER_MARK + 1);
    let pass = pass.then_int8(&m.flat);
    constnet_mark(FIRST_LAYER_MARK + 2);
    let pass = pass.then_int8(&m.fc1);
    constnet_mark(FIRST_LAYER_MARK + 3);
    let pass = pass.then_int8(&m.out);
    constnet_mark(FIRST_LAYER_MARK + 4);
    pass.output::<<Net as Int8Model>::Output>() == expected
}

/// One inference on the staged input: one copy of the inference code for
/// the measured run and the checks.
#[inline(never)]
fn infer<'w>(model: &Net, ws: &'w mut Ws) -> &'w <Net as Int8Model>::Output {
    model.predict_staged(ws)
}

/// The model from the embedded blob, after the bad blobs were refused.
#[inline(never)]
fn load_model<const N: usize>(blobs_ok: &mut bool) -> &'static Net {
    *blobs_ok = check_bad_blobs();
    // `black_box`: the blob is data the firmware reads, as weights flashed
    // or updated apart from the code would be; otherwise the compiler folds
    // the weights of this one static into the code (larger, and not what a
    // real deployment gets).
    let model: &Net = match view_int8(core::hint::black_box(&BLOB[..])) {
        Ok(m) => m,
        Err(_) => panic!("embedded int8 model refused"),
    };
    if model.input_params() != INPUT_PARAMS {
        say!("FAIL: the pixel table was built for other input parameters than the model's\n");
        *blobs_ok = false;
    }
    say!("int8 model: view_int8, in flash at ", Hex(model as *const Net as usize), " (", BLOB_LEN, " bytes); ");
    say!(N, " test images\n");
    model
}

/// The `N` images between markers 1 and 2, the step-at-a-time pass, and
/// the report; returns whether everything passed.
#[inline(never)]
fn check_all<const N: usize>(
    model: &Net,
    images: &[u8],
    labels: &[u8; N],
    host: &[u8],
    ws: &mut Ws,
    y0: &<Net as Int8Model>::Output,
    stack: StackUse,
) -> bool {
    let (mut agree, mut identical, mut correct) = (0, 0, 0);
    let mut repeatable = true;
    for i in 0..N {
        fill_input(images, i, Net::staged_input(ws).as_flat_mut());
        constnet_mark(1);
        let y = infer(model, ws);
        constnet_mark(2);
        repeatable &= i != 0 || y == y0;
        let expected = &host[i * CLASSES..(i + 1) * CLASSES];
        let class = argmax(|c| y[c]);
        agree += usize::from(class == argmax(|c| expected[c] as i8));
        identical += usize::from(y.iter().zip(expected).all(|(&a, &b)| a as u8 == b));
        correct += usize::from(class == usize::from(labels[i]));
    }
    if !repeatable {
        say!("FAIL: image 0 gave different outputs in two runs\n");
    }
    fill_input(images, 0, Net::staged_input(ws).as_flat_mut());
    say!("layers: ", FIRST_LAYER_MARK as usize - 1, "=start");
    for (k, &(name, macs)) in STEPS.iter().enumerate() {
        say!(" ", FIRST_LAYER_MARK as usize + k, "=", name, ":", macs);
    }
    say!("\n");
    let layers_ok = layer_by_layer(model, ws, y0);
    if !layers_ok {
        say!("FAIL: the layer-by-layer pass differs from predict\n");
    }
    say!("agree=", agree, "/", N, " bit_identical=", identical, "/", N, " acc=", Fixed4 { num: correct, den: N });
    say!(
        " stack_peak=",
        stack.peak,
        " stack_inference=",
        stack.measured,
        " static_ram_rt=",
        measure::static_ram(),
        "\n"
    );
    identical == N && repeatable && layers_ok
}

/// Runs the checks and exits QEMU with the result. Its own frame is small
/// (the checks and printing run in functions of their own), so the stack
/// peak of the measured inference is what an application would see.
pub fn run<const N: usize>(images: &[u8], labels: &[u8; N], host: &[u8], ws: &mut Ws) -> ! {
    let mut blobs_ok = true;
    let model = load_model::<N>(&mut blobs_ok);
    fill_input(images, 0, Net::staged_input(ws).as_flat_mut());
    let (y0, stack) = measure_stack(|| {
        constnet_mark(MARK_START);
        let y = infer(model, ws);
        constnet_mark(MARK_END);
        *y
    });
    let checks_ok = check_all(model, images, labels, host, ws, &y0, stack);
    let induce_failure = cfg!(feature = "induce-failure");
    if induce_failure {
        say!("induced failure (feature `induce-failure`)\n");
    }
    let ok = checks_ok && blobs_ok && !induce_failure;
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}
