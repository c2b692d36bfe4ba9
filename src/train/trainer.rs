//! Host-side training (feature `std`): mini-batches in parallel, validation,
//! progress, history, evaluation and a confusion matrix.
//!
//! Each batch is cut into chunks of [`CHUNK`] samples whatever the thread
//! count; a chunk's gradients are summed in sample order, and chunks are
//! summed in chunk order. The same seed therefore gives the same weights, bit
//! for bit, on 1 thread or 64.

use crate::host::data::Dataset;
use crate::model::summary::Thousands;
use crate::rng::splitmix64;
use crate::train::loss::LossMismatch;
use crate::{Float, Loss, Model, Optimizer, Rng, Tensor};
use rayon::prelude::*;
use std::boxed::Box;
use std::fmt;
use std::format;
use std::println;
use std::string::String;
use std::string::ToString;
use std::time::Instant;
use std::vec::Vec;

/// Samples per unit of parallel work: fixed, so results do not depend on the
/// number of threads.
pub const CHUNK: usize = 8;

/// Why training or evaluation stopped.
#[derive(Debug)]
pub enum TrainError {
    /// The data set has no samples.
    EmptyDataset,
    /// Images are not the shape the model reads.
    ShapeMismatch {
        /// The model's input shape.
        model: &'static [usize],
        /// The data set's `[height, width, channels]`.
        data: [usize; 3],
    },
    /// A label the model's output cannot represent.
    LabelOutOfRange {
        /// Sample index.
        index: usize,
        /// The label.
        label: u8,
        /// Number of classes the model's output has room for.
        classes: usize,
    },
    /// The loss does not fit the model's last activation.
    Loss(LossMismatch),
    /// Batch size or epochs of zero, or a validation fraction outside (0, 1).
    BadSetting(&'static str),
    /// The loss became NaN or infinite.
    NonFiniteLoss {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch within the epoch (1-based).
        batch: usize,
    },
    /// Explicit targets of the wrong length.
    TargetCount {
        /// Samples times outputs.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// The thread pool could not be built.
    Threads(String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyDataset => f.write_str("the data set is empty"),
            Self::ShapeMismatch { model, data } => {
                write!(f, "the model reads images of shape {model:?}, the data set has {data:?}")
            }
            Self::LabelOutOfRange { index, label, classes } => {
                write!(f, "sample {index} has label {label}, but the model's output has {classes} classes")
            }
            Self::Loss(e) => e.fmt(f),
            Self::BadSetting(what) => f.write_str(what),
            Self::NonFiniteLoss { epoch, batch } => {
                write!(f, "the loss became NaN or infinite at epoch {epoch}, batch {batch}")
            }
            Self::TargetCount { expected, found } => {
                write!(f, "{found} target values for {expected} outputs (samples times outputs)")
            }
            Self::Threads(e) => write!(f, "thread pool: {e}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// Where validation figures come from.
#[derive(Clone, Copy, Debug)]
pub enum Validation<'a, T: Float> {
    /// No validation.
    None,
    /// The last fraction of the training set (taken before shuffling).
    Split(f64),
    /// An explicit data set.
    Set(&'a Dataset<T>),
}

/// The figures of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// Wall time of the training part, in seconds.
    pub seconds: f64,
    /// Training samples per second.
    pub samples_per_s: f64,
    /// Mean training loss over the epoch's batches, as computed while training.
    pub loss: f64,
    /// Training accuracy while training.
    pub accuracy: f64,
    /// Validation loss and accuracy, when validating.
    pub validation: Option<Metrics>,
}

/// Every epoch's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per epoch, in order.
    pub epochs: Vec<Epoch>,
}

/// Loss and accuracy over a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// Mean loss.
    pub loss: f64,
    /// Fraction of samples classified right.
    pub accuracy: f64,
}

/// Counts of (true class, predicted class).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self { classes, counts: std::vec![0; classes * classes] }
    }
    /// Number of samples of class `truth` predicted as `predicted`.
    pub fn get(&self, truth: usize, predicted: usize) -> usize {
        self.counts[truth * self.classes + predicted]
    }
    /// Records one prediction.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth * self.classes + predicted] += 1;
    }
    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }
    /// Fraction on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let right: usize = (0..self.classes).map(|c| self.get(c, c)).sum();
        right as f64 / self.counts.iter().sum::<usize>().max(1) as f64
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "true\\pred")?;
        for p in 0..self.classes {
            write!(f, " {p:>5}")?;
        }
        for t in 0..self.classes {
            write!(f, "\n{t:>9}")?;
            for p in 0..self.classes {
                write!(f, " {:>5}", self.get(t, p))?;
            }
        }
        Ok(())
    }
}

