//! Datasets for training: IDX (MNIST, Fashion-MNIST) and CIFAR-10 loaders.
//!
//! Images are kept flat in HWC order (row, column, channel; channel fastest),
//! the same layout the network's input tensors use, so [`Dataset::image`]
//! can be fed to a model as is. Pixels are scaled to `[0, 1]` by default
//! ([`Normalize::Scale01`]); the `*_with` loaders take a [`Normalize`] to
//! choose per-image standardization instead.
//!
//! Loaders never panic on bad file contents, and problems come back as a
//! [`DataError`] naming the file. Files are read as streams, decompressed
//! (gzip, detected by content) only as far as they are read: an IDX
//! header is read and checked (magic number, dimensions, the count against
//! the label file's, the size against [`MAX_FILE_BYTES`]) before any data
//! is read or allocated, then exactly the data it declares is read, and
//! one byte more to check that the file ends there. Anything after the
//! declared data is an error ([`DataError::TrailingData`]), so a small
//! gzip bomb fails after inflating one byte too many, not gigabytes.
//!
//! A 7000-image subset of Fashion-MNIST ships with the crate (see
//! `data/fashion-mnist-subset/README.md`), so this works on any machine:
//!
//! ```
//! use constnet::data::{self, DataError};
//!
//! let fm = data::fashion_mnist_bundled::<f32>()?;
//! assert_eq!((fm.train.len(), fm.test.len()), (6000, 1000));
//! assert_eq!(fm.train.shape(), (28, 28, 1));
//!
//! // Hold out the last 10 % of the training set for validation.
//! let (train, validation) = fm.train.split_validation(0.1);
//! assert_eq!((train.len(), validation.len()), (5400, 600));
//!
//! let x: &[f32] = train.image(0); // 784 pixels in [0, 1], HWC
//! assert!(x.iter().all(|&p| (0.0..=1.0).contains(&p)));
//! let y: [f32; 10] = data::one_hot(train.label(0)).expect("label < 10");
//! assert_eq!(y.iter().sum::<f32>(), 1.0);
//! println!("{} ({})", data::FASHION_MNIST_CLASSES[train.label(0) as usize], fm.source);
//! # Ok::<(), DataError>(())
//! ```
//!
//! [`fashion_mnist`] prefers the full dataset when it is installed (Debian
//! package `dataset-fashion-mnist`) and falls back to the bundled subset.

use core::fmt;
use core::ops::{Bound, RangeBounds};
use std::boxed::Box;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::vec::Vec;

use crate::Float;

/// IDX magic number of an unsigned-byte tensor of rank 3 (a stack of images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of an unsigned-byte tensor of rank 1 (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Bytes per CIFAR-10 record: one label byte, then 3 × 1024 pixel bytes.
pub const CIFAR10_RECORD: usize = 1 + 3 * 32 * 32;

