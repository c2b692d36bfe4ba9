//! MLPerf Tiny's image classification model (ResNet-8, CIFAR-10 32x32x3)
//! declared with residual blocks: its shapes and parameter count as the
//! published graph (`../shared/mlperf-tiny/README.md`), its workspace
//! against TFLM's arena, and its f32 form training on made-up data.
//!
//! Not yet the model of the `.tflite` file: its stride-2 3x3 convolutions
//! pad as TensorFlow's "same" does on an even input (nothing before, one
//! after), which `sequential!` gains with per-side padding; here they pad
//! one on each side (`pad = 1`), which gives the same shapes, so every
//! size below is ResNet-8's. `cargo test --features std --test
//! resnet8_shapes -- --nocapture` prints the figures.

use constnet::{Int8, Int8Model, Model};

constnet::sequential! {
    /// Stack 1: two 3x3 convolutions of 16 filters; the block adds its input.
    pub struct Stack1: [32, 32, 16] {
        conv1: Conv2d<16, 3, pad = same> => Relu,
        conv2: Conv2d<16, 3, pad = same>,
    }
}

constnet::sequential! {
    /// Stack 2: 3x3/2 to 32 filters, then 3x3.
    pub struct Stack2: [32, 32, 16] {
        conv1: Conv2d<32, 3, stride = 2, pad = same> => Relu,
        conv2: Conv2d<32, 3, pad = same>,
    }
}

constnet::sequential! {
    /// Stack 2's shortcut: 1x1/2 to 32 filters.
    pub struct Shortcut2: [32, 32, 16] {
        conv: Conv2d<32, 1, stride = 2>,
    }
}

constnet::sequential! {
    /// Stack 3: 3x3/2 to 64 filters, then 3x3.
    pub struct Stack3: [16, 16, 32] {
        conv1: Conv2d<64, 3, stride = 2, pad = same> => Relu,
        conv2: Conv2d<64, 3, pad = same>,
    }
}

constnet::sequential! {
    /// Stack 3's shortcut: 1x1/2 to 64 filters.
    pub struct Shortcut3: [16, 16, 32] {
        conv: Conv2d<64, 1, stride = 2>,
    }
}

constnet::sequential! {
    /// ResNet-8 for 32x32 RGB images, 10 classes.
    pub struct Resnet8: [32, 32, 3] {
        conv: Conv2d<16, 3, pad = same> => Relu,
        stack1: Residual<Stack1> => Relu,
        stack2: Residual<Stack2, Shortcut2> => Relu,
        stack3: Residual<Stack3, Shortcut3> => Relu,
        pool: AvgPool2d<8>,
        flat: Flatten,
        out: Dense<10> => Softmax,
    }
}

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
    assert!(text.contains("stack2") && text.contains("Residual+shortcut"), "{text}");
}
