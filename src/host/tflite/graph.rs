//! A `.tflite` file parsed into a small graph description: its ops (kind and
//! options), tensors (shape, type, quantization) and constant data.

use super::TfliteError;
use crate::layers::tflite::{Fused, Op, Padding};
use constnet_tflite_schema as fb;
use fb::planus::ReadAsRoot;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// `FLOAT32`.
    F32,
    /// `INT8`.
    I8,
    /// `INT32`.
    I32,
    /// Another of TFLite's types (its name), which constnet does not read.
    Other(&'static str),
}

impl DType {
    fn of(t: fb::TensorType) -> Self {
        match t {
            fb::TensorType::Float32 => Self::F32,
            fb::TensorType::Int8 => Self::I8,
            fb::TensorType::Int32 => Self::I32,
            fb::TensorType::Uint8 => Self::Other("UINT8"),
            fb::TensorType::Int16 => Self::Other("INT16"),
            fb::TensorType::Float16 => Self::Other("FLOAT16"),
            fb::TensorType::Int64 => Self::Other("INT64"),
            _ => Self::Other("a type other than FLOAT32, INT8 and INT32"),
        }
    }

    /// TFLite's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "FLOAT32",
            Self::I8 => "INT8",
            Self::I32 => "INT32",
            Self::Other(name) => name,
        }
    }
}

/// A tensor's quantization: `real = scale * (q - zero_point)`, one pair for
/// the whole tensor or one per index of dimension `axis`.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantization {
    /// Scales.
    pub scales: Vec<f32>,
    /// Zero points, as many as scales.
    pub zero_points: Vec<i64>,
    /// The dimension per-axis parameters run along.
    pub axis: usize,
}

/// A tensor of the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Its name in the file.
    pub name: String,
    /// Its shape, as the file states it (with the batch dimension).
    pub shape: Vec<usize>,
    /// Its element type.
    pub dtype: DType,
    /// Its quantization, if any.
    pub quantization: Option<Quantization>,
    /// Its constant data (weights, biases), little-endian, if any.
    pub data: Option<Vec<u8>>,
}

impl TensorInfo {
    /// The shape without the batch dimension (`[1, 28, 28, 1]` -> `[28, 28, 1]`).
    pub fn activation_shape(&self) -> &[usize] {
        match self.shape.split_first() {
            Some((1, rest)) if !rest.is_empty() => rest,
            _ => &self.shape,
        }
    }
}

/// One op of the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Its index in the graph's op list.
    pub index: usize,
    /// What it computes, with its options.
    pub op: Op,
    /// Its input tensors (`None`: an optional input left out, as a bias).
    pub inputs: Vec<Option<usize>>,
    /// Its output tensors.
    pub outputs: Vec<usize>,
    /// SOFTMAX's beta (1 for other ops).
    pub beta: f32,
}

impl Node {
    /// Input `i`, if present.
    pub fn input(&self, i: usize) -> Option<usize> {
        self.inputs.get(i).copied().flatten()
    }
}

/// The single subgraph of a `.tflite` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Every tensor, by index.
    pub tensors: Vec<TensorInfo>,
    /// The ops in execution order.
    pub nodes: Vec<Node>,
    /// The graph's input tensors.
    pub inputs: Vec<usize>,
    /// The graph's output tensors.
    pub outputs: Vec<usize>,
}

fn malformed(what: impl Into<String>) -> TfliteError {
    TfliteError::Malformed { what: what.into() }
}

fn unsupported(index: usize, op: &'static str, what: impl Into<String>) -> TfliteError {
    TfliteError::Unsupported { index: Some(index), op, what: what.into() }
}

/// Tensor indices from a list of the file's (`-1`: left out).
fn indices(list: Option<fb::planus::Vector<'_, i32>>, tensors: usize) -> Result<Vec<Option<usize>>, TfliteError> {
    let Some(list) = list else { return Ok(vec![]) };
    list.iter()
        .map(|i| match i {
            -1 => Ok(None),
            i if i >= 0 && (i as usize) < tensors => Ok(Some(i as usize)),
            i => Err(malformed(format!("tensor index {i} out of range (the graph has {tensors})"))),
        })
        .collect()
}

fn fused(a: fb::ActivationFunctionType) -> Fused {
    match a {
        fb::ActivationFunctionType::None => Fused::None,
        fb::ActivationFunctionType::Relu => Fused::Relu,
        fb::ActivationFunctionType::Relu6 => Fused::Relu6,
        fb::ActivationFunctionType::ReluN1To1 => Fused::ReluN1To1,
        _ => Fused::Other,
    }
}

fn padding(p: fb::Padding) -> Padding {
    match p {
        fb::Padding::Same => Padding::Same,
        fb::Padding::Valid => Padding::Valid,
    }
}

/// A stride, window or multiplier: at least 1.
fn positive(index: usize, op: &'static str, what: &str, v: i32) -> Result<usize, TfliteError> {
    usize::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| unsupported(index, op, format!("{what} {v}")))
}