/// Most bytes of data a loader takes from one file, after decompression
/// (1 GiB): an IDX header declaring more is refused before any data is
/// read, and reading a CIFAR-10 file stops there. The largest IDX files
/// published (EMNIST ByClass, 547 MB of pixels) fit.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Where the Debian package `dataset-fashion-mnist` installs the full dataset.
pub const SYSTEM_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The Fashion-MNIST subset bundled with the crate (first 6000 training and
/// first 1000 test images).
pub const BUNDLED_FASHION_MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/fashion-mnist-subset");

/// File names of a Fashion-MNIST (or MNIST) directory: training images,
/// training labels, test images, test labels.
pub const FASHION_MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// Names of the ten Fashion-MNIST classes, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Names of the ten CIFAR-10 classes, indexed by label.
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a dataset could not be loaded or built.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// Reading a file failed, or its gzip stream is corrupt.
    Io(io::Error),
    /// The file does not start with the expected IDX magic number (wrong
    /// file, wrong element type or wrong rank).
    BadMagic {
        /// The magic number wanted.
        expected: u32,
        /// The first four bytes of the file, big-endian.
        found: u32,
    },
    /// The file is shorter than its header says (after gzip decompression).
    Truncated {
        /// Bytes the header (or format) requires.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The file goes on past the end its header declares (after gzip
    /// decompression). Found by reading one byte past that end: the rest
    /// is neither read nor decompressed, so its length is not known.
    TrailingData {
        /// Bytes the header accounts for.
        expected: u64,
    },
    /// A file's data would exceed [`MAX_FILE_BYTES`]: an IDX header
    /// declaring more (refused before any data is read), or a CIFAR-10
    /// file decompressing to more (reading stops there).
    TooLarge {
        /// The data bytes an IDX header declares; `None` for a file read
        /// up to the limit.
        declared: Option<u64>,
        /// The limit, [`MAX_FILE_BYTES`].
        limit: u64,
    },
    /// A CIFAR-10 batch whose length is not a whole number of records.
    PartialRecord {
        /// Length of the file in bytes.
        len: u64,
        /// Bytes per record ([`CIFAR10_RECORD`]).
        record: usize,
    },
    /// The image file and the label file hold different numbers of
    /// examples. Found from the two headers, before the images are read;
    /// wrapped in [`DataError::InFile`] naming the image file.
    CountMismatch {
        /// Number of images the image file's header declares.
        images: usize,
        /// Number of labels in the label file.
        labels: usize,
        /// The label file.
        labels_file: PathBuf,
    },
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// Position of the offending example.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// A pixel buffer's length is not `examples × height × width × channels`.
    SizeMismatch {
        /// Values required by the shape.
        expected: usize,
        /// Values given.
        actual: usize,
    },
    /// Target values that are not a whole number of targets of the width
    /// given ([`Dataset::with_values`]).
    PartialTarget {
        /// Values given.
        values: usize,
        /// Values per target.
        target_len: usize,
    },
    /// A file holds no examples, or a dimension, the class count or the
    /// target width is zero.
    Empty,
    /// Another error, in a named file.
    InFile {
        /// The file being read.
        path: PathBuf,
        /// What went wrong.
        error: Box<DataError>,
    },
}

impl DataError {
    /// The error without any [`DataError::InFile`] wrapper, for matching.
    pub fn inner(&self) -> &DataError {
        match self {
            DataError::InFile { error, .. } => error.inner(),
            other => other,
        }
    }

    /// The file the error happened in, if known.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::InFile { path, .. } => Some(path),
            _ => None,
        }
    }

    fn in_file(self, path: &Path) -> Self {
        match self {
            e @ DataError::InFile { .. } => e,
            e => DataError::InFile { path: path.to_path_buf(), error: Box::new(e) },
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io(e) => write!(f, "I/O error: {e}"),
            DataError::BadMagic { expected, found } => {
                write!(f, "bad IDX magic number {found:#010x}, expected {expected:#010x}")
            }
            DataError::Truncated { expected, actual } => {
                write!(f, "truncated file: {actual} bytes, expected {expected} bytes")
            }
            DataError::TrailingData { expected } => {
                write!(f, "file too long: data goes on past the {expected} bytes the header accounts for")
            }
            DataError::TooLarge { declared: Some(declared), limit } => {
                write!(f, "the header declares {declared} bytes of data, more than the limit of {limit}")
            }
            DataError::TooLarge { declared: None, limit } => {
                write!(f, "more than the limit of {limit} bytes (after decompression)")
            }
            DataError::PartialRecord { len, record } => {
                write!(f, "file length {len} is not a multiple of the {record}-byte record size")
            }
            DataError::CountMismatch { images, labels, labels_file } => {
                write!(f, "{images} images, but {} holds {labels} labels", labels_file.display())
            }
            DataError::LabelOutOfRange { index, label, classes } => {
                write!(f, "label {label} of example {index} is out of range for {classes} classes")
            }
            DataError::SizeMismatch { expected, actual } => {
                write!(f, "pixel buffer holds {actual} values, the shape needs {expected}")
            }
            DataError::PartialTarget { values, target_len } => {
                write!(f, "{values} target values are not a whole number of {target_len}-value targets")
            }
            DataError::Empty => f.write_str("empty dataset or zero-sized shape"),
            DataError::InFile { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io(e) => Some(e),
            DataError::InFile { error, .. } => error.source(),
            _ => None,
        }
    }
}

impl From<io::Error> for DataError {
    fn from(e: io::Error) -> Self {
        DataError::Io(e)
    }
}

// ---------------------------------------------------------------------------
// Normalization and one-hot
// ---------------------------------------------------------------------------

/// How raw `u8` pixels become model inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Normalize {
    /// `x / 255`, into `[0, 1]`. The default.
    #[default]
    Scale01,
    /// Per-image standardization as TensorFlow's `per_image_standardization`:
    /// `(x - mean) / max(std, 1 / sqrt(n))`, with the mean and (population)
    /// standard deviation over all `n` values of the image, all channels
    /// together, on the raw 0–255 scale. The result has mean 0 and
    /// standard deviation 1, except for (nearly) constant images.
    PerImage,
}

impl Normalize {
    /// Normalizes one image's raw pixels, appending the results to `out`.
    pub fn extend<T: Float>(self, pixels: &[u8], out: &mut Vec<T>) {
        match self {
            Normalize::Scale01 => out.extend(pixels.iter().map(|&p| T::of(f64::from(p) / 255.0))),
            Normalize::PerImage => {
                if pixels.is_empty() {
                    return;
                }
                let n = pixels.len() as f64;
                let mean = pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
                let var = pixels
                    .iter()
                    .map(|&p| {
                        let d = f64::from(p) - mean;
                        d * d
                    })
                    .sum::<f64>()
                    / n;
                let scale = var.sqrt().max(1.0 / n.sqrt());
                out.extend(pixels.iter().map(|&p| T::of((f64::from(p) - mean) / scale)));
            }
        }
    }

    /// Normalizes one image's raw pixels into a new vector.
    pub fn apply<T: Float>(self, pixels: &[u8]) -> Vec<T> {
        let mut out = Vec::with_capacity(pixels.len());
        self.extend(pixels, &mut out);
        out
    }
}

