//! Host side (feature `std`): data loaders, pictures, inspection of a
//! model and post-training quantization: everything that needs files or an
//! allocator.
//!
//! May use the whole crate; nothing outside `host/` (and the trainer) uses it.

pub mod data;
pub mod inspect;
pub mod picture;
pub mod quantize;
pub mod tflite;
