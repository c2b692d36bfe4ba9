// Rule: a hand-written `Conv2d` must state OH/OW = (H + 2*PH - KH) / SH + 1.
// A 5x5 kernel over 28x28 gives 24x24, not 25x25. The check is an inline
// const evaluated when `forward` is instantiated: `cargo build` reports it,
// `cargo check` does not (hence the pass cases in this suite).

use constnet::Layer;

type Conv = constnet::Conv2d<f32, 28, 28, 1, 8, 5, 5, 1, 1, 0, 0, 25, 25>;

fn main() {
    let conv: Conv = constnet::zeroed();
    let x = [[[0.0f32; 1]; 28]; 28];
    let mut y = [[[0.0f32; 8]; 25]; 25];
    conv.forward(&x, &mut y);
}
