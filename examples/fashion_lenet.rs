//! The main job: train the LeNet on Fashion-MNIST, evaluate it, save its
//! weights and pictures.
//!
//! Validation (the per-epoch `val_` figures and the curves) uses the last
//! 10 % of the training set, held out from training; the test set is used
//! once, at the end, for the reported accuracy.
//!
//! ```text
//! cargo run --release --features std --example fashion_lenet -- [--epochs N] [--data DIR] [--bundled] [--threads N] [--out DIR] [--model lenet|m1] [--seed N]
//! ```
//! `--model m1` trains the other reference network (`zoo::SmallConvNet`).
//! Uses the full data set when `/usr/share/datasets/fashion-mnist` exists
//! (Debian package `dataset-fashion-mnist`), else the subset bundled in the
//! repository.

use constnet::data::{fashion_mnist, fashion_mnist_bundled, Dataset, TrainTest};
use constnet::layers::int8::QuantizeOptions;
use constnet::picture::{write_curves, Curve};
use constnet::quantize::quantize;
use constnet::summary::{Int8Summary, Summary};
use constnet::train::{evaluate, Trainer, Validation};
use constnet::zoo::{Lenet, SmallConvNet};
use constnet::{Adam, Int8, Int8Model, Loss, QuantizeModel, Tensor};
use std::path::PathBuf;
use std::process::ExitCode;

/// Fraction of the training set held out for validation (its end).
const VALIDATION: f64 = 0.1;

struct Args {
    epochs: usize,
    data: Option<PathBuf>,
    bundled: bool,
    threads: Option<usize>,
    out: PathBuf,
    model: String,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        epochs: 5,
        data: None,
        bundled: false,
        threads: None,
        out: PathBuf::from("out"),
        model: "lenet".into(),
        seed: 42,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--epochs" => args.epochs = value("--epochs")?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--threads" => args.threads = Some(value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?),
            "--data" => args.data = Some(PathBuf::from(value("--data")?)),
            "--out" => args.out = PathBuf::from(value("--out")?),
            "--model" => args.model = value("--model")?,
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--bundled" => args.bundled = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    match args.model.as_str() {
        "lenet" => train::<Lenet>(&args, "lenet"),
        "m1" => train::<SmallConvNet>(&args, "m1"),
        other => Err(format!("unknown model {other} (lenet or m1)").into()),
    }
}

fn train<M>(args: &Args, name: &str) -> Result<(), Box<dyn std::error::Error>>
where
    M: QuantizeModel<Input = [[[f32; 1]; 28]; 28]> + Send + Sync,
    M::Trace: Send,
{
    let data = if args.bundled { fashion_mnist_bundled::<f32>()? } else { fashion_mnist(args.data.as_deref())? };
    let TrainTest { train, test: test_data, source } = data;
    let (train, validation) = train.split_validation(VALIDATION);
    println!("data: {source} ({} train, {} validation, {} test)", train.len(), validation.len(), test_data.len());
    println!("{}\n", Summary::<f32, M>::new());

    let mut model = M::new(args.seed);
    let mut trainer = Trainer::new(Adam::new(1e-3), Loss::CrossEntropy)
        .batch_size(32)
        .epochs(args.epochs)
        .seed(args.seed)
        .validation(Validation::Set(&validation));
    if let Some(n) = args.threads {
        trainer = trainer.threads(n);
    }
    let history = trainer.fit(&mut model, &train)?;

    // The test set is used once per model, here at the end: the float
    // model, then its int8 form.
    let (test, confusion) = evaluate(&model, &test_data, Loss::CrossEntropy)?;
    println!("\ntest loss {:.4}  test accuracy {:.4}\n{confusion}\n", test.loss, test.accuracy);

    // Post-training quantization: per-tensor min/max ranges from 1,000
    // training images, weights per output channel.
    let calibration = (0..train.len().min(1000)).map(|i| train.image(i));
    let int8 = quantize(&model, calibration, &QuantizeOptions::default())?;
    let int8_acc = int8_accuracy(&*int8, &test_data);
    println!("{}\n", Int8Summary::<Int8<M>>::new());
    println!("test accuracy: f32 {:.4}  int8 {:.4}\n", test.accuracy, int8_acc);

    std::fs::create_dir_all(&args.out)?;
    let weights = args.out.join(format!("{name}.postcard"));
    std::fs::write(&weights, constnet::persist::to_vec(&model))?;
    let int8_weights = args.out.join(format!("{name}_int8.postcard"));
    std::fs::write(&int8_weights, constnet::persist::to_vec_int8(&*int8))?;
    let x = <[[[f32; 1]; 28]; 28]>::from_flat(validation.image(0)).ok_or("bad image")?;
    let pictures = constnet::inspect::write_model_pictures(&model, x, &args.out)?;
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
    let accs: Vec<f64> = history.epochs.iter().map(|e| e.accuracy).collect();
    let val_losses: Vec<f64> = history.epochs.iter().filter_map(|e| e.validation.map(|v| v.loss)).collect();
    let val_accs: Vec<f64> = history.epochs.iter().filter_map(|e| e.validation.map(|v| v.accuracy)).collect();
    write_curves(
        args.out.join("loss.png"),
        &[Curve::new("train loss", &losses, [200, 40, 40]), Curve::new("validation loss", &val_losses, [40, 40, 200])],
    )?;
    write_curves(
        args.out.join("accuracy.png"),
        &[Curve::new("train acc", &accs, [200, 40, 40]), Curve::new("validation acc", &val_accs, [40, 40, 200])],
    )?;
    println!(
        "wrote {}, {} and {} pictures to {}",
        weights.display(),
        int8_weights.display(),
        pictures.len() + 2,
        args.out.display()
    );

    let mut rates: Vec<f64> = history.epochs.iter().map(|e| e.samples_per_s).collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "RESULT test_acc={:.4} train_samples_per_s={:.0} epochs={} params={} int8_test_acc={:.4}",
        test.accuracy,
        rates[rates.len() / 2],
        args.epochs,
        M::param_count(),
        int8_acc
    );
    Ok(())
}

/// Accuracy of an int8 model on `data`: each image quantized with the
/// model's input parameters, the class the largest output.
fn int8_accuracy<Q: Int8Model>(q: &Q, data: &Dataset<f32>) -> f64 {
    let mut workspace = Q::Workspace::default();
    let mut x = Q::Input::zeroed();
    let right = (0..data.len())
        .filter(|&i| {
            q.quantize_input(data.image(i), &mut x);
            let y = q.predict(&x, &mut workspace).as_flat();
            let class = (0..y.len()).fold(0, |best, c| if y[c] > y[best] { c } else { best });
            class == usize::from(data.label(i))
        })
        .count();
    right as f64 / data.len() as f64
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
