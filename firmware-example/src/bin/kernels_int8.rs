//! The library's int8 layers on the emulated STM32F405 (Cortex-M4F, DSP
//! kernels) against reference loops: see `src/kernels_int8.rs`.
//!
//! ```sh
//! cd firmware-example && cargo run --release --bin kernels_int8
//! ```

#![no_std]
#![no_main]

#[path = "../kernels_int8.rs"]
mod kernels_int8;

use cortex_m_rt::entry;
use panic_semihosting as _;

#[entry]
fn main() -> ! {
    kernels_int8::run()
}
