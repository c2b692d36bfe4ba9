#![no_std]
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

// What a firmware build compiles: the scalar, tensor and parameter types,
// the layers, the kernels they run on, the model machinery that composes
// them, persistence, compile-time text, and the reference networks.
mod float;
pub(crate) mod kernels;
pub use kernels::dispatch as cpu;
pub mod layers;
pub mod model;
mod params;
pub mod persist;
pub mod quant;
pub mod rng;
mod tensor;
mod text;
pub mod zoo;

// Training: losses and optimizers everywhere, the trainer with `std`.
pub mod train;

// Host side only: data loaders, pictures, inspection.
#[cfg(feature = "std")]
pub mod host;

// The paths of the flat layout, kept so user code goes on compiling.
#[cfg(feature = "std")]
pub use host::{data, inspect, picture, quantize, tflite};
pub use layers as layer;
pub use layers::{activation, pool};
pub use model::{fuse, shape, summary};
pub use train::{loss, optim};

pub use float::Float;
pub use layers::{
    Activate, Activation, Backward, BiasTerm, Conv2d, Dense, DepthwiseConv2d, Dropout, EdgePad, Flatten, Layer,
    LayerInfo, Linear, NoBias, Padding, Pool2d, PoolKind, Relu, Sigmoid, Softmax, Tanh, TrainContext, Upsample,
    ZeroPad,
};
pub use model::{FuseWith, Int8, Int8Model, LayerSummary, Model, QuantizeModel, Workspace};
#[cfg(feature = "std")]
pub use params::zeroed_boxed;
pub use params::{zeroed, Params};
pub use persist::{load_into, save, view, LoadError};
pub use rng::Rng;
pub use tensor::Tensor;
pub use train::loss::Loss;
pub use train::optim::{Adam, Momentum, Optimizer, Sgd};
