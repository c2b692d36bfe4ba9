//! Residual blocks in `sequential!`: inference in the model's workspace
//! (the block's input live while its branches run) against the layers run
//! one by one, the workspace's size by hand, int8 after post-training
//! quantization against TFLite's ADD on the int8 layers, and training.

use constnet::layers::int8::{Int8Layer, QAdd};
use constnet::{quantize, Int8, Int8Model, Layer, Model, Params, Relu, Tensor, Workspace};

constnet::sequential! {
    /// Two convolutions that keep a 4x4x2 image.
    pub struct Keep: [4, 4, 2] {
        c1: Conv2d<3, 3, pad = same> => Relu, // [4, 4, 3]: 48
        c2: Conv2d<2, 3, pad = same>,         // [4, 4, 2]: 32
    }
}

constnet::sequential! {
    /// One convolution that keeps a 4x4x2 image.
    pub struct KeepOne: [4, 4, 2] {
        c: Conv2d<2, 3, pad = same>,
    }
}

constnet::sequential! {
    /// Halves the image and widens it to 4 channels...
    pub struct Down: [4, 4, 2] {
        c1: Conv2d<4, 3, stride = 2, pad = 1> => Relu, // [2, 2, 4]: 16
        c2: Conv2d<4, 3, pad = same>,                  // [2, 2, 4]: 16
    }
}

constnet::sequential! {
    /// ... and the shortcut that meets it.
    pub struct Project: [4, 4, 2] {
        p: Conv2d<4, 1, stride = 2>, // [2, 2, 4]: 16
    }
}

constnet::sequential! {
    /// A block after a layer (its input at the bottom of the workspace).
    pub struct AfterStem: [4, 4, 2] {
        stem: Conv2d<2, 1> => Relu,       // 32
        block: Residual<Keep> => Relu,    // 32
        flat: Flatten,
        out: Dense<5>,                    // 5
    }
}

constnet::sequential! {
    /// Blocks first (the input at the top), a one-layer branch (its output
    /// at the bottom of the free part), and a shortcut.
    pub struct Blocks: [4, 4, 2] {
        b1: Residual<KeepOne> => Relu,
        b2: Residual<Keep>,
        b3: Residual<Down, Project> => Relu,
        flat: Flatten,
        out: Dense<3>,
    }
}

constnet::sequential! {
    /// A main branch that ends in pooling: not fused with the add.
    pub struct Pooled: [4, 4, 2] {
        c: Conv2d<4, 3, pad = same> => Relu, // [4, 4, 4], fused with the pool
        pool: AvgPool2d<2>,                  // [2, 2, 4]: 16
    }
}

constnet::sequential! {
    /// A block whose main branch is not fused with its add, with a shortcut.
    pub struct Unfused: [4, 4, 2] {
        b: Residual<Pooled, Project> => Relu,
        flat: Flatten,
        out: Dense<3>,
    }
}

#[test]
fn workspace_is_the_peak_of_what_is_live() {
    // Keep as a branch: its input lies outside, so it holds c1's 48, then
    // c1's 48 beside c2's 32; without its last layer (its head), c1's 48.
    assert_eq!(Keep::<f32>::BRANCH_LEN, 48 + 32);
    assert_eq!(Keep::<f32>::HEAD, Some((48, 48)));
    assert_eq!(KeepOne::<f32>::BRANCH_LEN, 32);
    assert_eq!(KeepOne::<f32>::HEAD, None); // one layer: nothing to fuse after
    assert_eq!(Down::<f32>::BRANCH_LEN, 16 + 16);
    assert_eq!(Down::<f32>::HEAD, Some((16, 16)));
    assert_eq!(Project::<f32>::BRANCH_LEN, 16);
    assert_eq!(Pooled::<f32>::HEAD, None); // ends in pooling
                                           // AfterStem: input 32 + stem 32 = 64; the block holds its input 32 and
                                           // c1's 48 (c2 runs fused with the add, over the input) = 80; then
                                           // 32 + 5. The peak is the block's 80 elements.
    assert_eq!(AfterStem::<f32>::WORKSPACE_BYTES, 80 * 4);
    assert_eq!(Int8::<AfterStem>::WORKSPACE_BYTES, 80);
    // Blocks: b1 (not fused: one layer) 32 + max(32, 32 + 0) = 64; b2 32 +
    // 48 = 80; b3 (fused, its output of 16 over its input of 32) 32 +
    // max(c1's 16, c1's 16 + Project's 16) = 64; then 16 + 3. Peak 80.
    assert_eq!(Blocks::<f32>::WORKSPACE_BYTES, 80 * 4);
    // Unfused: the input 32 and max(Pooled's 16, its output 16 + Project's
    // 16) = 64; then 16 + 3.
    assert_eq!(Unfused::<f32>::WORKSPACE_BYTES, 64 * 4);
}

