//! Host-side training: real runs on the bundled Fashion-MNIST subset,
//! determinism, persistence and the error cases.
#![cfg(feature = "std")]

use constnet::data::{fashion_mnist_bundled, Dataset, TrainTest};
use constnet::train::{evaluate, predict_classes, TrainError, Trainer, Validation};
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
    let d = data().train.subset(..2000);
    let targets: Vec<f32> = (0..d.len()).map(|i| d.image(i).iter().sum::<f32>() / 784.0).collect();
    let variance = {
        let mean = targets.iter().sum::<f32>() / targets.len() as f32;
        targets.iter().map(|t| (t - mean) * (t - mean)).sum::<f32>() / targets.len() as f32
    };
    let mut model = Brightness::<f32>::new(9);
    let history = Trainer::new(Adam::new(3e-3), Loss::MeanSquaredError)
        .epochs(8)
        .report_every(0)
        .fit_values(&mut model, &d, &targets)
        .unwrap();
    let last = history.epochs.last().unwrap();
    assert!(last.accuracy.is_nan());
    // Far better than predicting the mean, whose MSE is the variance
    // (measured: about 7% of it over the last epoch).
    assert!(last.loss < f64::from(variance) * 0.1, "mse {} vs variance {variance}", last.loss);

    let err =
        Trainer::new(Adam::new(1e-3), Loss::MeanSquaredError).fit_values(&mut model, &d, &targets[1..]).unwrap_err();
    assert!(matches!(err, TrainError::TargetCount { expected: 2000, found: 1999 }), "{err}");
}
