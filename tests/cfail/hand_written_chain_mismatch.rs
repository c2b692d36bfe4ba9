// Rule: layers chain only when the next layer's `Input` is the previous
// layer's `Output`; a `Flatten` to 1352 values cannot feed `Dense<_, 1350, _>`.
// Shown twice: feeding the array by hand, and through a generic chain that
// states the rule as a bound (`B: Layer<Input = A::Output>`).

use constnet::{Dense, Flatten, Layer, Tensor};

type Flat = Flatten<13, 13, 8, 1352>;
type Fc = Dense<f32, 1350, 10>;

fn chain<A: Layer<f32>, B: Layer<f32, Input = A::Output>>(a: &A, b: &B, x: &A::Input) -> B::Output {
    let mut mid = A::Output::zeroed();
    let mut y = B::Output::zeroed();
    a.forward(x, &mut mid);
    b.forward(&mid, &mut y);
    y
}

fn main() {
    let flat = Flat::default();
    let fc: Fc = constnet::zeroed();
    let x = [[[0.0f32; 8]; 13]; 13];

    let mut v: <Flat as Layer<f32>>::Output = Tensor::zeroed();
    let mut y: <Fc as Layer<f32>>::Output = Tensor::zeroed();
    flat.forward(&x, &mut v);
    fc.forward(&v, &mut y);

    let _ = chain(&flat, &fc, &x);
}
