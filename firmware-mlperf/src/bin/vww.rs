//! MLPerf Tiny's visual wake words person detector (`vww_96_int8.tflite`,
//! MobileNetV1 0.25 at 96x96x3: a 3x3 convolution, thirteen
//! depthwise-separable blocks, average pooling, dense, softmax), int8, on the
//! emulated STM32F405 (Cortex-M4F, DSP kernels): see `src/app.rs`. The blob,
//! inputs and host outputs come from `build.rs`.

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
    name: "person detector",
    model: constnet::zoo::mlperf::PersonDetector,
    file: "vww",
    cases: 4,
    perturb: conv1.weight,
}