/// One-hot encoding of `label` over `N` classes: `1` at `label`, `0`
/// elsewhere; `None` when `label >= N`.
///
/// ```
/// let y: [f32; 4] = constnet::data::one_hot(2).unwrap();
/// assert_eq!(y, [0.0, 0.0, 1.0, 0.0]);
/// assert!(constnet::data::one_hot::<f32, 4>(4).is_none());
/// ```
pub fn one_hot<T: Float, const N: usize>(label: u8) -> Option<[T; N]> {
    let label = usize::from(label);
    if label >= N {
        return None;
    }
    let mut out = [T::zero(); N];
    out[label] = T::one();
    Some(out)
}

// ---------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------

/// Images of one shape, stored flat in HWC order, each paired with a
/// target: a class label (`Y` = [`Labels`], the default: a classification
/// set) or a vector of values ([`ValueDataset`]: a regression set).
///
/// Image `i` is `images[i * h * w * c .. (i + 1) * h * w * c]`, with value
/// `[y][x][ch]` at `(y * w + x) * c + ch`. In a labelled set every label is
/// below [`Dataset::classes`].
#[derive(Clone, PartialEq)]
pub struct Dataset<T: Float, Y = Labels> {
    images: Vec<T>,
    targets: Y,
    height: usize,
    width: usize,
    channels: usize,
}

/// Images paired with vectors of values of one length, for regression
/// ([`Trainer::fit_values`](crate::train::Trainer::fit_values)); built by
/// [`Dataset::with_values`].
///
/// ```
/// use constnet::data::{DataError, ValueDataset};
///
/// // Three 1x2 grayscale "images", each with a 1-value target.
/// let d = ValueDataset::with_values(vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], vec![1.0, 5.0, 9.0], (1, 2, 1), 1)?;
/// assert_eq!((d.len(), d.target_len()), (3, 1));
/// assert_eq!((d.image(1), d.target(1)), (&[2.0, 3.0][..], &[5.0][..]));
/// let (train, validation) = d.split_validation(0.34);
/// assert_eq!((train.targets(), validation.targets()), (&[1.0, 5.0][..], &[9.0][..]));
/// # Ok::<(), DataError>(())
/// ```
pub type ValueDataset<T> = Dataset<T, Values<T>>;

/// A class label per image, each below the class count: the targets of a
/// [`Dataset`] by default.
#[derive(Clone, PartialEq, Eq)]
pub struct Labels {
    labels: Vec<u8>,
    classes: usize,
}

/// A vector of values per image, all of one length: the targets of a
/// [`ValueDataset`].
#[derive(Clone, PartialEq)]
pub struct Values<T> {
    values: Vec<T>,
    len: usize,
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Labels").field("classes", &self.classes).finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Values<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Values").field("len", &self.len).finish_non_exhaustive()
    }
}

/// What a [`Dataset`] pairs its images with: [`Labels`] or [`Values`]
/// (sealed: no other kinds).
pub trait Targets: sealed::Rows + Clone + fmt::Debug {}

impl Targets for Labels {}
impl<T: Float> Targets for Values<T> {}

mod sealed {
    /// One row of targets per example, split, copied and selected as the
    /// images are.
    pub trait Rows: Sized {
        /// Number of examples.
        fn count(&self) -> usize;
        /// Keeps rows `[0, at)`, returns the rest.
        fn split_off(&mut self, at: usize) -> Self;
        /// A copy of rows `[start, end)`, a valid range.
        fn range(&self, start: usize, end: usize) -> Self;
        /// A copy of the rows at `indices`; `None` if one is out of range.
        fn select(&self, indices: &[usize]) -> Option<Self>;
    }
}

/// Rows `[start, end)` of `values`, `len` values a row.
fn rows<E: Copy>(values: &[E], len: usize, start: usize, end: usize) -> Vec<E> {
    values[start * len..end * len].to_vec()
}

/// The rows of `values` at `indices`, in that order, `len` values a row;
/// `None` if an index is out of range.
fn select_rows<E: Copy>(values: &[E], len: usize, indices: &[usize]) -> Option<Vec<E>> {
    let mut out = Vec::with_capacity(indices.len().saturating_mul(len));
    for &i in indices {
        let start = i.checked_mul(len)?;
        out.extend_from_slice(values.get(start..start.checked_add(len)?)?);
    }
    Some(out)
}

impl sealed::Rows for Labels {
    fn count(&self) -> usize {
        self.labels.len()
    }
    fn split_off(&mut self, at: usize) -> Self {
        Labels { labels: self.labels.split_off(at), classes: self.classes }
    }
    fn range(&self, start: usize, end: usize) -> Self {
        Labels { labels: rows(&self.labels, 1, start, end), classes: self.classes }
    }
    fn select(&self, indices: &[usize]) -> Option<Self> {
        Some(Labels { labels: select_rows(&self.labels, 1, indices)?, classes: self.classes })
    }
}

