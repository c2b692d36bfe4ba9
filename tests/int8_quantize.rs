//! Post-training quantization of a trained float model, and the int8
//! model's inference against its own layer-by-layer definition.
#![cfg(feature = "std")]

use constnet::data::fashion_mnist_bundled;
use constnet::layers::int8::{Int8Layer, QuantizeOptions};
use constnet::quantize::{quantize, CalibrationError};
use constnet::train::Trainer;
use constnet::zoo::{Lenet, LenetBinary};
use constnet::{Adam, Int8, Int8Model, Loss, Model, Tensor, Workspace};

fn argmax<T: PartialOrd + Copy>(v: &[T]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

#[test]
fn quantized_lenet_agrees_with_float() {
    let d = fashion_mnist_bundled().unwrap();
    let mut model = Lenet::<f32>::new(1);
    Trainer::new(Adam::new(1e-3), Loss::CrossEntropy)
        .epochs(2)
        .seed(3)
        .report_every(0)
        .progress(false)
        .fit(&mut model, &d.train)
        .unwrap();
    let calibration = (0..200).map(|i| d.train.image(i));
    for per_channel in [true, false] {
        let options = QuantizeOptions { dense_per_channel: per_channel };
        let q = quantize(&model, calibration.clone(), &options).unwrap();
        assert!(q.is_valid());
        assert_eq!(q.input_params().zero_point(), -128, "images in [0, 1]");
        assert_eq!(q.output_params(), constnet::quant::QParams::SOFTMAX);
        let (mut ws, mut qws) = (Box::new(Workspace::new()), Box::new(Workspace::new()));
        let (mut agree, mut right_f, mut right_q) = (0, 0, 0);
        let mut x = [[[0i8; 1]; 28]; 28];
        for i in 0..d.test.len() {
            let image = d.test.image(i);
            let f = model.predict(Tensor::from_flat(image).unwrap(), &mut ws);
            q.quantize_input(image, &mut x);
            let y = q.predict(&x, &mut qws);
            let (cf, cq) = (argmax(f), argmax(y));
            agree += usize::from(cf == cq);
            right_f += usize::from(cf == usize::from(d.test.label(i)));
            right_q += usize::from(cq == usize::from(d.test.label(i)));
        }
        let n = d.test.len();
        // Measured: 99% of the 1,000 bundled test images classified alike.
        assert!(agree * 100 >= 97 * n, "per_channel={per_channel}: {agree}/{n} agree");
        assert!(right_q + n / 100 >= right_f, "int8 {right_q} vs f32 {right_f} of {n}");
    }
}

#[test]
fn fused_int8_inference_is_layer_by_layer_bit_for_bit() {
    let model = Lenet::<f32>::new(7);
    let images: Vec<f32> = (0..8 * 784).map(|i| ((i * 37) % 256) as f32 / 255.0).collect();
    let q = quantize(&model, images.chunks(784), &QuantizeOptions::default()).unwrap();
    let mut ws = Box::new(Workspace::new());
    for image in images.chunks(784) {
        let mut x = [[[0i8; 1]; 28]; 28];
        q.quantize_input(image, &mut x);
        let fused = *q.predict(&x, &mut ws);
        let mut a = Box::new([[[0i8; 8]; 24]; 24]);
        let mut b = Box::new([[[0i8; 8]; 12]; 12]);
        let mut c = Box::new([[[0i8; 16]; 8]; 8]);
        let mut e = [0i8; 256];
        let mut f = [0i8; 64];
        let mut y = [0i8; 10];
        q.conv1.forward(&x, &mut a);
        q.pool1.forward(&a, &mut b);
        q.conv2.forward(&b, &mut c);
        let mut d = [[[0i8; 16]; 4]; 4];
        q.pool2.forward(&c, &mut d);
        q.flat.forward(&d, &mut e);
        q.fc1.forward(&e, &mut f);
        q.out.forward(&f, &mut y);
        assert_eq!(fused, y);
    }
}

#[test]
fn calibration_errors() {
    let model = Lenet::<f32>::new(1);
    let none: [&[f32]; 0] = [];
    assert_eq!(quantize(&model, none, &Default::default()).err(), Some(CalibrationError::NoImages));
    let short = [0.5f32; 100];
    assert_eq!(
        quantize(&model, [&short[..]], &Default::default()).err(),
        Some(CalibrationError::WrongLength { index: 0, len: 100, expected: 784 })
    );
    // Sigmoid has no int8 form: an error, not a build failure (the model is
    // never run in int8 here).
    let binary = LenetBinary::<f32>::new(1);
    let err = quantize(&binary, [&[0.5f32; 784][..]], &Default::default()).err().unwrap();
    assert!(err.to_string().contains("no int8 form"), "{err}");
}

#[test]
fn int8_sizes_are_constants() {
    assert_eq!(<Int8<Lenet> as Int8Model>::WORKSPACE_BYTES, 784 + 1152);
    let layer_bytes: usize = <Int8<Lenet> as Int8Model>::LAYERS.iter().map(|l| l.params).sum();
    assert_eq!(<Int8<Lenet> as Int8Model>::PARAM_BYTES, layer_bytes + 16);
}

#[test]
fn int8_blob_round_trips_and_rejects_bad_bytes() {
    use constnet::persist::{load_int8_into, reseal, saved_len_int8, to_vec, to_vec_int8, view_int8, LoadError};
    use constnet::quant::{zeroed_bytes, Bytes};
    type Q = Int8<Lenet>;
    let model = Lenet::<f32>::new(3);
    let images: Vec<f32> = (0..4 * 784).map(|i| ((i * 13) % 256) as f32 / 255.0).collect();
    let q = quantize(&model, images.chunks(784), &QuantizeOptions::default()).unwrap();
    let blob = to_vec_int8(&*q);
    assert_eq!(blob.len(), saved_len_int8::<Q>());
    // In place, at an odd address too: int8 models have alignment 1.
    let mut shifted = vec![0u8; blob.len() + 1];
    shifted[1..].copy_from_slice(&blob);
    let viewed: &Q = view_int8(&shifted[1..]).unwrap();
    assert_eq!(viewed.as_bytes(), q.as_bytes());
    let mut loaded: Box<Q> = Box::new(zeroed_bytes());
    load_int8_into(&blob, &mut *loaded).unwrap();
    let (mut w1, mut w2) = (Box::new(Workspace::new()), Box::new(Workspace::new()));
    let mut x = [[[0i8; 1]; 28]; 28];
    q.quantize_input(&images[..784], &mut x);
    assert_eq!(q.predict(&x, &mut w1), loaded.predict(&x, &mut w2));

    let err = |bytes: &[u8]| view_int8::<Q>(bytes).err().unwrap();
    assert!(matches!(err(&blob[..blob.len() - 1]), LoadError::Truncated { .. }));
    assert!(matches!(err(&[blob.clone(), vec![0]].concat()), LoadError::TrailingBytes { .. }));
    assert!(matches!(err(&to_vec(&model)), LoadError::ScalarMismatch { expected: 1, found: 4 }));
    let mut other = blob.clone();
    other[8] ^= 1;
    assert!(matches!(err(&other), LoadError::ChecksumMismatch { .. }));
    reseal(&mut other);
    assert!(matches!(err(&other), LoadError::WrongArchitecture { .. }));
    // A zero scale for the input (bytes 16..20 are the input's scale).
    let mut bad = blob.clone();
    bad[16..20].copy_from_slice(&0f32.to_le_bytes());
    reseal(&mut bad);
    assert_eq!(err(&bad), LoadError::InvalidQuantization);
    // A rejected blob leaves the model untouched.
    let before = loaded.as_bytes().to_vec();
    assert!(load_int8_into(&bad, &mut *loaded).is_err());
    assert_eq!(loaded.as_bytes(), &before[..]);
    // Arbitrary byte edits never panic: they are refused (the checksum), and
    // resealed they load (and predict) or are refused.
    let mut state = 0x1234_5678u64;
    for _ in 0..2000 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut m = blob.clone();
        let at = (state >> 33) as usize % m.len();
        let byte = (state >> 13) as u8;
        if m[at] == byte {
            continue;
        }
        m[at] = byte;
        assert!(view_int8::<Q>(&m).is_err(), "an edited byte at {at} loaded");
        reseal(&mut m);
        if let Ok(v) = view_int8::<Q>(&m) {
            let _ = v.predict(&x, &mut w1);
        }
    }
}

