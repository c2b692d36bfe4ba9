//! Residual blocks in int8 against TensorFlow Lite Micro, bit for bit: the
//! fixtures `residual_identity`, `residual_input` and `residual_shortcut`
//! (made by tools/tflm-fixtures/make_fixtures.py, its ADD section) hold one
//! block (after a stem convolution, or on the model's input), converted by
//! TFLite, with the outputs of TFLM's own interpreter. Filled with TFLite's numbers, the int8 models
//! that `sequential!` derives run the block in their workspace
//! (`QResidual::run`) and give TFLM's outputs exactly.

use constnet::layers::int8::{LoadTflite, QAdd};
use constnet::quant::{zeroed_bytes, Bytes, QParams};
use constnet::{Int8, Int8Model, Tensor};
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

/// Fills a convolution with the numbers of fixture op `op`.
fn fill<L: LoadTflite>(op: &Value, layer: &mut L) {
    let weights: Vec<i8> = ints(&op["weights"]["data"]);
    let bias: Vec<i32> = ints(&op["bias"]["data"]);
    let scales: Vec<f32> =
        op["weights"]["scales"].as_array().unwrap().iter().map(|s| s.as_f64().unwrap() as f32).collect();
    layer.load_tflite(&weights, &bias, &scales, qparams(&op["input"]), qparams(&op["output"])).unwrap();
}

/// The quantization around fixture block `block`'s ADD: the block's input,
/// the main branch's output, the shortcut's and the block's output (TFLite
/// may order the ADD's inputs the other way; the arithmetic is symmetric in
/// its two inputs).
fn around_add(block: &Value) -> [QParams; 4] {
    let add = &block["add"];
    let (main, shortcut) = if add["main_is_input"] == 1 { ("input1", "input2") } else { ("input2", "input1") };
    [qparams(&block["main"][0]["input"]), qparams(&add[main]), qparams(&add[shortcut]), qparams(&add["output"])]
}

fn check<M: Int8Model>(fx: &Value, q: &M) {
    assert!(q.is_valid());
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    let mut ws = Box::new(M::Workspace::default());
    for (i, case) in cases.iter().enumerate() {
        let mut x = Box::new(M::Input::zeroed());
        x.as_flat_mut().copy_from_slice(&ints::<i8>(&case["input"]));
        let expected: Vec<i8> = ints(&case["output"]);
        assert_eq!(q.predict(&x, &mut ws).as_flat(), &expected[..], "{} case {i}", fx["name"]);
    }
}

constnet::sequential! {
    pub struct IdentityMain: [8, 8, 8] {
        main1: Conv2d<8, 3, pad = same> => Relu,
        main2: Conv2d<8, 3, pad = same>,
    }
}

constnet::sequential! {
    pub struct IdentityNet: [8, 8, 3] {
        stem: Conv2d<8, 3, pad = same> => Relu,
        block: Residual<IdentityMain> => Relu,
    }
}

#[test]
fn identity_block_equals_tflm() {
    let fx = fixture("residual_identity");
    let b = &fx["block"];
    assert_eq!(b["shortcut"].as_array().unwrap().len(), 0);
    let mut q = Box::new(zeroed_bytes::<Int8<IdentityNet>>());
    q.input = qparams(&fx["input"]);
    q.output = qparams(&fx["output"]);
    fill(&b["stem"], &mut q.stem);
    let main = &b["main"];
    fill(&main[0], &mut q.block.main.main1);
    fill(&main[1], &mut q.block.main.main2);
    let [input, main_out, shortcut, output] = around_add(b);
    q.block.load_tflite(input, main_out, shortcut, output).unwrap();
    assert_eq!(q.block.main.output, qparams(&main[1]["output"]));
    check(&fx, &*q);
}

constnet::sequential! {
    pub struct InputMain: [8, 8, 4] {
        main1: Conv2d<4, 3, pad = same> => Relu,
        main2: Conv2d<4, 3, pad = same>,
    }
}

constnet::sequential! {
    /// The block reads the model's input (staged at the top of the workspace).
    pub struct InputNet: [8, 8, 4] {
        block: Residual<InputMain> => Relu,
    }
}