impl<T: Float> sealed::Rows for Values<T> {
    fn count(&self) -> usize {
        self.values.len() / self.len
    }
    fn split_off(&mut self, at: usize) -> Self {
        Values { values: self.values.split_off(at * self.len), len: self.len }
    }
    fn range(&self, start: usize, end: usize) -> Self {
        Values { values: rows(&self.values, self.len, start, end), len: self.len }
    }
    fn select(&self, indices: &[usize]) -> Option<Self> {
        Some(Values { values: select_rows(&self.values, self.len, indices)?, len: self.len })
    }
}

impl<T: Float, Y: Targets> fmt::Debug for Dataset<T, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("len", &self.len())
            .field("height", &self.height)
            .field("width", &self.width)
            .field("channels", &self.channels)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// Checks that no dimension and `per_target` (the class count or the
/// target length) is zero; returns the values per image.
fn check_shape(height: usize, width: usize, channels: usize, per_target: usize) -> Result<usize, DataError> {
    if height == 0 || width == 0 || channels == 0 || per_target == 0 {
        return Err(DataError::Empty);
    }
    height
        .checked_mul(width)
        .and_then(|n| n.checked_mul(channels))
        .ok_or(DataError::SizeMismatch { expected: usize::MAX, actual: 0 })
}

fn check_labels(labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        Some(index) => Err(DataError::LabelOutOfRange { index, label: labels[index], classes }),
        None => Ok(()),
    }
}

/// The shape checks of the constructors: [`check_shape`], and `values ==
/// count * h * w * c`. Returns the values per image.
fn check_images(
    values: usize,
    count: usize,
    (height, width, channels): (usize, usize, usize),
    per_target: usize,
) -> Result<usize, DataError> {
    let per = check_shape(height, width, channels, per_target)?;
    let expected = count.saturating_mul(per);
    if values != expected {
        return Err(DataError::SizeMismatch { expected, actual: values });
    }
    Ok(per)
}

/// The checks of [`Dataset::new`]: shape, `values == labels * h * w * c`,
/// labels in range. Returns the values per image.
fn check_all(values: usize, labels: &[u8], shape: (usize, usize, usize), classes: usize) -> Result<usize, DataError> {
    let per = check_images(values, labels.len(), shape, classes)?;
    check_labels(labels, classes)?;
    Ok(per)
}

fn clamp_range(range: impl RangeBounds<usize>, len: usize) -> (usize, usize) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => len,
    };
    let end = end.min(len);
    (start.min(end), end)
}

/// What every data set does, whatever its targets.
impl<T: Float, Y: Targets> Dataset<T, Y> {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.targets.count()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Image height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Image width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Channels per pixel (1 for grayscale, 3 for RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `(height, width, channels)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.height, self.width, self.channels)
    }

    /// Values per image: `height * width * channels`.
    pub fn image_len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Image `i`, flat in HWC order.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing; see [`Dataset::get`].
    pub fn image(&self, i: usize) -> &[T] {
        assert!(i < self.len(), "image index {i} out of range for {} examples", self.len());
        let per = self.image_len();
        &self.images[i * per..(i + 1) * per]
    }

    /// All images back to back, HWC each.
    pub fn images(&self) -> &[T] {
        &self.images
    }

    /// Splits into examples `[0, at)` and `[at, len)`. `at` is clamped to
    /// `len()`, so either part may be empty.
    pub fn split(mut self, at: usize) -> (Self, Self) {
        let at = at.min(self.len());
        let rest_images = self.images.split_off(at * self.image_len());
        let rest_targets = self.targets.split_off(at);
        let rest = self.with(rest_images, rest_targets);
        (self, rest)
    }

    /// Splits off the last `round(len * fraction)` examples as a validation
    /// set: returns `(train, validation)`. `fraction` is clamped to
    /// `[0, 1]` (NaN counts as 0). The split keeps file order, so shuffle
    /// first if the data is sorted by class.
    pub fn split_validation(self, fraction: f64) -> (Self, Self) {
        let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        let n_val = ((self.len() as f64) * fraction).round() as usize;
        let at = self.len() - n_val.min(self.len());
        self.split(at)
    }

    /// A copy of the examples in `range`, clamped to `0..len()`.
    pub fn subset(&self, range: impl RangeBounds<usize>) -> Self {
        let (start, end) = clamp_range(range, self.len());
        self.with(rows(&self.images, self.image_len(), start, end), self.targets.range(start, end))
    }

    /// A copy of the examples at `indices`, in that order (for shuffling or
    /// sampling); `None` if an index is out of range.
    pub fn select(&self, indices: &[usize]) -> Option<Self> {
        let images = select_rows(&self.images, self.image_len(), indices)?;
        Some(self.with(images, self.targets.select(indices)?))
    }

    /// A data set of this one's shape.
    fn with(&self, images: Vec<T>, targets: Y) -> Self {
        Dataset { images, targets, height: self.height, width: self.width, channels: self.channels }
    }
}

/// Classification: images with class labels.
impl<T: Float> Dataset<T> {
    /// Builds a dataset from already-normalized values in HWC order.
    ///
    /// Errors: [`DataError::Empty`] if a dimension or `classes` is zero,
    /// [`DataError::SizeMismatch`] unless `images.len() == labels.len() *
    /// height * width * channels`, [`DataError::LabelOutOfRange`] for a label
    /// `>= classes`. Zero examples are allowed.
    pub fn new(
        images: Vec<T>,
        labels: Vec<u8>,
        (height, width, channels): (usize, usize, usize),
        classes: usize,
    ) -> Result<Self, DataError> {
        check_all(images.len(), &labels, (height, width, channels), classes)?;
        Ok(Dataset { images, targets: Labels { labels, classes }, height, width, channels })
    }

    /// Builds a dataset from raw `u8` pixels in HWC order, normalizing each
    /// image with `normalize`. Same checks as [`Dataset::new`].
    pub fn from_u8(
        pixels: &[u8],
        labels: Vec<u8>,
        (height, width, channels): (usize, usize, usize),
        classes: usize,
        normalize: Normalize,
    ) -> Result<Self, DataError> {
        let per = check_all(pixels.len(), &labels, (height, width, channels), classes)?;
        let mut images = Vec::with_capacity(pixels.len());
        for image in pixels.chunks_exact(per) {
            normalize.extend(image, &mut images);
        }
        Ok(Dataset { images, targets: Labels { labels, classes }, height, width, channels })
    }

    /// Number of classes; every label is below it.
    pub fn classes(&self) -> usize {
        self.targets.classes
    }

    /// Label of example `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing; see [`Dataset::get`].
    pub fn label(&self, i: usize) -> u8 {
        self.targets.labels[i]
    }

    /// Example `i` as `(image, label)`, or `None` if out of range.
    pub fn get(&self, i: usize) -> Option<(&[T], u8)> {
        let label = *self.targets.labels.get(i)?;
        Some((self.image(i), label))
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.targets.labels
    }

    /// Iterates over `(image, label)` pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[T], u8)> + '_ {
        self.images.chunks_exact(self.image_len()).zip(self.labels().iter().copied())
    }

