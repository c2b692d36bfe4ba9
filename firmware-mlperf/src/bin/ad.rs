//! MLPerf Tiny's anomaly detector (`ad01_int8.tflite`, ten FULLY_CONNECTED
//! layers), int8, on the emulated STM32F405 (Cortex-M4F, DSP kernels): see
//! `src/app.rs`. The blob, inputs and host outputs come from `build.rs`.

#![no_std]
#![no_main]

#[path = "../app.rs"]
mod app;
// firmware-example's markers and stack measurement (its fixed-point
// printing is not needed here).
#[path = "../../../firmware-example/src/measure.rs"]
#[allow(dead_code)]
mod measure;

use constnet::persist::{reseal, saved_len_int8, HEADER_LEN};
use constnet::zoo::mlperf::AnomalyDetector;
use constnet::{Int8, Int8Model};
use core::ptr::addr_of_mut;
use cortex_m_rt::entry;
use panic_semihosting as _;

type Net = Int8<AnomalyDetector>;
const CASES: usize = 8;
const BLOB_LEN: usize = saved_len_int8::<Net>();

/// The int8 model (header, 284,392 bytes, CRC-32), used in place. With
/// feature `perturb-one-ulp`, the lowest bit of fc1's first weight flipped
/// and the trailer recomputed, at compile time.
static BLOB: [u8; BLOB_LEN] = flashed(*include_bytes!(concat!(env!("OUT_DIR"), "/ad_int8.postcard")));
/// The embedded inputs (TFLM's fixture inputs) and the host's outputs: test data.
static IMAGES: [u8; CASES * 640] = *include_bytes!(concat!(env!("OUT_DIR"), "/ad_inputs.bin"));
static HOST_OUTPUTS: [u8; CASES * 640] = *include_bytes!(concat!(env!("OUT_DIR"), "/ad_host_outputs.bin"));

/// The workspace (768 bytes), which also holds the input.
static mut WORKSPACE: <Net as Int8Model>::Workspace = constnet::Workspace::new();

const fn flashed(mut blob: [u8; BLOB_LEN]) -> [u8; BLOB_LEN] {
    if cfg!(feature = "perturb-one-ulp") {
        blob[HEADER_LEN + core::mem::offset_of!(Net, fc1.weight)] ^= 1;
        reseal(&mut blob);
    }
    blob
}

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to WORKSPACE, taken once.
    let ws = unsafe { &mut *addr_of_mut!(WORKSPACE) };
    app::run::<Net, CASES>("anomaly detector", &BLOB, &IMAGES, &HOST_OUTPUTS, ws)
}
