//! The f32 depthwise convolution and TF's "same" padding: a depthwise layer
//! computes what a convolution with block-diagonal weights computes (bit for
//! bit: the same products summed in the same order, plus zeros), in
//! `sequential!` models that save, load and fingerprint their geometry.
#![cfg(feature = "std")]

use constnet::{persist, Conv2d, DepthwiseConv2d, EdgePad, Layer, Linear, Model, Params, Relu, Rng, Tensor, ZeroPad};

/// The convolution equal to depthwise `d`: filter `c * M + m` reads only
/// input channel `c`, with `d`'s weights.
fn as_conv<
    P: constnet::Padding,
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const OC: usize,
    const K: usize,
    const S: usize,
    const PAD: usize,
    const OH: usize,
    const OW: usize,
>(
    d: &DepthwiseConv2d<f32, H, W, C, M, OC, K, K, S, S, PAD, PAD, OH, OW, Relu, [f32; OC], P>,
) -> Box<Conv2d<f32, H, W, C, OC, K, K, S, S, PAD, PAD, OH, OW, Relu, [f32; OC], P>> {
    let mut conv: Box<Conv2d<f32, H, W, C, OC, K, K, S, S, PAD, PAD, OH, OW, Relu, [f32; OC], P>> =
        constnet::zeroed_boxed();
    for ky in 0..K {
        for kx in 0..K {
            for oc in 0..OC {
                conv.weight[ky][kx][oc / M][oc] = d.weight[ky][kx][oc];
            }
        }
    }
    conv.bias = d.bias;
    conv
}

