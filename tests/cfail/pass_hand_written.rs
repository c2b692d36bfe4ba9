// The correct counterpart of hand_written_conv_wrong_output.rs and
// hand_written_chain_mismatch.rs: layers spelled out by hand with consistent
// shapes build and run (so those failures are about the wrong sizes only).

use constnet::{Conv2d, Dense, Flatten, Layer, Relu, Tensor};

type Conv = Conv2d<f32, 28, 28, 1, 8, 5, 5, 1, 1, 0, 0, 24, 24, Relu>;
type Flat = Flatten<24, 24, 8, 4608>;
type Fc = Dense<f32, 4608, 10>;

fn main() {
    let conv: Conv = constnet::zeroed();
    let flat = Flat::default();
    let fc: Fc = constnet::zeroed();
    let x = [[[1.0f32; 1]; 28]; 28];
    let mut a: <Conv as Layer<f32>>::Output = Tensor::zeroed();
    let mut b: <Flat as Layer<f32>>::Output = Tensor::zeroed();
    let mut y: <Fc as Layer<f32>>::Output = Tensor::zeroed();
    conv.forward(&x, &mut a);
    flat.forward(&a, &mut b);
    fc.forward(&b, &mut y);
    assert_eq!(y, [0.0; 10]);
}
