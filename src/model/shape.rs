//! Output-size rules, evaluated at compile time by [`sequential!`](crate::sequential).
//!
//! Stable Rust cannot compute `H - K + 1` inside a type, so the macro computes
//! each layer's output dimensions with these `const fn`s and passes them as
//! const parameters. A shape that does not fit panics during constant
//! evaluation, which is a compile error carrying the message built here: it
//! names the layer and the sizes.
//!
//! Each layer's output [`Dims`] are computed once, by the geometry functions
//! below ([`conv`], [`pool`], [`upsample`]), and every type that needs them
//! refers to that one result: a layer that does not fit is reported once.

use crate::text::Text;

/// A compile-time error message (see [`Text`]).
type Message = Text<256>;

/// An activation's dimensions, as [`sequential!`](crate::sequential) carries
/// them from layer to layer: an image of `h x w x c`, or a vector of `c`
/// values as `1 x 1 x c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Height (1 for a vector).
    pub h: usize,
    /// Width (1 for a vector).
    pub w: usize,
    /// Channels, or the length of a vector.
    pub c: usize,
}

impl Dims {
    /// An image of `h x w x c`.
    pub const fn image(h: usize, w: usize, c: usize) -> Self {
        Self { h, w, c }
    }

    /// A vector of `n` values.
    pub const fn vector(n: usize) -> Self {
        Self { h: 1, w: 1, c: n }
    }

    /// The number of values.
    pub const fn size(self) -> usize {
        self.h * self.w * self.c
    }
}

/// Output length along one axis of a window sliding over `input` padded by
/// `pad` on both sides: `(input + 2 * pad - window) / stride + 1`.
///
/// Panics at compile time (naming `layer`, `axis` and the sizes) when the
/// window does not fit or the stride is zero.
pub const fn window_out(layer: &str, axis: &str, input: usize, window: usize, stride: usize, pad: usize) -> usize {
    window_out_padded(layer, axis, input, window, stride, [pad, pad])
}

/// [`window_out`] with `pad[0]` positions of padding before the input and
/// `pad[1]` after it.
pub const fn window_out_padded(
    layer: &str,
    axis: &str,
    input: usize,
    window: usize,
    stride: usize,
    pad: [usize; 2],
) -> usize {
    if stride == 0 || window == 0 {
        Message::new().text("layer `").text(layer).text("`: window and stride must be at least 1").fail();
    }
    let padded = input + pad[0] + pad[1];
    if padded < window {
        let msg = Message::new()
            .text("layer `")
            .text(layer)
            .text("`: window of ")
            .num(window)
            .text(" does not fit in its input ")
            .text(axis)
            .text(" of ")
            .num(input)
            .text(" (padding ");
        let msg = if pad[0] == pad[1] {
            msg.num(pad[0]).text(" each side")
        } else {
            msg.num(pad[0]).text(" before, ").num(pad[1]).text(" after")
        };
        msg.text("): the output would be empty").fail();
    }
    (padded - window) / stride + 1
}

/// TensorFlow's "same" zero padding along an axis, `[before, after]`: the
/// least that gives `ceil(input / stride)` outputs, the odd position at the
/// end (a 10-tap kernel at stride 2 over 49 rows pads 4 before, 5 after;
/// at stride 1 an odd kernel pads `(kernel - 1) / 2` on each side).
pub const fn same_pad(layer: &str, input: usize, kernel: usize, stride: usize) -> [usize; 2] {
    if stride == 0 || kernel == 0 {
        Message::new().text("layer `").text(layer).text("`: window and stride must be at least 1").fail();
    }
    crate::layers::window::tf_same(input, kernel, stride)
}

/// Output of a convolution of `filters` filters of `kernel` (height, width)
/// with `stride` and `pad` (per axis, before and after the input) over
/// `input`; panics at compile time, naming `layer`, when the kernel does not
/// fit (see [`window_out`]).
pub const fn conv(
    layer: &str,
    input: Dims,
    filters: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [[usize; 2]; 2],
) -> Dims {
    Dims::image(
        window_out_padded(layer, "height", input.h, kernel[0], stride[0], pad[0]),
        window_out_padded(layer, "width", input.w, kernel[1], stride[1], pad[1]),
        filters,
    )
}

/// Output of a depthwise convolution: [`conv`] with `multiplier` filters
/// per input channel. Panics at compile time, naming `layer`, when the
/// multiplier is zero or the kernel does not fit.
pub const fn depthwise(
    layer: &str,
    input: Dims,
    multiplier: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [[usize; 2]; 2],
) -> Dims {
    if multiplier == 0 {
        Message::new().text("layer `").text(layer).text("`: the depth multiplier must be at least 1").fail();
    }
    conv(layer, input, input.c * multiplier, kernel, stride, pad)
}

