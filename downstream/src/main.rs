//! What a crate that depends on constnet gets: trains the LeNet for three
//! epochs on the Fashion-MNIST subset bundled with constnet, times batch-1
//! inference, and prints
//!
//! ```text
//! RESULT-DOWNSTREAM built=dependent kernels=Avx2Fma train_samples_per_s=… inference_us=… test_acc=…
//! ```
//!
//! `cd downstream && cargo run --release`: the crate `downstream/` has its
//! own workspace and Cargo's default profiles, and depends on constnet by
//! path with feature `std`. The same file is the repository's example
//! `downstream` (`cargo run --release --features std --example downstream`,
//! `built=in-repository`: the repository's profiles), so the two builds
//! of one program can be measured side by side.
//!
//! `train_samples_per_s` is the median over the epochs of the trainer's
//! samples per second (wall clock, all cores, batch 32, Adam), as the main
//! job's `RESULT` line reports it; `inference_us` the median over 31 rounds
//! of 1,000 predictions of one image each.

use constnet::cpu::kernels;
use constnet::data::fashion_mnist_bundled;
use constnet::train::{evaluate, Trainer};
use constnet::zoo::Lenet;
use constnet::{Adam, Loss, Model, Tensor, Workspace};
use std::hint::black_box;
use std::time::Instant;

const EPOCHS: usize = 3;
const ROUNDS: usize = 31;
const IMAGES: usize = 100;
const REPEATS: usize = 10;

/// The middle value (the upper one of an even count, as the main job takes it).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = fashion_mnist_bundled::<f32>()?;
    let mut model = Lenet::<f32>::new_boxed(42);
    let history = Trainer::new(Adam::new_boxed(1e-3), Loss::CrossEntropy)
        .batch_size(32)
        .epochs(EPOCHS)
        .seed(42)
        .progress(false)
        .fit(&mut *model, &data.train)?;
    let train_rate = median(history.epochs.iter().map(|e| e.samples_per_s).collect());
    let (test, _) = evaluate(&*model, &data.test, Loss::CrossEntropy)?;

    let images = (0..IMAGES)
        .map(|i| <[[[f32; 1]; 28]; 28]>::from_flat(data.test.image(i)).ok_or("a test image is not 28x28"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut workspace = Workspace::new();
    let rounds = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for x in &images {
                for _ in 0..REPEATS {
                    black_box(model.predict(black_box(x), &mut workspace)[0]);
                }
            }
            start.elapsed().as_secs_f64() * 1e6 / (IMAGES * REPEATS) as f64
        })
        .collect();
    let built = if env!("CARGO_PKG_NAME") == "constnet" { "in-repository" } else { "dependent" };
    println!(
        "RESULT-DOWNSTREAM built={built} kernels={:?} train_samples_per_s={train_rate:.0} inference_us={:.2} test_acc={:.4}",
        kernels(),
        median(rounds),
        test.accuracy
    );
    Ok(())
}