/// How the model's output encodes a class.
#[derive(Clone, Copy)]
struct Head {
    /// Number of outputs.
    outputs: usize,
    /// The output slot holds logits (loss fused with the last activation).
    logits: bool,
}

impl Head {
    fn of<T: Float, M: Model<T>>(logits: bool) -> Self {
        Self { outputs: <M::Output as Tensor<T>>::LEN, logits }
    }
    /// Classes the output can tell apart (a single output is binary).
    fn classes(self) -> usize {
        if self.outputs == 1 {
            2
        } else {
            self.outputs
        }
    }
    /// The class an output predicts.
    fn class<T: Float>(self, out: &[T]) -> usize {
        if self.outputs == 1 {
            let threshold = if self.logits { T::zero() } else { T::of(0.5) };
            return usize::from(out[0] > threshold);
        }
        let mut best = 0;
        for (i, &v) in out.iter().enumerate() {
            if v > out[best] {
                best = i;
            }
        }
        best
    }
    /// The target vector for a label: one-hot, or the label itself for a
    /// single (binary) output.
    fn target<T: Float>(self, label: u8, target: &mut [T]) {
        if self.outputs == 1 {
            target[0] = T::of(f64::from(label));
        } else {
            target.iter_mut().for_each(|t| *t = T::zero());
            target[usize::from(label)] = T::one();
        }
    }
}

/// Checks that `data` fits model `M`.
fn check_data<T: Float, M: Model<T>>(data: &Dataset<T>, head: Head) -> Result<(), TrainError> {
    if data.is_empty() {
        return Err(TrainError::EmptyDataset);
    }
    let shape = <M::Input as Tensor<T>>::SHAPE;
    let (h, w, c) = data.shape();
    let fits = match shape {
        [mh, mw, mc] => [*mh, *mw, *mc] == [h, w, c],
        [n] => *n == h * w * c,
        _ => false,
    };
    if !fits {
        return Err(TrainError::ShapeMismatch { model: shape, data: [h, w, c] });
    }
    let classes = head.classes();
    match data.labels().iter().position(|&l| usize::from(l) >= classes) {
        Some(index) => Err(TrainError::LabelOutOfRange { index, label: data.label(index), classes }),
        None => Ok(()),
    }
}

/// One chunk's scratch: activations, their gradients and the parameter
/// gradients of up to [`CHUNK`] samples.
struct Worker<T: Float, M: Model<T>> {
    trace: Box<M::Trace>,
    grad: Box<M::Trace>,
    grads: Box<M>,
    target: Vec<T>,
    loss: f64,
    correct: usize,
}

impl<T: Float, M: Model<T>> Worker<T, M> {
    fn new() -> Self {
        Self {
            trace: M::new_trace(),
            grad: M::new_trace(),
            grads: Box::new(crate::zeroed()),
            target: std::vec![T::zero(); <M::Output as Tensor<T>>::LEN],
            loss: 0.0,
            correct: 0,
        }
    }

