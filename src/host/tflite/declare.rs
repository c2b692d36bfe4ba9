//! The `sequential!` declaration of a model matching a parsed graph.

use super::graph::{Graph, Node};
use super::TfliteError;
use crate::layers::tflite::{Fused, Op, Padding};
use core::ops::Range;
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

/// A window layer's `, stride = .., pad = same` (defaults left out).
fn window_options(stride: [usize; 2], padding: Padding) -> String {
    let mut opts = String::new();
    if stride != [1, 1] {
        opts += &format!(", stride = {}", pair(stride));
    }
    if padding == Padding::Same {
        opts += ", pad = same";
    }
    opts
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
/// a vector as `Flatten`. A tensor that two ops read opens a residual block:
/// the ops up to the ADD of both branches become `Residual<Main, Shortcut> =>
/// Act` (`Residual<Main>` when one ADD input is the block's input), each
/// branch declared as a model of its own (`{name}Block1`,
/// `{name}Shortcut1`), before the model. An op `sequential!` has no layer
/// for is an error naming it.
pub fn declaration(graph: &Graph, name: &str, doc: &str) -> Result<String, TfliteError> {
    let first = graph.nodes.first().ok_or(TfliteError::Malformed { what: "no ops".into() })?;
    let input = first.input(0).unwrap_or_default();
    let mut decl = Declaration { graph, name, branches: String::new(), blocks: 0 };
    let layers = decl.chain(0..graph.nodes.len(), input)?;
    let mut text = decl.branches;
    text += &model(name, doc, graph.tensor(input).activation_shape(), &layers);
    Ok(text)
}

/// `sequential! { /// doc  pub struct name: [dims] { layers } }`.
fn model(name: &str, doc: &str, input: &[usize], layers: &[String]) -> String {
    let dims = input.iter().map(|d| format!("{d}")).collect::<Vec<_>>().join(", ");
    let mut text = format!("constnet::sequential! {{\n    /// {doc}\n    pub struct {name}: [{dims}] {{\n");
    for l in layers {
        text += &format!("        {l},\n");
    }
    text + "    }\n}\n"
}

/// A declaration being written: the branches' models so far.
struct Declaration<'g> {
    graph: &'g Graph,
    name: &'g str,
    /// The branch models' declarations.
    branches: String,
    /// Residual blocks so far (they number the branch models).
    blocks: usize,
}

impl Declaration<'_> {
    /// The layers of ops `range`, the first of which reads tensor `input`.
    fn chain(&mut self, range: Range<usize>, mut input: usize) -> Result<Vec<String>, TfliteError> {
        let graph = self.graph;
        let nodes = &graph.nodes[range.clone()];
        let readers = |t: usize| nodes.iter().filter(|n| n.inputs.contains(&Some(t))).count();
        let mut counts = [0usize; 6];
        let mut layers: Vec<String> = Vec::new();
        let mut k = 0;
        while let Some(node) = nodes.get(k) {
            if node.input(0) != Some(input) {
                return Err(unsupported(node, "it does not read the output of the op before (not a chain of layers)"));
            }
            if readers(input) > 1 {
                let (line, end) = self.block(range.start + k, range.end, input, &mut counts)?;
                layers.push(line);
                input = graph.nodes[end].outputs[0];
                k = end + 1 - range.start;
                continue;
            }
            let next = nodes.get(k + 1).filter(|n| n.input(0) == Some(node.outputs[0]));
            let (line, ops) = layer(graph, node, next, &mut counts)?;
            layers.push(line);
            input = nodes[k + ops - 1].outputs[0];
            k += ops;
        }
        // Single flatten layers are `flat`, not `flat1`.
        if counts[3] == 1 {
            layers.iter_mut().filter(|l| l.starts_with("flat1:")).for_each(|l| *l = l.replacen("flat1:", "flat:", 1));
        }
        Ok(layers)
    }

    /// The residual block whose branches read `input`, starting at op
    /// `start` (its main branch) and ending with an ADD before op `end`:
    /// its layer line and the ADD's op index. Its branches' models go into
    /// `self.branches`.
    fn block(
        &mut self,
        start: usize,
        end: usize,
        input: usize,
        counts: &mut [usize; 6],
    ) -> Result<(String, usize), TfliteError> {
        let graph = self.graph;
        let nodes = &graph.nodes[..end];
        let is_add_of = |n: &Node, t: usize| matches!(n.op, Op::Add { .. }) && n.inputs.contains(&Some(t));
        // The main branch ends at the first op whose output an ADD reads.
        let found = (start..end).find_map(|j| {
            let t = nodes[j].outputs[0];
            nodes[j + 1..].iter().position(|n| is_add_of(n, t)).map(|a| (j, j + 1 + a))
        });
        let Some((main_end, add)) = found else {
            return Err(unsupported(&graph.nodes[start], "a tensor two ops read, but no ADD joins the branches"));
        };
        let add_node = &graph.nodes[add];
        let main_out = graph.nodes[main_end].outputs[0];
        let other = add_node.inputs.iter().take(2).flatten().copied().find(|&t| t != main_out);
        let act = match add_node.op {
            Op::Add { activation: a } => activation(add_node, a)?,
            _ => "",
        };
        counts[5] += 1;
        self.blocks += 1;
        let n = self.blocks;
        let shape = graph.tensor(input).activation_shape();
        let main_name = format!("{}Block{n}", self.name);
        let main_layers = self.chain(start..main_end + 1, input)?;
        self.branches += &model(&main_name, &format!("Main branch of residual block {n}."), shape, &main_layers);
        let shortcut = if other == Some(input) && add == main_end + 1 {
            String::new()
        } else {
            if add == main_end + 1 || graph.nodes[add - 1].outputs.first() != other.as_ref() {
                return Err(unsupported(
                    add_node,
                    "its second input is neither the block's input nor its shortcut's output",
                ));
            }
            let shortcut_name = format!("{}Shortcut{n}", self.name);
            let layers = self.chain(main_end + 1..add, input)?;
            self.branches += &model(&shortcut_name, &format!("Shortcut of residual block {n}."), shape, &layers);
            format!(", {shortcut_name}")
        };
        Ok((format!("block{}: Residual<{main_name}{shortcut}>{act}", counts[5]), add))
    }
}

