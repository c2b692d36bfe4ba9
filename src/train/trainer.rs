//! Host-side training (feature `std`): mini-batches in parallel, validation,
//! progress, history, evaluation and a confusion matrix; classification on
//! labelled [`Dataset`]s ([`Trainer::fit`], [`evaluate`]) and regression on
//! [`ValueDataset`]s ([`Trainer::fit_values`], [`evaluate_values`]).
//!
//! Each batch is cut into chunks of [`CHUNK`] samples whatever the thread
//! count; a chunk's gradients are summed in sample order, and chunks are
//! summed in chunk order. The same seed therefore gives the same weights, bit
//! for bit, on 1 thread or 64.

use crate::host::data::{Dataset, Labels, Targets, ValueDataset, Values};
use crate::kernels::{add, dispatch2};
use crate::model::summary::Thousands;
use crate::rng::splitmix64;
use crate::train::crew::SpinBarrier;
use crate::train::loss::LossMismatch;
use crate::{Float, Loss, Model, Optimizer, Rng, Tensor};
use rayon::prelude::*;
use std::boxed::Box;
use std::fmt;
use std::format;
use std::println;
use std::string::String;
use std::string::ToString;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
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
    /// Value targets of a length the model's output does not have.
    TargetLength {
        /// The model's outputs.
        outputs: usize,
        /// Values per target in the data set.
        target_len: usize,
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
            Self::TargetLength { outputs, target_len } => {
                write!(f, "the model has {outputs} outputs, the data set's targets have {target_len} values")
            }
            Self::Threads(e) => write!(f, "thread pool: {e}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// Where validation figures come from: for [`Trainer::fit`] labelled data
/// (`Y` = [`Labels`]), for [`Trainer::fit_values`] value targets
/// (`Y` = [`Values`]).
pub enum Validation<'a, T: Float, Y = Labels> {
    /// No validation.
    None,
    /// The last fraction of the training set (taken before shuffling).
    Split(f64),
    /// An explicit data set.
    Set(&'a Dataset<T, Y>),
}

// By hand: derives would ask `Y: Copy`, which no targets are.
impl<T: Float, Y> Clone for Validation<'_, T, Y> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Float, Y> Copy for Validation<'_, T, Y> {}

impl<T: Float, Y: Targets> fmt::Debug for Validation<'_, T, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Split(x) => f.debug_tuple("Split").field(x).finish(),
            Self::Set(d) => f.debug_tuple("Set").field(d).finish(),
        }
    }
}

/// The figures of one epoch of classification ([`Trainer::fit`]).
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

impl Epoch {
    /// The line the trainer prints for this epoch, of `epochs`.
    pub fn line(&self, epochs: usize) -> String {
        let mut line = timing(self.epoch, epochs, self.seconds, self.samples_per_s, self.loss);
        line += &format!("  acc {:.4}", self.accuracy);
        if let Some(v) = self.validation {
            line += &format!("  val_loss {:.4}  val_acc {:.4}", v.loss, v.accuracy);
        }
        line
    }
}

/// The figures of one epoch of regression ([`Trainer::fit_values`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValueEpoch {
    /// 1-based.
    pub epoch: usize,
    /// Wall time of the training part, in seconds.
    pub seconds: f64,
    /// Training samples per second.
    pub samples_per_s: f64,
    /// Mean training loss over the epoch's batches, as computed while training.
    pub loss: f64,
    /// Validation loss and mean absolute error, when validating.
    pub validation: Option<ValueMetrics>,
}

impl ValueEpoch {
    /// The line the trainer prints for this epoch, of `epochs`.
    pub fn line(&self, epochs: usize) -> String {
        let mut line = timing(self.epoch, epochs, self.seconds, self.samples_per_s, self.loss);
        if let Some(v) = self.validation {
            line += &format!("  val_loss {:.4}  val_mae {:.4}", v.loss, v.mean_absolute_error);
        }
        line
    }
}

/// The start of every epoch line: epoch, time, speed, training loss.
fn timing(epoch: usize, epochs: usize, seconds: f64, samples_per_s: f64, loss: f64) -> String {
    format!(
        "epoch {epoch:>3}/{epochs}  {seconds:>6.1}s  {:>7} samples/s  loss {loss:.4}",
        Thousands(samples_per_s as usize)
    )
}

