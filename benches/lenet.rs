//! Speed of the LeNet: one inference (batch 1, f32 and int8) and one
//! training step.
//!
//! `cargo bench --features std --bench lenet`; quote the medians.

use constnet::data::fashion_mnist_bundled;
use constnet::train::Trainer;
use constnet::zoo::Lenet;
use constnet::{Adam, Int8Model, Loss, Model, Tensor, Workspace};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let data = fashion_mnist_bundled::<f32>().expect("bundled subset");
    let model = Lenet::<f32>::new(1);
    let x = <[[[f32; 1]; 28]; 28]>::from_flat(data.test.image(0)).expect("28x28 image");

    let mut ws = Workspace::new();
    c.bench_function("inference/lenet_batch1", |b| b.iter(|| black_box(model.predict(black_box(x), &mut ws)[0])));

    // The int8 model of the same weights (calibrated on 200 training images).
    let calibration = (0..200).map(|i| data.train.image(i));
    let int8 = constnet::quantize::quantize(&model, calibration, &Default::default()).expect("quantizes");
    let mut qx = [[[0i8; 1]; 28]; 28];
    int8.quantize_input(data.test.image(0), &mut qx);
    let mut qws = Workspace::new();
    c.bench_function("inference/lenet_int8_batch1", |b| {
        b.iter(|| black_box(int8.predict(black_box(&qx), &mut qws)[0]))
    });

    // One sample's forward and backward pass (what a batch runs per sample).
    let mut trace = Lenet::<f32>::new_trace();
    let mut grad = Lenet::<f32>::new_trace();
    let mut grads: Box<Lenet> = Box::new(constnet::zoo::Lenet::new(0));
    let target = [0.0f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    c.bench_function("train/lenet_forward_backward_1_sample", |b| {
        b.iter(|| {
            model.forward_train(x, &mut trace, 1, true);
            let out = *Lenet::output(&trace);
            Loss::CrossEntropy.eval(&out, &target, Lenet::output_mut(&mut grad));
            model.backward(x, &trace, &mut grad, &mut grads, 1, true);
        })
    });

    // A whole training step of batch 32 on all cores: forward, backward,
    // gradient reduction and Adam.
    let batch = data.train.subset(..32);
    let mut group = c.benchmark_group("train");
    group.throughput(Throughput::Elements(32));
    group.bench_function("lenet_step_batch32", |b| {
        b.iter_batched_ref(
            || (Lenet::<f32>::new(1), Trainer::new(Adam::new(1e-3), Loss::CrossEntropy).report_every(0)),
            |(m, t)| t.fit(m, &batch).expect("trains"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(lenet, benches);
criterion_main!(lenet);