#[test]
fn block_on_the_model_input_equals_tflm() {
    let fx = fixture("residual_input");
    let b = &fx["block"];
    assert!(b["stem"].is_null());
    let mut q = Box::new(zeroed_bytes::<Int8<InputNet>>());
    q.input = qparams(&fx["input"]);
    q.output = qparams(&fx["output"]);
    fill(&b["main"][0], &mut q.block.main.main1);
    fill(&b["main"][1], &mut q.block.main.main2);
    let [input, main_out, shortcut, output] = around_add(b);
    assert_eq!(input, q.input);
    q.block.load_tflite(input, main_out, shortcut, output).unwrap();
    check(&fx, &*q);
}

constnet::sequential! {
    pub struct DownMain: [9, 9, 8] {
        main1: Conv2d<16, 3, stride = 2, pad = 1> => Relu, // TF's "same" on 9x9: one each side
        main2: Conv2d<16, 3, pad = same>,
    }
}

constnet::sequential! {
    pub struct DownShortcut: [9, 9, 8] {
        conv: Conv2d<16, 1, stride = 2>,
    }
}

constnet::sequential! {
    pub struct ShortcutNet: [9, 9, 4] {
        stem: Conv2d<8, 3, pad = same> => Relu,
        block: Residual<DownMain, DownShortcut> => Relu,
    }
}

#[test]
fn block_with_a_strided_shortcut_equals_tflm() {
    let fx = fixture("residual_shortcut");
    let b = &fx["block"];
    let mut q = Box::new(zeroed_bytes::<Int8<ShortcutNet>>());
    q.input = qparams(&fx["input"]);
    q.output = qparams(&fx["output"]);
    fill(&b["stem"], &mut q.stem);
    let (main, shortcut) = (&b["main"], &b["shortcut"][0]);
    fill(&main[0], &mut q.block.main.main1);
    fill(&main[1], &mut q.block.main.main2);
    fill(shortcut, &mut q.block.shortcut.conv);
    let [input, main_out, short_out, output] = around_add(b);
    q.block.load_tflite(input, main_out, short_out, output).unwrap();
    assert_eq!(q.block.shortcut.output, qparams(&shortcut["output"]));
    check(&fx, &*q);
    // The block saw inputs of different scales: both were rescaled.
    assert_ne!(qparams(&b["add"]["input1"]).scale(), qparams(&b["add"]["input2"]).scale());
    assert_eq!(core::mem::size_of::<QAdd<constnet::Relu>>(), QAdd::<constnet::Relu>::SIZE);
}

/// TFLite's ADD on its own, on every pair of int8 values (fixtures
/// `add_pairs_*`: `output[i * 256 + j]` is TFLM's sum of `i - 128` as
/// input 1 and `j - 128` as input 2).
fn check_add_pairs<A: constnet::Activation>(name: &str) {
    let fx = fixture(name);
    let add = &fx["add"];
    let q = QAdd::<A>::new(qparams(&add["input1"]), qparams(&add["input2"]), qparams(&add["output"])).unwrap();
    assert!(q.is_valid());
    let expected: Vec<i8> = ints(&fx["output"]);
    assert_eq!(expected.len(), 65_536);
    // Value `v - 128` for `v` in 0..256.
    let x: Vec<i8> = (0..65_536i32).map(|k| (k / 256 - 128) as i8).collect();
    let y: Vec<i8> = (0..65_536i32).map(|k| (k % 256 - 128) as i8).collect();
    let mut out = vec![0i8; 65_536];
    q.forward(&x, &y, &mut out);
    let wrong: Vec<usize> = (0..65_536).filter(|&k| out[k] != expected[k]).collect();
    assert!(wrong.is_empty(), "{name}: {} of 65536 sums differ, first at {:?}", wrong.len(), wrong.first());
}

#[test]
fn add_with_relu_on_every_pair_equals_tflm() {
    check_add_pairs::<constnet::Relu>("add_pairs_relu");
}

#[test]
fn add_on_every_pair_equals_tflm() {
    check_add_pairs::<constnet::Linear>("add_pairs_none");
}