/// Every epoch's figures: [`Epoch`]s from [`Trainer::fit`],
/// [`ValueEpoch`]s from [`Trainer::fit_values`].
#[derive(Clone, Debug, PartialEq)]
pub struct History<E = Epoch> {
    /// One entry per epoch, in order.
    pub epochs: Vec<E>,
}

impl<E> Default for History<E> {
    fn default() -> Self {
        Self { epochs: Vec::new() }
    }
}

/// Loss and accuracy over a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// Mean loss.
    pub loss: f64,
    /// Fraction of samples classified right.
    pub accuracy: f64,
}

/// Loss and mean absolute error over a regression data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValueMetrics {
    /// Mean loss.
    pub loss: f64,
    /// Mean over samples and outputs of `|output - target|`, the outputs
    /// being the model's inference outputs (activated).
    pub mean_absolute_error: f64,
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

/// Checks that `data` has samples of the shape model `M` reads.
fn check_inputs<T: Float, M: Model<T>, Y: Targets>(data: &Dataset<T, Y>) -> Result<(), TrainError> {
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
    if fits {
        Ok(())
    } else {
        Err(TrainError::ShapeMismatch { model: shape, data: [h, w, c] })
    }
}

/// Checks that `data` fits model `M`: its inputs and its targets.
fn check_data<T: Float, M: Model<T>, Y: Task<T>>(data: &Dataset<T, Y>, head: Head) -> Result<(), TrainError> {
    check_inputs::<T, M, Y>(data)?;
    Y::check(data, head)
}

/// What training and evaluation do with a data set's targets: class
/// labels ([`Labels`]) or value vectors ([`Values`]).
trait Task<T: Float>: Targets + Sync {
    /// One epoch's figures.
    type Epoch: Send;
    /// Figures over a data set.
    type Metrics: Copy;
    /// Checks the targets against the model's output.
    fn check(data: &Dataset<T, Self>, head: Head) -> Result<(), TrainError>;
    /// Writes sample `i`'s target vector into `out` (`head.outputs` values).
    fn target(data: &Dataset<T, Self>, i: usize, head: Head, out: &mut [T]);
    /// Whether a training output gives sample `i`'s class (never, for values).
    fn correct(data: &Dataset<T, Self>, i: usize, head: Head, out: &[T]) -> bool;
    /// Figures of `model` over `data` (inference mode); `data` checked.
    fn evaluate<M: Model<T> + Sync>(model: &M, data: &Dataset<T, Self>, loss: Loss) -> Self::Metrics;
    /// The record of an epoch.
    fn epoch(pass: Pass, validation: Option<Self::Metrics>) -> Self::Epoch;
    /// The line printed for an epoch, of `epochs`.
    fn line(epoch: &Self::Epoch, epochs: usize) -> String;
}

/// What one epoch's training pass measured.
struct Pass {
    epoch: usize,
    seconds: f64,
    samples: usize,
    loss_sum: f64,
    correct: usize,
}

impl Pass {
    fn samples_per_s(&self) -> f64 {
        self.samples as f64 / self.seconds
    }
    fn mean(&self, sum: f64) -> f64 {
        sum / self.samples as f64
    }
}

impl<T: Float> Task<T> for Labels {
    type Epoch = Epoch;
    type Metrics = Metrics;
    fn check(data: &Dataset<T>, head: Head) -> Result<(), TrainError> {
        let classes = head.classes();
        match data.labels().iter().position(|&l| usize::from(l) >= classes) {
            Some(index) => Err(TrainError::LabelOutOfRange { index, label: data.label(index), classes }),
            None => Ok(()),
        }
    }
    fn target(data: &Dataset<T>, i: usize, head: Head, out: &mut [T]) {
        head.target(data.label(i), out);
    }
    fn correct(data: &Dataset<T>, i: usize, head: Head, out: &[T]) -> bool {
        head.class(out) == usize::from(data.label(i))
    }
    fn evaluate<M: Model<T> + Sync>(model: &M, data: &Dataset<T>, loss: Loss) -> Metrics {
        evaluate_with(model, data, loss).0
    }
    fn epoch(pass: Pass, validation: Option<Metrics>) -> Epoch {
        Epoch {
            epoch: pass.epoch,
            seconds: pass.seconds,
            samples_per_s: pass.samples_per_s(),
            loss: pass.mean(pass.loss_sum),
            accuracy: pass.mean(pass.correct as f64),
            validation,
        }
    }
    fn line(epoch: &Epoch, epochs: usize) -> String {
        epoch.line(epochs)
    }
}