    /// How many examples each class has, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = std::vec![0; self.classes()];
        for &l in self.labels() {
            counts[usize::from(l)] += 1;
        }
        counts
    }
}

/// Regression: images with vectors of values ([`ValueDataset`]).
impl<T: Float> Dataset<T, Values<T>> {
    /// Builds a regression data set from already-normalized images in HWC
    /// order and `target_len` target values per image, targets back to
    /// back in the images' order.
    ///
    /// Errors: [`DataError::Empty`] if a dimension or `target_len` is zero,
    /// [`DataError::PartialTarget`] unless `targets.len()` is a multiple of
    /// `target_len`, [`DataError::SizeMismatch`] unless `images.len() ==
    /// targets.len() / target_len * height * width * channels`. Zero
    /// examples are allowed.
    pub fn with_values(
        images: Vec<T>,
        targets: Vec<T>,
        (height, width, channels): (usize, usize, usize),
        target_len: usize,
    ) -> Result<Self, DataError> {
        check_shape(height, width, channels, target_len)?;
        if !targets.len().is_multiple_of(target_len) {
            return Err(DataError::PartialTarget { values: targets.len(), target_len });
        }
        check_images(images.len(), targets.len() / target_len, (height, width, channels), target_len)?;
        Ok(Dataset { images, targets: Values { values: targets, len: target_len }, height, width, channels })
    }

    /// Values per target.
    pub fn target_len(&self) -> usize {
        self.targets.len
    }

    /// The target of example `i`: [`ValueDataset::target_len`] values.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing.
    pub fn target(&self, i: usize) -> &[T] {
        assert!(i < self.len(), "target index {i} out of range for {} examples", self.len());
        let per = self.target_len();
        &self.targets.values[i * per..(i + 1) * per]
    }

    /// All targets back to back.
    pub fn targets(&self) -> &[T] {
        &self.targets.values
    }
}

// ---------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------

/// Raw images from an IDX file: `count` images of `rows × cols` bytes,
/// row-major, back to back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows (height) per image.
    pub rows: usize,
    /// Columns (width) per image.
    pub cols: usize,
    /// `count * rows * cols` pixel bytes.
    pub pixels: Vec<u8>,
}

/// Opens `path` for [`decoded`], the error naming the file.
fn open(path: &Path) -> Result<fs::File, DataError> {
    fs::File::open(path).map_err(|e| DataError::Io(e).in_file(path))
}

/// `reader`'s bytes, decompressed as they are read if they start with the
/// gzip magic bytes `1f 8b` (whatever the file is called; several gzip
/// members back to back are one stream). Nothing is inflated ahead of what
/// the caller reads.
fn decoded<'a>(mut reader: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut head = Vec::with_capacity(2);
    (&mut reader).take(2).read_to_end(&mut head)?;
    let gzip = head == [0x1f, 0x8b];
    let stream = io::Cursor::new(head).chain(reader);
    Ok(if gzip { Box::new(flate2::read::MultiGzDecoder::new(stream)) } else { Box::new(stream) })
}