constnet::sequential! {
    /// Average and overlapping max pooling after convolutions, with padding.
    struct Pools: [12, 12, 2] {
        c1: Conv2d<6, 3, pad = 1> => Relu, // [12, 12, 6]
        p1: AvgPool2d<2>,                  // [6, 6, 6]
        c2: Conv2d<5, 3>,                  // [4, 4, 5]
        p2: MaxPool2d<2, stride = 1>,      // [3, 3, 5]
        flat: Flatten,
        out: Dense<4>,
    }
}

#[test]
fn fused_int8_average_and_overlapping_pooling_match_layer_by_layer() {
    let model = Pools::<f32>::new(5);
    let images: Vec<f32> = (0..6 * 288).map(|i| ((i * 53) % 256) as f32 / 255.0).collect();
    let q = quantize(&model, images.chunks(288), &QuantizeOptions::default()).unwrap();
    assert!(q.is_valid());
    let mut ws = Box::new(Workspace::new());
    for image in images.chunks(288) {
        let mut x = [[[0i8; 2]; 12]; 12];
        q.quantize_input(image, &mut x);
        let fused = *q.predict(&x, &mut ws);
        let (mut a, mut b, mut c, mut d) =
            ([[[0i8; 6]; 12]; 12], [[[0i8; 6]; 6]; 6], [[[0i8; 5]; 4]; 4], [[[0i8; 5]; 3]; 3]);
        let (mut e, mut y) = ([0i8; 45], [0i8; 4]);
        q.c1.forward(&x, &mut a);
        q.p1.forward(&a, &mut b);
        q.c2.forward(&b, &mut c);
        q.p2.forward(&c, &mut d);
        q.flat.forward(&d, &mut e);
        q.out.forward(&e, &mut y);
        assert_eq!(fused, y);
    }
}