fn image<const H: usize, const W: usize, const C: usize>(seed: u32) -> [[[f32; C]; W]; H] {
    let mut s = seed;
    core::array::from_fn(|_| {
        core::array::from_fn(|_| {
            core::array::from_fn(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
        })
    })
}

/// `relu(main(x) + shortcut)` by the layers, one at a time.
fn add_relu<X: Tensor<f32>>(m: &X, s: &X, relu: bool) -> X {
    let mut y = X::zeroed();
    for ((y, &m), &s) in y.as_flat_mut().iter_mut().zip(m.as_flat()).zip(s.as_flat()) {
        *y = if relu { (m + s).max(0.0) } else { m + s };
    }
    y
}

#[test]
fn inference_in_the_workspace_equals_the_layers_one_by_one() {
    let m = AfterStem::<f32>::new(5);
    let x = image::<4, 4, 2>(1);
    let mut a = [[[0f32; 2]; 4]; 4];
    m.stem.forward(&x, &mut a);
    let (mut b, mut c) = ([[[0f32; 3]; 4]; 4], [[[0f32; 2]; 4]; 4]);
    m.block.main.c1.forward(&a, &mut b);
    m.block.main.c2.forward(&b, &mut c);
    let d = add_relu(&c, &a, true);
    let mut want = [0f32; 5];
    m.out.forward(d.as_flattened().as_flattened().try_into().unwrap(), &mut want);
    let mut ws = Workspace::new();
    assert_eq!(m.predict(&x, &mut ws).map(f32::to_bits), want.map(f32::to_bits));
    // The block as a layer on its own (branches in workspaces of their own).
    let mut y = [[[0f32; 2]; 4]; 4];
    m.block.forward(&a, &mut y);
    assert_eq!(y, d);

    let m = Blocks::<f32>::new(6);
    let x = image::<4, 4, 2>(2);
    let mut t = [[[0f32; 2]; 4]; 4];
    m.b1.main.c.forward(&x, &mut t);
    let y1 = add_relu(&t, &x, true);
    let mut u = [[[0f32; 3]; 4]; 4];
    m.b2.main.c1.forward(&y1, &mut u);
    m.b2.main.c2.forward(&u, &mut t);
    let y2 = add_relu(&t, &y1, false);
    let (mut v, mut w, mut p) = ([[[0f32; 4]; 2]; 2], [[[0f32; 4]; 2]; 2], [[[0f32; 4]; 2]; 2]);
    m.b3.main.c1.forward(&y2, &mut v);
    m.b3.main.c2.forward(&v, &mut w);
    m.b3.shortcut.p.forward(&y2, &mut p);
    let y3 = add_relu(&w, &p, true);
    let mut want = [0f32; 3];
    m.out.forward(y3.as_flattened().as_flattened().try_into().unwrap(), &mut want);
    let mut ws = Workspace::new();
    assert_eq!(m.predict(&x, &mut ws).map(f32::to_bits), want.map(f32::to_bits));
    // The trace of a training step holds the same block outputs.
    let mut trace = Blocks::<f32>::new_trace();
    m.forward_trace(&x, &mut trace, false);
    assert_eq!(trace.2.out, y3);
    assert_eq!(trace.2.shortcut.0 .0, p);
}

#[test]
fn an_unfused_block_with_a_shortcut_equals_the_layers_one_by_one() {
    let m = Unfused::<f32>::new(9);
    let x = image::<4, 4, 2>(3);
    let (mut c, mut p, mut s) = ([[[0f32; 4]; 4]; 4], [[[0f32; 4]; 2]; 2], [[[0f32; 4]; 2]; 2]);
    m.b.main.c.forward(&x, &mut c);
    m.b.main.pool.forward(&c, &mut p);
    m.b.shortcut.p.forward(&x, &mut s);
    let y = add_relu(&p, &s, true);
    let mut want = [0f32; 3];
    m.out.forward(y.as_flattened().as_flattened().try_into().unwrap(), &mut want);
    let mut ws = Workspace::new();
    assert_eq!(m.predict(&x, &mut ws).map(f32::to_bits), want.map(f32::to_bits));
}

#[test]
fn int8_blocks_after_quantization_equal_the_int8_layers_one_by_one() {
    let m = Blocks::<f32>::new(7);
    let images: Vec<[[[f32; 2]; 4]; 4]> = (0..16).map(image).collect();
    let q =
        quantize::quantize(&m, images.iter().map(|x| x.as_flattened().as_flattened()), &Default::default()).unwrap();
    assert!(q.is_valid());
    // Each add reads its branches' output quantization and the block's input's.
    assert_eq!(q.b1.add.input2_zero_point.get(), q.input.zero_point());
    assert_eq!(q.b3.add.input2_zero_point.get(), q.b3.shortcut.output.zero_point());
    assert_eq!(q.b3.add.input1_zero_point.get(), q.b3.main.output.zero_point());
    for (k, x) in images.iter().enumerate() {
        let mut xq = [[[0i8; 2]; 4]; 4];
        q.quantize_input(x.as_flattened().as_flattened(), &mut xq);
        let mut t = [[[0i8; 2]; 4]; 4];
        q.b1.main.c.forward(&xq, &mut t);
        let mut y1 = [[[0i8; 2]; 4]; 4];
        q.b1.add.forward(
            t.as_flattened().as_flattened(),
            xq.as_flattened().as_flattened(),
            y1.as_flattened_mut().as_flattened_mut(),
        );
        let mut u = [[[0i8; 3]; 4]; 4];
        q.b2.main.c1.forward(&y1, &mut u);
        q.b2.main.c2.forward(&u, &mut t);
        let mut y2 = [[[0i8; 2]; 4]; 4];
        q.b2.add.forward(
            t.as_flattened().as_flattened(),
            y1.as_flattened().as_flattened(),
            y2.as_flattened_mut().as_flattened_mut(),
        );
        let (mut v, mut w, mut p) = ([[[0i8; 4]; 2]; 2], [[[0i8; 4]; 2]; 2], [[[0i8; 4]; 2]; 2]);
        q.b3.main.c1.forward(&y2, &mut v);
        q.b3.main.c2.forward(&v, &mut w);
        q.b3.shortcut.p.forward(&y2, &mut p);
        let mut y3 = [[[0i8; 4]; 2]; 2];
        q.b3.add.forward(
            w.as_flattened().as_flattened(),
            p.as_flattened().as_flattened(),
            y3.as_flattened_mut().as_flattened_mut(),
        );
        let mut want = [0i8; 3];
        q.out.forward(y3.as_flattened().as_flattened().try_into().unwrap(), &mut want);
        let mut ws = Workspace::new();
        assert_eq!(q.predict(&xq, &mut ws), &want, "image {k}");
        let mut alone = [[[0i8; 4]; 2]; 2];
        q.b3.forward(&y2, &mut alone);
        assert_eq!(alone, y3);
    }
    // The int8 model follows the float one.
    let mut ws = Workspace::new();
    let mut xq = [[[0i8; 2]; 4]; 4];
    q.quantize_input(images[3].as_flattened().as_flattened(), &mut xq);
    let mut out = [0f32; 3];
    q.dequantize_output(q.predict(&xq, &mut ws), &mut out);
    let mut fws = Workspace::new();
    let f = m.predict(&images[3], &mut fws);
    for (a, b) in out.iter().zip(f) {
        assert!((a - b).abs() < 0.1, "{out:?} vs {f:?}");
    }
}

#[test]
fn an_add_with_relu_has_no_int8_output_below_the_zero_point() {
    let q = constnet::quant::QParams::new(0.02, -10);
    let add = QAdd::<Relu>::new(q, constnet::quant::QParams::new(0.03, 4), q).unwrap();
    let mut out = [0i8; 256];
    let x: Vec<i8> = (-128..=127).collect();
    let y: Vec<i8> = x.iter().rev().copied().collect();
    add.forward(&x, &y, &mut out);
    assert!(out.iter().all(|&v| v >= -10));
    assert!(out.contains(&-10) && out.iter().any(|&v| v > 0));
}

#[test]
fn summary_rows_and_fingerprints() {
    let rows = Blocks::<f32>::LAYERS;
    assert_eq!(rows[2].info.kind, "Residual+shortcut");
    assert_eq!(rows[0].info.kind, "Residual");
    assert_eq!(rows[0].params, 2 * 9 * 2 + 2);
    assert_eq!(<Int8<Blocks> as Int8Model>::LAYERS[2].info.kind, "QResidual+shortcut");
    // A block's branches are part of the fingerprint.
    assert_ne!(Blocks::<f32>::FINGERPRINT, AfterStem::<f32>::FINGERPRINT);
    assert_ne!(
        <constnet::model::Residual<Keep<f32>, constnet::model::Identity, Relu> as Layer<f32>>::FINGERPRINT,
        <constnet::model::Residual<Keep<f32>, constnet::model::Identity, constnet::Linear> as Layer<f32>>::FINGERPRINT
    );
}

constnet::sequential! {
    /// A classifier with two blocks, softmax head (fused with the loss).
    pub struct Classifier: [4, 4, 2] {
        b1: Residual<Keep> => Relu,
        b2: Residual<Down, Project> => Relu,
        flat: Flatten,
        out: Dense<3> => Softmax,
    }
}

#[test]
fn a_model_with_blocks_trains_with_the_trainer() {
    use constnet::data::Dataset;
    use constnet::train::Trainer;
    use constnet::{Adam, Loss};
    // Made-up data: the class is which of three quarters of the image is bright.
    let n = 96;
    let mut images = Vec::with_capacity(n * 32);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 3;
        let noise = image::<4, 4, 2>(i as u32 + 100);
        for (y, row) in noise.iter().enumerate() {
            for (x, px) in row.iter().enumerate() {
                let bright = [(y < 2 && x < 2), (y < 2 && x >= 2), (y >= 2)][class];
                images.extend(px.iter().map(|v| v * 0.3 + if bright { 1.0 } else { 0.0 }));
            }
        }
        labels.push(class as u8);
    }
    let data = Dataset::new(images, labels, (4, 4, 2), 3).unwrap();
    let mut model = Classifier::<f32>::new(3);
    let history = Trainer::new(Adam::new(1e-2), Loss::CrossEntropy)
        .epochs(4)
        .batch_size(16)
        .seed(5)
        .report_every(0)
        .progress(false)
        .fit(&mut model, &data)
        .unwrap();
    let (first, last) = (&history.epochs[0], &history.epochs[3]);
    assert!(last.loss < first.loss * 0.7, "training loss must fall: {history:?}");
}

