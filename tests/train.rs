//! Host-side training: real runs on the bundled Fashion-MNIST subset,
//! determinism, persistence and the error cases.
#![cfg(feature = "std")]

use constnet::data::{fashion_mnist_bundled, Dataset, TrainTest, ValueDataset};
use constnet::train::{evaluate, evaluate_values, predict_classes, TrainError, Trainer, Validation};
use constnet::zoo::{Lenet, LenetBinary};
use constnet::{Adam, Loss, Model, Momentum, Params, Sgd, Tensor, Workspace};
use std::sync::OnceLock;

fn data() -> &'static TrainTest<f32> {
    static DATA: OnceLock<TrainTest<f32>> = OnceLock::new();
    DATA.get_or_init(|| fashion_mnist_bundled().expect("bundled subset"))
}

/// The "class > 4" relabelling of the source material's binary task.
fn binary(d: &Dataset<f32>) -> Dataset<f32> {
    let labels = d.labels().iter().map(|&l| u8::from(l > 4)).collect();
    Dataset::new(d.images().to_vec(), labels, d.shape(), 2).unwrap()
}

#[test]
fn lenet_learns_fashion_mnist_subset() {
    let d = data();
    let mut model = Lenet::<f32>::new(1);
    let history = Trainer::new(Adam::new(1e-3), Loss::CrossEntropy)
        .epochs(3)
        .seed(3)
        .validation(Validation::Split(0.1))
        .report_every(0)
        .progress(false)
        .fit(&mut model, &d.train)
        .unwrap();
    assert_eq!(history.epochs.len(), 3);
    let first = &history.epochs[0];
    let last = &history.epochs[2];
    assert!(last.loss < first.loss, "training loss must fall: {history:?}");
    assert!(last.validation.is_some());
    let (test, confusion) = evaluate(&model, &d.test, Loss::CrossEntropy).unwrap();
    // 5,400 training images, 3 epochs: held-out accuracy measured at 0.80-0.81.
    assert!(test.accuracy >= 0.78, "held-out accuracy {}", test.accuracy);
    assert_eq!(confusion.classes(), 10);
    assert!((confusion.accuracy() - test.accuracy).abs() < 1e-12);
    let classes = predict_classes(&model, &d.test).unwrap();
    let right = classes.iter().zip(d.test.labels()).filter(|(&p, &l)| p == usize::from(l)).count();
    assert_eq!(right as f64 / d.test.len() as f64, test.accuracy);
}

#[test]
fn binary_task_with_sigmoid_and_binary_cross_entropy() {
    let (train, test) = (binary(&data().train), binary(&data().test));
    let mut model = LenetBinary::<f32>::new(2);
    Trainer::new(Adam::new(1e-3), Loss::BinaryCrossEntropy)
        .epochs(1)
        .report_every(0)
        .progress(false)
        .fit(&mut model, &train)
        .unwrap();
    let (m, cm) = evaluate(&model, &test, Loss::BinaryCrossEntropy).unwrap();
    assert_eq!(cm.classes(), 2);
    assert!(m.accuracy >= 0.88, "binary accuracy {}", m.accuracy);
}

#[test]
fn sgd_momentum_and_mse_also_train() {
    let train = data().train.subset(..1024);
    for (name, loss, opt) in [("sgd+ce", Loss::CrossEntropy, 0), ("momentum+mse", Loss::MeanSquaredError, 1)] {
        let mut model = Lenet::<f32>::new(3);
        let history = match opt {
            0 => Trainer::new(Sgd { lr: 0.05 }, loss).epochs(3).report_every(0).fit(&mut model, &train),
            _ => Trainer::new(Momentum::new(0.05, 0.9), loss).epochs(3).report_every(0).fit(&mut model, &train),
        }
        .unwrap();
        let e = &history.epochs;
        assert!(e[2].loss < e[0].loss * 0.9, "{name}: {e:?}");
    }
}

