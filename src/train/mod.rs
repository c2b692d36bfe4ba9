//! Training: losses and optimizers (`no_std`: a device can fine-tune itself
//! with a `static` optimizer) and, with `std`, the `Trainer` that drives
//! them over a dataset in parallel batches.
//!
//! Uses the [`Model`](crate::Model) trait and the flat parameter views; the
//! trainer alone uses the host side (`host::data`).

#[cfg(feature = "std")]
mod crew;
pub mod loss;
pub mod optim;
#[cfg(feature = "std")]
mod trainer;

#[cfg(feature = "std")]
pub use trainer::*;