#[test]
fn models_with_blocks_save_and_load_in_f32_and_int8() {
    use constnet::persist;
    let m = Blocks::<f32>::new(11);
    let bytes = persist::to_vec(&m);
    let back: &Blocks = persist::view(&bytes).unwrap();
    assert_eq!(back.flat(), m.flat());
    // Another architecture's blob is refused.
    assert!(persist::view::<f32, AfterStem>(&bytes).is_err());
    let images: Vec<[[[f32; 2]; 4]; 4]> = (0..8).map(image).collect();
    let q =
        quantize::quantize(&m, images.iter().map(|x| x.as_flattened().as_flattened()), &Default::default()).unwrap();
    let blob = persist::to_vec_int8(&*q);
    let view: &Int8<Blocks> = persist::view_int8(&blob).unwrap();
    let (mut x, mut a, mut b) = ([[[0i8; 2]; 4]; 4], Workspace::new(), Workspace::new());
    q.quantize_input(images[1].as_flattened().as_flattened(), &mut x);
    assert_eq!(view.predict(&x, &mut a), q.predict(&x, &mut b));
    // A corrupted ADD parameter is caught by the checksum.
    let mut bad = blob.clone();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    assert!(persist::view_int8::<Int8<Blocks>>(&bad).is_err());
}