impl<T: Float> Task<T> for Values<T> {
    type Epoch = ValueEpoch;
    type Metrics = ValueMetrics;
    fn check(data: &ValueDataset<T>, head: Head) -> Result<(), TrainError> {
        if data.target_len() == head.outputs {
            Ok(())
        } else {
            Err(TrainError::TargetLength { outputs: head.outputs, target_len: data.target_len() })
        }
    }
    fn target(data: &ValueDataset<T>, i: usize, _: Head, out: &mut [T]) {
        out.copy_from_slice(data.target(i));
    }
    fn correct(_: &ValueDataset<T>, _: usize, _: Head, _: &[T]) -> bool {
        false
    }
    fn evaluate<M: Model<T> + Sync>(model: &M, data: &ValueDataset<T>, loss: Loss) -> ValueMetrics {
        evaluate_values_with(model, data, loss)
    }
    fn epoch(pass: Pass, validation: Option<ValueMetrics>) -> ValueEpoch {
        ValueEpoch {
            epoch: pass.epoch,
            seconds: pass.seconds,
            samples_per_s: pass.samples_per_s(),
            loss: pass.mean(pass.loss_sum),
            validation,
        }
    }
    fn line(epoch: &ValueEpoch, epochs: usize) -> String {
        epoch.line(epochs)
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
            grads: crate::zeroed_boxed(),
            target: std::vec![T::zero(); <M::Output as Tensor<T>>::LEN],
            loss: 0.0,
            correct: 0,
        }
    }

    /// Forward and backward over `samples` (indices into `data`), summing
    /// gradients into `self.grads` in order.
    fn run<Y: Task<T>>(
        &mut self,
        model: &M,
        data: &Dataset<T, Y>,
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
            Y::target(data, i, head, &mut self.target);
            let l = loss.eval(out, &self.target, M::output_mut(&mut self.grad).as_flat_mut());
            self.loss += l.to_f64_lossless();
            self.correct += usize::from(Y::correct(data, i, head, out));
            model.backward(x, &self.trace, &mut self.grad, &mut self.grads, sample_seed, head.logits);
        }
    }
}

/// Trains a model: `Trainer::new(optimizer, loss)`, settings by builder
/// methods, then [`Trainer::fit`] (classification, `Y` = [`Labels`]) or
/// [`Trainer::fit_values`] (regression, `Y` = [`Values`]); `Y` is the
/// kind of validation data set, inferred.
pub struct Trainer<'a, T: Float, O, Y = Labels> {
    optimizer: O,
    loss: Loss,
    batch_size: usize,
    epochs: usize,
    seed: u64,
    validation: Validation<'a, T, Y>,
    report_every: usize,
    progress: bool,
    threads: Option<usize>,
}

