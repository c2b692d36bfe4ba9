//! The `sequential!` declaration of a model matching a parsed graph.

use super::graph::{Graph, Node};
use super::TfliteError;
use crate::layers::tflite::{Fused, Op, Padding};
use std::format;
use std::string::String;
use std::vec::Vec;

/// `n`, or `[h, w]` when the two differ.
fn pair([h, w]: [usize; 2]) -> String {
    if h == w {
        format!("{h}")
    } else {
        format!("[{h}, {w}]")
    }
}

fn unsupported(node: &Node, what: impl Into<String>) -> TfliteError {
    TfliteError::Unsupported { index: Some(node.index), op: node.op.name(), what: what.into() }
}

/// ` => Relu` for a fused relu, nothing for none.
fn activation(node: &Node, a: Fused) -> Result<&'static str, TfliteError> {
    match a {
        Fused::None => Ok(""),
        Fused::Relu => Ok(" => Relu"),
        other => Err(unsupported(node, format!("fused activation {other:?} (constnet fuses relu)"))),
    }
}

/// The declaration of a model named `name` (with `doc` as its doc comment)
/// whose int8 or f32 form reads this graph: one layer per op, a dense layer
/// followed by SOFTMAX as one `Dense<O> => Softmax`, RESHAPE from an image to
/// a vector as `Flatten`. An op `sequential!` has no layer for is an error
/// naming it.
pub fn declaration(graph: &Graph, name: &str, doc: &str) -> Result<String, TfliteError> {
    let first = graph.nodes.first().ok_or(TfliteError::Malformed { what: "no ops".into() })?;
    let shape = |t: usize| graph.tensor(t).activation_shape().to_vec();
    let input = shape(first.input(0).unwrap_or_default());
    let mut counts = [0usize; 4];
    let mut count = |k: usize| {
        counts[k] += 1;
        counts[k]
    };
    let mut layers: Vec<String> = Vec::new();
    let mut nodes = graph.nodes.iter().peekable();
    while let Some(node) = nodes.next() {
        let (ins, out) = (shape(node.input(0).unwrap_or_default()), shape(node.outputs[0]));
        let line = match node.op {
            Op::Conv2D { kernel, stride, padding, activation: a } => {
                let mut opts = String::new();
                if stride != [1, 1] {
                    opts += &format!(", stride = {}", pair(stride));
                }
                if padding == Padding::Same {
                    opts += ", pad = same";
                }
                let filters = out.last().copied().unwrap_or(0);
                format!("conv{}: Conv2d<{filters}, {}{opts}>{}", count(0), pair(kernel), activation(node, a)?)
            }
            Op::MaxPool2D { window, stride, padding, activation: a }
            | Op::AveragePool2D { window, stride, padding, activation: a } => {
                let kind = if matches!(node.op, Op::MaxPool2D { .. }) { "MaxPool2d" } else { "AvgPool2d" };
                if a != Fused::None {
                    return Err(unsupported(node, "a fused activation on pooling"));
                }
                // SAME that pads nothing (a window that tiles the input) is VALID.
                let fits = |i: usize| {
                    ins.get(i)
                        .is_some_and(|&n| n >= window[i] && out.get(i) == Some(&((n - window[i]) / stride[i] + 1)))
                };
                if padding == Padding::Same && !(fits(0) && fits(1)) {
                    return Err(unsupported(node, "SAME padding on pooling (constnet's pooling has no padding)"));
                }
                let opts = if stride != window { format!(", stride = {}", pair(stride)) } else { String::new() };
                format!("pool{}: {kind}<{}{opts}>", count(1), pair(window))
            }
            Op::FullyConnected { activation: a } => {
                let o = out.last().copied().unwrap_or(0);
                let softmax = nodes.next_if(|n| n.op == Op::Softmax && n.input(0) == Some(node.outputs[0]));
                let act = match softmax {
                    Some(_) if a == Fused::None => " => Softmax",
                    _ => activation(node, a)?,
                };
                format!("fc{}: Dense<{o}>{act}", count(2))
            }
            Op::Reshape if ins.len() == 3 && out.len() == 1 => format!("flat{}: Flatten", count(3)),
            Op::Reshape => {
                return Err(unsupported(node, format!("RESHAPE from {ins:?} to {out:?} (constnet flattens an image)")))
            }
            Op::Softmax => "softmax: Softmax".into(),
            Op::DepthwiseConv2D { .. } | Op::Add { .. } => {
                return Err(unsupported(node, "sequential! has no layer for it yet"))
            }
        };
        layers.push(line);
    }
    // Single flatten layers are `flat`, not `flat1`.
    if counts[3] == 1 {
        layers.iter_mut().filter(|l| l.starts_with("flat1:")).for_each(|l| *l = l.replacen("flat1:", "flat:", 1));
    }
    let dims = input.iter().map(|d| format!("{d}")).collect::<Vec<_>>().join(", ");
    let mut text = format!("constnet::sequential! {{\n    /// {doc}\n    pub struct {name}: [{dims}] {{\n");
    for l in layers {
        text += &format!("        {l},\n");
    }
    text += "    }\n}\n";
    Ok(text)
}
