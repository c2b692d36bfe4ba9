//! MLPerf Tiny's keyword spotter (`kws_ref_model.tflite`, DS-CNN: a 10x4
//! convolution, four depthwise-separable blocks, average pooling, dense,
//! softmax), int8, on the emulated STM32F405 (Cortex-M4F, DSP kernels): see
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
    name: "keyword spotter",
    model: constnet::zoo::mlperf::KeywordSpotter,
    file: "kws",
    cases: 8,
    perturb: conv1.weight,
}
