//! Reading TensorFlow Lite files (`.tflite`): the graph, the `sequential!`
//! declaration that matches it, and its weights loaded into a declared model,
//! int8 with TFLite's own quantization (never quantized again) or f32.
//!
//! ```no_run
//! use constnet::tflite;
//! use constnet::zoo::Lenet;
//!
//! let bytes = std::fs::read("lenet.tflite").unwrap();
//! // What to declare:
//! let graph = tflite::Graph::parse(&bytes).unwrap();
//! println!("{}", tflite::declaration(&graph, "Lenet", "LeNet").unwrap());
//! // Once declared: every layer checked against the file's op, then filled.
//! let int8 = tflite::read_int8::<Lenet>(&bytes).unwrap();
//! let blob = constnet::persist::to_vec_int8(&*int8); // to embed in firmware
//! # let _ = blob;
//! ```
//!
//! The file is parsed with the Rust types that planus generates from
//! TFLite's schema (crate `constnet-tflite-schema`). planus checks every
//! offset and length as it reads, so a truncated or corrupted file is an
//! error ([`TfliteError`]), never a panic. So are an op constnet does not read
//! (named, with its index) and a file that does not match the declaration:
//! the error names the op index, the op, the layer, and both shapes or both
//! options.
//!
//! A layer kind plugs in through the layer itself:
//! [`Int8Layer::TFLITE`](crate::layers::int8::Int8Layer::TFLITE) says which
//! ops ([`Op`](crate::layers::tflite::Op)) it stands for, and
//! [`Int8Layer::load_ops`](crate::layers::int8::Int8Layer::load_ops) takes
//! their numbers. Here, a new op needs its arm in the parser (`graph.rs`), in
//! [`declaration`], and, if it has f32 weights, their layout in `load.rs`.

mod declare;
mod error;
mod graph;
mod load;

/// The Rust types of TFLite's schema that the reader parses with (planus
/// readers and, to write or edit a file, owned types and a builder).
pub use constnet_tflite_schema as schema;
pub use declare::declaration;
pub use error::TfliteError;
pub use graph::{DType, Graph, Node, Quantization, TensorInfo};

use crate::model::{Int8, QuantizeModel};
use crate::quant::zeroed_bytes_boxed;
use crate::{Int8Model, Model, Params};
use load::{Reader, Target};
use std::boxed::Box;
use std::vec::Vec;

/// Checks `graph` against the int8 model of `M`, layer by layer, and fills it
/// with the file's int8 weights and TFLite's quantization parameters.
pub fn load_int8<M: QuantizeModel>(graph: &Graph) -> Result<Box<Int8<M>>, TfliteError> {
    let mut q: Box<Int8<M>> = zeroed_bytes_boxed();
    let mut reader = Reader::new(graph, Target::Int8);
    q.load_layers(&mut reader)?;
    reader.finish()?;
    if !q.is_valid() {
        return Err(TfliteError::Unsupported {
            index: None,
            op: "model",
            what: "quantization parameters outside what TFLite's int8 kernels take".into(),
        });
    }
    Ok(q)
}

/// Checks `graph` against `M`, layer by layer, and fills an f32 model with
/// the file's f32 weights (transposed to constnet's layout).
pub fn load_f32<M: QuantizeModel>(graph: &Graph) -> Result<Box<M>, TfliteError> {
    let mut params = Vec::with_capacity(<M as Params<f32>>::LEN);
    let mut shapes: Box<Int8<M>> = zeroed_bytes_boxed();
    let mut reader = Reader::new(graph, Target::F32 { params: &mut params, layers: <M as Model<f32>>::LAYERS });
    shapes.load_layers(&mut reader)?;
    reader.finish()?;
    let mut model: Box<M> = crate::zeroed_boxed();
    if params.len() != <M as Params<f32>>::LEN {
        return Err(TfliteError::Unsupported {
            index: None,
            op: "model",
            what: std::format!("{} weights in the file, {} declared", params.len(), <M as Params<f32>>::LEN),
        });
    }
    model.flat_mut().copy_from_slice(&params);
    Ok(model)
}

/// [`Graph::parse`] then [`load_int8`].
pub fn read_int8<M: QuantizeModel>(bytes: &[u8]) -> Result<Box<Int8<M>>, TfliteError> {
    load_int8::<M>(&Graph::parse(bytes)?)
}

/// [`Graph::parse`] then [`load_f32`].
pub fn read_f32<M: QuantizeModel>(bytes: &[u8]) -> Result<Box<M>, TfliteError> {
    load_f32::<M>(&Graph::parse(bytes)?)
}
