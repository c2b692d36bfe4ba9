//! The library's int8 layers on the emulated nRF51822 (Cortex-M0) against
//! reference loops: firmware-example's `src/kernels_int8.rs`.
//!
//! ```sh
//! cd firmware-m0 && cargo run --release --bin kernels_int8
//! ```

#![no_std]
#![no_main]

#[path = "../../../firmware-example/src/kernels_int8.rs"]
mod kernels_int8;

use cortex_m_rt::entry;
use panic_semihosting as _;

#[entry]
fn main() -> ! {
    kernels_int8::run()
}
