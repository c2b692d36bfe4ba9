// Rule: a hand-written `DepthwiseConv2d` must state OC = C * M and the
// output size its geometry gives: 3 channels with multiplier 2 give 6, not 3.
// Checked by an inline const when `forward` is instantiated (`cargo build`).

use constnet::Layer;

type Dw = constnet::DepthwiseConv2d<f32, 8, 8, 3, 2, 3, 3, 3, 1, 1, 1, 1, 8, 8>;

fn main() {
    let dw: Dw = constnet::zeroed();
    let x = [[[0.0f32; 3]; 8]; 8];
    let mut y = [[[0.0f32; 3]; 8]; 8];
    dw.forward(&x, &mut y);
}
