//! A depthwise convolution and the 1x1 convolution after it run as one step
//! at inference (`Pass::then_separable`), the output written over the input
//! rows no later row reads: the results are the layers' own, bit for bit,
//! in f32 and int8, in both directions a pass runs it (output rows first to
//! last from the bottom of the workspace, or last to first from the top),
//! and the workspace is what `shape::separable_peak` says, which is needed:
//! one row less corrupts the output.
#![cfg(feature = "std")]

use constnet::layers::int8::{Int8Layer, QuantizeOptions};
use constnet::model::{Pass, SeparableWith};
use constnet::quantize::quantize;
use constnet::{Conv2d, DepthwiseConv2d, Int8Model, Layer, Model, Params, Relu, Rng, Tensor, Workspace};

constnet::sequential! {
    /// Three separable blocks: stride 1 with a multiplier, stride 2 with
    /// TF's "same" over an even map (nothing before, a row after) widening
    /// the channels, an even kernel; then pooling after the last 1x1.
    struct Blocks: [10, 8, 3] {
        conv0: Conv2d<4, 3, pad = same> => Relu,                    // [10, 8, 4]
        dw1: DepthwiseConv2d<3, pad = same, multiplier = 2> => Relu, // [10, 8, 8]
        pw1: Conv2d<6, 1> => Relu,                                   // [10, 8, 6]
        dw2: DepthwiseConv2d<3, stride = 2, pad = same> => Relu,     // [5, 4, 6]
        pw2: Conv2d<12, 1, bias = false>,                            // [5, 4, 12]
        dw3: DepthwiseConv2d<[2, 3], pad = same> => Relu,            // [5, 4, 12]
        pw3: Conv2d<8, 1> => Relu,                                   // [5, 4, 8]
        pool: GlobalAvgPool2d,
        flat: Flatten,
        out: Dense<3> => Softmax,
    }
}

fn random_input<X: Tensor<f32>>(rng: &mut Rng) -> Box<X> {
    let mut x = Box::new(X::zeroed());
    x.as_flat_mut().iter_mut().for_each(|v| *v = rng.uniform(1.0) as f32);
    x
}

#[test]
fn fused_f32_inference_is_layer_by_layer_bit_for_bit() {
    let mut rng = Rng::new(11);
    let mut model = Blocks::<f32>::new(3);
    // Non-zero biases, and weights large enough that relu cuts some values.
    model.flat_mut().iter_mut().for_each(|p| *p += rng.uniform(0.2) as f32);
    let mut trace = Blocks::<f32>::new_trace();
    let mut ws = Box::new(Workspace::new());
    for _ in 0..4 {
        let x = random_input::<[[[f32; 3]; 8]; 10]>(&mut rng);
        let fused = *model.predict(&x, &mut ws);
        model.forward_trace(&x, &mut trace, false);
        assert_eq!(fused.map(f32::to_bits), Blocks::<f32>::output(&trace).map(f32::to_bits));
    }
    // The pairs never hold a depthwise output: the peak is the input with
    // conv0's output (240 + 320); unfused, dw1's and pw1's outputs (640 + 480).
    assert_eq!(Blocks::<f32>::WORKSPACE_BYTES, 4 * (240 + 320));
}

#[test]
fn fused_int8_inference_is_layer_by_layer_bit_for_bit() {
    let mut rng = Rng::new(12);
    let mut model = Blocks::<f32>::new(4);
    model.flat_mut().iter_mut().for_each(|p| *p += rng.uniform(0.2) as f32);
    let images: Vec<f32> = (0..6 * 240).map(|_| rng.uniform(1.0) as f32).collect();
    let q = quantize(&model, images.chunks(240), &QuantizeOptions::default()).unwrap();
    assert!(q.is_valid());
    let mut ws = Box::new(Workspace::new());
    for image in images.chunks(240) {
        let mut x = [[[0i8; 3]; 8]; 10];
        q.quantize_input(image, &mut x);
        let fused = *q.predict(&x, &mut ws);
        let (mut a, mut b, mut c) = ([[[0i8; 4]; 8]; 10], [[[0i8; 8]; 8]; 10], [[[0i8; 6]; 8]; 10]);
        let (mut d, mut e, mut f, mut g) =
            ([[[0i8; 6]; 4]; 5], [[[0i8; 12]; 4]; 5], [[[0i8; 12]; 4]; 5], [[[0i8; 8]; 4]; 5]);
        let (mut p, mut v, mut y) = ([[[0i8; 8]; 1]; 1], [0i8; 8], [0i8; 3]);
        q.conv0.forward(&x, &mut a);
        q.dw1.forward(&a, &mut b);
        q.pw1.forward(&b, &mut c);
        q.dw2.forward(&c, &mut d);
        q.pw2.forward(&d, &mut e);
        q.dw3.forward(&e, &mut f);
        q.pw3.forward(&f, &mut g);
        q.pool.forward(&g, &mut p);
        q.flat.forward(&p, &mut v);
        q.out.forward(&v, &mut y);
        assert_eq!(fused, y);
    }
}

/// One block on its own: `buf` of `len` elements, the input staged at its
/// top end (so the pass writes output rows first to last from the bottom).
fn block_output(len: usize, dw: &Dw, pw: &Pw, x: &Image) -> Image {
    let mut buf = vec![0f32; len];
    buf[len - 576..].copy_from_slice(x.as_flat());
    *Pass::staged::<Image>(&mut buf).then_separable(dw, pw).output::<Image>()
}

type Image = [[[f32; 8]; 6]; 12];
type Dw = DepthwiseConv2d<f32, 12, 6, 8, 1, 8, 3, 3, 1, 1, 1, 1, 12, 6, Relu>;
type Pw = Conv2d<f32, 12, 6, 8, 8, 1, 1, 1, 1, 0, 0, 12, 6, Relu>;

#[test]
fn the_gap_the_workspace_keeps_is_needed() {
    const _: () = assert!(<Dw as SeparableWith<f32, Pw>>::Output::LEN == 576);
    let mut rng = Rng::new(13);
    let (mut dw, mut pw): (Box<Dw>, Box<Pw>) = (constnet::zeroed_boxed(), constnet::zeroed_boxed());
    dw.init(&mut rng);
    pw.init(&mut rng);
    let x = random_input::<Image>(&mut rng);
    let (mut t, mut want) = (Box::new(Image::zeroed()), Box::new(Image::zeroed()));
    dw.forward(&x, &mut t);
    pw.forward(&t, &mut want);
    // Input and output of 12 rows of 48 values, a row of padding before:
    // output row r is written while input row r is still to be read (by
    // output row r + 1), so the output starts one row below the input.
    let peak = Dw::separable_peak(8);
    assert_eq!(peak, 576 + 48);
    let bits = |y: &Image| y.as_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&block_output(peak, &dw, &pw, &x)), bits(&want));
    assert_eq!(bits(&block_output(peak + 7, &dw, &pw, &x)), bits(&want));
    assert_ne!(bits(&block_output(peak - 48, &dw, &pw, &x)), bits(&want), "a row less must corrupt the output");
}