    /// Forward and backward over `samples` (indices into `data`), summing
    /// gradients into `self.grads` in order.
    /// `values`: explicit targets (`Output::LEN` per sample) instead of labels.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        model: &M,
        data: &Dataset<T>,
        values: Option<&[T]>,
        samples: &[usize],
        loss: Loss,
        head: Head,
        seed: u64,
    ) {
        self.grads.flat_mut().iter_mut().for_each(|g| *g = T::zero());
        self.loss = 0.0;
        self.correct = 0;
        for &i in samples {
            let x = <M::Input as Tensor<T>>::from_flat(data.image(i)).expect("shape checked before training");
            let sample_seed = splitmix64(seed ^ i as u64);
            model.forward_train(x, &mut self.trace, sample_seed, head.logits);
            let out = M::output(&self.trace).as_flat();
            let len = self.target.len();
            match values {
                Some(v) => self.target.copy_from_slice(&v[i * len..(i + 1) * len]),
                None => head.target(data.label(i), &mut self.target),
            }
            let l = loss.eval(out, &self.target, M::output_mut(&mut self.grad).as_flat_mut());
            self.loss += l.to_f64_lossless();
            if values.is_none() {
                self.correct += usize::from(head.class(out) == usize::from(data.label(i)));
            }
            model.backward(x, &self.trace, &mut self.grad, &mut self.grads, sample_seed, head.logits);
        }
    }
}

/// Trains a model: `Trainer::new(optimizer, loss)`, settings by builder
/// methods, then [`Trainer::fit`].
pub struct Trainer<'a, T: Float, O> {
    optimizer: O,
    loss: Loss,
    batch_size: usize,
    epochs: usize,
    seed: u64,
    validation: Validation<'a, T>,
    report_every: usize,
    progress: bool,
    threads: Option<usize>,
}

impl<'a, T: Float, O> Trainer<'a, T, O> {
    /// Batch 32, 1 epoch, seed 0, no validation, a report every epoch, a
    /// progress bar when stderr is a terminal, all cores.
    pub fn new(optimizer: O, loss: Loss) -> Self {
        Self {
            optimizer,
            loss,
            batch_size: 32,
            epochs: 1,
            seed: 0,
            validation: Validation::None,
            report_every: 1,
            progress: true,
            threads: None,
        }
    }
    /// Samples per gradient step (gradients are averaged over the batch).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Passes over the training set.
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    /// Seed of shuffling and dropout.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Where validation figures come from.
    pub fn validation(mut self, v: Validation<'a, T>) -> Self {
        self.validation = v;
        self
    }
    /// Print a line every `n` epochs (0: never).
    pub fn report_every(mut self, n: usize) -> Self {
        self.report_every = n;
        self
    }
    /// Show a progress bar (only ever on a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }
    /// Worker threads (default: all cores). Results do not depend on it.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }
    /// The optimizer, e.g. to read its state after training.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// Trains `model` on `data` and returns every epoch's figures.
    pub fn fit<M>(&mut self, model: &mut M, data: &Dataset<T>) -> Result<History, TrainError>
    where
        M: Model<T> + Send + Sync,
        M::Trace: Send,
        O: Optimizer<T, M> + Send,
    {
        let head = self.head::<M>()?;
        let split;
        let (train, validation) = match self.validation {
            Validation::None => (data, None),
            Validation::Set(v) => (data, Some(v)),
            Validation::Split(f) => {
                if !(f > 0.0 && f < 1.0) {
                    return Err(TrainError::BadSetting("the validation fraction must be in (0, 1)"));
                }
                split = data.clone().split_validation(f);
                (&split.0, Some(&split.1))
            }
        };
        check_data::<T, M>(train, head)?;
        if let Some(v) = validation {
            check_data::<T, M>(v, head)?;
        }
        let pool = self.pool()?;
        pool.install(|| self.epochs_loop(model, train, None, validation, head))
    }

    /// Trains `model` to output `targets` (regression): `Output::LEN` values
    /// per image of `data`, in order; the labels are not used. Accuracy is
    /// NaN in the history, and validation is not supported here (evaluate
    /// with your own metric).
    pub fn fit_values<M>(&mut self, model: &mut M, data: &Dataset<T>, targets: &[T]) -> Result<History, TrainError>
    where
        M: Model<T> + Send + Sync,
        M::Trace: Send,
        O: Optimizer<T, M> + Send,
    {
        let head = self.head::<M>()?;
        if !matches!(self.validation, Validation::None) {
            return Err(TrainError::BadSetting("validation needs labels; fit_values does not support it"));
        }
        let expected = data.len() * <M::Output as Tensor<T>>::LEN;
        if targets.len() != expected {
            return Err(TrainError::TargetCount { expected, found: targets.len() });
        }
        check_data::<T, M>(data, Head { outputs: usize::MAX, ..head })?;
        let pool = self.pool()?;
        pool.install(|| self.epochs_loop(model, data, Some(targets), None, head))
    }