/// Reads a whole file, decompressing it if it starts with the gzip magic
/// bytes `1f 8b` (whatever its name), but never more than `limit` bytes
/// after decompression.
///
/// Errors: [`DataError::Io`], [`DataError::TooLarge`] (with `declared:
/// None`) once the data passes `limit`, both wrapped in
/// [`DataError::InFile`] naming `path`.
pub fn read_maybe_gz(path: &Path, limit: u64) -> Result<Vec<u8>, DataError> {
    let read = || {
        let mut out = Vec::new();
        decoded(open(path)?)?.take(limit.saturating_add(1)).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(DataError::TooLarge { declared: None, limit });
        }
        Ok(out)
    };
    read().map_err(|e| e.in_file(path))
}

/// An IDX stream whose header has been read and checked, its data not yet.
struct Idx<R> {
    stream: R,
    dims: Vec<usize>,
    /// Header bytes: magic number and dimensions.
    header: u64,
    /// Data bytes the header declares: the product of the dimensions.
    payload: u64,
}

impl<R: Read> Idx<R> {
    /// Reads and checks the header of an IDX stream of magic `magic`
    /// (which gives the rank): the magic number, no dimension zero, the
    /// data within [`MAX_FILE_BYTES`]. Reads nothing past the header.
    fn open(mut stream: R, magic: u32) -> Result<Self, DataError> {
        let rank = (magic & 0xff) as u64;
        let header = 4 + 4 * rank;
        let mut head = Vec::with_capacity(header as usize);
        (&mut stream).take(4).read_to_end(&mut head)?;
        let Ok(found) = <[u8; 4]>::try_from(&head[..]) else {
            return Err(DataError::Truncated { expected: 4, actual: head.len() as u64 });
        };
        let found = u32::from_be_bytes(found);
        if found != magic {
            return Err(DataError::BadMagic { expected: magic, found });
        }
        (&mut stream).take(4 * rank).read_to_end(&mut head)?;
        if (head.len() as u64) < header {
            return Err(DataError::Truncated { expected: header, actual: head.len() as u64 });
        }
        let dims: Vec<u32> = head[4..].chunks_exact(4).map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]])).collect();
        if dims.contains(&0) {
            return Err(DataError::Empty);
        }
        // At most three u32 factors: fits in u128.
        let declared = dims.iter().map(|&d| u128::from(d)).product::<u128>();
        let declared = u64::try_from(declared).unwrap_or(u64::MAX);
        if declared > MAX_FILE_BYTES {
            return Err(DataError::TooLarge { declared: Some(declared), limit: MAX_FILE_BYTES });
        }
        // Each dimension is at most the payload, at most MAX_FILE_BYTES.
        let dims = dims.into_iter().map(|d| d as usize).collect();
        Ok(Idx { stream, dims, header, payload: declared })
    }

    /// Reads exactly the data the header declares, then checks that the
    /// stream ends there by reading at most one byte more.
    fn read_payload(mut self) -> Result<Vec<u8>, DataError> {
        let expected = self.header + self.payload;
        let mut body = Vec::new();
        (&mut self.stream).take(self.payload).read_to_end(&mut body)?;
        if (body.len() as u64) < self.payload {
            return Err(DataError::Truncated { expected, actual: self.header + body.len() as u64 });
        }
        // Also makes the gzip decoder read and check the member's trailer.
        if (&mut self.stream).take(1).read_to_end(&mut Vec::new())? != 0 {
            return Err(DataError::TrailingData { expected });
        }
        Ok(body)
    }
}

/// Opens an IDX image file and checks its header.
fn open_idx_images(path: &Path) -> Result<Idx<Box<dyn Read>>, DataError> {
    let header = || Idx::open(decoded(open(path)?)?, IDX_IMAGES_MAGIC);
    header().map_err(|e| e.in_file(path))
}

fn idx_images<R: Read>(idx: Idx<R>) -> Result<IdxImages, DataError> {
    let (count, rows, cols) = (idx.dims[0], idx.dims[1], idx.dims[2]);
    Ok(IdxImages { count, rows, cols, pixels: idx.read_payload()? })
}

/// Reads an IDX image file (magic `0x00000803`, `u8`, rank 3) from a
/// stream, gzip-compressed or raw (detected by content).
///
/// The header is read and checked first (magic number, no zero dimension,
/// at most [`MAX_FILE_BYTES`] of pixels); then exactly the pixels it
/// declares are read, and one byte more to check that the stream ends
/// there. So nothing is allocated before the header is checked, memory
/// grows only with pixels actually present, and a stream that goes on (a
/// gzip bomb) fails after decompressing one byte past the declared data.
///
/// Errors: [`DataError::Io`] (also for a corrupt gzip stream),
/// [`DataError::BadMagic`], [`DataError::Truncated`],
/// [`DataError::TrailingData`] (whatever follows the declared data, even
/// one byte), [`DataError::TooLarge`], [`DataError::Empty`] (no images or
/// a zero dimension).
pub fn read_idx_images_from(reader: impl Read) -> Result<IdxImages, DataError> {
    idx_images(Idx::open(decoded(reader)?, IDX_IMAGES_MAGIC)?)
}

