//! Int8 layers against TensorFlow Lite Micro, bit for bit.
//!
//! The fixtures (tests/fixtures/tflm, made by tools/tflm-fixtures) hold small
//! models converted by TFLite's converter, the quantization parameters it
//! chose, inputs, and the outputs of TFLM's own interpreter (its reference
//! kernels). Given TFLite's numbers, constnet's int8 layers must give the
//! same outputs exactly.

use constnet::layers::int8::{
    Int8Layer, LoadTflite, QConv2d, QDense, QDenseSoftmax, QDepthwiseConv2d, QFlatten, QPool2d, QSoftmax,
};
use constnet::pool::{Avg, Max};
use constnet::quant::{zeroed_bytes, Bytes, QParams};
use constnet::{Linear, Relu, Tensor};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/tflm/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn qparams(v: &Value) -> QParams {
    QParams::new(v["scale"].as_f64().unwrap() as f32, v["zero_point"].as_i64().unwrap() as i32)
}

fn ints<T: TryFrom<i64>>(v: &Value) -> Vec<T> {
    v.as_array().unwrap().iter().map(|x| T::try_from(x.as_i64().unwrap()).ok().unwrap()).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// A boxed zeroed layer (some are too large for a test thread's stack).
fn blank<L: Bytes>() -> Box<L> {
    Box::new(zeroed_bytes())
}

/// Runs `layer` (one op of the fixture, or a chain through `run`) on every
/// case and compares with TFLM's outputs.
fn check_cases<X: Tensor<i8>, Y: Tensor<i8>>(fx: &Value, mut run: impl FnMut(&X, &mut Y)) {
    let cases = fx["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for (i, case) in cases.iter().enumerate() {
        let input: Vec<i8> = ints(&case["input"]);
        let expected: Vec<i8> = ints(&case["output"]);
        let mut x = Box::new(X::zeroed());
        x.as_flat_mut().copy_from_slice(&input);
        let mut y = Box::new(Y::zeroed());
        run(&x, &mut y);
        assert_eq!(y.as_flat(), &expected[..], "{} case {i}", fx["name"]);
    }
}

/// Fills a conv or dense layer with the numbers of fixture op `op`.
fn fill<L: LoadTflite>(op: &Value, layer: &mut L) {
    let weights: Vec<i8> = ints(&op["weights"]["data"]);
    let bias: Vec<i32> = ints(&op["bias"]["data"]);
    let scales = floats(&op["weights"]["scales"]);
    layer.load_tflite(&weights, &bias, &scales, qparams(&op["input"]), qparams(&op["output"])).unwrap();
}

macro_rules! conv_case {
    ($test:ident, $name:literal, $ty:ty) => {
        #[test]
        fn $test() {
            let fx = fixture($name);
            let op = &fx["ops"][0];
            let mut conv = blank::<$ty>();
            fill(op, &mut *conv);
            assert!(conv.is_valid());
            check_cases(&fx, |x, y| conv.forward(x, y));
        }
    };
}

conv_case!(conv_3x3_stride1_valid_relu, "conv_3x3_s1_valid_relu", QConv2d<8, 8, 1, 4, 3, 3, 1, 1, 0, 0, 6, 6, Relu>);
conv_case!(conv_3x3_stride2_same, "conv_3x3_s2_same_none", QConv2d<9, 9, 3, 8, 3, 3, 2, 2, 1, 1, 5, 5, Linear>);
conv_case!(conv_5x5_stride1_same_relu, "conv_5x5_s1_same_relu", QConv2d<8, 8, 2, 16, 5, 5, 1, 1, 2, 2, 8, 8, Relu>);
conv_case!(conv_1x1_relu, "conv_1x1_s1_relu", QConv2d<6, 6, 8, 12, 1, 1, 1, 1, 0, 0, 6, 6, Relu>);
// TF "same" with an even kernel at stride 2 pads one more after than before.
conv_case!(conv_2x2_stride2_same_pads_after, "conv_2x2_s2_same", QConv2d<7, 7, 3, 5, 2, 2, 2, 2, 0, 0, 4, 4, Linear>);
conv_case!(conv_3x1_stride_2x1_valid, "conv_3x1_s21_valid", QConv2d<9, 6, 2, 3, 3, 1, 2, 1, 0, 0, 4, 6, Linear>);

// Depthwise (issue 10's layer; TFLite's weights [1][KH][KW][C * M]).
conv_case!(depthwise_3x3_multiplier_2_same_relu, "depthwise_3x3_s1_same_relu", QDepthwiseConv2d<8, 8, 4, 2, 8, 3, 3, 1, 1, 1, 1, 8, 8, Relu>);
conv_case!(depthwise_3x3_stride2_valid, "depthwise_3x3_s2_valid", QDepthwiseConv2d<9, 9, 3, 1, 3, 3, 3, 2, 2, 0, 0, 4, 4, Linear>);

macro_rules! pool_case {
    ($test:ident, $name:literal, $ty:ty) => {
        #[test]
        fn $test() {
            let fx = fixture($name);
            let pool = blank::<$ty>();
            check_cases(&fx, |x, y| pool.forward(x, y));
        }
    };
}

pool_case!(maxpool_2x2_stride2, "maxpool_2x2_s2", QPool2d<Max, 8, 8, 4, 2, 2, 2, 2, 0, 0, 4, 4>);
pool_case!(maxpool_3x3_stride2_same, "maxpool_3x3_s2_same", QPool2d<Max, 9, 9, 3, 3, 3, 2, 2, 1, 1, 5, 5>);
pool_case!(avgpool_2x2_stride2, "avgpool_2x2_s2", QPool2d<Avg, 8, 8, 4, 2, 2, 2, 2, 0, 0, 4, 4>);
// Padded windows divide by the positions inside the input.
pool_case!(avgpool_3x3_stride1_same, "avgpool_3x3_s1_same", QPool2d<Avg, 7, 7, 2, 3, 3, 1, 1, 1, 1, 7, 7>);
pool_case!(avgpool_whole_map, "avgpool_global", QPool2d<Avg, 5, 5, 8, 5, 5, 1, 1, 0, 0, 1, 1>);

macro_rules! dense_case {
    ($test:ident, $name:literal, $ty:ty) => {
        #[test]
        fn $test() {
            let fx = fixture($name);
            let op = &fx["ops"][0];
            let mut dense = blank::<$ty>();
            fill(op, &mut *dense);
            assert!(dense.is_valid());
            check_cases(&fx, |x, y| dense.forward(x, y));
        }
    };
}

dense_case!(dense_per_channel_relu, "dense_per_channel_relu", QDense<48, 10, Relu>);
dense_case!(dense_per_tensor, "dense_per_tensor", QDense<48, 7, Linear>);

#[test]
fn dense_per_tensor_has_one_weight_scale() {
    let fx = fixture("dense_per_tensor");
    assert_eq!(fx["ops"][0]["weights"]["scales"].as_array().unwrap().len(), 1);
}

#[test]
fn softmax() {
    let fx = fixture("softmax");
    let op = &fx["ops"][0];
    assert_eq!(qparams(&op["output"]), QParams::SOFTMAX);
    let softmax = QSoftmax::<[i8; 10]>::new(qparams(&op["input"]).scale(), op["beta"].as_f64().unwrap() as f32);
    assert!(softmax.is_valid());
    check_cases(&fx, |x, y| softmax.forward(x, y));
}

#[test]
fn dense_then_softmax() {
    let fx = fixture("dense_softmax");
    let mut layer = blank::<QDenseSoftmax<32, 10>>();
    fill(&fx["ops"][0], &mut layer.dense);
    layer.softmax = QSoftmax::new(qparams(&fx["ops"][1]["input"]).scale(), 1.0);
    check_cases(&fx, |x, y| layer.forward(x, y));
}

/// The LeNet, layer by layer as TFLite converted it.
#[test]
fn lenet_layer_by_layer() {
    let fx = fixture("lenet");
    let ops = fx["ops"].as_array().unwrap();
    let kinds: Vec<&str> = ops.iter().map(|op| op["op"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "CONV_2D",
            "MAX_POOL_2D",
            "CONV_2D",
            "MAX_POOL_2D",
            "RESHAPE",
            "FULLY_CONNECTED",
            "FULLY_CONNECTED",
            "SOFTMAX"
        ]
    );
    let mut conv1 = blank::<QConv2d<28, 28, 1, 8, 5, 5, 1, 1, 0, 0, 24, 24, Relu>>();
    let pool1 = blank::<QPool2d<Max, 24, 24, 8, 2, 2, 2, 2, 0, 0, 12, 12>>();
    let mut conv2 = blank::<QConv2d<12, 12, 8, 16, 5, 5, 1, 1, 0, 0, 8, 8, Relu>>();
    let pool2 = blank::<QPool2d<Max, 8, 8, 16, 2, 2, 2, 2, 0, 0, 4, 4>>();
    let flat = blank::<QFlatten<4, 4, 16, 256>>();
    let mut fc1 = blank::<QDense<256, 64, Relu>>();
    let mut out = blank::<QDenseSoftmax<64, 10>>();
    fill(&ops[0], &mut *conv1);
    fill(&ops[2], &mut *conv2);
    fill(&ops[5], &mut *fc1);
    fill(&ops[6], &mut out.dense);
    out.softmax = QSoftmax::new(qparams(&ops[7]["input"]).scale(), 1.0);
    check_cases(&fx, |x: &[[[i8; 1]; 28]; 28], y: &mut [i8; 10]| {
        let mut a = Box::new([[[0i8; 8]; 24]; 24]);
        let mut b = Box::new([[[0i8; 8]; 12]; 12]);
        let mut c = Box::new([[[0i8; 16]; 8]; 8]);
        let mut d = Box::new([[[0i8; 16]; 4]; 4]);
        let mut e = [0i8; 256];
        let mut f = [0i8; 64];
        conv1.forward(x, &mut a);
        pool1.forward(&a, &mut b);
        conv2.forward(&b, &mut c);
        pool2.forward(&c, &mut d);
        flat.forward(&d, &mut e);
        fc1.forward(&e, &mut f);
        out.forward(&f, y);
    });
}

/// The same LeNet as `constnet::zoo::Lenet`'s int8 model, filled with
/// TFLite's numbers: its fused inference (conv+pool as one step) gives
/// TFLM's outputs too.
#[test]
fn lenet_int8_model_with_tflite_parameters() {
    use constnet::zoo::Lenet;
    use constnet::{Int8, Int8Model, Workspace};
    let fx = fixture("lenet");
    let ops = fx["ops"].as_array().unwrap();
    let mut q = blank::<Int8<Lenet>>();
    q.input = qparams(&fx["input"]);
    q.output = qparams(&fx["output"]);
    fill(&ops[0], &mut q.conv1);
    fill(&ops[2], &mut q.conv2);
    fill(&ops[5], &mut q.fc1);
    fill(&ops[6], &mut q.out.dense);
    q.out.softmax = QSoftmax::new(qparams(&ops[7]["input"]).scale(), 1.0);
    assert!(q.is_valid());
    let mut ws = Box::new(Workspace::new());
    check_cases(&fx, |x, y: &mut [i8; 10]| *y = *q.predict(x, &mut ws));
}

/// Issue 10's layers: depthwise convolution, TF's "same" padding with one
/// more row or column after than before, and average pooling over the whole
/// map, int8 bit for bit and f32 within a stated bound, single layers and a
/// DS-CNN in miniature declared with `sequential!`. Their fixtures also hold,
/// in `<name>.f32.json`, the Keras weights (TensorFlow's layouts, which are
/// constnet's: conv `[KH][KW][C][F]`, depthwise `[KH][KW][C * M]`, dense
/// `[in][out]`) and TFLM's outputs for the unquantized model.
mod separable {
    use super::*;
    use constnet::{Conv2d, DepthwiseConv2d, Int8, Int8Model, Layer, Model, Params, Workspace};

    /// f32 outputs within `REL` of TFLM's, relative to the largest magnitude
    /// of each case's output (summation orders differ, so not bit for bit).
    const REL: f32 = 1e-5;

    /// Loads `name`'s Keras weights into `P` (its parameters are the layers'
    /// kernels and biases in order, as Keras lists them) and runs `run` on
    /// every f32 case.
    fn check_f32<P: Params<f32>, X: Tensor<f32>, Y: Tensor<f32>>(name: &str, run: impl Fn(&P, &X, &mut Y)) {
        let fx = fixture(&format!("{name}.f32"));
        let mut params: Box<P> = constnet::zeroed_boxed();
        let flat: Vec<f32> = fx["layers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| floats(&l["kernel"]["data"]).into_iter().chain(floats(&l["bias"])))
            .collect();
        params.flat_mut().copy_from_slice(&flat);
        let cases = fx["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for (i, case) in cases.iter().enumerate() {
            let x = X::from_flat(&floats(&case["input"])).map(|x| Box::new(copy(x))).unwrap();
            let mut y = Box::new(Y::zeroed());
            run(&params, &x, &mut y);
            let want = floats(&case["output"]);
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (k, (&got, &want)) in y.as_flat().iter().zip(&want).enumerate() {
                assert!(
                    (got - want).abs() <= REL * scale,
                    "{name} f32 case {i} output {k}: {got} against TFLM's {want}"
                );
            }
        }
    }

    fn copy<X: Tensor<f32>>(x: &X) -> X {
        let mut c = X::zeroed();
        c.as_flat_mut().copy_from_slice(x.as_flat());
        c
    }

    /// A single-layer case: int8 against TFLM bit for bit, f32 within [`REL`].
    macro_rules! layer_case {
        ($test:ident, $name:literal, int8 $q:ty, f32 $f:ty) => {
            #[test]
            fn $test() {
                let fx = fixture($name);
                let mut q = blank::<$q>();
                fill(&fx["ops"][0], &mut *q);
                assert!(q.is_valid());
                check_cases(&fx, |x, y| q.forward(x, y));
                check_f32::<$f, _, _>($name, |l, x, y| l.forward(x, y));
            }
        };
    }

    // KWS's first layer: 10x4 at stride 2 over 49x10, 4 rows of padding before
    // and 5 after (25 rows out), 1 column on each side.
    layer_case!(conv_10x4_stride2_same_pads_one_more_row_after, "conv_10x4_s2_same_kws",
        int8 QConv2d<49, 10, 1, 8, 10, 4, 2, 2, 4, 1, 25, 5, Relu>,
        f32 Conv2d<f32, 49, 10, 1, 8, 10, 4, 2, 2, 4, 1, 25, 5, Relu>);
    // 3x3 at stride 2 over an even map: no padding before, one after.
    layer_case!(depthwise_3x3_stride2_same_even_map, "depthwise_3x3_s2_same_even",
        int8 QDepthwiseConv2d<8, 8, 4, 1, 4, 3, 3, 2, 2, 0, 0, 4, 4, Relu>,
        f32 DepthwiseConv2d<f32, 8, 8, 4, 1, 4, 3, 3, 2, 2, 0, 0, 4, 4, Relu>);
    layer_case!(depthwise_3x3_stride2_same_even_map_multiplier_2, "depthwise_3x3_s2_same_even_m2",
        int8 QDepthwiseConv2d<10, 6, 3, 2, 6, 3, 3, 2, 2, 0, 0, 5, 3, Linear>,
        f32 DepthwiseConv2d<f32, 10, 6, 3, 2, 6, 3, 3, 2, 2, 0, 0, 5, 3, Linear>);

    constnet::sequential! {
        /// Global average pooling alone, as `sequential!` declares it.
        struct GlobalPool: [25, 5, 16] {
            pool: GlobalAvgPool2d,
        }
    }

    /// KWS's pooling: 125 values a window, TFLM's rounding (half away from zero).
    #[test]
    fn global_average_pool_over_25x5() {
        let fx = fixture("avgpool_global_25x5");
        let pool = blank::<QPool2d<Avg, 25, 5, 16, 25, 5, 25, 5, 0, 0, 1, 1>>();
        check_cases(&fx, |x, y| pool.forward(x, y));
        // The same through the model `sequential!` derives, in int8 and f32.
        let mut q = blank::<Int8<GlobalPool>>();
        q.input = qparams(&fx["input"]);
        q.output = qparams(&fx["output"]);
        assert!(q.is_valid());
        let mut ws = Box::new(Workspace::new());
        check_cases(&fx, |x, y: &mut [[[i8; 16]; 1]; 1]| *y = *q.predict(x, &mut ws));
        check_f32::<GlobalPool, _, _>("avgpool_global_25x5", |m, x, y: &mut [[[f32; 16]; 1]; 1]| {
            *y = *m.predict(x, &mut Workspace::new())
        });
    }

    constnet::sequential! {
        /// A DS-CNN in miniature, as the fixture's Keras model.
        struct SeparableMini: [49, 10, 1] {
            conv1: Conv2d<16, [10, 4], stride = 2, pad = same> => Relu,
            dw1: DepthwiseConv2d<3, pad = same> => Relu,
            pw1: Conv2d<16, 1> => Relu,
            pool: GlobalAvgPool2d,
            flat: Flatten,
            fc: Dense<12> => Softmax,
        }
    }

    #[test]
    fn separable_mini_declared_with_sequential() {
        // The geometry `sequential!` worked out is TF's.
        let rows: Vec<String> =
            SeparableMini::<f32>::LAYERS.iter().map(|l| format!("{} {:?}", l.info.kind, l.output)).collect();
        assert_eq!(
            rows,
            [
                "Conv2d 10x4/2 pad 4:5x1 [25, 5, 16]",
                "DepthwiseConv2d 3x3/1 pad 1 [25, 5, 16]",
                "Conv2d 1x1/1 valid [25, 5, 16]",
                "AvgPool2d 25x5/25x5 [1, 1, 16]",
                "Flatten [16]",
                "Dense [12]",
            ]
        );
        // The depthwise layer runs fused with the pointwise one, whose output
        // overwrites the block's input but for a row: the peak is the input
        // with conv1's output (two 25x5x16 side by side would take 4,000).
        assert_eq!(Int8::<SeparableMini>::WORKSPACE_BYTES, 490 + 25 * 5 * 16);

        let fx = fixture("separable_mini");
        let ops = fx["ops"].as_array().unwrap();
        let mut q = blank::<Int8<SeparableMini>>();
        q.input = qparams(&fx["input"]);
        q.output = qparams(&fx["output"]);
        fill(&ops[0], &mut q.conv1);
        fill(&ops[1], &mut q.dw1);
        fill(&ops[2], &mut q.pw1);
        fill(&ops[4], &mut q.fc.dense);
        q.fc.softmax = QSoftmax::new(qparams(&ops[5]["input"]).scale(), 1.0);
        assert!(q.is_valid());
        let mut ws = Box::new(Workspace::new());
        check_cases(&fx, |x, y: &mut [i8; 12]| *y = *q.predict(x, &mut ws));

        check_f32::<SeparableMini, _, _>("separable_mini", |m, x, y: &mut [f32; 12]| {
            *y = *m.predict(x, &mut Box::new(Workspace::new()))
        });
    }
}