    /// Checks the settings and how the loss reads model `M`'s output.
    fn head<M: Model<T>>(&self) -> Result<Head, TrainError> {
        if self.batch_size == 0 || self.epochs == 0 {
            return Err(TrainError::BadSetting("batch size and epochs must be at least 1"));
        }
        let activation = M::LAYERS.last().map_or("linear", |l| l.info.activation);
        let logits = self.loss.fused_with(activation).map_err(TrainError::Loss)?;
        Ok(Head::of::<T, M>(logits))
    }

    fn pool(&self) -> Result<rayon::ThreadPool, TrainError> {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(n) = self.threads {
            b = b.num_threads(n);
        }
        b.build().map_err(|e| TrainError::Threads(e.to_string()))
    }

    fn epochs_loop<M>(
        &mut self,
        model: &mut M,
        train: &Dataset<T>,
        values: Option<&[T]>,
        validation: Option<&Dataset<T>>,
        head: Head,
    ) -> Result<History, TrainError>
    where
        M: Model<T> + Send + Sync,
        M::Trace: Send,
        O: Optimizer<T, M> + Send,
    {
        let n = train.len();
        let batches = n.div_ceil(self.batch_size);
        let mut workers: Vec<Worker<T, M>> = (0..self.batch_size.div_ceil(CHUNK)).map(|_| Worker::new()).collect();
        let mut batch_grads: Box<M> = Box::new(crate::zeroed());
        let mut order: Vec<usize> = (0..n).collect();
        let mut history = History::default();
        for epoch in 1..=self.epochs {
            let epoch_seed = splitmix64(self.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9));
            Rng::new(epoch_seed).shuffle(&mut order);
            let bar = self.progress_bar(batches, epoch);
            let start = Instant::now();
            let (mut loss_sum, mut correct) = (0.0, 0);
            for (b, batch) in order.chunks(self.batch_size).enumerate() {
                let chunks = batch.len().div_ceil(CHUNK);
                let model_ref: &M = model;
                workers[..chunks].par_iter_mut().zip(batch.par_chunks(CHUNK)).for_each(|(w, samples)| {
                    w.run(model_ref, train, values, samples, self.loss, head, epoch_seed);
                });
                let active = &workers[..chunks];
                let batch_loss: f64 = active.iter().map(|w| w.loss).sum();
                if !batch_loss.is_finite() {
                    if let Some(bar) = bar {
                        bar.abandon();
                    }
                    return Err(TrainError::NonFiniteLoss { epoch, batch: b + 1 });
                }
                loss_sum += batch_loss;
                correct += active.iter().map(|w| w.correct).sum::<usize>();
                sum_gradients(&mut *batch_grads, active, batch.len());
                self.optimizer.step(model, &*batch_grads);
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
            }
            let seconds = start.elapsed().as_secs_f64();
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let validation = validation.map(|v| evaluate_with(model, v, self.loss).0);
            let record = Epoch {
                epoch,
                seconds,
                samples_per_s: n as f64 / seconds,
                loss: loss_sum / n as f64,
                accuracy: if values.is_some() { f64::NAN } else { correct as f64 / n as f64 },
                validation,
            };
            if self.report_every > 0 && (epoch % self.report_every == 0 || epoch == self.epochs) {
                println!("{}", EpochLine(&record, self.epochs));
            }
            history.epochs.push(record);
        }
        Ok(history)
    }

    fn progress_bar(&self, batches: usize, epoch: usize) -> Option<indicatif::ProgressBar> {
        use std::io::IsTerminal;
        if !self.progress || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::new(batches as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} batches, {per_sec}, eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("{epoch}/{}", self.epochs));
        Some(bar)
    }
}