/// `[h, w]` options that must be at least 1 (strides, windows).
fn positive_pair(index: usize, op: &'static str, what: &str, [h, w]: [i32; 2]) -> Result<[usize; 2], TfliteError> {
    Ok([positive(index, op, what, h)?, positive(index, op, what, w)?])
}

/// A convolution's strides; a dilation other than 1 is not supported.
fn conv_strides(
    index: usize,
    op: &'static str,
    dilation: [i32; 2],
    stride: [i32; 2],
) -> Result<[usize; 2], TfliteError> {
    if dilation != [1, 1] {
        return Err(unsupported(index, op, "dilation"));
    }
    positive_pair(index, op, "stride", stride)
}

impl Graph {
    /// Parses a `.tflite` file. Every offset and length is checked as it is
    /// read, so a truncated or corrupted file is an error, never a panic; so
    /// is an op constnet does not read (named, with its index), an option it
    /// does not support, or a file with more than one subgraph.
    pub fn parse(bytes: &[u8]) -> Result<Self, TfliteError> {
        if bytes.get(4..8) != Some(b"TFL3") {
            return Err(malformed("no TFLite file identifier (\"TFL3\" at byte 4)"));
        }
        let model = fb::ModelRef::read_as_root(bytes)?;
        let codes = model.operator_codes()?.ok_or_else(|| malformed("no operator codes"))?;
        let buffers = model.buffers()?.ok_or_else(|| malformed("no buffers"))?;
        let subgraphs = model.subgraphs()?.ok_or_else(|| malformed("no subgraph"))?;
        if subgraphs.len() != 1 {
            return Err(TfliteError::Unsupported {
                index: None,
                op: "model",
                what: format!("{} subgraphs (constnet reads one)", subgraphs.len()),
            });
        }
        let sg = subgraphs.get(0).ok_or_else(|| malformed("no subgraph"))??;

        let mut tensors = Vec::new();
        for t in sg.tensors()?.ok_or_else(|| malformed("no tensors"))?.iter() {
            let t = t?;
            let name = t.name()?.unwrap_or("").to_string();
            let shape = t
                .shape()?
                .map(|s| {
                    s.iter()
                        .map(|d| usize::try_from(d).map_err(|_| malformed(format!("tensor `{name}`: dimension {d}"))))
                        .collect()
                })
                .transpose()?
                .unwrap_or_default();
            let quantization = match t.quantization()? {
                Some(q) => {
                    let scales: Vec<f32> = q.scale()?.map(|v| v.iter().collect()).unwrap_or_default();
                    let zero_points: Vec<i64> = q.zero_point()?.map(|v| v.iter().collect()).unwrap_or_default();
                    if scales.len() != zero_points.len() {
                        return Err(malformed(format!(
                            "tensor `{name}`: {} scales, {} zero points",
                            scales.len(),
                            zero_points.len()
                        )));
                    }
                    let axis = usize::try_from(q.quantized_dimension()?)
                        .map_err(|_| malformed(format!("tensor `{name}`: quantized dimension")))?;
                    (!scales.is_empty()).then_some(Quantization { scales, zero_points, axis })
                }
                None => None,
            };
            let buffer = t.buffer()? as usize;
            let data = match buffers.get(buffer) {
                Some(b) => b?.data()?.filter(|d| !d.is_empty()).map(<[u8]>::to_vec),
                None => return Err(malformed(format!("tensor `{name}`: buffer {buffer} out of range"))),
            };
            tensors.push(TensorInfo { name, shape, dtype: DType::of(t.type_()?), quantization, data });
        }

        let n = tensors.len();
        let mut nodes = Vec::new();
        for (index, op) in sg.operators()?.ok_or_else(|| malformed("no operators"))?.iter().enumerate() {
            let op = op?;
            let code_index = op.opcode_index()? as usize;
            let code = codes
                .get(code_index)
                .ok_or_else(|| malformed(format!("op {index}: opcode {code_index} out of range")))??;
            // Files before schema 3a keep the code in the deprecated byte.
            let raw = i32::from(code.deprecated_builtin_code()?).max(code.builtin_code()? as i32);
            let builtin =
                fb::BuiltinOperator::try_from(raw).map_err(|_| malformed(format!("op {index}: op code {raw}")))?;
            let inputs = indices(op.inputs()?, n)?;
            let outputs: Vec<usize> = indices(op.outputs()?, n)?.into_iter().flatten().collect();
            let options = op.builtin_options()?;
            let mut beta = 1.0;
            use fb::BuiltinOptionsRef as O;
            let (op, filter_input) = match (builtin, options) {
                (fb::BuiltinOperator::Conv2d, Some(O::Conv2DOptions(o))) => {
                    let dilation = [o.dilation_h_factor()?, o.dilation_w_factor()?];
                    let stride = conv_strides(index, "CONV_2D", dilation, [o.stride_h()?, o.stride_w()?])?;
                    let op = Op::Conv2D {
                        kernel: [0, 0],
                        stride,
                        padding: padding(o.padding()?),
                        activation: fused(o.fused_activation_function()?),
                    };
                    (op, true)
                }
                (fb::BuiltinOperator::DepthwiseConv2d, Some(O::DepthwiseConv2DOptions(o))) => {
                    let name = "DEPTHWISE_CONV_2D";
                    let dilation = [o.dilation_h_factor()?, o.dilation_w_factor()?];
                    let stride = conv_strides(index, name, dilation, [o.stride_h()?, o.stride_w()?])?;
                    let op = Op::DepthwiseConv2D {
                        kernel: [0, 0],
                        stride,
                        padding: padding(o.padding()?),
                        depth_multiplier: positive(index, name, "depth multiplier", o.depth_multiplier()?)?,
                        activation: fused(o.fused_activation_function()?),
                    };
                    (op, true)
                }
                (fb::BuiltinOperator::MaxPool2d | fb::BuiltinOperator::AveragePool2d, Some(O::Pool2DOptions(o))) => {
                    let name =
                        if builtin == fb::BuiltinOperator::MaxPool2d { "MAX_POOL_2D" } else { "AVERAGE_POOL_2D" };
                    let window = positive_pair(index, name, "filter size", [o.filter_height()?, o.filter_width()?])?;
                    let stride = positive_pair(index, name, "stride", [o.stride_h()?, o.stride_w()?])?;
                    let (padding, activation) = (padding(o.padding()?), fused(o.fused_activation_function()?));
                    let op = if name == "MAX_POOL_2D" {
                        Op::MaxPool2D { window, stride, padding, activation }
                    } else {
                        Op::AveragePool2D { window, stride, padding, activation }
                    };
                    (op, false)
                }
                (fb::BuiltinOperator::FullyConnected, options) => {
                    let activation = match options {
                        Some(O::FullyConnectedOptions(o)) => {
                            if o.weights_format()? != fb::FullyConnectedOptionsWeightsFormat::Default {
                                return Err(unsupported(index, "FULLY_CONNECTED", "shuffled weights"));
                            }
                            fused(o.fused_activation_function()?)
                        }
                        None => Fused::None,
                        Some(_) => return Err(malformed(format!("op {index}: FULLY_CONNECTED with other options"))),
                    };
                    (Op::FullyConnected { activation }, false)
                }
                (fb::BuiltinOperator::Reshape, _) => (Op::Reshape, false),
                (fb::BuiltinOperator::Softmax, Some(O::SoftmaxOptions(o))) => {
                    beta = o.beta()?;
                    (Op::Softmax, false)
                }
                (fb::BuiltinOperator::Add, options) => {
                    let activation = match options {
                        Some(O::AddOptions(o)) => fused(o.fused_activation_function()?),
                        None => Fused::None,
                        Some(_) => return Err(malformed(format!("op {index}: ADD with other options"))),
                    };
                    (Op::Add { activation }, false)
                }
                (
                    fb::BuiltinOperator::Conv2d
                    | fb::BuiltinOperator::DepthwiseConv2d
                    | fb::BuiltinOperator::MaxPool2d
                    | fb::BuiltinOperator::AveragePool2d
                    | fb::BuiltinOperator::Softmax,
                    _,
                ) => return Err(malformed(format!("op {index}: {builtin:?} without its options"))),
                (other, _) => {
                    let name = match other {
                        fb::BuiltinOperator::Custom => format!("custom op `{}`", code.custom_code()?.unwrap_or("")),
                        other => format!("{other:?} (builtin code {raw})"),
                    };
                    return Err(TfliteError::UnsupportedOp { index, name });
                }
            };
            let mut node = Node { index, op, inputs, outputs, beta };
            if node.input(0).is_none() || node.outputs.len() != 1 {
                return Err(malformed(format!("op {index} {}: no input or not one output", node.op.name())));
            }
            if filter_input {
                node.op = with_kernel(&node, &tensors)?;
            }
            nodes.push(node);
        }
        let inputs = indices(sg.inputs()?, n)?.into_iter().flatten().collect();
        let outputs = indices(sg.outputs()?, n)?.into_iter().flatten().collect();
        Ok(Self { tensors, nodes, inputs, outputs })
    }

    /// Tensor `i` (an index the parser checked).
    pub fn tensor(&self, i: usize) -> &TensorInfo {
        &self.tensors[i]
    }
}

/// A convolution's op with the kernel size its filter tensor gives
/// (`[F, KH, KW, C]`, or `[1, KH, KW, C * M]` for a depthwise one).
fn with_kernel(node: &Node, tensors: &[TensorInfo]) -> Result<Op, TfliteError> {
    let filter = node.input(1).map(|i| &tensors[i]);
    let Some(&[_, kh, kw, _]) = filter.map(|t| t.shape.as_slice()) else {
        return Err(malformed(format!("op {} {}: no filter of rank 4", node.index, node.op.name())));
    };
    Ok(match node.op {
        Op::Conv2D { stride, padding, activation, .. } => Op::Conv2D { kernel: [kh, kw], stride, padding, activation },
        Op::DepthwiseConv2D { stride, padding, depth_multiplier, activation, .. } => {
            Op::DepthwiseConv2D { kernel: [kh, kw], stride, padding, depth_multiplier, activation }
        }
        op => op,
    })
}
