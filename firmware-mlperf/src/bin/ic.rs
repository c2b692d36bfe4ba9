//! MLPerf Tiny's image classifier (`pretrainedResnet_quant.tflite`, ResNet-8:
//! a 3x3 convolution, three residual blocks, average pooling, dense, softmax),
//! int8, on the emulated STM32F405 (Cortex-M4F, DSP kernels): see
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
    name: "image classifier",
    model: constnet::zoo::mlperf::ImageClassifier,
    file: "ic",
    cases: 8,
    perturb: conv1.weight,
}
