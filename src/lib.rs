#![no_std]
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod activation;
mod bias;
mod conv;
mod dense;
mod float;
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
mod fpu;
pub mod fuse;
mod kernels;
pub mod layer;
pub mod loss;
pub mod model;
pub mod optim;
mod params;
pub mod persist;
pub mod pool;
mod reshape;
pub mod rng;
mod sequential;
pub mod shape;
pub mod summary;
mod tensor;
mod window;
pub mod zoo;

pub use activation::{Activate, Activation, Linear, Relu, Sigmoid, Softmax, Tanh};
pub use bias::{BiasTerm, NoBias};
pub use conv::Conv2d;
pub use dense::Dense;
pub use float::Float;
pub use fuse::FuseWith;
pub use layer::{Backward, Layer, LayerInfo, TrainContext};
pub use loss::Loss;
pub use model::{LayerSummary, Model, Workspace};
pub use optim::{Adam, Momentum, Optimizer, Sgd};
pub use params::{zeroed, Params};
pub use persist::{load_into, save, view, LoadError};
pub use pool::{Pool2d, PoolKind};
pub use reshape::{Dropout, Flatten, Upsample};
pub use rng::Rng;
pub use tensor::Tensor;
pub use window::{EdgePad, Padding, ZeroPad};

#[cfg(feature = "std")]
pub mod data;
#[cfg(feature = "std")]
pub mod inspect;
#[cfg(feature = "std")]
pub mod picture;
#[cfg(feature = "std")]
pub mod train;
