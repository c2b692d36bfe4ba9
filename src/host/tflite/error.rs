//! Why a `.tflite` file could not be read, or does not match a declared model.

use crate::layers::int8::QuantizeError;
use std::string::String;

/// Why a `.tflite` file could not be read, imported or loaded into a model.
/// Each names where: the op's index in the graph and its TFLite name, the
/// tensor, or the declared layer.
#[derive(Clone, Debug, PartialEq)]
pub enum TfliteError {
    /// Not a TFLite flatbuffer, or one whose offsets, lengths or indices are
    /// wrong (the flatbuffer checks, or a tensor or buffer index out of range).
    Malformed {
        /// What is wrong.
        what: String,
    },
    /// An op that constnet does not read.
    UnsupportedOp {
        /// Its index in the graph.
        index: usize,
        /// Its TFLite name (or code, for a custom op).
        name: String,
    },
    /// A tensor type constnet does not read where it is used.
    UnsupportedType {
        /// The op that uses it.
        index: usize,
        /// The tensor's name.
        tensor: String,
        /// Its TFLite type.
        found: String,
        /// What the op needs there.
        expected: &'static str,
    },
    /// An option, quantization or structure constnet does not read: dilation,
    /// a batch other than 1, several subgraphs, per-channel activations, ...
    Unsupported {
        /// The op it belongs to (`None` for the whole file).
        index: Option<usize>,
        /// The op's TFLite name, or `"model"`.
        op: &'static str,
        /// What it is.
        what: String,
    },
    /// A declared layer's op differs from the file's.
    Mismatch {
        /// The op's index in the graph.
        index: usize,
        /// The file's op.
        op: &'static str,
        /// The declared layer.
        layer: &'static str,
        /// What differs: `"op"`, `"options"`, `"input shape"`, `"output shape"`.
        what: &'static str,
        /// In the file.
        file: String,
        /// In the declaration.
        declared: String,
    },
    /// The declaration has more ops than the file.
    MissingOp {
        /// The declared layer that has no op left.
        layer: &'static str,
        /// The op it stands for.
        declared: &'static str,
    },
    /// The file has ops after the declaration's last layer.
    ExtraOp {
        /// Index of the first op left over.
        index: usize,
        /// Its TFLite name.
        op: &'static str,
    },
    /// A declared layer has no TFLite form (sigmoid, min pooling, edge padding, ...).
    NoTfliteForm {
        /// The layer.
        layer: &'static str,
    },
    /// The layer refused the file's numbers (wrong count, unusable scales).
    Numbers {
        /// The op's index in the graph.
        index: usize,
        /// The layer.
        layer: &'static str,
        /// Why.
        error: QuantizeError,
    },
}

impl core::fmt::Display for TfliteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed { what } => write!(f, "not a valid TFLite file: {what}"),
            Self::UnsupportedOp { index, name } => write!(f, "op {index}: {name} is not supported by constnet"),
            Self::UnsupportedType { index, tensor, found, expected } => {
                write!(f, "op {index}: tensor `{tensor}` is {found}, constnet reads {expected} there")
            }
            Self::Unsupported { index: Some(i), op, what } => write!(f, "op {i} {op}: not supported: {what}"),
            Self::Unsupported { index: None, op, what } => write!(f, "{op}: not supported: {what}"),
            Self::Mismatch { index, op, layer, what, file, declared } => {
                write!(f, "op {index} {op} (layer `{layer}`): {what} differs: the file has {file}, the declaration {declared}")
            }
            Self::MissingOp { layer, declared } => {
                write!(f, "layer `{layer}` stands for {declared}, but the file has no ops left")
            }
            Self::ExtraOp { index, op } => {
                write!(f, "op {index} {op} and after: the declaration has no layer left for them")
            }
            Self::NoTfliteForm { layer } => write!(f, "layer `{layer}` has no TFLite form"),
            Self::Numbers { index, layer, error } => write!(f, "op {index} (layer `{layer}`): {error}"),
        }
    }
}

impl std::error::Error for TfliteError {}

impl From<constnet_tflite_schema::planus::Error> for TfliteError {
    fn from(e: constnet_tflite_schema::planus::Error) -> Self {
        Self::Malformed { what: std::format!("{e}") }
    }
}
