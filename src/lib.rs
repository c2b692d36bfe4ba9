#![no_std]
#![doc = "constnet"]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod activation;
mod bias;
mod conv;
mod dense;
mod float;
mod kernels;
pub mod loss;
pub mod layer;
pub mod model;
pub mod optim;
mod params;
pub mod persist;
pub mod pool;
mod reshape;
pub mod rng;
mod sequential;
pub mod shape;
mod tensor;
mod window;

pub use activation::{Activate, Activation, Linear, Relu, Sigmoid, Softmax, Tanh};
pub use bias::{BiasTerm, NoBias};
pub use conv::Conv2d;
pub use dense::Dense;
pub use float::Float;
pub use loss::Loss;
pub use optim::{Adam, Momentum, Optimizer, Sgd};
pub use layer::{Backward, Layer, LayerInfo, TrainContext};
pub use model::{LayerSummary, Model, Workspace};
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
pub mod picture;

#[cfg(test)]
mod lenet_tests {
    use crate::Model;

    crate::sequential! {
        /// LeNet-style classifier for 28x28 grayscale images.
        pub struct Lenet: [28, 28, 1] {
            conv1: Conv2d<8, 5> => Relu,
            pool1: MaxPool2d<2>,
            conv2: Conv2d<16, 5> => Relu,
            pool2: MaxPool2d<2>,
            flat: Flatten,
            fc1: Dense<64> => Relu,
            out: Dense<10> => Softmax,
        }
    }

    #[test]
    fn lenet_sizes() {
        assert_eq!(Lenet::<f32>::WORKSPACE_BYTES, 23_040);
        assert_eq!(Lenet::<f32>::param_count(), 20_522);
        let m = Lenet::<f32>::new(1);
        let x = [[[0.5f32; 1]; 28]; 28];
        let mut ws = crate::Workspace::new();
        let y = m.predict(&x, &mut ws);
        let s: f32 = y.iter().sum();
        assert!((s - 1.0).abs() < 1e-5);
    }
}