/// Sums the workers' gradients in chunk order, divided by the batch size.
fn sum_gradients<T: Float, M: Model<T>>(into: &mut M, workers: &[Worker<T, M>], batch: usize) {
    let scale = T::one() / T::of(batch as f64);
    let out = into.flat_mut();
    out.copy_from_slice(workers[0].grads.flat());
    for w in &workers[1..] {
        for (o, &g) in out.iter_mut().zip(w.grads.flat()) {
            *o += g;
        }
    }
    out.iter_mut().for_each(|o| *o *= scale);
}

/// One report line.
struct EpochLine<'a>(&'a Epoch, usize);

impl fmt::Display for EpochLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        write!(
            f,
            "epoch {:>3}/{}  {:>6.1}s  {:>7} samples/s  loss {:.4}  acc {:.4}",
            e.epoch,
            self.1,
            e.seconds,
            Thousands(e.samples_per_s as usize),
            e.loss,
            e.accuracy
        )?;
        if let Some(v) = e.validation {
            write!(f, "  val_loss {:.4}  val_acc {:.4}", v.loss, v.accuracy)?;
        }
        Ok(())
    }
}

/// Loss, accuracy and confusion matrix of `model` on `data` (inference mode).
pub fn evaluate<T: Float, M: Model<T> + Sync>(
    model: &M,
    data: &Dataset<T>,
    loss: Loss,
) -> Result<(Metrics, ConfusionMatrix), TrainError> {
    let activation = M::LAYERS.last().map_or("linear", |l| l.info.activation);
    loss.fused_with(activation).map_err(TrainError::Loss)?;
    check_data::<T, M>(data, Head::of::<T, M>(false))?;
    Ok(evaluate_with(model, data, loss))
}

fn evaluate_with<T: Float, M: Model<T> + Sync>(model: &M, data: &Dataset<T>, loss: Loss) -> (Metrics, ConfusionMatrix) {
    // Inference outputs are activated: logits only when the network ends linear.
    let head = Head::of::<T, M>(M::LAYERS.last().is_none_or(|l| l.info.activation == "linear"));
    let parts: Vec<(f64, ConfusionMatrix)> = (0..data.len())
        .collect::<Vec<_>>()
        .par_chunks(256)
        .map(|idx| {
            let mut workspace = Box::<M::Workspace>::default();
            let mut target = std::vec![T::zero(); head.outputs];
            let mut cm = ConfusionMatrix::new(head.classes());
            let mut loss_sum = 0.0;
            for &i in idx {
                let x = <M::Input as Tensor<T>>::from_flat(data.image(i)).expect("shape checked");
                let out = model.predict(x, &mut workspace).as_flat();
                head.target(data.label(i), &mut target);
                loss_sum += loss.eval_activated(out, &target, head.logits).to_f64_lossless();
                cm.add(usize::from(data.label(i)), head.class(out));
            }
            (loss_sum, cm)
        })
        .collect();
    let mut cm = ConfusionMatrix::new(head.classes());
    let mut loss_sum = 0.0;
    for (l, part) in parts {
        loss_sum += l;
        cm.counts.iter_mut().zip(&part.counts).for_each(|(a, b)| *a += b);
    }
    (Metrics { loss: loss_sum / data.len() as f64, accuracy: cm.accuracy() }, cm)
}

/// The class each sample is predicted to be.
pub fn predict_classes<T: Float, M: Model<T> + Sync>(model: &M, data: &Dataset<T>) -> Result<Vec<usize>, TrainError> {
    let head = Head { outputs: <M::Output as Tensor<T>>::LEN, logits: false };
    check_data::<T, M>(data, Head { outputs: usize::MAX, logits: false })?;
    Ok((0..data.len())
        .collect::<Vec<_>>()
        .par_chunks(256)
        .flat_map_iter(|idx| {
            let mut workspace = Box::<M::Workspace>::default();
            idx.iter()
                .map(|&i| {
                    let x = <M::Input as Tensor<T>>::from_flat(data.image(i)).expect("shape checked");
                    head.class(model.predict(x, &mut workspace).as_flat())
                })
                .collect::<Vec<_>>()
        })
        .collect())
}
