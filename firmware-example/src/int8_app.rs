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
//! (markers 0 -> 255, stack painted), then the `N` images (markers 1 -> 2).
//! The last line is
//!
//! ```text
//! agree=<k>/<n> bit_identical=<k>/<n> acc=<x.xxxx> stack_peak=<bytes> static_ram_rt=<bytes>
//! ```
//!
//! An inference *agrees* when its class is the host's; it is *bit-identical*
//! when all ten outputs are. Exits 0 only if every inference is
//! bit-identical and every bad blob was refused.

use constnet::persist::{saved_len_int8, view_int8, LoadError};
use constnet::zoo::Lenet;
use constnet::{Int8, Int8Model, Tensor};
use cortex_m_semihosting::{debug, hprintln};

use crate::measure::{self, constnet_mark, measure_stack, Fixed4, MARK_END, MARK_START};

/// The int8 LeNet.
pub type Net = Int8<Lenet>;
type Ws = <Net as Int8Model>::Workspace;

/// Pixels per image, classes per output.
pub const PIXELS: usize = 28 * 28;
/// Outputs per image.
pub const CLASSES: usize = 10;
/// Bytes of the int8 blob.
pub const BLOB_LEN: usize = saved_len_int8::<Net>();

/// The int8 model (header + 21,676 bytes), used in place: alignment 1.
pub static BLOB: [u8; BLOB_LEN] = *include_bytes!("../model/lenet_int8.postcard");

/// The first `N` bytes of `bytes`, at compile time: only they are flashed.
pub const fn first<const N: usize>(bytes: &[u8]) -> [u8; N] {
    match bytes.first_chunk::<N>() {
        Some(a) => *a,
        None => panic!("embedded file too short"),
    }
}

/// Image `i`'s pixels into the model's input: scaled to `[0, 1]` as the
/// host's loader does (`(p as f64 / 255.0) as f32`) and quantized with the
/// model's input parameters, as the host's `quantize_input` did.
fn fill_input(model: &Net, images: &[u8], i: usize, x: &mut [i8]) {
    let params = model.input_params();
    for (q, &p) in x.iter_mut().zip(&images[i * PIXELS..(i + 1) * PIXELS]) {
        *q = params.quantize((p as f64 / 255.0) as f32);
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
            Err(e) if expected(&e) => hprintln!("view_int8: {} -> error {:?}", what, e),
            other => {
                hprintln!("FAIL: view_int8: {} -> {:?}", what, other.map(|_| ()));
                ok = false;
            }
        }
    }
    ok
}

/// Runs the checks and exits QEMU with the result.
pub fn run<const N: usize>(images: &[u8], labels: &[u8; N], host: &[u8], ws: &mut Ws) -> ! {
    let blobs_ok = check_bad_blobs();
    // `black_box`: the blob is data the firmware reads, as weights flashed
    // or updated apart from the code would be; otherwise the compiler folds
    // the weights of this one static into the code (larger, and not what a
    // real deployment gets).
    let model: &Net = match view_int8(core::hint::black_box(&BLOB[..])) {
        Ok(m) => m,
        Err(e) => panic!("embedded int8 model refused: {:?}", e),
    };
    hprintln!("int8 model: view_int8, in flash at {:p} ({} bytes); {} test images", model, BLOB_LEN, N);

    fill_input(model, images, 0, Net::staged_input(ws).as_flat_mut());
    let (y0, stack) = measure_stack(|| {
        constnet_mark(MARK_START);
        let y = model.predict_staged(ws);
        constnet_mark(MARK_END);
        *y
    });

    let (mut agree, mut identical, mut correct) = (0, 0, 0);
    let mut repeatable = true;
    for i in 0..N {
        fill_input(model, images, i, Net::staged_input(ws).as_flat_mut());
        constnet_mark(1);
        let y = model.predict_staged(ws);
        constnet_mark(2);
        repeatable &= i != 0 || y == &y0;
        let expected = &host[i * CLASSES..(i + 1) * CLASSES];
        let class = argmax(|c| y[c]);
        agree += usize::from(class == argmax(|c| expected[c] as i8));
        identical += usize::from(y.iter().zip(expected).all(|(&a, &b)| a as u8 == b));
        correct += usize::from(class == usize::from(labels[i]));
    }
    if !repeatable {
        hprintln!("FAIL: image 0 gave different outputs in two runs");
    }
    let induce_failure = cfg!(feature = "induce-failure");
    if induce_failure {
        hprintln!("induced failure (feature `induce-failure`)");
    }
    hprintln!(
        "agree={}/{} bit_identical={}/{} acc={} stack_peak={} stack_inference={} static_ram_rt={}",
        agree,
        N,
        identical,
        N,
        Fixed4(correct as f32 / N as f32),
        stack.peak,
        stack.measured,
        measure::static_ram()
    );
    let ok = identical == N && blobs_ok && repeatable && !induce_failure;
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}
