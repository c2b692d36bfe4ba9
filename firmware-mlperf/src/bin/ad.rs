//! MLPerf Tiny's anomaly detector (`ad01_int8.tflite`, ten FULLY_CONNECTED
//! layers), int8, on the emulated STM32F405 (Cortex-M4F, DSP kernels): see
//! `src/app.rs`. The blob, inputs and host outputs come from `build.rs`.

#![no_std]
#![no_main]

#[macro_use]
#[path = "../app.rs"]
mod app;
// firmware-example's markers and stack measurement (its fixed-point
// printing is not needed here).
#[path = "../../../firmware-example/src/measure.rs"]
#[allow(dead_code)]
mod measure;

use panic_semihosting as _;

firmware! {
    name: "anomaly detector",
    model: constnet::zoo::mlperf::AnomalyDetector,
    file: "ad",
    cases: 8,
    perturb: fc1.weight,
}