impl<'a, T: Float, O, Y> Trainer<'a, T, O, Y> {
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
    pub fn validation(mut self, v: Validation<'a, T, Y>) -> Self {
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
}

impl<'a, T: Float, O> Trainer<'a, T, O> {
    /// Trains `model` on labelled `data` and returns every epoch's figures.
    pub fn fit<M>(&mut self, model: &mut M, data: &Dataset<T>) -> Result<History, TrainError>
    where
        M: Model<T> + Send + Sync,
        M::Trace: Send,
        O: Optimizer<T, M> + Send,
    {
        self.train(model, data)
    }
}

impl<'a, T: Float, O> Trainer<'a, T, O, Values<T>> {
    /// Trains `model` to output each image's target (regression) and
    /// returns every epoch's figures: training loss, and validation loss and
    /// mean absolute error when validating. The targets must have as many
    /// values as the model has outputs.
    ///
    /// ```
    /// use constnet::data::ValueDataset;
    /// use constnet::train::{evaluate_values, Trainer, Validation};
    /// use constnet::{Adam, Loss, Model};
    ///
    /// constnet::sequential! {
    ///     /// `y = a x + b`.
    ///     struct Line: [1] { out: Dense<1> }
    /// }
    ///
    /// // y = 2x + 1 at 100 points in [0, 1), shuffled; the last 20 validate.
    /// let xs: Vec<f32> = (0..100).map(|i| ((i * 37) % 100) as f32 / 100.0).collect();
    /// let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
    /// let data = ValueDataset::with_values(xs, ys, (1, 1, 1), 1)?;
    /// let mut model = Line::<f32>::new(0);
    /// let history = Trainer::new(Adam::new(0.05), Loss::MeanSquaredError)
    ///     .epochs(40)
    ///     .batch_size(10)
    ///     .validation(Validation::Split(0.2))
    ///     .report_every(0) // 40: "epoch  40/40 ...  loss 0.0010  val_loss 0.0008  val_mae 0.0247"
    ///     .fit_values(&mut model, &data)?;
    /// let last = history.epochs.last().unwrap().validation.unwrap();
    /// assert!(last.mean_absolute_error < 0.05, "{last:?}");
    /// let all = evaluate_values(&model, &data, Loss::MeanSquaredError)?;
    /// assert!(all.loss < 1e-2, "{all:?}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fit_values<M>(&mut self, model: &mut M, data: &ValueDataset<T>) -> Result<History<ValueEpoch>, TrainError>
    where
        M: Model<T> + Send + Sync,
        M::Trace: Send,
        O: Optimizer<T, M> + Send,
    {
        self.train(model, data)
    }
}

// The bound `Y: Task<T>` is on each method: the trait is private.
impl<'a, T: Float, O, Y> Trainer<'a, T, O, Y> {
    /// [`Trainer::fit`] and [`Trainer::fit_values`].
    fn train<M>(&mut self, model: &mut M, data: &Dataset<T, Y>) -> Result<History<Y::Epoch>, TrainError>
    where
        Y: Task<T>,
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
        check_data::<T, M, Y>(train, head)?;
        if let Some(v) = validation {
            check_data::<T, M, Y>(v, head)?;
        }
        let pool = self.pool()?;
        pool.install(|| self.epochs_loop(model, train, validation, head))
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
        train: &Dataset<T, Y>,
        validation: Option<&Dataset<T, Y>>,
        head: Head,
    ) -> Result<History<Y::Epoch>, TrainError>
    where
        Y: Task<T>,
        M: Model<T> + Send + Sync,
        M::Trace: Send,
        O: Optimizer<T, M> + Send,
    {
        let n = train.len();
        let batches = n.div_ceil(self.batch_size);
        let mut workers: Vec<Worker<T, M>> = (0..self.batch_size.div_ceil(CHUNK)).map(|_| Worker::new()).collect();
        let mut batch_grads: Box<M> = crate::zeroed_boxed();
        let mut order: Vec<usize> = (0..n).collect();
        let mut history = History::default();
        for epoch in 1..=self.epochs {
            let epoch_seed = splitmix64(self.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9));
            Rng::new(epoch_seed).shuffle(&mut order);
            let bar = self.progress_bar(batches, epoch);
            let start = Instant::now();
            let (loss_sum, correct) =
                match self.pass(model, train, &order, &mut workers, &mut batch_grads, head, epoch_seed, bar.as_ref()) {
                    Ok(sums) => sums,
                    Err(batch) => {
                        if let Some(bar) = bar {
                            bar.abandon();
                        }
                        return Err(TrainError::NonFiniteLoss { epoch, batch });
                    }
                };
            let seconds = start.elapsed().as_secs_f64();
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let validation = validation.map(|v| Y::evaluate(model, v, self.loss));
            let record = Y::epoch(Pass { epoch, seconds, samples: n, loss_sum, correct }, validation);
            if self.report_every > 0 && (epoch % self.report_every == 0 || epoch == self.epochs) {
                println!("{}", Y::line(&record, self.epochs));
            }
            history.epochs.push(record);
        }
        Ok(history)
    }

    /// One epoch's batches in `order`, run by every thread of the current
    /// pool: each takes the batch's chunks in turn; at a [`SpinBarrier`],
    /// the first thread sums the gradients and steps the optimizer while the
    /// others wait for the next batch. The sum of the losses and the count
    /// of correct answers, or the number (from 1) of the batch whose loss
    /// was not finite.
    #[allow(clippy::too_many_arguments)]
    fn pass<M>(
        &mut self,
        model: &mut M,
        train: &Dataset<T, Y>,
        order: &[usize],
        workers: &mut [Worker<T, M>],
        batch_grads: &mut M,
        head: Head,
        seed: u64,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<(f64, usize), usize>
    where
        Y: Task<T>,
        M: Model<T> + Send + Sync,
        M::Trace: Send,
        O: Optimizer<T, M> + Send,
    {
        let (loss, batch_size) = (self.loss, self.batch_size);
        let barrier = SpinBarrier::new(rayon::current_num_threads());
        let next = AtomicUsize::new(0);
        let model = RwLock::new(model);
        let workers: Vec<Mutex<&mut Worker<T, M>>> = workers.iter_mut().map(Mutex::new).collect();
        // The first thread's: the optimizer, the batch's gradients, the
        // sums so far, and the batch whose loss was not finite.
        let lead = Mutex::new((&mut self.optimizer, batch_grads, 0.0, 0, None));
        rayon::broadcast(|ctx| {
            let _guard = barrier.guard();
            for (b, batch) in order.chunks(batch_size).enumerate() {
                let chunks = batch.len().div_ceil(CHUNK);
                {
                    let model = read(&model);
                    loop {
                        let i = next.fetch_add(1, Relaxed);
                        let Some(samples) = batch.chunks(CHUNK).nth(i) else { break };
                        lock(&workers[i]).run(&**model, train, samples, loss, head, seed);
                    }
                }
                barrier.wait();
                if ctx.index() == 0 {
                    let mut lead = lock(&lead);
                    let (optimizer, grads, loss_sum, correct, failed) = &mut *lead;
                    let active: Vec<_> = workers[..chunks].iter().map(lock).collect();
                    let batch_loss: f64 = active.iter().map(|w| w.loss).sum();
                    if batch_loss.is_finite() {
                        *loss_sum += batch_loss;
                        *correct += active.iter().map(|w| w.correct).sum::<usize>();
                        sum_gradients(&mut **grads, &active, batch.len());
                        optimizer.step(&mut **write(&model), &**grads);
                        if let Some(bar) = bar {
                            bar.inc(1);
                        }
                    } else {
                        *failed = Some(b + 1);
                    }
                    next.store(0, Relaxed);
                }
                barrier.wait();
                if lock(&lead).4.is_some() {
                    break;
                }
            }
        });
        let (_, _, loss_sum, correct, failed) = lead.into_inner().unwrap_or_else(PoisonError::into_inner);
        failed.map_or(Ok((loss_sum, correct)), Err)
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
fn sum_gradients<T: Float, M: Model<T>>(into: &mut M, workers: &[MutexGuard<&mut Worker<T, M>>], batch: usize) {
    let scale = T::one() / T::of(batch as f64);
    let grads: Vec<&[T]> = workers.iter().map(|w| w.grads.flat()).collect();
    dispatch2(
        into.flat_mut(),
        &grads[..],
        #[inline(always)]
        move |out, grads| {
            out.copy_from_slice(grads[0]);
            for g in &grads[1..] {
                add(out, g);
            }
            out.iter_mut().for_each(|o| *o *= scale);
        },
    );
}

/// Locks `m`; a lock poisoned by a panicking thread is taken as it is (the
/// panic ends the training anyway).
fn lock<'m, X>(m: &'m Mutex<X>) -> MutexGuard<'m, X> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`lock`] for reading an [`RwLock`].
fn read<X>(m: &RwLock<X>) -> RwLockReadGuard<'_, X> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

/// [`lock`] for writing an [`RwLock`].
fn write<X>(m: &RwLock<X>) -> RwLockWriteGuard<'_, X> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Checks that `loss` fits model `M` and `data` fits both, for evaluation.
fn check_evaluation<T: Float, M: Model<T>, Y: Task<T>>(data: &Dataset<T, Y>, loss: Loss) -> Result<(), TrainError> {
    let activation = M::LAYERS.last().map_or("linear", |l| l.info.activation);
    loss.fused_with(activation).map_err(TrainError::Loss)?;
    check_data::<T, M, Y>(data, Head::of::<T, M>(false))
}

/// Loss, accuracy and confusion matrix of `model` on `data` (inference mode).
pub fn evaluate<T: Float, M: Model<T> + Sync>(
    model: &M,
    data: &Dataset<T>,
    loss: Loss,
) -> Result<(Metrics, ConfusionMatrix), TrainError> {
    check_evaluation::<T, M, Labels>(data, loss)?;
    Ok(evaluate_with(model, data, loss))
}

/// Mean loss and mean absolute error of `model` on regression `data`
/// (inference mode: the outputs are activated, as [`Model::predict`]
/// returns them). The targets must have as many values as the model has
/// outputs.
pub fn evaluate_values<T: Float, M: Model<T> + Sync>(
    model: &M,
    data: &ValueDataset<T>,
    loss: Loss,
) -> Result<ValueMetrics, TrainError> {
    check_evaluation::<T, M, Values<T>>(data, loss)?;
    Ok(evaluate_values_with(model, data, loss))
}

/// How the loss reads inference outputs: as logits only when the network
/// ends linear.
fn inference_head<T: Float, M: Model<T>>() -> Head {
    Head::of::<T, M>(M::LAYERS.last().is_none_or(|l| l.info.activation == "linear"))
}

/// Runs inference on every sample of `data`, in parallel chunks of 256,
/// folding sample `i`'s output into a chunk's accumulator with `add`; the
/// chunks' accumulators are then merged in order into a fresh one, so the
/// result does not depend on the thread count. `data` must fit `M`.
fn fold_outputs<T, M, Y, A>(
    model: &M,
    data: &Dataset<T, Y>,
    new: impl Fn() -> A + Sync,
    add: impl Fn(&mut A, usize, &[T]) + Sync,
    merge: impl Fn(&mut A, A),
) -> A
where
    T: Float,
    M: Model<T> + Sync,
    Y: Targets + Sync,
    A: Send,
{
    let parts: Vec<A> = (0..data.len())
        .collect::<Vec<_>>()
        .par_chunks(256)
        .map(|idx| {
            let mut workspace = Box::<M::Workspace>::default();
            let mut acc = new();
            for &i in idx {
                let x = <M::Input as Tensor<T>>::from_flat(data.image(i)).expect("shape checked");
                add(&mut acc, i, model.predict(x, &mut workspace).as_flat());
            }
            acc
        })
        .collect();
    let mut total = new();
    for part in parts {
        merge(&mut total, part);
    }
    total
}

fn evaluate_with<T: Float, M: Model<T> + Sync>(model: &M, data: &Dataset<T>, loss: Loss) -> (Metrics, ConfusionMatrix) {
    let head = inference_head::<T, M>();
    let (loss_sum, cm, _) = fold_outputs(
        model,
        data,
        || (0.0, ConfusionMatrix::new(head.classes()), std::vec![T::zero(); head.outputs]),
        |(loss_sum, cm, target), i, out| {
            head.target(data.label(i), target);
            *loss_sum += loss.eval_activated(out, target, head.logits).to_f64_lossless();
            cm.add(usize::from(data.label(i)), head.class(out));
        },
        |(loss_sum, cm, _), (part_loss, part_cm, _)| {
            *loss_sum += part_loss;
            cm.counts.iter_mut().zip(&part_cm.counts).for_each(|(a, b)| *a += b);
        },
    );
    (Metrics { loss: loss_sum / data.len() as f64, accuracy: cm.accuracy() }, cm)
}

fn evaluate_values_with<T: Float, M: Model<T> + Sync>(model: &M, data: &ValueDataset<T>, loss: Loss) -> ValueMetrics {
    let head = inference_head::<T, M>();
    let (loss_sum, error_sum) = fold_outputs(
        model,
        data,
        || (0.0, 0.0),
        |(loss_sum, error_sum), i, out| {
            let target = data.target(i);
            *loss_sum += loss.eval_activated(out, target, head.logits).to_f64_lossless();
            let error: f64 =
                out.iter().zip(target).map(|(&y, &t)| (y.to_f64_lossless() - t.to_f64_lossless()).abs()).sum();
            *error_sum += error / target.len() as f64;
        },
        |(loss_sum, error_sum), (part_loss, part_error)| {
            *loss_sum += part_loss;
            *error_sum += part_error;
        },
    );
    let n = data.len() as f64;
    ValueMetrics { loss: loss_sum / n, mean_absolute_error: error_sum / n }
}

/// The class each sample is predicted to be.
pub fn predict_classes<T: Float, M: Model<T> + Sync>(model: &M, data: &Dataset<T>) -> Result<Vec<usize>, TrainError> {
    let head = Head { outputs: <M::Output as Tensor<T>>::LEN, logits: false };
    check_inputs::<T, M, Labels>(data)?;
    Ok(fold_outputs(
        model,
        data,
        Vec::new,
        |classes, _, out| classes.push(head.class(out)),
        |classes, part| classes.extend(part),
    ))
}