/// Output of pooling `window` (height, width) windows `stride` apart over
/// `input`; panics at compile time, naming `layer`, when the window does not fit.
pub const fn pool(layer: &str, input: Dims, window: [usize; 2], stride: [usize; 2]) -> Dims {
    Dims::image(
        window_out(layer, "height", input.h, window[0], stride[0], 0),
        window_out(layer, "width", input.w, window[1], stride[1], 0),
        input.c,
    )
}

/// Output of upsampling `input` by `factor` (rows, columns).
pub const fn upsample(input: Dims, factor: [usize; 2]) -> Dims {
    Dims::image(input.h * factor[0], input.w * factor[1], input.c)
}

/// Checks that an explicitly written input size matches the size that
/// reaches the layer, naming both.
pub const fn expect_len(layer: &str, declared: usize, actual: usize) -> usize {
    if declared != actual {
        Message::new()
            .text("layer `")
            .text(layer)
            .text("` declares ")
            .num(declared)
            .text(" inputs but the layer before it yields ")
            .num(actual)
            .fail();
    }
    declared
}

/// A dropout rate as a whole number of thousandths, checked to be in `[0, 1)`
/// (`written` is the rate as the user wrote it, for the message).
pub const fn permille(layer: &str, rate: f64, written: &str) -> u32 {
    if !(rate >= 0.0 && rate < 1.0) {
        Message::new()
            .text("layer `")
            .text(layer)
            .text("`: the dropout rate must be in [0, 1), got ")
            .text(written)
            .fail();
    }
    (rate * 1000.0 + 0.5) as u32
}

/// How a layer's output is held during inference, for [`workspace_len`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Written to a buffer of its own.
    Buffer,
    /// Computed over its input's buffer (activations, flatten, dropout).
    InPlace,
    /// A convolution: when a [`Role::Pool`] follows, the two run as one
    /// step ([`Pass::then_fused`](crate::model::Pass::then_fused)) and this
    /// output never exists.
    Conv,
    /// A pooling layer.
    Pool,
    /// A residual block that holds this many elements at its peak, its
    /// input and its output included (see
    /// [`residual::block_len`](crate::model::residual::block_len)).
    Block(usize),
    /// A depthwise convolution run as one step with the pointwise
    /// convolution after it, whose output overwrites its input as the rows
    /// are done ([`Pass::then_separable`](crate::model::Pass::then_separable)):
    /// its own output never exists, and the pair needs `peak` elements
    /// ([`separable_peak`]).
    Separable {
        /// Elements the pair needs at once.
        peak: usize,
    },
    /// The pointwise convolution of a [`Role::Separable`] pair: its output
    /// is the pair's, counted there.
    Pointwise,
}

/// Elements a depthwise convolution and the pointwise convolution after it
/// need at once when they run as one step whose output overwrites the input
/// rows already read: the larger activation plus the gap that keeps each
/// output row off the input rows still to be read, in either direction a
/// [`Pass`](crate::model::Pass) runs it (output rows first to last from the
/// bottom end of the workspace, or last to first from the top end). The
/// input has `h` rows of `rx` values, the output `oh` rows of `ry`; the
/// depthwise window is `kh` rows at `stride`, starting `pad` rows before the
/// input.
pub const fn separable_peak(h: usize, rx: usize, oh: usize, ry: usize, kh: usize, stride: usize, pad: usize) -> usize {
    let (x, y) = (h * rx, oh * ry);
    // First to last: output row r - 1 is written over input rows the rows
    // from r on no longer read (they start at r * stride - pad).
    let mut up = 0;
    // Last to first: output row r is written over input rows the rows
    // before it no longer read (they end at (r - 1) * stride - pad + kh).
    let mut down = 0;
    let mut r = 1;
    while r < oh {
        let first = clamp_rows((r * stride) as isize - pad as isize, h);
        if r * ry > first * rx && r * ry - first * rx > up {
            up = r * ry - first * rx;
        }
        let end = clamp_rows(((r - 1) * stride + kh) as isize - pad as isize, h);
        if end * rx > r * ry && end * rx - r * ry > down {
            down = end * rx - r * ry;
        }
        r += 1;
    }
    max(max(x + up, y), max(y + down, x))
}

