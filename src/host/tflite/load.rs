//! Reading a parsed graph into a declared model: each layer's
//! [`TFLITE`](crate::layers::int8::Int8Layer::TFLITE) ops checked against
//! the file's, in order, then filled with the file's numbers (int8) or its
//! f32 weights in constnet's layout.

use super::graph::{DType, Graph, Node, TensorInfo};
use super::TfliteError;
use crate::layers::int8::QuantizeError;
use crate::layers::tflite::{LayerSource, Op, OpNumbers, OpShape};
use crate::quant::QParams;
use std::borrow::ToOwned;
use std::string::String;
use std::vec::Vec;
use std::{format, vec};

/// What the reader fills.
pub(super) enum Target<'a> {
    /// The int8 model's layers, through their `load_ops`.
    Int8,
    /// The f32 parameters, in constnet's layout.
    F32 { params: &'a mut Vec<f32> },
}

/// A residual block being read.
struct Block {
    /// The tensor its branches read.
    input: Option<usize>,
    /// Its main branch's output, once the shortcut began.
    main: Option<usize>,
}

/// Walks the graph's ops as the declared layers ask for them.
pub(super) struct Reader<'g> {
    graph: &'g Graph,
    /// The next op to take.
    next: usize,
    /// The tensor the next op must read: the graph's input, then the
    /// output of the op before, or a block's input for its shortcut.
    current: Option<usize>,
    /// The blocks begun and not ended, innermost last.
    blocks: Vec<Block>,
    target: Target<'g>,
}

impl<'g> Reader<'g> {
    pub(super) fn new(graph: &'g Graph, target: Target<'g>) -> Self {
        Self { graph, next: 0, current: graph.inputs.first().copied(), blocks: Vec::new(), target }
    }

    /// After the last layer: every op must have been taken.
    pub(super) fn finish(&self) -> Result<(), TfliteError> {
        match self.graph.nodes.get(self.next) {
            Some(node) => Err(TfliteError::ExtraOp { index: node.index, op: node.op.name() }),
            None => Ok(()),
        }
    }

