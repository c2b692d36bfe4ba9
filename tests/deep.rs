//! `sequential!` takes up to 100 layers of any kind, convolutions with
//! several options each among them, within the compiler's default
//! `recursion_limit` (issue 11: it used to stop at 31 dense layers, 20 plain
//! convolutions or 15 convolutions with options). The 101st layer is a
//! compile error that says so (`tests/cfail/too_many_layers.rs`).

use constnet::{Model, Params, Rng, Tensor};

constnet::sequential! {
    /// 100 layers: ten blocks of eight (convolutions with three to four
    /// options each, fused with max and average pooling, upsampling, an
    /// activation layer, a convolution with softmax), a flatten, 19 dense.
    struct Deep: [8, 8, 2] {
        c0a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p0: MaxPool2d<2>,
        u0: Upsample<2>,
        c0b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a0: AvgPool2d<2, stride = 1>,
        c0c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s0: Sigmoid,
        c0d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c1a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p1: MaxPool2d<2>,
        u1: Upsample<2>,
        c1b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a1: AvgPool2d<2, stride = 1>,
        c1c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s1: Sigmoid,
        c1d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c2a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p2: MaxPool2d<2>,
        u2: Upsample<2>,
        c2b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a2: AvgPool2d<2, stride = 1>,
        c2c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s2: Sigmoid,
        c2d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c3a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p3: MaxPool2d<2>,
        u3: Upsample<2>,
        c3b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a3: AvgPool2d<2, stride = 1>,
        c3c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s3: Sigmoid,
        c3d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c4a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p4: MaxPool2d<2>,
        u4: Upsample<2>,
        c4b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a4: AvgPool2d<2, stride = 1>,
        c4c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s4: Sigmoid,
        c4d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c5a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p5: MaxPool2d<2>,
        u5: Upsample<2>,
        c5b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a5: AvgPool2d<2, stride = 1>,
        c5c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s5: Sigmoid,
        c5d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c6a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p6: MaxPool2d<2>,
        u6: Upsample<2>,
        c6b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a6: AvgPool2d<2, stride = 1>,
        c6c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s6: Sigmoid,
        c6d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c7a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p7: MaxPool2d<2>,
        u7: Upsample<2>,
        c7b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a7: AvgPool2d<2, stride = 1>,
        c7c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s7: Sigmoid,
        c7d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c8a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p8: MaxPool2d<2>,
        u8: Upsample<2>,
        c8b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a8: AvgPool2d<2, stride = 1>,
        c8c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s8: Sigmoid,
        c8d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        c9a: Conv2d<4, 3, stride = 1, pad = same, bias = false> => Relu,
        p9: MaxPool2d<2>,
        u9: Upsample<2>,
        c9b: Conv2d<4, [3, 1], edge = [1, 0], stride = 1, bias = true> => Tanh,
        a9: AvgPool2d<2, stride = 1>,
        c9c: Conv2d<4, 2, stride = 1, pad = 1, bias = false>,
        s9: Sigmoid,
        c9d: Conv2d<4, 3, edge = same, stride = [1, 1]> => Softmax,
        flat: Flatten,
        d0: Dense<256, 16> => Relu,
        d1: Dense<16, bias = false> => Tanh,
        d2: Dense<16, 16> => Relu,
        d3: Dense<16, bias = false> => Tanh,
        d4: Dense<16, 16> => Relu,
        d5: Dense<16, bias = false> => Tanh,
        d6: Dense<16, 16> => Relu,
        d7: Dense<16, bias = false> => Tanh,
        d8: Dense<16, 16> => Relu,
        d9: Dense<16, bias = false> => Tanh,
        d10: Dense<16, 16> => Relu,
        d11: Dense<16, bias = false> => Tanh,
        d12: Dense<16, 16> => Relu,
        d13: Dense<16, bias = false> => Tanh,
        d14: Dense<16, 16> => Relu,
        d15: Dense<16, bias = false> => Tanh,
        d16: Dense<16, 16> => Relu,
        d17: Dense<16, bias = false> => Tanh,
        out: Dense<3> => Softmax,
    }
}

#[test]
fn a_hundred_layers_predict_like_their_layers_one_by_one() {
    assert_eq!(Deep::<f32>::LAYERS.len(), 100);
    let model = Deep::<f32>::new(11);
    let mut rng = Rng::new(12);
    let mut x = <Deep as Model<f32>>::Input::zeroed();
    x.as_flat_mut().iter_mut().for_each(|v| *v = rng.uniform(1.0) as f32);

    let mut trace = Deep::<f32>::new_trace();
    model.forward_train(&x, &mut trace, 0, false);
    let mut ws = constnet::Workspace::new();
    let y = *model.predict(&x, &mut ws);
    assert_eq!(y.map(f32::to_bits), Deep::<f32>::output(&trace).map(f32::to_bits));
    assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(Deep::<f32>::layer_output(&trace, 99), &y[..]);

    // The peak: two adjacent 8x8x4 outputs of convolutions that no pooling follows.
    assert_eq!(Deep::<f32>::WORKSPACE_BYTES, 2 * 8 * 8 * 4 * 4);
}

#[test]
fn a_hundred_layers_backpropagate() {
    let model = Deep::<f32>::new(13);
    let x = <Deep as Model<f32>>::Input::zeroed();
    let mut trace = Deep::<f32>::new_trace();
    model.forward_train(&x, &mut trace, 1, true);
    let mut grad = Deep::<f32>::new_trace();
    *Deep::<f32>::output_mut(&mut grad) = [1.0, -0.5, -0.5];
    let mut grads: Deep = constnet::zeroed();
    model.backward(&x, &trace, &mut grad, &mut grads, 1, true);
    assert!(grads.flat().iter().all(|g| g.is_finite()));
    assert!(grads.out.weight.as_flattened().iter().any(|&g| g != 0.0));
}