#[test]
fn the_workspace_has_no_slack() {
    use constnet::model::Pass;
    let m = AfterStem::<f32>::new(12);
    let x = image::<4, 4, 2>(4);
    let run = |len: usize| {
        let mut buf = vec![0f32; len];
        let at = len - 32;
        buf[at..].copy_from_slice(x.as_flattened().as_flattened());
        let out: [f32; 5] = *m.run(Pass::staged::<[[[f32; 2]; 4]; 4]>(&mut buf)).output::<[f32; 5]>();
        out
    };
    let mut ws = Workspace::new();
    assert_eq!(run(80), *m.predict(&x, &mut ws));
    // One element less and the block's first convolution has no room
    // beside the block's input.
    let short = std::panic::catch_unwind(|| run(79));
    assert!(short.is_err());
}

constnet::sequential! {
    /// A branch that starts in place (pre-activation): the block's input is
    /// copied in before the relu, so it stays live for the add.
    pub struct ReluFirst: [4, 4, 2] {
        act: Relu,
        c: Conv2d<2, 3, pad = same>,
    }
}

constnet::sequential! {
    /// The same start, a branch that is not fused (it ends in pooling).
    pub struct ReluPool: [4, 4, 2] {
        act: Relu,
        pool: MaxPool2d<1>,
    }
}