/// The layer line of `node` (`next`: the op after, when it reads `node`'s
/// output) and how many ops it takes (2 for a dense layer with its SOFTMAX).
fn layer(
    graph: &Graph,
    node: &Node,
    next: Option<&Node>,
    counts: &mut [usize; 6],
) -> Result<(String, usize), TfliteError> {
    let shape = |t: usize| graph.tensor(t).activation_shape().to_vec();
    let (ins, out) = (shape(node.input(0).unwrap_or_default()), shape(node.outputs[0]));
    let mut count = |k: usize| {
        counts[k] += 1;
        counts[k]
    };
    let line = match node.op {
        Op::Conv2D { kernel, stride, padding, activation: a } => {
            let filters = out.last().copied().unwrap_or(0);
            let opts = window_options(stride, padding);
            format!("conv{}: Conv2d<{filters}, {}{opts}>{}", count(0), pair(kernel), activation(node, a)?)
        }
        Op::DepthwiseConv2D { kernel, stride, padding, depth_multiplier, activation: a } => {
            let mut opts = String::new();
            if depth_multiplier != 1 {
                opts += &format!(", multiplier = {depth_multiplier}");
            }
            opts += &window_options(stride, padding);
            format!("dw{}: DepthwiseConv2d<{}{opts}>{}", count(4), pair(kernel), activation(node, a)?)
        }
        Op::MaxPool2D { window, stride, padding, activation: a }
        | Op::AveragePool2D { window, stride, padding, activation: a } => {
            let kind = if matches!(node.op, Op::MaxPool2D { .. }) { "MaxPool2d" } else { "AvgPool2d" };
            if a != Fused::None {
                return Err(unsupported(node, "a fused activation on pooling"));
            }
            // The parser wrote SAME that pads nothing as VALID.
            if padding == Padding::Same {
                return Err(unsupported(node, "SAME padding on pooling (constnet's pooling has no padding)"));
            }
            let global = kind == "AvgPool2d" && ins.get(..2) == Some(&window[..]) && out.get(..2) == Some(&[1, 1][..]);
            let opts = if stride != window { format!(", stride = {}", pair(stride)) } else { String::new() };
            if global {
                format!("pool{}: GlobalAvgPool2d", count(1))
            } else {
                format!("pool{}: {kind}<{}{opts}>", count(1), pair(window))
            }
        }
        Op::FullyConnected { activation: a } => {
            let o = out.last().copied().unwrap_or(0);
            if a == Fused::None && next.is_some_and(|n| n.op == Op::Softmax) {
                return Ok((format!("fc{}: Dense<{o}> => Softmax", count(2)), 2));
            }
            format!("fc{}: Dense<{o}>{}", count(2), activation(node, a)?)
        }
        Op::Reshape if ins.len() == 3 && out.len() == 1 => format!("flat{}: Flatten", count(3)),
        Op::Reshape => {
            return Err(unsupported(node, format!("RESHAPE from {ins:?} to {out:?} (constnet flattens an image)")))
        }
        Op::Softmax => "softmax: Softmax".into(),
        Op::Add { .. } => return Err(unsupported(node, "an ADD that joins no residual block's branches")),
    };
    Ok((line, 1))
}
