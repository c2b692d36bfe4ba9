//! The source material's binary task: is a Fashion-MNIST item of class > 4
//! (sandal, shirt, sneaker, bag, ankle boot) or not? A LeNet with one sigmoid
//! output, trained with binary cross-entropy (fused with the sigmoid).
//!
//! ```text
//! cargo run --release --features std --example fashion_binary -- [--epochs N] [--bundled]
//! ```

use constnet::data::{fashion_mnist, fashion_mnist_bundled, Dataset};
use constnet::summary::Summary;
use constnet::train::{evaluate, Trainer, Validation};
use constnet::zoo::LenetBinary;
use constnet::{Adam, Loss, Model};
use std::process::ExitCode;

/// Relabels to 1 for class > 4, else 0.
fn above_four(d: &Dataset<f32>) -> Result<Dataset<f32>, constnet::data::DataError> {
    let labels = d.labels().iter().map(|&l| u8::from(l > 4)).collect();
    Dataset::new(d.images().to_vec(), labels, d.shape(), 2)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut epochs = 2;
    let mut bundled = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--epochs" => epochs = args.next().ok_or("--epochs needs a value")?.parse()?,
            "--bundled" => bundled = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let data = if bundled { fashion_mnist_bundled::<f32>()? } else { fashion_mnist(None)? };
    let (train, test) = (above_four(&data.train)?, above_four(&data.test)?);
    println!("data: {} ({} train, {} test), label = class > 4", data.source, train.len(), test.len());
    println!("{}\n", Summary::<f32, LenetBinary>::new());

    let mut model = LenetBinary::<f32>::new(42);
    let history = Trainer::new(Adam::new(1e-3), Loss::BinaryCrossEntropy)
        .epochs(epochs)
        .seed(7)
        .validation(Validation::Split(0.1))
        .fit(&mut model, &train)?;
    let (m, confusion) = evaluate(&model, &test, Loss::BinaryCrossEntropy)?;
    println!("\ntest loss {:.4}  test accuracy {:.4}\n{confusion}", m.loss, m.accuracy);
    let rate = history.epochs.iter().map(|e| e.samples_per_s).fold(0.0, f64::max);
    println!(
        "RESULT test_acc={:.4} train_samples_per_s={rate:.0} epochs={epochs} params={}",
        m.accuracy,
        LenetBinary::<f32>::param_count()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