constnet::sequential! {
    pub struct InPlaceStarts: [4, 4, 2] {
        b1: Residual<ReluFirst>,
        b2: Residual<ReluPool> => Relu,
        flat: Flatten,
        out: Dense<3>,
    }
}

#[test]
fn branches_that_start_in_place_keep_the_block_input() {
    // b1: the input 32 and its copy under the relu 32 (the convolution
    // writes over the input); b2: the input 32, its copy 32 and the pool's
    // 32 (unfused: the pool's output beside the copy).
    assert_eq!(ReluFirst::<f32>::HEAD, Some((32, 32)));
    assert_eq!(ReluPool::<f32>::BRANCH_LEN, 64);
    assert_eq!(InPlaceStarts::<f32>::WORKSPACE_BYTES, (32 + 64) * 4);
    let m = InPlaceStarts::<f32>::new(13);
    let x = image::<4, 4, 2>(5);
    let r = |t: &[[[f32; 2]; 4]; 4]| t.map(|row| row.map(|px| px.map(|v| v.max(0.0))));
    let mut c = [[[0f32; 2]; 4]; 4];
    m.b1.main.c.forward(&r(&x), &mut c);
    let y1 = add_relu(&c, &x, false);
    let y2 = add_relu(&r(&y1), &y1, true); // a 1x1 max pool is the identity
    let mut want = [0f32; 3];
    m.out.forward(y2.as_flattened().as_flattened().try_into().unwrap(), &mut want);
    let mut ws = Workspace::new();
    assert_eq!(m.predict(&x, &mut ws).map(f32::to_bits), want.map(f32::to_bits));
}