/// Random weights and input, and both layers' outputs compared bit for bit.
macro_rules! against_conv {
    ($test:ident, $pad:ty, $h:literal, $w:literal, $c:literal, $m:literal, $k:literal, $s:literal, $p:literal,
     $oh:literal, $ow:literal) => {
        #[test]
        fn $test() {
            type D = DepthwiseConv2d<
                f32,
                $h,
                $w,
                $c,
                $m,
                { $c * $m },
                $k,
                $k,
                $s,
                $s,
                $p,
                $p,
                $oh,
                $ow,
                Relu,
                [f32; $c * $m],
                $pad,
            >;
            let mut rng = Rng::new(5);
            let mut d: Box<D> = constnet::zeroed_boxed();
            d.init(&mut rng);
            d.bias.iter_mut().for_each(|b| *b = rng.uniform(0.5) as f32);
            let mut x = <D as Layer<f32>>::Input::zeroed();
            x.as_flat_mut().iter_mut().for_each(|v| *v = rng.uniform(1.0) as f32);
            let (mut a, mut b) = (<D as Layer<f32>>::Output::zeroed(), <D as Layer<f32>>::Output::zeroed());
            d.forward(&x, &mut a);
            as_conv(&*d).forward(&x, &mut b);
            assert_eq!(
                a.as_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.as_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            assert!(a.as_flat().iter().any(|&v| v > 0.0) && a.as_flat().iter().any(|&v| v == 0.0));
        }
    };
}

against_conv!(depthwise_equals_block_diagonal_conv, ZeroPad, 7, 9, 8, 1, 3, 1, 1, 7, 9);
against_conv!(depthwise_multiplier_3_stride_2, ZeroPad, 8, 7, 2, 3, 3, 2, 1, 4, 4);
// TF's "same" at stride 2 over an even map: one column and row after only.
against_conv!(depthwise_tf_same_pads_one_more_after, ZeroPad, 8, 10, 4, 1, 3, 2, 0, 4, 5);
against_conv!(depthwise_edge_padding, EdgePad, 6, 6, 3, 2, 5, 1, 2, 6, 6);

constnet::sequential! {
    /// A separable block at stride 2 with TF's "same" over an even map.
    struct Separable: [16, 10, 3] {
        dw: DepthwiseConv2d<3, stride = 2, pad = same, multiplier = 2> => Relu,
        pw: Conv2d<8, 1> => Relu,
        dw2: DepthwiseConv2d<[3, 1], edge = [1, 0], bias = false>,
        pool: GlobalAvgPool2d,
        flat: Flatten,
        out: Dense<4> => Softmax,
    }
}

#[test]
fn sequential_geometry_summary_and_sizes() {
    let rows: Vec<String> = Separable::<f32>::LAYERS
        .iter()
        .map(|l| format!("{} {} {:?} {}", l.info.kind, l.info.activation, l.output, l.params))
        .collect();
    assert_eq!(
        rows,
        [
            "DepthwiseConv2d 3x3/2 pad 0:1 relu [8, 5, 6] 60",
            "Conv2d 1x1/1 valid relu [8, 5, 8] 56",
            "DepthwiseConv2d 3x1/1 edge 1x0 linear [8, 5, 8] 24",
            "AvgPool2d 8x5/8x5 - [1, 1, 8] 0",
            "Flatten - [8] 0",
            "Dense softmax [4] 36",
        ]
    );
    assert_eq!(<Separable<f32> as Params<f32>>::LEN, 60 + 56 + 24 + 36);
    // dw runs fused with pw (dw's output never exists; pw's, 320, is
    // written over the input, 480): the peak is pw's output with dw2's.
    assert_eq!(Separable::<f32>::WORKSPACE_BYTES, 4 * (8 * 5 * 8 + 8 * 5 * 8));
    let summary = format!("{}", constnet::summary::Summary::<f32, Separable<f32>>::new());
    assert!(summary.contains("DepthwiseConv2d 3x3/2 pad 0:1"), "{summary}");
}

#[test]
fn saves_and_loads_with_its_fingerprint() {
    let model = Separable::<f32>::new(3);
    let blob = persist::to_vec(&model);
    let mut back = Separable::<f32>::new(4);
    constnet::load_into(&blob, &mut back).unwrap();
    assert_eq!(model.flat(), back.flat());
    let x = [[[0.25f32; 3]; 10]; 16];
    let (mut w1, mut w2) = (constnet::Workspace::new(), constnet::Workspace::new());
    assert_eq!(model.predict(&x, &mut w1), back.predict(&x, &mut w2));
}

#[test]
fn fingerprints_tell_the_padding_apart() {
    // 3x3 at stride 2 over 8: valid gives 3 outputs; TF's "same" 4, with
    // the same padding before (none) and one after. Conv2d's fingerprint
    // does not hold OH, so the padding after must be in it.
    type Valid = Conv2d<f32, 8, 8, 1, 2, 3, 3, 2, 2, 0, 0, 3, 3>;
    type Same = Conv2d<f32, 8, 8, 1, 2, 3, 3, 2, 2, 0, 0, 4, 4>;
    assert_ne!(<Valid as Layer<f32>>::FINGERPRINT, <Same as Layer<f32>>::FINGERPRINT);
    assert_eq!(<Same as Layer<f32>>::INFO.kind, "Conv2d 3x3/2 pad 0:1");
    type Dw = DepthwiseConv2d<f32, 8, 8, 2, 1, 2, 3, 3, 2, 2, 0, 0, 4, 4, Linear>;
    type Dw2 = DepthwiseConv2d<f32, 8, 8, 2, 2, 4, 3, 3, 2, 2, 0, 0, 4, 4, Linear>;
    assert_ne!(<Dw as Layer<f32>>::FINGERPRINT, <Dw2 as Layer<f32>>::FINGERPRINT);
}

constnet::sequential! {
    /// Depthwise layers with no int8 form: edge padding, then tanh.
    struct EdgeDw: [6, 6, 2] {
        dw: DepthwiseConv2d<3, edge = 1>,
    }
}

constnet::sequential! {
    struct TanhDw: [6, 6, 2] {
        dw: DepthwiseConv2d<3, pad = same> => Tanh,
    }
}

#[test]
fn depthwise_without_an_int8_form_is_a_quantization_error() {
    use constnet::layers::int8::QuantizeError;
    use constnet::quantize::{quantize, CalibrationError};
    let image = [0.5f32; 72];
    let unsupported = Some(CalibrationError::Layer(QuantizeError::Unsupported { kind: "DepthwiseConv2d" }));
    assert_eq!(quantize(&EdgeDw::<f32>::new(1), [&image[..]], &Default::default()).err(), unsupported);
    assert_eq!(quantize(&TanhDw::<f32>::new(1), [&image[..]], &Default::default()).err(), unsupported);
}
