//! Post-training quantization (feature `std`): from a trained float model
//! and calibration images to its int8 model, in TFLite's scheme.
//!
//! Calibration runs the float model on each image ([`Model::forward_trace`](crate::Model::forward_trace))
//! and keeps, per layer, the smallest and largest output value (per-tensor
//! min/max, as TFLite's converter does by default); the network's last
//! layer is seen before its activation when that is softmax, whose int8
//! output is fixed (scale 1/256, zero point -128). Weights are quantized
//! symmetrically per output channel (dense layers per tensor on request),
//! biases at `input_scale * weight_scale`, then each layer's requantization
//! is computed as TFLite computes it.
//!
//! ```
//! use constnet::{quantize, zoo::Lenet, Int8Model, Model, Workspace};
//! let model = Lenet::<f32>::new(42);
//! let images: Vec<f32> = (0..4 * 784).map(|i| (i % 255) as f32 / 255.0).collect();
//! let int8 = quantize::quantize(&model, images.chunks(784), &Default::default()).unwrap();
//! let mut x = [[[0i8; 1]; 28]; 28];
//! int8.quantize_input(&images[..784], &mut x);
//! let mut workspace = Workspace::new();
//! let out: &[i8; 10] = int8.predict(&x, &mut workspace);
//! assert_eq!(out.len(), 10);
//! ```

use crate::layers::int8::{QuantizeError, QuantizeOptions, Range};
use crate::model::QuantizeModel;
use crate::Tensor;
use std::boxed::Box;
use std::vec;

/// Why post-training quantization failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalibrationError {
    /// No calibration image was given.
    NoImages,
    /// A calibration image does not have the model's input length.
    WrongLength {
        /// Index of the image.
        index: usize,
        /// Its length.
        len: usize,
        /// The model's input length.
        expected: usize,
    },
    /// A layer could not be quantized.
    Layer(QuantizeError),
}

impl core::fmt::Display for CalibrationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoImages => f.write_str("no calibration images"),
            Self::WrongLength { index, len, expected } => {
                write!(f, "calibration image {index} has {len} values, the model reads {expected}")
            }
            Self::Layer(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CalibrationError {}

impl From<QuantizeError> for CalibrationError {
    fn from(e: QuantizeError) -> Self {
        Self::Layer(e)
    }
}

/// The int8 model of `model`, calibrated on `images` (each flat, in the
/// input's HWC order, scaled as for the float model). The model is built
/// on the heap.
pub fn quantize<'a, M: QuantizeModel>(
    model: &M,
    images: impl IntoIterator<Item = &'a [f32]>,
    options: &QuantizeOptions,
) -> Result<Box<M::Int8>, CalibrationError> {
    let logits = M::LAYERS.last().is_some_and(|l| l.info.activation == "softmax");
    let mut ranges = vec![Range::EMPTY; M::RANGES];
    let mut input = Range::EMPTY;
    let mut trace = M::new_trace();
    let mut seen = 0;
    for (index, image) in images.into_iter().enumerate() {
        let x = <M::Input as Tensor<f32>>::from_flat(image)
            .filter(|_| image.len() == M::Input::LEN)
            .ok_or(CalibrationError::WrongLength { index, len: image.len(), expected: M::Input::LEN })?;
        input.observe(image);
        model.forward_trace(x, &mut trace, logits);
        M::observe(&trace, &mut ranges);
        seen += 1;
    }
    if seen == 0 {
        return Err(CalibrationError::NoImages);
    }
    let mut q: Box<M::Int8> = crate::quant::zeroed_bytes_boxed();
    model.quantize_layers(input.params(), &ranges, options, &mut q)?;
    Ok(q)
}
