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
//!
//! Options, for the training figures of other settings (the line then names
//! them too): `--model m1` trains `zoo::SmallConvNet` instead of the LeNet
//! (no inference timing then), `--threads N` (default: all cores), `--seed N`
//! (default 42), `--epochs N` (default 3).

use constnet::cpu::kernels;
use constnet::data::{fashion_mnist_bundled, Dataset};
use constnet::train::{evaluate, Trainer};
use constnet::zoo::{Lenet, SmallConvNet};
use constnet::{Adam, Loss, Model, Tensor, Workspace};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 31;
const IMAGES: usize = 100;
const REPEATS: usize = 10;

/// The middle value (the upper one of an even count, as the main job takes it).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The command line's settings.
struct Args {
    m1: bool,
    threads: Option<usize>,
    seed: u64,
    epochs: usize,
}

fn args() -> Result<Args, String> {
    let mut args = Args { m1: false, threads: None, seed: 42, epochs: 3 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => match value()?.as_str() {
                "lenet" | "m2" => args.m1 = false,
                "m1" => args.m1 = true,
                other => return Err(format!("--model {other}: lenet (m2) or m1")),
            },
            "--threads" => args.threads = Some(value()?.parse().map_err(|e| format!("--threads: {e}"))?),
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--epochs" => args.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            other => return Err(format!("unknown option {other} (--model, --threads, --seed, --epochs)")),
        }
    }
    Ok(args)
}

/// Trains `model` with the settings of `args`; the median samples per second.
fn train<M>(model: &mut M, data: &Dataset<f32>, args: &Args) -> Result<f64, Box<dyn std::error::Error>>
where
    M: Model<f32> + Send + Sync,
    M::Trace: Send,
{
    let mut trainer = Trainer::new(Adam::new_boxed(1e-3), Loss::CrossEntropy)
        .batch_size(32)
        .epochs(args.epochs)
        .seed(args.seed)
        .progress(false);
    if let Some(n) = args.threads {
        trainer = trainer.threads(n);
    }
    let history = trainer.fit(model, data)?;
    Ok(median(history.epochs.iter().map(|e| e.samples_per_s).collect()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let data = fashion_mnist_bundled::<f32>()?;
    let built = if env!("CARGO_PKG_NAME") == "constnet" { "in-repository" } else { "dependent" };
    let settings = format!(
        "threads={} seed={} epochs={}",
        args.threads.map_or("all".to_string(), |n| n.to_string()),
        args.seed,
        args.epochs
    );
    if args.m1 {
        let mut model = SmallConvNet::<f32>::new_boxed(args.seed);
        let train_rate = train(&mut *model, &data.train, &args)?;
        let (test, _) = evaluate(&*model, &data.test, Loss::CrossEntropy)?;
        println!(
            "RESULT-DOWNSTREAM built={built} kernels={:?} model=m1 {settings} train_samples_per_s={train_rate:.0} test_acc={:.4}",
            kernels(),
            test.accuracy
        );
        return Ok(());
    }
    let mut model = Lenet::<f32>::new_boxed(args.seed);
    let train_rate = train(&mut *model, &data.train, &args)?;
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
    println!(
        "RESULT-DOWNSTREAM built={built} kernels={:?} model=m2 {settings} train_samples_per_s={train_rate:.0} inference_us={:.2} test_acc={:.4}",
        kernels(),
        median(rounds),
        test.accuracy
    );
    Ok(())
}