    /// The next op, declared as `want` for layer `layer`: checked to read
    /// `reads` (in either order) and to match `want`, then taken.
    fn take(&mut self, want: &OpShape, layer: &'static str, reads: &[Option<usize>]) -> Result<&'g Node, TfliteError> {
        let graph = self.graph;
        let node = graph.nodes.get(self.next).ok_or(TfliteError::MissingOp { layer, declared: want.op.name() })?;
        let name = |t: Option<usize>| t.map_or("?", |t| graph.tensor(t).name.as_str());
        let inputs: Vec<Option<usize>> = (0..reads.len()).map(|k| node.input(k)).collect();
        let same = match (reads, inputs.as_slice()) {
            ([a, b], [x, y]) => (a, b) == (x, y) || (a, b) == (y, x),
            _ => reads == inputs.as_slice(),
        };
        if !same {
            let file: Vec<&str> = inputs.iter().map(|&t| name(t)).collect();
            let declared: Vec<&str> = reads.iter().map(|&t| name(t)).collect();
            return Err(TfliteError::Unsupported {
                index: Some(node.index),
                op: node.op.name(),
                what: format!(
                    "it reads {file:?} where layer `{layer}` reads {declared:?} (the output of the layer \
                     before, or a residual block's input): the graph is not the declaration's"
                ),
            });
        }
        self.check(node, want, layer)?;
        self.next += 1;
        self.current = node.outputs.first().copied();
        Ok(node)
    }

    /// Checks `node`'s op, options and shapes against the declared `want`
    /// of layer `layer`.
    fn check(&self, node: &Node, want: &OpShape, layer: &'static str) -> Result<(), TfliteError> {
        let input = node.input(0).map(|i| self.graph.tensor(i));
        let mismatch = |what, file: String, declared: String| TfliteError::Mismatch {
            index: node.index,
            op: node.op.name(),
            layer,
            what,
            file,
            declared,
        };
        if core::mem::discriminant(&node.op) != core::mem::discriminant(&want.op) {
            return Err(mismatch("op", node.op.name().to_owned(), want.op.name().to_owned()));
        }
        if node.op != want.op {
            return Err(mismatch("options", format!("{:?}", node.op), format!("{:?}", want.op)));
        }
        let output = self.graph.tensor(node.outputs[0]);
        let shapes = [("input shape", input, want.input), ("output shape", Some(output), want.output)];
        for (what, tensor, declared) in shapes {
            let file = tensor.map_or(&[][..], TensorInfo::activation_shape);
            if file != declared {
                return Err(mismatch(what, format!("{file:?}"), format!("{declared:?}")));
            }
        }
        Ok(())
    }

    /// Hands `nodes`' numbers to `load` (int8) or appends their f32 weights.
    fn fill(
        &mut self,
        nodes: &[&Node],
        layer: &'static str,
        bias: bool,
        load: &mut dyn FnMut(&[OpNumbers<'_>]) -> Result<(), QuantizeError>,
    ) -> Result<(), TfliteError> {
        let graph = self.graph;
        match &mut self.target {
            Target::Int8 => {
                let numbers = nodes.iter().map(|n| Numbers::int8(graph, n)).collect::<Result<Vec<_>, _>>()?;
                let views: Vec<OpNumbers<'_>> = numbers.iter().map(Numbers::view).collect();
                let index = nodes.first().map_or(self.next, |n| n.index);
                load(&views).map_err(|error| TfliteError::Numbers { index, layer, error })
            }
            Target::F32 { params } => nodes.iter().try_for_each(|n| push_f32(graph, n, layer, bias, params)),
        }
    }

    /// The innermost open block, for `layer`'s `step`.
    fn block(&mut self, layer: &'static str) -> Result<&mut Block, TfliteError> {
        self.blocks.last_mut().ok_or(TfliteError::Unsupported {
            index: None,
            op: "ADD",
            what: format!("block `{layer}` ended before it began"),
        })
    }
}

impl LayerSource for Reader<'_> {
    type Error = TfliteError;

    fn current(&self) -> QParams {
        self.current.and_then(|t| per_tensor(self.graph.tensor(t)).ok()).unwrap_or_default()
    }

    fn layer(
        &mut self,
        name: &'static str,
        ops: Option<&'static [OpShape]>,
        bias: bool,
        load: &mut dyn FnMut(&[OpNumbers<'_>]) -> Result<(), QuantizeError>,
    ) -> Result<(), TfliteError> {
        let ops = ops.ok_or(TfliteError::NoTfliteForm { layer: name })?;
        let nodes = ops.iter().map(|want| self.take(want, name, &[self.current])).collect::<Result<Vec<_>, _>>()?;
        self.fill(&nodes, name, bias, load)
    }

    fn begin_block(&mut self, _: &'static str) -> Result<(), TfliteError> {
        self.blocks.push(Block { input: self.current, main: None });
        Ok(())
    }

    fn begin_shortcut(&mut self, name: &'static str) -> Result<(), TfliteError> {
        let current = self.current;
        let block = self.block(name)?;
        block.main = current;
        self.current = block.input;
        Ok(())
    }

    fn end_block(
        &mut self,
        name: &'static str,
        add: &'static OpShape,
        load: &mut dyn FnMut(&[OpNumbers<'_>]) -> Result<(), QuantizeError>,
    ) -> Result<(), TfliteError> {
        let main = self.block(name)?.main;
        self.blocks.pop();
        let node = self.take(add, name, &[main, self.current])?;
        // Main branch first: the numbers' `input` is its output's.
        let swapped = node.input(0) != main;
        let graph = self.graph;
        match &mut self.target {
            Target::Int8 => {
                let mut numbers = Numbers::int8(graph, node)?;
                if swapped {
                    core::mem::swap(&mut numbers.input, &mut numbers.input2);
                }
                load(&[numbers.view()]).map_err(|error| TfliteError::Numbers { index: node.index, layer: name, error })
            }
            Target::F32 { params } => push_f32(graph, node, name, false, params),
        }
    }
}

/// One op's int8 numbers, owned.
struct Numbers {
    weights: Vec<i8>,
    bias: Vec<i32>,
    scales: Vec<f32>,
    input: QParams,
    input2: QParams,
    output: QParams,
    beta: f32,
}

impl Numbers {
    fn int8(graph: &Graph, node: &Node) -> Result<Self, TfliteError> {
        let activation = |i: usize| {
            let t = graph.tensor(i);
            expect_type(node, t, DType::I8, "INT8 activations")?;
            per_tensor(t).map_err(|what| unsupported(node, what))
        };
        let input = activation(node.input(0).unwrap_or_default())?;
        let input2 = match node.op {
            Op::Add { .. } => activation(node.input(1).unwrap_or_default())?,
            _ => input,
        };
        let output = activation(node.outputs[0])?;
        let (mut weights, mut bias, mut scales) = (vec![], vec![], vec![]);
        if let Some(axis) = weight_axis(&node.op) {
            let t = weight(graph, node)?;
            expect_type(node, t, DType::I8, "INT8 weights")?;
            let q = t
                .quantization
                .as_ref()
                .ok_or_else(|| unsupported(node, format!("weights `{}` without quantization", t.name)))?;
            if q.zero_points.iter().any(|&z| z != 0) {
                return Err(unsupported(node, format!("weights `{}` with a zero point other than 0", t.name)));
            }
            if q.scales.len() > 1 && q.axis != axis {
                return Err(unsupported(node, format!("weights `{}` quantized along dimension {}", t.name, q.axis)));
            }
            weights = data(node, t)?.iter().map(|&b| b as i8).collect();
            scales.clone_from(&q.scales);
            bias = match node.input(2).map(|i| graph.tensor(i)) {
                Some(b) => {
                    expect_type(node, b, DType::I32, "INT32 biases")?;
                    data(node, b)?.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
                }
                None => vec![0; t.shape.get(axis).copied().unwrap_or(0)],
            };
        }
        Ok(Self { weights, bias, scales, input, input2, output, beta: node.beta })
    }

    fn view(&self) -> OpNumbers<'_> {
        OpNumbers {
            weights: &self.weights,
            bias: &self.bias,
            weight_scales: &self.scales,
            input: self.input,
            input2: self.input2,
            output: self.output,
            beta: self.beta,
        }
    }
}

/// Appends `node`'s f32 weights and bias in constnet's layout: a
/// convolution's `[F][KH][KW][C]` as `[KH][KW][C][F]`, a dense layer's
/// `[O][I]` as `[I][O]`, a depthwise convolution's `[1][KH][KW][OC]` as is; the bias only if the layer has one (a layer
/// declared without one needs a zero bias in the file).
fn push_f32(
    graph: &Graph,
    node: &Node,
    layer: &'static str,
    has_bias: bool,
    params: &mut Vec<f32>,
) -> Result<(), TfliteError> {
    for i in [node.input(0).unwrap_or_default(), node.outputs[0]] {
        expect_type(node, graph.tensor(i), DType::F32, "FLOAT32 activations")?;
    }
    if weight_axis(&node.op).is_none() {
        return Ok(());
    }
    let t = weight(graph, node)?;
    let w = float_weights(node, t)?;
    let outer = match node.op {
        Op::Conv2D { .. } | Op::FullyConnected { .. } => {
            let outer = t.shape.first().copied().unwrap_or(0).max(1);
            let inner = w.len() / outer;
            // Transpose [outer][inner] to [inner][outer].
            params.extend((0..inner).flat_map(|i| (0..outer).map(move |o| (o, i))).map(|(o, i)| w[o * inner + i]));
            outer
        }
        // [1][KH][KW][OC] is constnet's [KH][KW][OC] already.
        Op::DepthwiseConv2D { .. } => {
            params.extend_from_slice(&w);
            t.shape.get(3).copied().unwrap_or(0)
        }
        _ => return Err(unsupported(node, "f32 weights of this op (no f32 layout for it yet)")),
    };
    let bias = match node.input(2).map(|i| graph.tensor(i)) {
        Some(b) => {
            expect_type(node, b, DType::F32, "FLOAT32 biases")?;
            floats(node, b)?
        }
        None => vec![0.0; outer],
    };
    if bias.len() != outer {
        return Err(TfliteError::Malformed {
            what: format!("op {}: {} biases for {outer} outputs", node.index, bias.len()),
        });
    }
    if has_bias {
        params.extend(bias);
    } else if bias.iter().any(|&b| b != 0.0) {
        return Err(TfliteError::Mismatch {
            index: node.index,
            op: node.op.name(),
            layer,
            what: "bias",
            file: "a bias".to_owned(),
            declared: "bias = false".to_owned(),
        });
    }
    Ok(())
}

/// An f32 model's weights: float32, or int8 with their scales (a "hybrid"
/// file, such as MLPerf Tiny's keyword-spotting "float32" model, whose
/// convolution filters are int8), dequantized as `q * scale` in f32.
fn float_weights(node: &Node, t: &TensorInfo) -> Result<Vec<f32>, TfliteError> {
    if t.dtype != DType::I8 {
        expect_type(node, t, DType::F32, "FLOAT32 weights (or INT8 with scales)")?;
        return floats(node, t);
    }
    let q = t.quantization.as_ref().filter(|q| !q.scales.is_empty() && q.zero_points.iter().all(|&z| z == 0));
    let Some(q) = q else {
        return Err(unsupported(node, format!("int8 weights `{}` without scales and zero point 0", t.name)));
    };
    let bytes = data(node, t)?;
    // Elements between two steps of the quantized axis, and its length.
    let inner: usize = t.shape.iter().skip(q.axis + 1).product();
    let along = t.shape.get(q.axis).copied().unwrap_or(1);
    if q.scales.len() != 1 && q.scales.len() != along {
        return Err(unsupported(node, format!("weights `{}`: {} scales for {along} channels", t.name, q.scales.len())));
    }
    let scale = |i: usize| q.scales[if q.scales.len() == 1 { 0 } else { i / inner.max(1) % along }];
    Ok(bytes.iter().enumerate().map(|(i, &b)| b as i8 as f32 * scale(i)).collect())
}

/// The dimension of an op's weights that runs along its output channels
/// (where per-channel scales are), or `None` for ops without weights.
fn weight_axis(op: &Op) -> Option<usize> {
    match op {
        Op::Conv2D { .. } | Op::FullyConnected { .. } => Some(0),
        Op::DepthwiseConv2D { .. } => Some(3),
        _ => None,
    }
}

fn unsupported(node: &Node, what: impl Into<String>) -> TfliteError {
    TfliteError::Unsupported { index: Some(node.index), op: node.op.name(), what: what.into() }
}

fn weight<'g>(graph: &'g Graph, node: &Node) -> Result<&'g TensorInfo, TfliteError> {
    node.input(1)
        .map(|i| graph.tensor(i))
        .ok_or_else(|| TfliteError::Malformed { what: format!("op {} {}: no weights", node.index, node.op.name()) })
}

fn expect_type(node: &Node, t: &TensorInfo, dtype: DType, expected: &'static str) -> Result<(), TfliteError> {
    if t.dtype == dtype {
        return Ok(());
    }
    Err(TfliteError::UnsupportedType {
        index: node.index,
        tensor: t.name.clone(),
        found: t.dtype.name().to_owned(),
        expected,
    })
}

/// A constant tensor's bytes: exactly as many as its shape and type give.
fn data<'g>(node: &Node, t: &'g TensorInfo) -> Result<&'g [u8], TfliteError> {
    let width = match t.dtype {
        DType::I8 => 1,
        _ => 4,
    };
    let len = t.shape.iter().try_fold(width, |n: usize, &d| n.checked_mul(d));
    match &t.data {
        Some(d) if Some(d.len()) == len => Ok(d),
        Some(d) => Err(TfliteError::Malformed {
            what: format!("op {}: tensor `{}` has {} bytes for shape {:?}", node.index, t.name, d.len(), t.shape),
        }),
        None => Err(TfliteError::Malformed { what: format!("op {}: tensor `{}` has no data", node.index, t.name) }),
    }
}

fn floats(node: &Node, t: &TensorInfo) -> Result<Vec<f32>, TfliteError> {
    Ok(data(node, t)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// A tensor's one scale and zero point.
fn per_tensor(t: &TensorInfo) -> Result<QParams, String> {
    match &t.quantization {
        Some(q) if q.scales.len() == 1 => {
            let zp = i32::try_from(q.zero_points[0])
                .map_err(|_| format!("tensor `{}`: zero point {}", t.name, q.zero_points[0]))?;
            Ok(QParams::new(q.scales[0], zp))
        }
        Some(q) => Err(format!(
            "tensor `{}` with {} scales (constnet quantizes activations per tensor)",
            t.name,
            q.scales.len()
        )),
        None => Err(format!("tensor `{}` without quantization", t.name)),
    }
}
