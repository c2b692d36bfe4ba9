//! MLPerf Tiny's keyword-spotting model (`zoo::DsCnn`) on the host: the f32
//! model trains with the trainer (a smoke test on made-up data: the loss
//! falls), and post-training quantization gives its int8 model.
#![cfg(feature = "std")]

use constnet::data::Dataset;
use constnet::train::{evaluate, Trainer};
use constnet::zoo::DsCnn;
use constnet::{quantize, Adam, Int8Model, Loss, Model, Rng, Workspace};

/// 12 classes of made-up 49x10 "MFCC" maps: each class a fixed random
/// pattern, each example its class's pattern plus noise.
fn made_up(n: usize, seed: u64) -> Dataset<f32> {
    let mut rng = Rng::new(seed);
    let patterns: Vec<Vec<f32>> = (0..12).map(|_| (0..490).map(|_| rng.uniform(1.0) as f32).collect()).collect();
    let mut images = Vec::with_capacity(n * 490);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 12;
        images.extend(patterns[class].iter().map(|&p| p + 0.3 * rng.uniform(1.0) as f32));
        labels.push(class as u8);
    }
    Dataset::new(images, labels, (49, 10, 1), 12).unwrap()
}

#[test]
fn keyword_spotting_trains_and_quantizes() {
    let data = made_up(192, 7);
    let mut model = DsCnn::<f32>::new_boxed(1);
    let (before, _) = evaluate(&*model, &data, Loss::CrossEntropy).unwrap();
    let history = Trainer::new(Adam::new(3e-3), Loss::CrossEntropy)
        .epochs(5)
        .batch_size(16)
        .seed(2)
        .report_every(0)
        .progress(false)
        .fit(&mut *model, &data)
        .unwrap();
    let (after, _) = evaluate(&*model, &data, Loss::CrossEntropy).unwrap();
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
    assert!(losses[4] < losses[0], "training loss must fall: {losses:?}");
    println!("loss per epoch {losses:?}; on the data {} -> {}", before.loss, after.loss);
    assert!(after.loss < 0.8 * before.loss, "loss {} -> {}", before.loss, after.loss);

    // Post-training quantization of a model with depthwise layers, TF-"same"
    // padding and global average pooling; the int8 model picks the same
    // class as the float one on most of the training examples.
    let images: Vec<&[f32]> = (0..64).map(|i| data.image(i)).collect();
    let int8 = quantize::quantize(&*model, images.iter().copied(), &Default::default()).unwrap();
    assert!(int8.is_valid());
    let argmax = |v: &[f32]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
    let (mut ws, mut ws8) = (Box::new(Workspace::new()), Box::new(Workspace::new()));
    let mut agree = 0;
    for i in 0..48 {
        let x: &[[[f32; 1]; 10]; 49] = constnet::Tensor::from_flat(data.image(i)).unwrap();
        let float = argmax(model.predict(x, &mut ws));
        let mut q = [[[0i8; 1]; 10]; 49];
        int8.quantize_input(data.image(i), &mut q);
        let mut out = [0f32; 12];
        int8.dequantize_output(int8.predict(&q, &mut ws8), &mut out);
        agree += usize::from(argmax(&out) == float);
    }
    println!("int8 agrees with f32 on {agree}/48");
    assert!(agree >= 44, "int8 agrees with f32 on {agree}/48");
}
