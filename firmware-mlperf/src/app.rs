//! One MLPerf Tiny model on the emulated STM32F405, whichever it is: the
//! int8 model used in place from flash (`constnet::persist::view_int8`),
//! `N` embedded inputs, each output compared with the host's byte for byte.
//!
//! Runs one measured inference first (markers 0 -> 255, stack painted),
//! then the `N` inputs (markers 1 -> 2). The last line is
//!
//! ```text
//! agree=<k>/<n> bit_identical=<k>/<n> acc=- stack_peak=<bytes> stack_inference=<bytes> static_ram_rt=<bytes>
//! ```
//!
//! An inference *agrees* when every output is within one step of the host's,
//! and is *bit-identical* when every output equals it (`acc` is there for
//! tools/firmware-figures.sh; these models have no labels here). Exits 0
//! only if every inference is bit-identical.

use constnet::persist::view_int8;
use constnet::{Int8Model, Tensor};
use cortex_m_semihosting::{debug, hprintln};

use crate::measure::{self, constnet_mark, measure_stack, StackUse, MARK_END, MARK_START};

/// Input `i` of the embedded ones into the model's input.
fn stage<Q: Int8Model>(inputs: &[u8], i: usize, ws: &mut Q::Workspace) {
    let n = Q::Input::LEN;
    for (x, &b) in Q::staged_input(ws).as_flat_mut().iter_mut().zip(&inputs[i * n..(i + 1) * n]) {
        *x = b as i8;
    }
}

/// The model from the embedded blob. Not inlined: its frame is gone before
/// the measured inference.
#[inline(never)]
fn load<Q: Int8Model + 'static>(blob: &'static [u8], name: &str, n: usize) -> &'static Q {
    // `black_box`: the blob is data the firmware reads, as weights flashed
    // apart from the code would be; otherwise the compiler may fold them into the code.
    let model: &Q = match view_int8(core::hint::black_box(blob)) {
        Ok(m) => m,
        Err(_) => panic!("embedded int8 model refused"),
    };
    hprintln!("{}: int8, view_int8 in flash at {:p} ({} bytes); {} inputs", name, model, blob.len(), n);
    model
}

/// The `N` inputs between markers 1 and 2, and the report; returns whether
/// every output was the host's.
#[inline(never)]
fn check_all<Q: Int8Model, const N: usize>(
    model: &Q,
    inputs: &[u8],
    host: &[u8],
    ws: &mut Q::Workspace,
    stack: StackUse,
) -> bool {
    let m = Q::Output::LEN;
    let (mut agree, mut identical) = (0, 0);
    for i in 0..N {
        stage::<Q>(inputs, i, ws);
        constnet_mark(1);
        let y = model.predict_staged(ws).as_flat();
        constnet_mark(2);
        let expected = &host[i * m..(i + 1) * m];
        let off = |a: i8, b: u8| (a as i32 - b as i8 as i32).abs();
        agree += usize::from(y.iter().zip(expected).all(|(&a, &b)| off(a, b) <= 1));
        identical += usize::from(y.iter().zip(expected).all(|(&a, &b)| off(a, b) == 0));
    }
    hprintln!(
        "agree={}/{} bit_identical={}/{} acc=- stack_peak={} stack_inference={} static_ram_rt={}",
        agree,
        N,
        identical,
        N,
        stack.peak,
        stack.measured,
        measure::static_ram()
    );
    identical == N
}

/// Runs the checks and exits QEMU with the result. Its own frame is small,
/// so the stack peak of the measured inference is what an application sees.
pub fn run<Q: Int8Model + 'static, const N: usize>(
    name: &str,
    blob: &'static [u8],
    inputs: &[u8],
    host: &[u8],
    ws: &mut Q::Workspace,
) -> ! {
    assert!(inputs.len() == N * Q::Input::LEN && host.len() == N * Q::Output::LEN);
    let model = load::<Q>(blob, name, N);
    stage::<Q>(inputs, 0, ws);
    let ((), stack) = measure_stack(|| {
        constnet_mark(MARK_START);
        core::hint::black_box(model.predict_staged(ws));
        constnet_mark(MARK_END);
    });
    let ok = check_all::<Q, N>(model, inputs, host, ws, stack);
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}

/// One model's firmware: its blob, inputs and host outputs from `build.rs`
/// (files `$file_*` in `OUT_DIR`), its workspace, and the entry point that
/// hands them to [`run`].
///
/// `perturb` names a weight array of the int8 model: with feature
/// `perturb-one-ulp`, the lowest bit of its first byte is flipped and the
/// checksum recomputed at compile time, so the blob loads, runs, and must
/// fail the byte-for-byte comparison.
macro_rules! firmware {
    (
        name: $name:literal,
        model: $model:ty,
        file: $file:literal,
        cases: $cases:literal,
        perturb: $($field:ident).+ $(,)?
    ) => {
        type Net = constnet::Int8<$model>;
        const CASES: usize = $cases;
        const BLOB_LEN: usize = constnet::persist::saved_len_int8::<Net>();
        const INPUTS_LEN: usize = CASES * <<Net as constnet::Int8Model>::Input as constnet::Tensor<i8>>::LEN;
        const OUTPUTS_LEN: usize = CASES * <<Net as constnet::Int8Model>::Output as constnet::Tensor<i8>>::LEN;

        /// The int8 model (header, parameters, CRC-32), used in place.
        static BLOB: [u8; BLOB_LEN] = flashed(*include_bytes!(concat!(env!("OUT_DIR"), "/", $file, "_int8.postcard")));
        /// The embedded inputs (TFLM's fixture inputs) and the host's outputs: test data.
        static IMAGES: [u8; INPUTS_LEN] = *include_bytes!(concat!(env!("OUT_DIR"), "/", $file, "_inputs.bin"));
        static HOST_OUTPUTS: [u8; OUTPUTS_LEN] = *include_bytes!(concat!(env!("OUT_DIR"), "/", $file, "_host_outputs.bin"));

        /// The workspace, which also holds the input.
        static mut WORKSPACE: <Net as constnet::Int8Model>::Workspace = constnet::Workspace::new();

        const fn flashed(mut blob: [u8; BLOB_LEN]) -> [u8; BLOB_LEN] {
            if cfg!(feature = "perturb-one-ulp") {
                blob[constnet::persist::HEADER_LEN + core::mem::offset_of!(Net, $($field).+)] ^= 1;
                constnet::persist::reseal(&mut blob);
            }
            blob
        }

        #[cortex_m_rt::entry]
        fn main() -> ! {
            // SAFETY: the only reference to WORKSPACE, taken once.
            let ws = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
            app::run::<Net, CASES>($name, &BLOB, &IMAGES, &HOST_OUTPUTS, ws)
        }
    };
}
