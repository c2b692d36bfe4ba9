//! MLPerf Tiny's image classification model (ResNet-8, CIFAR-10 32x32x3,
//! `zoo::mlperf::ImageClassifier`, declared with residual blocks): its
//! shapes and parameter count as the published graph
//! (`../shared/mlperf-tiny/README.md`), its workspace against TFLM's arena,
//! and its f32 form training on made-up data. `cargo test --features std
//! --test resnet8_shapes -- --nocapture` prints the figures.

use constnet::zoo::mlperf::ImageClassifier as Resnet8;
use constnet::{Int8, Int8Model, Model};

#[test]
fn sizes_are_resnet8s() {
    // The README's parameter count: weights and biases of the 9 convolutions and the dense layer.
    assert_eq!(Resnet8::<f32>::param_count(), 77_706);
    let shapes: Vec<&[usize]> = Resnet8::<f32>::LAYERS.iter().map(|l| l.output).collect();
    assert_eq!(shapes, [&[32, 32, 16][..], &[32, 32, 16], &[16, 16, 32], &[8, 8, 64], &[1, 1, 64], &[64], &[10]]);
    // Peak: stack 1 holds its input (32x32x16) and its first convolution's
    // output (32x32x16); its second runs fused with the add, writing each
    // sum over the input value it adds. Unfused, that output would be a
    // third 32x32x16 (49,152 B).
    let ws = Int8::<Resnet8>::WORKSPACE_BYTES;
    println!(
        "ResNet-8 int8 workspace {ws} B (f32 {} B); TFLM's arena 54,996 B, RAM target (static + stack) 34,800 B",
        Resnet8::<f32>::WORKSPACE_BYTES
    );
    assert_eq!(ws, 2 * 32 * 32 * 16);
}

#[test]
fn trains_on_made_up_data() {
    use constnet::data::Dataset;
    use constnet::train::Trainer;
    use constnet::{Adam, Loss};
    // 40 images of 10 made-up classes: each class brightens one of ten
    // horizontal bands of the image, in one colour.
    let n = 40;
    let mut images = Vec::with_capacity(n * 3072);
    let mut labels = Vec::with_capacity(n);
    let mut s = 12_345u32;
    for i in 0..n {
        let class = i % 10;
        for y in 0..32 {
            for _x in 0..32 {
                for c in 0..3 {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = (s >> 8) as f32 / (1u32 << 24) as f32 * 0.4;
                    let band = y * 10 / 32 == class && c == class % 3;
                    images.push(noise + if band { 1.0 } else { 0.0 });
                }
            }
        }
        labels.push(class as u8);
    }
    let data = Dataset::new(images, labels, (32, 32, 3), 10).unwrap();
    let mut model = Resnet8::<f32>::new_boxed(8);
    let history = Trainer::new(Adam::new(2e-3), Loss::CrossEntropy)
        .epochs(3)
        .batch_size(8)
        .seed(9)
        .report_every(0)
        .progress(false)
        .fit(&mut *model, &data)
        .unwrap();
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
    println!("ResNet-8 f32 training loss per epoch on made-up data: {losses:?}");
    assert!(losses[2] < losses[0] * 0.8, "training loss must fall: {losses:?}");

    // Quantized on its training images, the int8 model picks the f32
    // model's class on at least 90 % of them (near ties may flip: 39/40
    // measured with symmetric padding, 37/40 with TF's).
    let q = constnet::quantize::quantize(&*model, data.images().chunks(3072), &Default::default()).unwrap();
    let (mut ws, mut fws) = (Box::new(constnet::Workspace::new()), Box::new(constnet::Workspace::new()));
    let mut agree = 0;
    for image in data.images().chunks(3072) {
        let mut x = Box::new([[[0i8; 3]; 32]; 32]);
        q.quantize_input(image, &mut x);
        let y = q.predict(&x, &mut ws);
        let xf = <[[[f32; 3]; 32]; 32] as constnet::Tensor<f32>>::from_flat(image).unwrap();
        let f = model.predict(xf, &mut fws);
        let argmax = |v: &[f32]| (0..10).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        let yf: Vec<f32> = y.iter().map(|&v| v as f32).collect();
        agree += usize::from(argmax(&yf) == argmax(f));
    }
    println!("ResNet-8 int8 after post-training quantization: the f32 class on {agree}/{n} images");
    assert!(agree * 10 >= n * 9, "{agree}/{n}");
}

#[test]
fn summary_shows_the_blocks() {
    let text = constnet::summary::Summary::<f32, Resnet8>::new().to_string();
    println!("{text}");
    assert!(text.contains("block2") && text.contains("Residual+shortcut"), "{text}");
}