#[test]
fn same_seed_same_weights_whatever_the_thread_count() {
    let train = data().train.subset(..300);
    let run = |threads| {
        let mut model = Lenet::<f32>::new(5);
        Trainer::new(Adam::new(1e-3), Loss::CrossEntropy)
            .batch_size(20)
            .epochs(2)
            .seed(11)
            .threads(threads)
            .report_every(0)
            .fit(&mut model, &train)
            .unwrap();
        model.flat().to_vec()
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    assert_ne!(one, Lenet::<f32>::new(5).flat(), "training changed nothing");
}

#[test]
fn saved_and_loaded_model_predicts_bit_identically() {
    let train = data().train.subset(..256);
    let mut model = Lenet::<f32>::new(6);
    Trainer::new(Adam::new(1e-3), Loss::CrossEntropy).report_every(0).fit(&mut model, &train).unwrap();
    let bytes = constnet::persist::to_vec(&model);
    assert_eq!(bytes.len(), constnet::persist::saved_len::<f32, Lenet>());
    let mut loaded: Box<Lenet> = Box::new(constnet::zeroed());
    constnet::load_into(&bytes, &mut *loaded).unwrap();
    let (mut w1, mut w2) = (Workspace::new(), Workspace::new());
    for i in 0..50 {
        let x = <[[[f32; 1]; 28]; 28]>::from_flat(data().test.image(i)).unwrap();
        let (a, b) = (model.predict(x, &mut w1), loaded.predict(x, &mut w2));
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
    }
    // Saving into a caller buffer gives the same bytes.
    let mut buf = vec![0u8; bytes.len()];
    assert_eq!(constnet::save(&model, &mut buf).unwrap(), &bytes[..]);
    assert!(constnet::save(&model, &mut buf[..100]).is_err());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let d = data();
    let mut model = Lenet::<f32>::new(7);
    let quiet = |t: Trainer<'static, f32, Adam<f32, Lenet>>| t.report_every(0).progress(false);

    let empty = d.train.subset(0..0);
    let err = quiet(Trainer::new(Adam::new(1e-3), Loss::CrossEntropy)).fit(&mut model, &empty).unwrap_err();
    assert!(matches!(err, TrainError::EmptyDataset), "{err}");

    let rgb = Dataset::new(vec![0.0f32; 2 * 32 * 32 * 3], vec![0, 1], (32, 32, 3), 10).unwrap();
    let err = quiet(Trainer::new(Adam::new(1e-3), Loss::CrossEntropy)).fit(&mut model, &rgb).unwrap_err();
    assert!(matches!(err, TrainError::ShapeMismatch { .. }), "{err}");
    assert_eq!(err.to_string(), "the model reads images of shape [28, 28, 1], the data set has [32, 32, 3]");

    // A binary (one-output) model cannot represent label 7.
    let mut bin = LenetBinary::<f32>::new(1);
    let err = Trainer::new(Adam::new(1e-3), Loss::BinaryCrossEntropy)
        .report_every(0)
        .fit(&mut bin, &d.train.subset(..64))
        .unwrap_err();
    assert!(matches!(err, TrainError::LabelOutOfRange { classes: 2, .. }), "{err}");

    let err = Trainer::new(Adam::new(1e-3), Loss::BinaryCrossEntropy)
        .report_every(0)
        .fit(&mut model, &d.train.subset(..64))
        .unwrap_err();
    assert!(err.to_string().contains("ends in softmax"), "{err}");

    let err = quiet(Trainer::new(Adam::new(1e-3), Loss::CrossEntropy).batch_size(0))
        .fit(&mut model, &d.train.subset(..64))
        .unwrap_err();
    assert!(matches!(err, TrainError::BadSetting(_)), "{err}");

    // An absurd learning rate overflows; training stops and says where.
    let mut model = Lenet::<f32>::new(8);
    let err = Trainer::new(Sgd { lr: 1e30 }, Loss::MeanSquaredError)
        .batch_size(16)
        .report_every(0)
        .fit(&mut model, &d.train.subset(..256))
        .unwrap_err();
    match err {
        TrainError::NonFiniteLoss { epoch, batch } => assert!(epoch == 1 && batch > 1, "{err}"),
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
}

constnet::sequential! {
    /// Regression: the mean brightness of an image, from a small conv net.
    struct Brightness: [28, 28, 1] {
        conv: Conv2d<4, 5, stride = 2> => Relu,
        pool: AvgPool2d<2>,
        flat: Flatten,
        out: Dense<1>,
    }
}

#[test]
fn mean_squared_error_regression_on_value_targets() {
    let images = data().train.subset(..2000);
    let targets: Vec<f32> = (0..images.len()).map(|i| images.image(i).iter().sum::<f32>() / 784.0).collect();
    let d = ValueDataset::with_values(images.images().to_vec(), targets.clone(), images.shape(), 1).unwrap();
    let variance = {
        let mean = targets.iter().sum::<f32>() / targets.len() as f32;
        targets.iter().map(|t| (t - mean) * (t - mean)).sum::<f32>() / targets.len() as f32
    };
    let mut model = Brightness::<f32>::new(9);
    let history = Trainer::new(Adam::new(3e-3), Loss::MeanSquaredError)
        .epochs(8)
        .report_every(0)
        .fit_values(&mut model, &d)
        .unwrap();
    let last = history.epochs.last().unwrap();
    assert!(last.validation.is_none());
    // Far better than predicting the mean, whose MSE is the variance
    // (measured: about 7% of it over the last epoch).
    assert!(last.loss < f64::from(variance) * 0.1, "mse {} vs variance {variance}", last.loss);

    // Targets of two values for a model of one output.
    let two = ValueDataset::with_values(images.images().to_vec(), [targets.clone(), targets].concat(), d.shape(), 2);
    let err = Trainer::new(Adam::new(1e-3), Loss::MeanSquaredError).fit_values(&mut model, &two.unwrap()).unwrap_err();
    assert!(matches!(err, TrainError::TargetLength { outputs: 1, target_len: 2 }), "{err}");
    assert_eq!(err.to_string(), "the model has 1 outputs, the data set's targets have 2 values");
}

constnet::sequential! {
    /// Two inputs, two outputs, linear: fits any affine map exactly.
    struct Affine: [2] {
        out: Dense<2>,
    }
}

/// `n` points of the plane and their images under a fixed affine map.
fn affine_problem(n: usize) -> ValueDataset<f32> {
    let mut rng = constnet::Rng::new(4);
    let inputs: Vec<f32> = (0..2 * n).map(|_| rng.next_f64() as f32).collect();
    let targets = inputs.chunks(2).flat_map(|x| [x[0] + x[1], x[0] - 2.0 * x[1] + 0.5]).collect();
    ValueDataset::with_values(inputs, targets, (1, 2, 1), 2).unwrap()
}

#[test]
fn regression_with_a_validation_split() {
    let data = affine_problem(200);
    let fit = |threads| {
        let mut model = Affine::<f32>::new(1);
        let history = Trainer::new(Adam::new(0.02), Loss::MeanSquaredError)
            .epochs(30)
            .batch_size(16)
            .seed(2)
            .threads(threads)
            .validation(Validation::Split(0.25))
            .report_every(0)
            .fit_values(&mut model, &data)
            .unwrap();
        (model, history)
    };
    let (model, history) = fit(2);
    let (first, last) = (&history.epochs[0], history.epochs.last().unwrap());
    assert!(last.loss < first.loss * 0.01, "training loss must fall: {history:?}");
    let (v0, v) = (first.validation.unwrap(), last.validation.unwrap());
    assert!(history.epochs.iter().all(|e| e.validation.is_some()));
    assert!(v.loss < v0.loss * 0.01 && v.mean_absolute_error < 0.05, "{v0:?} -> {v:?}");
    // The validation figures are those of the last 50 points.
    let (_, held_out) = data.clone().split_validation(0.25);
    assert_eq!(held_out.len(), 50);
    assert_eq!(evaluate_values(&model, &held_out, Loss::MeanSquaredError).unwrap(), v);

    // The printed line: loss and validation loss and error, no accuracy.
    let line = last.line(30);
    assert!(line.starts_with("epoch  30/30 "), "{line}");
    assert!(
        line.contains(&format!("loss {:.4}  val_loss {:.4}  val_mae {:.4}", last.loss, v.loss, v.mean_absolute_error))
    );
    assert!(!line.contains("acc") && !line.contains("NaN"), "{line}");

    // Deterministic whatever the thread count, like `fit`.
    let (one, _) = fit(1);
    assert_eq!(one.flat(), model.flat());

    // An explicit validation set, and a bad fraction.
    let mut model = Affine::<f32>::new(1);
    let history = Trainer::new(Adam::new(0.02), Loss::MeanSquaredError)
        .validation(Validation::Set(&held_out))
        .report_every(0)
        .fit_values(&mut model, &data)
        .unwrap();
    assert!(history.epochs[0].validation.is_some());
    let err = Trainer::new(Adam::new(0.02), Loss::MeanSquaredError)
        .validation(Validation::Split(1.0))
        .fit_values(&mut model, &data)
        .unwrap_err();
    assert!(matches!(err, TrainError::BadSetting(_)), "{err}");
}

#[test]
fn evaluate_values_by_hand() {
    // y0 = x0 + 1, y1 = 2 x1: weights [input][output], then biases.
    let mut model = Affine::<f32>::new(0);
    model.flat_mut().copy_from_slice(&[1.0, 0.0, 0.0, 2.0, 1.0, 0.0]);
    // Inputs (0, 1) and (2, 3) give (1, 2) and (3, 6); the targets are
    // (1, 5) and (3.5, 6): errors (0, -3) and (-0.5, 0).
    let data = ValueDataset::with_values(vec![0.0, 1.0, 2.0, 3.0], vec![1.0, 5.0, 3.5, 6.0], (1, 2, 1), 2).unwrap();
    let m = evaluate_values(&model, &data, Loss::MeanSquaredError).unwrap();
    // MSE per sample (0 + 9) / 2 and (0.25 + 0) / 2; their mean.
    assert_eq!(m.loss, (4.5 + 0.125) / 2.0);
    // Mean |error| per sample 1.5 and 0.25; their mean.
    assert_eq!(m.mean_absolute_error, 0.875);

    let three = ValueDataset::with_values(vec![0.0, 1.0], vec![1.0, 2.0, 3.0], (1, 2, 1), 3).unwrap();
    let err = evaluate_values(&model, &three, Loss::MeanSquaredError).unwrap_err();
    assert!(matches!(err, TrainError::TargetLength { outputs: 2, target_len: 3 }), "{err}");
    let empty = data.subset(..0);
    assert!(matches!(evaluate_values(&model, &empty, Loss::MeanSquaredError), Err(TrainError::EmptyDataset)));
}

/// The classification line is the one printed before regression had its own.
#[test]
fn classification_line_unchanged() {
    let e = constnet::train::Epoch {
        epoch: 3,
        seconds: 1.25,
        samples_per_s: 12_345.6,
        loss: 0.123_44,
        accuracy: 0.9,
        validation: Some(constnet::train::Metrics { loss: 0.2, accuracy: 0.8 }),
    };
    assert_eq!(
        e.line(5),
        "epoch   3/5     1.2s   12,345 samples/s  loss 0.1234  acc 0.9000  val_loss 0.2000  val_acc 0.8000"
    );
}