/// Reads an IDX label file (magic `0x00000801`, `u8`, rank 1) from a
/// stream, gzip-compressed or raw, as [`read_idx_images_from`] does.
pub fn read_idx_labels_from(reader: impl Read) -> Result<Vec<u8>, DataError> {
    Idx::open(decoded(reader)?, IDX_LABELS_MAGIC)?.read_payload()
}

/// Parses an IDX image file held in memory, gzip-compressed or raw:
/// [`read_idx_images_from`] on `bytes`.
pub fn parse_idx_images(bytes: &[u8]) -> Result<IdxImages, DataError> {
    read_idx_images_from(bytes)
}

/// Parses an IDX label file held in memory, gzip-compressed or raw:
/// [`read_idx_labels_from`] on `bytes`.
pub fn parse_idx_labels(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    read_idx_labels_from(bytes)
}

/// Reads an IDX image file (gzip-compressed or raw, detected by content),
/// header first, as [`read_idx_images_from`] does.
///
/// Errors: those of [`read_idx_images_from`], each wrapped in
/// [`DataError::InFile`] naming `path`.
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages, DataError> {
    let path = path.as_ref();
    open_idx_images(path).and_then(idx_images).map_err(|e| e.in_file(path))
}

/// Reads an IDX label file (gzip-compressed or raw, detected by content).
/// Errors as [`read_idx_images`].
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    let read = || read_idx_labels_from(open(path)?);
    read().map_err(|e| e.in_file(path))
}

/// Loads an IDX image file and its label file as a 10-class grayscale
/// dataset with pixels scaled to `[0, 1]`.
///
/// The labels are read first; the image file's header is then checked
/// against their count before any pixel is read.
///
/// Errors: those of [`read_idx_images`], [`DataError::CountMismatch`]
/// (in the image file) if the counts differ,
/// [`DataError::LabelOutOfRange`] (in the label file) for a label `>= 10`.
pub fn load_idx<T: Float>(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset<T>, DataError> {
    load_idx_with(images, labels, Normalize::Scale01)
}

/// [`load_idx`] with a choice of normalization.
pub fn load_idx_with<T: Float>(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    normalize: Normalize,
) -> Result<Dataset<T>, DataError> {
    let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
    let labels = read_idx_labels(labels_path)?;
    check_labels(&labels, 10).map_err(|e| e.in_file(labels_path))?;
    let idx = open_idx_images(images_path)?;
    if idx.dims[0] != labels.len() {
        let mismatch =
            DataError::CountMismatch { images: idx.dims[0], labels: labels.len(), labels_file: labels_path.into() };
        return Err(mismatch.in_file(images_path));
    }
    let raw = idx_images(idx).map_err(|e| e.in_file(images_path))?;
    Dataset::from_u8(&raw.pixels, labels, (raw.rows, raw.cols, 1), 10, normalize).map_err(|e| e.in_file(images_path))
}

// ---------------------------------------------------------------------------
// CIFAR-10
// ---------------------------------------------------------------------------

/// Parses CIFAR-10 binary records held in memory, appending HWC pixels and
/// labels; a bad label's `index` counts from the start of `bytes`. No
/// records at all is [`DataError::Empty`].
fn parse_cifar10_into(bytes: &[u8], pixels: &mut Vec<u8>, labels: &mut Vec<u8>) -> Result<(), DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty);
    }
    if !bytes.len().is_multiple_of(CIFAR10_RECORD) {
        return Err(DataError::PartialRecord { len: bytes.len() as u64, record: CIFAR10_RECORD });
    }
    let n = bytes.len() / CIFAR10_RECORD;
    pixels.reserve(n * (CIFAR10_RECORD - 1));
    labels.reserve(n);
    for (r, record) in bytes.chunks_exact(CIFAR10_RECORD).enumerate() {
        let label = record[0];
        if label > 9 {
            return Err(DataError::LabelOutOfRange { index: r, label, classes: 10 });
        }
        labels.push(label);
        let (red, rest) = record[1..].split_at(1024);
        let (green, blue) = rest.split_at(1024);
        for i in 0..1024 {
            pixels.extend_from_slice(&[red[i], green[i], blue[i]]);
        }
    }
    Ok(())
}

/// Parses CIFAR-10 binary records held in memory (the format of
/// `data_batch_N.bin` / `test_batch.bin`) into a 32×32×3 dataset.
pub fn parse_cifar10<T: Float>(bytes: &[u8], normalize: Normalize) -> Result<Dataset<T>, DataError> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    parse_cifar10_into(bytes, &mut pixels, &mut labels)?;
    Dataset::from_u8(&pixels, labels, (32, 32, 3), 10, normalize)
}