/// `rows` clamped to `0 ..= h`.
const fn clamp_rows(rows: isize, h: usize) -> usize {
    if rows < 0 {
        0
    } else if rows as usize > h {
        h
    } else {
        rows as usize
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Size of the inference workspace: the largest sum of two adjacent
/// activations that need buffers of their own (in-place layers share their
/// input's buffer; a convolution followed by pooling writes only the pooled
/// output; a depthwise convolution followed by a 1x1 convolution writes
/// only the latter's output, over its input: the pair needs its
/// [`Role::Separable`] peak), counting the input as the activation before the first layer so
/// that it can be staged in the workspace too
/// ([`Model::predict_staged`](crate::Model::predict_staged)), or a residual
/// block's peak where that is larger. `outputs[i]` is layer `i`'s output
/// length and role.
pub const fn workspace_len(input: usize, outputs: &[(usize, Role)]) -> usize {
    pass_len(input, false, outputs)
}

/// What [`Model::run`](crate::Model::run) needs when its input lies outside
/// the buffer (a residual block's branch): as [`workspace_len`] without the
/// input, except that a layer working in place copies the input in first.
pub const fn branch_len(outputs: &[(usize, Role)]) -> usize {
    pass_len(0, true, outputs)
}

/// For a residual block's main branch whose last layer is a convolution
/// that runs on its own ([`Role::Conv`], the last, so not fused with
/// pooling; softmax over its filters is [`Role::Buffer`]): what the layers
/// before it hold, [`branch_len`] of them, and their output's length
/// `head_out` (see [`Model::HEAD`](crate::Model::HEAD)). `None` otherwise.
pub const fn head(outputs: &[(usize, Role)], head_out: usize) -> Option<(usize, usize)> {
    match outputs.split_last() {
        Some(((_, Role::Conv), head)) if !head.is_empty() => Some((branch_len(head), head_out)),
        _ => None,
    }
}

/// [`workspace_len`] from an input of `input` elements, held in the buffer
/// unless `outside`.
const fn pass_len(input: usize, outside: bool, outputs: &[(usize, Role)]) -> usize {
    let mut peak = input;
    let mut prev = input; // the live buffer the next layer reads
    let mut outside = outside;
    let mut i = 0;
    while i < outputs.len() {
        let (len, role) = outputs[i];
        let held = match role {
            Role::InPlace => outside,
            Role::Conv => !(i + 1 < outputs.len() && matches!(outputs[i + 1].1, Role::Pool)),
            Role::Buffer | Role::Pool | Role::Block(_) => true,
            Role::Separable { peak: pair } => {
                // Its input, copied in when outside, is overwritten in place.
                peak = max(peak, pair);
                outside = false;
                false
            }
            Role::Pointwise => {
                prev = len;
                false
            }
        };
        if let Role::Block(block) = role {
            // The input (copied in when outside) and the branches; the
            // output lands at the other end of the buffer.
            if block > peak {
                peak = block;
            }
        } else if held && prev + len > peak {
            peak = prev + len;
        }
        if held {
            prev = len;
            outside = false;
        }
        i += 1;
    }
    peak
}

/// The dimensions of a tensor of shape `[H, W, C]` or `[N]`.
pub const fn dims_of(shape: &[usize]) -> Dims {
    match shape {
        [h, w, c] => Dims::image(*h, *w, *c),
        [n] => Dims::vector(*n),
        _ => Dims::image(0, 0, 0),
    }
}

/// Whether two shapes are the same.
pub const fn same_shape(a: &[usize], b: &[usize]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Appends `shape` as `[a, b, c]`.
const fn shape_text(mut t: Message, shape: &[usize]) -> Message {
    t = t.text("[");
    let mut i = 0;
    while i < shape.len() {
        if i > 0 {
            t = t.text(", ");
        }
        t = t.num(shape[i]);
        i += 1;
    }
    t.text("]")
}

/// The output of residual block `layer` whose input is `input`, main branch
/// reads `main_in` and yields `main_out`, and shortcut yields `shortcut`
/// (the input itself for an identity shortcut); panics at compile time,
/// naming `layer` and both shapes, when the main branch does not read the
/// block's input or the two branches do not meet in the same shape.
pub const fn residual(
    layer: &str,
    input: &[usize],
    main_in: &[usize],
    main_out: &[usize],
    shortcut: Option<(&[usize], &[usize])>,
) -> Dims {
    let head = Message::new().text("layer `").text(layer).text("`: ");
    if !same_shape(input, main_in) {
        let t = shape_text(head.text("the block's input is "), input);
        shape_text(t.text(" but its main branch reads "), main_in).fail();
    }
    match shortcut {
        None => {
            if !same_shape(main_out, input) {
                let t = shape_text(head.text("the main branch yields "), main_out);
                shape_text(t.text(" but the shortcut (the block's input) is "), input)
                    .text(": give the block a shortcut branch that yields the main branch's shape")
                    .fail();
            }
        }
        Some((short_in, short_out)) => {
            if !same_shape(input, short_in) {
                let t = shape_text(head.text("the block's input is "), input);
                shape_text(t.text(" but its shortcut reads "), short_in).fail();
            }
            if !same_shape(main_out, short_out) {
                let t = shape_text(head.text("the main branch yields "), main_out);
                shape_text(t.text(" but the shortcut yields "), short_out).fail();
            }
        }
    }
    dims_of(main_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_arithmetic() {
        assert_eq!(window_out("c", "height", 28, 5, 1, 0), 24);
        assert_eq!(window_out("c", "height", 28, 3, 2, 1), 14);
        assert_eq!(window_out("p", "width", 24, 2, 2, 0), 12);
        assert_eq!(window_out("p", "width", 24, 2, 1, 0), 23);
        assert_eq!(same_pad("c", 28, 5, 1), [2, 2]);
        // TF's "same" pads the odd position at the end: KWS's first layer,
        // 10x4 at stride 2 over 49x10, pads 4/5 rows and 1/1 columns.
        assert_eq!(same_pad("c", 49, 10, 2), [4, 5]);
        assert_eq!(same_pad("c", 10, 4, 2), [1, 1]);
        assert_eq!(same_pad("c", 8, 3, 2), [0, 1]);
        assert_eq!(same_pad("c", 9, 3, 2), [1, 1]);
        assert_eq!(window_out_padded("c", "height", 49, 10, 2, [4, 5]), 25);
    }

    #[test]
    fn lenet_workspace_is_the_two_largest_held_adjacent_activations() {
        use Role::*;
        // conv1 4608, relu fused, pool1 1152, conv2 1024, pool2 256, flatten (in place), 64, 10
        let outs = [(4608, Conv), (1152, Pool), (1024, Conv), (256, Pool), (256, InPlace), (64, Buffer), (10, Buffer)];
        // Each conv runs fused with its pool: the peak is the input and pool1's output.
        assert_eq!(workspace_len(784, &outs), 784 + 1152);
        // Without the pools the convolutions' outputs are held.
        assert_eq!(workspace_len(784, &[(4608, Conv), (1152, Buffer)]), 4608 + 1152);
        // A large input with a small first output: the input pair is the peak.
        assert_eq!(workspace_len(10_000, &[(10, Buffer), (5, Buffer)]), 10_010);
    }

    #[test]
    fn branches_do_not_count_their_input_but_copy_it_for_in_place_layers() {
        use Role::*;
        assert_eq!(branch_len(&[(100, Buffer), (60, Buffer), (10, Buffer)]), 160);
        // A relu first: the input is copied in, then the pair (100, 60).
        assert_eq!(branch_len(&[(100, InPlace), (60, Buffer)]), 160);
        assert_eq!(branch_len(&[(100, InPlace), (10, Buffer)]), 110);
        // A block's peak counts when it is the largest.
        assert_eq!(workspace_len(50, &[(50, Buffer), (50, Block(170)), (10, Buffer)]), 170);
        assert_eq!(workspace_len(50, &[(50, Block(120)), (80, Buffer)]), 130);
    }

    #[test]
    fn separable_pair_needs_one_row_more_than_its_input() {
        use Role::*;
        // KWS's blocks, int8: 25x5x64 in and out, 3x3 depthwise at stride 1
        // with a row of padding: one 320-byte row of gap either way.
        assert_eq!(separable_peak(25, 320, 25, 320, 3, 1, 1), 8_000 + 320);
        // Stride 2 (VWW's 48x48x16 -> 24x24x16 then 32 channels, TF's "same":
        // nothing before): the output rows are twice as long as the input's.
        let x = 48 * 48 * 16;
        let peak = separable_peak(48, 48 * 16, 24, 24 * 32, 3, 2, 0);
        assert!(peak >= x && peak < x + 2 * 24 * 32, "{peak}");
        // The input 490, conv1 8,000, four fused blocks, pw4's output with
        // the pooled 64, then 64 and 12.
        let (dw, pw) = ((8000, Separable { peak: 8320 }), (8000, Pointwise));
        let outs = [(8000, Buffer), dw, pw, dw, pw, dw, pw, dw, pw, (64, Pool), (64, InPlace), (12, Buffer)];
        assert_eq!(workspace_len(490, &outs), 8490);
        // Unfused, two adjacent 8,000-value activations.
        assert_eq!(workspace_len(490, &[(8000, Buffer), (8000, Buffer), (8000, Buffer)]), 16_000);
    }

    #[test]
    #[should_panic(expected = "layer `conv2`: window of 5 does not fit in its input height of 4")]
    fn empty_output_is_rejected_with_sizes() {
        window_out("conv2", "height", 4, 5, 1, 0);
    }
}
