//! A convolution run fused with the pooling after it gives, bit for bit, what
//! the two layers give one after the other; and a model's `predict` (which
//! fuses every conv -> pool pair) matches its layer-by-layer forward pass.

use constnet::activation::{Linear, Relu, Sigmoid, Tanh};
use constnet::pool::{Avg, Max, Min};
use constnet::{Conv2d, EdgePad, FuseWith, Layer, Model, NoBias, Pool2d, Rng, Tensor, ZeroPad};

/// Random weights and input (with exact zeros and negative zeros among the
/// inputs, so relu and ties are exercised), then both ways.
fn fused_matches<L, N>(seed: u64)
where
    L: FuseWith<f32, N>,
    N: Layer<f32, Input = L::Output>,
{
    let mut rng = Rng::new(seed);
    let mut conv: L = constnet::zeroed();
    conv.init(&mut rng);
    let pool: N = constnet::zeroed();
    let mut x = L::Input::zeroed();
    for (i, v) in x.as_flat_mut().iter_mut().enumerate() {
        *v = match i % 7 {
            0 => 0.0,
            1 => -0.0,
            _ => rng.uniform(1.0) as f32,
        };
    }
    let mut mid = Box::new(L::Output::zeroed());
    let mut expected = N::Output::zeroed();
    conv.forward(&x, &mut mid);
    pool.forward(&mid, &mut expected);
    let mut fused = N::Output::zeroed();
    conv.forward_fused(&pool, &x, &mut fused);
    let bits = |t: &N::Output| t.as_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&fused), bits(&expected), "seed {seed}");
}

// Conv2d<T, H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
// Pool2d<K, H, W, C, KH, KW, SH, SW, OH, OW>

#[test]
fn lenet_conv1_relu_max_2x2() {
    type C1 = Conv2d<f32, 28, 28, 1, 8, 5, 5, 1, 1, 0, 0, 24, 24, Relu>;
    fused_matches::<C1, Pool2d<Max, 24, 24, 8, 2, 2, 2, 2, 12, 12>>(1);
}

#[test]
fn odd_filters_same_padding_and_a_dropped_last_row() {
    // 9x9 conv output, 2x2/2 pooling reads only 8x8 of it; F = 5 is not a
    // multiple of the Cortex-M block, padding sends the borders one pixel at a time.
    type C1 = Conv2d<f32, 9, 9, 3, 5, 3, 3, 1, 1, 1, 1, 9, 9, Relu>;
    fused_matches::<C1, Pool2d<Max, 9, 9, 5, 2, 2, 2, 2, 4, 4>>(2);
}

#[test]
fn overlapping_windows_after_sigmoid() {
    type C1 = Conv2d<f32, 12, 13, 2, 4, 3, 3, 1, 1, 0, 0, 10, 11, Sigmoid>;
    fused_matches::<C1, Pool2d<Max, 10, 11, 4, 3, 3, 2, 2, 4, 5>>(3);
}

#[test]
fn average_pooling_after_tanh() {
    type C1 = Conv2d<f32, 10, 10, 2, 6, 3, 3, 1, 1, 0, 0, 8, 8, Tanh>;
    fused_matches::<C1, Pool2d<Avg, 8, 8, 6, 2, 2, 2, 2, 4, 4>>(4);
}

#[test]
fn min_pooling_with_gaps_between_windows() {
    // Stride 3, window 2: every third conv row and column is read by no window.
    type C1 = Conv2d<f32, 13, 13, 1, 2, 3, 3, 1, 1, 0, 0, 11, 11, Relu, NoBias>;
    fused_matches::<C1, Pool2d<Min, 11, 11, 2, 2, 2, 3, 3, 4, 4>>(5);
}

#[test]
fn strided_edge_padded_conv_with_a_wide_window() {
    type C1 = Conv2d<f32, 16, 16, 3, 4, 3, 3, 2, 2, 1, 1, 8, 8, Linear, [f32; 4], EdgePad>;
    fused_matches::<C1, Pool2d<Max, 8, 8, 4, 2, 3, 2, 3, 4, 2>>(6);
}

#[test]
fn avg_pooling_overlapping_with_relu() {
    type C1 = Conv2d<f32, 11, 11, 2, 4, 2, 2, 1, 1, 0, 0, 10, 10, Relu, [f32; 4], ZeroPad>;
    fused_matches::<C1, Pool2d<Avg, 10, 10, 4, 3, 3, 1, 1, 8, 8>>(7);
}

constnet::sequential! {
    /// Every kind of step: conv+max (fused), conv+avg (fused), a conv with
    /// softmax (not fused), in-place layers, dense.
    struct Mixed: [20, 20, 2] {
        c1: Conv2d<6, 3, pad = same> => Relu,
        p1: MaxPool2d<2>,
        c2: Conv2d<4, 3> => Tanh,
        p2: AvgPool2d<2>,
        c3: Conv2d<3, 1> => Softmax,
        p3: MaxPool2d<2>,
        flat: Flatten,
        act: Relu,
        out: Dense<5> => Softmax,
    }
}

/// `predict` against the training forward pass, which runs every layer on
/// its own and keeps all outputs.
fn predict_matches_layer_by_layer<M: Model<f32>>(seed: u64) {
    let m = M::new(seed);
    let mut rng = Rng::new(seed + 100);
    let mut x = M::Input::zeroed();
    x.as_flat_mut().iter_mut().for_each(|v| *v = rng.uniform(1.0) as f32 + 0.5);
    let mut trace = M::new_trace();
    m.forward_train(&x, &mut trace, 0, false);
    let mut ws = M::Workspace::default();
    let got = m.predict(&x, &mut ws).as_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let want = M::output(&trace).as_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(got, want);
}

#[test]
fn models_predict_like_their_layers_one_by_one() {
    predict_matches_layer_by_layer::<Mixed>(8);
    predict_matches_layer_by_layer::<constnet::zoo::Lenet>(9);
}

#[test]
fn fused_steps_shrink_the_workspace() {
    // Input 800 + c1's pooled 600 is the peak; c1's 2,400 floats never exist.
    // (c3 is not fused: softmax over filters must see whole pixels; its 3x3x3
    // output is small.)
    assert_eq!(Mixed::<f32>::WORKSPACE_BYTES, (20 * 20 * 2 + 10 * 10 * 6) * 4);
}