/// Loads CIFAR-10 binary batches, concatenated in the given order, as a
/// 32×32×3 HWC dataset with pixels scaled to `[0, 1]`.
///
/// Each record is one label byte then 1024 red, 1024 green and 1024 blue
/// bytes, each plane row-major; red `(y, x)` lands at HWC index
/// `(y * 32 + x) * 3`. Files may be gzip-compressed.
///
/// Errors, each wrapped in [`DataError::InFile`] naming the file:
/// [`DataError::Io`], [`DataError::TooLarge`] for a file of more than
/// [`MAX_FILE_BYTES`], [`DataError::Empty`] for an empty file,
/// [`DataError::PartialRecord`] when a file's length is not a multiple of
/// [`CIFAR10_RECORD`], [`DataError::LabelOutOfRange`] for a label above 9
/// (its `index` counts from the start of that file). And
/// [`DataError::Empty`], about no file, when `paths` is empty.
pub fn load_cifar10<T: Float, P: AsRef<Path>>(paths: &[P]) -> Result<Dataset<T>, DataError> {
    load_cifar10_with(paths, Normalize::Scale01)
}

/// [`load_cifar10`] with a choice of normalization.
pub fn load_cifar10_with<T: Float, P: AsRef<Path>>(paths: &[P], normalize: Normalize) -> Result<Dataset<T>, DataError> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for path in paths {
        let path = path.as_ref();
        let bytes = read_maybe_gz(path, MAX_FILE_BYTES)?;
        let mut file_labels = Vec::new();
        parse_cifar10_into(&bytes, &mut pixels, &mut file_labels).map_err(|e| e.in_file(path))?;
        labels.append(&mut file_labels);
    }
    if paths.is_empty() {
        return Err(DataError::Empty);
    }
    Dataset::from_u8(&pixels, labels, (32, 32, 3), 10, normalize)
}

// ---------------------------------------------------------------------------
// Fashion-MNIST
// ---------------------------------------------------------------------------

/// Where a train/test pair was loaded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A directory the caller named.
    Dir(PathBuf),
    /// The full dataset installed system-wide ([`SYSTEM_FASHION_MNIST_DIR`]).
    System(PathBuf),
    /// The subset bundled with the crate ([`BUNDLED_FASHION_MNIST_DIR`]).
    Bundled(PathBuf),
}

impl Source {
    /// The directory the files were read from.
    pub fn path(&self) -> &Path {
        match self {
            Source::Dir(p) | Source::System(p) | Source::Bundled(p) => p,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Source::Dir(_) => "dataset",
            Source::System(_) => "system dataset",
            Source::Bundled(_) => "bundled subset",
        };
        write!(f, "{what} at {}", self.path().display())
    }
}

/// A training set, a test set, and where they came from.
#[derive(Clone, Debug)]
pub struct TrainTest<T: Float> {
    /// The training examples.
    pub train: Dataset<T>,
    /// The test examples.
    pub test: Dataset<T>,
    /// Where they were read from.
    pub source: Source,
}

/// Loads Fashion-MNIST (train, test) with pixels in `[0, 1]`.
///
/// Looks in `dir` if given (an error there is returned, never papered
/// over); otherwise in [`SYSTEM_FASHION_MNIST_DIR`] if all four files
/// ([`FASHION_MNIST_FILES`]) exist there; otherwise in the bundled subset.
/// [`TrainTest::source`] tells which. Works for MNIST too, given its
/// directory.
pub fn fashion_mnist<T: Float>(dir: Option<&Path>) -> Result<TrainTest<T>, DataError> {
    fashion_mnist_with(dir, Normalize::Scale01)
}

/// [`fashion_mnist`] with a choice of normalization.
pub fn fashion_mnist_with<T: Float>(dir: Option<&Path>, normalize: Normalize) -> Result<TrainTest<T>, DataError> {
    let source = match dir {
        Some(dir) => Source::Dir(dir.to_path_buf()),
        None => {
            let system = Path::new(SYSTEM_FASHION_MNIST_DIR);
            if FASHION_MNIST_FILES.iter().all(|f| system.join(f).is_file()) {
                Source::System(system.to_path_buf())
            } else {
                Source::Bundled(PathBuf::from(BUNDLED_FASHION_MNIST_DIR))
            }
        }
    };
    load_idx_dir(source, normalize)
}

/// Loads the Fashion-MNIST subset bundled with the crate (6000 training,
/// 1000 test images), pixels in `[0, 1]`: the same data on every machine.
pub fn fashion_mnist_bundled<T: Float>() -> Result<TrainTest<T>, DataError> {
    fashion_mnist_bundled_with(Normalize::Scale01)
}

/// [`fashion_mnist_bundled`] with a choice of normalization.
pub fn fashion_mnist_bundled_with<T: Float>(normalize: Normalize) -> Result<TrainTest<T>, DataError> {
    load_idx_dir(Source::Bundled(PathBuf::from(BUNDLED_FASHION_MNIST_DIR)), normalize)
}

fn load_idx_dir<T: Float>(source: Source, normalize: Normalize) -> Result<TrainTest<T>, DataError> {
    let dir = source.path();
    let [train_x, train_y, test_x, test_y] = FASHION_MNIST_FILES.map(|f| dir.join(f));
    let train = load_idx_with(train_x, train_y, normalize)?;
    let test = load_idx_with(test_x, test_y, normalize)?;
    Ok(TrainTest { train, test, source })
}
