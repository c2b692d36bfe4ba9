//! Reading a parsed graph into a declared model: each layer's
//! [`TFLITE`](crate::layers::int8::Int8Layer::TFLITE) ops checked against
//! the file's, in order, then filled with the file's numbers (int8) or its
//! f32 weights in constnet's layout.

use super::graph::{DType, Graph, Node, TensorInfo};
use super::TfliteError;
use crate::layers::int8::QuantizeError;
use crate::layers::tflite::{LayerSource, Op, OpNumbers, OpShape};
use crate::model::LayerSummary;
use crate::quant::QParams;
use std::borrow::ToOwned;
use std::string::String;
use std::vec::Vec;
use std::{format, vec};

/// What the reader fills.
pub(super) enum Target<'a> {
    /// The int8 model's layers, through their `load_ops`.
    Int8,
    /// The f32 parameters, in constnet's layout, of the model whose layers
    /// are these rows (for their bias flags).
    F32 { params: &'a mut Vec<f32>, layers: &'static [LayerSummary] },
}

/// Walks the graph's ops as the declared layers ask for them.
pub(super) struct Reader<'g> {
    graph: &'g Graph,
    /// The next op to take.
    next: usize,
    /// How many layers were visited.
    layer: usize,
    target: Target<'g>,
}

impl<'g> Reader<'g> {
    pub(super) fn new(graph: &'g Graph, target: Target<'g>) -> Self {
        Self { graph, next: 0, layer: 0, target }
    }

    /// After the last layer: every op must have been taken.
    pub(super) fn finish(&self) -> Result<(), TfliteError> {
        match self.graph.nodes.get(self.next) {
            Some(node) => Err(TfliteError::ExtraOp { index: node.index, op: node.op.name() }),
            None => Ok(()),
        }
    }

    /// The tensor an op of a sequential graph must read: the graph's input
    /// first, then the output of the op before.
    fn expected_input(&self, node: &Node) -> Option<usize> {
        match node.index {
            0 => self.graph.inputs.first().copied(),
            i => self.graph.nodes[i - 1].outputs.first().copied(),
        }
    }

    /// Checks `node` against the declared `want` of layer `layer`.
    fn check(&self, node: &Node, want: &OpShape, layer: &'static str) -> Result<(), TfliteError> {
        let input = node.input(0).map(|i| self.graph.tensor(i));
        if node.input(0) != self.expected_input(node) {
            let name = input.map_or("?", |t| t.name.as_str());
            return Err(TfliteError::Unsupported {
                index: Some(node.index),
                op: node.op.name(),
                what: format!("it reads tensor `{name}`, not the output of the op before: not a sequential graph"),
            });
        }
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
        let shapes = [("input shape", input, want.input), ("output shape", Some(self.output(node)), want.output)];
        for (what, tensor, declared) in shapes {
            let file = tensor.map_or(&[][..], TensorInfo::activation_shape);
            if file != declared {
                return Err(mismatch(what, format!("{file:?}"), format!("{declared:?}")));
            }
        }
        Ok(())
    }

    fn output(&self, node: &Node) -> &'g TensorInfo {
        self.graph.tensor(node.outputs[0])
    }
}

impl LayerSource for Reader<'_> {
    type Error = TfliteError;

    fn quantization(&self) -> (QParams, QParams) {
        let params = |t: Option<&usize>| t.and_then(|&t| per_tensor(self.graph.tensor(t)).ok()).unwrap_or_default();
        (params(self.graph.inputs.first()), params(self.graph.outputs.first()))
    }

    fn layer(
        &mut self,
        name: &'static str,
        ops: Option<&'static [OpShape]>,
        load: &mut dyn FnMut(&[OpNumbers<'_>]) -> Result<(), QuantizeError>,
    ) -> Result<(), TfliteError> {
        let ops = ops.ok_or(TfliteError::NoTfliteForm { layer: name })?;
        let graph = self.graph;
        let start = self.next;
        for (k, want) in ops.iter().enumerate() {
            let node =
                graph.nodes.get(start + k).ok_or(TfliteError::MissingOp { layer: name, declared: want.op.name() })?;
            self.check(node, want, name)?;
        }
        let nodes = &graph.nodes[start..start + ops.len()];
        self.next += ops.len();
        let layer = self.layer;
        self.layer += 1;
        match &mut self.target {
            Target::Int8 => {
                let numbers = nodes.iter().map(|n| Numbers::int8(graph, n)).collect::<Result<Vec<_>, _>>()?;
                let views: Vec<OpNumbers<'_>> = numbers.iter().map(Numbers::view).collect();
                let index = nodes.first().map_or(start, |n| n.index);
                load(&views).map_err(|error| TfliteError::Numbers { index, layer: name, error })
            }
            Target::F32 { params, layers } => {
                let bias = layers.get(layer).is_some_and(|l| l.info.bias);
                nodes.iter().try_for_each(|n| push_f32(graph, n, name, bias, params))
            }
        }
    }
}

/// One op's int8 numbers, owned.
struct Numbers {
    weights: Vec<i8>,
    bias: Vec<i32>,
    scales: Vec<f32>,
    input: QParams,
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
        Ok(Self { weights, bias, scales, input, output, beta: node.beta })
    }

    fn view(&self) -> OpNumbers<'_> {
        OpNumbers {
            weights: &self.weights,
            bias: &self.bias,
            weight_scales: &self.scales,
            input: self.input,
            output: self.output,
            beta: self.beta,
        }
    }
}

/// Appends `node`'s f32 weights and bias in constnet's layout: a
/// convolution's `[F][KH][KW][C]` as `[KH][KW][C][F]`, a dense layer's
/// `[O][I]` as `[I][O]`; the bias only if the layer has one (a layer
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
    expect_type(node, t, DType::F32, "FLOAT32 weights")?;
    let w = floats(node, t)?;
    let outer = match node.op {
        Op::Conv2D { .. } | Op::FullyConnected { .. } => t.shape.first().copied().unwrap_or(0).max(1),
        _ => return Err(unsupported(node, "f32 weights of this op (no f32 layout for it yet)")),
    };
    let inner = w.len() / outer;
    // Transpose [outer][inner] to [inner][outer].
    params.extend((0..inner).flat_map(|i| (0..outer).map(move |o| (o, i))).map(|(o, i)| w[o * inner + i]));
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
