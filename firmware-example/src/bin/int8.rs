//! The int8 LeNet on the emulated STM32F405 (Cortex-M4F): see `src/int8_app.rs`.

#![no_std]
#![no_main]

#[path = "../int8_app.rs"]
mod int8_app;
#[path = "../measure.rs"]
mod measure;
#[path = "../out.rs"]
mod out;

use core::ptr::addr_of_mut;
use cortex_m_rt::entry;
use int8_app::{first, Net, CLASSES, PIXELS};

/// Test images embedded.
const SAMPLES: usize = 300;

static IMAGES: [u8; SAMPLES * PIXELS] = first(include_bytes!("../../model/images.bin"));
static LABELS: [u8; SAMPLES] = first(include_bytes!("../../model/labels.bin"));
static HOST_OUTPUTS: [u8; SAMPLES * CLASSES] = first(include_bytes!("../../model/host_outputs_int8.bin"));

/// The workspace (1,936 bytes), which also holds the input image.
static mut WORKSPACE: <Net as constnet::Int8Model>::Workspace = constnet::Workspace::new();

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to WORKSPACE, taken once.
    let ws = unsafe { &mut *addr_of_mut!(WORKSPACE) };
    int8_app::run(&IMAGES, &LABELS, &HOST_OUTPUTS, ws)
}
