// The passing case: a full LeNet declared with `sequential!`, initialized and
// run. Besides checking that a correct model compiles, its presence makes
// trybuild run `cargo build` instead of `cargo check`, which is what reports
// monomorphization-time errors (hand_written_conv_wrong_output.rs).

use constnet::{Model, Rng, Workspace};

constnet::sequential! {
    /// LeNet-style classifier for 28x28 grayscale images.
    pub struct Lenet: [28, 28, 1] {
        conv1: Conv2d<8, 5> => Relu,  // [24, 24, 8]
        pool1: MaxPool2d<2>,          // [12, 12, 8]
        conv2: Conv2d<16, 5> => Relu, // [8, 8, 16]
        pool2: MaxPool2d<2>,          // [4, 4, 16]
        flat: Flatten,                // [256]
        fc1: Dense<64> => Relu,
        out: Dense<10> => Softmax,
    }
}

fn main() {
    let mut model: Lenet = constnet::zeroed();
    model.init(&mut Rng::new(7));
    let image = [[[0.5f32; 1]; 28]; 28];
    let mut workspace = Workspace::new();
    let y: &[f32; 10] = model.predict(&image, &mut workspace);
    let sum: f32 = y.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "softmax output sums to {sum}");
}
