//! Sliding-window geometry shared by convolution and pooling, and the
//! summary labels that show it.

use crate::text::Text;

/// How a window reads positions outside the input.
pub trait Padding: Copy + Default + Send + Sync + 'static {
    /// `true`: outside positions repeat the nearest edge value;
    /// `false`: they are zero (and contribute nothing).
    const EDGE: bool;
    /// Name shown in summaries.
    const NAME: &'static str;
}

/// Zero padding ("valid" when the padding amount is 0; "same" is TensorFlow's, see [`sequential!`](crate::sequential)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZeroPad;
/// Edge-replicating padding: outside positions take the nearest edge value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EdgePad;

impl Padding for ZeroPad {
    const EDGE: bool = false;
    const NAME: &'static str = "pad";
}
impl Padding for EdgePad {
    const EDGE: bool = true;
    const NAME: &'static str = "edge";
}

/// Input index read by output `o` at window offset `k` along an axis of
/// length `len`: `o * stride + k - pad`, clamped to the edge when `edge`,
/// `None` when it falls in zero padding.
#[inline(always)]
pub(crate) fn source(o: usize, k: usize, stride: usize, pad: usize, len: usize, edge: bool) -> Option<usize> {
    let i = o * stride + k;
    if i >= pad && i - pad < len {
        Some(i - pad)
    } else if edge {
        Some(if i < pad { 0 } else { len - 1 })
    } else {
        None
    }
}

/// Whether outputs `o0 .. o0 + n` read only real input positions with every
/// window offset `0..k` (no padding involved), so the inner loops can index
/// the input directly.
#[inline(always)]
pub(crate) fn block_inside(o0: usize, n: usize, k: usize, stride: usize, pad: usize, len: usize) -> bool {
    o0 * stride >= pad && (o0 + n - 1) * stride + k - 1 - pad < len
}

/// Whether `out` is the window count `(input + 2 * pad - window) / stride + 1`.
pub(crate) const fn fits(input: usize, window: usize, stride: usize, pad: usize, out: usize) -> bool {
    stride > 0 && input + 2 * pad >= window && out == (input + 2 * pad - window) / stride + 1
}

/// TensorFlow's "same" padding along an axis: `[before, after]`, the
/// smallest total that gives `ceil(input / stride)` windows, split with the
/// odd position at the end (even kernels, or stride 2 over an even input:
/// a 10-tap window at stride 2 over 49 pads 4 before and 5 after).
pub(crate) const fn tf_same(input: usize, window: usize, stride: usize) -> [usize; 2] {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + window).saturating_sub(input);
    [total / 2, total - total / 2]
}

/// Whether `out` windows fit an input padded by `pad` before it: `pad`
/// after it too ([`fits`]), or, in TensorFlow's "same" geometry whose
/// total padding is odd ([`tf_same`]), `pad + 1` after it. This is how
/// convolutions and int8 pooling read their padding: `pad` positions before
/// the first row (column), and as many after as `out` needs.
pub(crate) const fn fits_padded(input: usize, window: usize, stride: usize, pad: usize, out: usize) -> bool {
    fits(input, window, stride, pad, out) || pads_one_more(input, window, stride, pad, out)
}

/// Whether `out` windows with `pad` before the input are TensorFlow's "same"
/// with one more position of padding after it than before.
pub(crate) const fn pads_one_more(input: usize, window: usize, stride: usize, pad: usize, out: usize) -> bool {
    if stride == 0 || input == 0 {
        return false;
    }
    let [before, after] = tf_same(input, window, stride);
    out == input.div_ceil(stride) && pad == before && after == before + 1
}

/// The windows `lo ..= hi` (of `n`, each `k` long, `stride` apart) that hold
/// position `i`, or `None` when `i` falls between windows or past the last.
#[inline(always)]
pub(crate) fn windows_holding(i: usize, k: usize, stride: usize, n: usize) -> Option<(usize, usize)> {
    let lo = if i + 1 >= k { (i + 1 - k).div_ceil(stride) } else { 0 };
    let hi = if i / stride < n { i / stride } else { n - 1 };
    (lo <= hi).then_some((lo, hi))
}

/// The first input position of window `o` along an axis of length `len`
/// (windows of `k` at `stride`, starting `pad` before the input) and how
/// many of its positions lie inside the input.
#[inline(always)]
pub(crate) fn window_span(o: usize, k: usize, stride: usize, pad: usize, len: usize) -> (usize, usize) {
    let start = (o * stride) as isize - pad as isize;
    let lo = start.max(0) as usize;
    let hi = ((start + k as isize).max(0) as usize).min(len);
    (lo.min(hi), hi.saturating_sub(lo))
}

/// A layer's kind as the summary shows it, built at compile time.
pub(crate) type Label = Text<48>;

/// A convolution's summary kind: `"{kind} {KH}x{KW}/{stride}"`, then
/// `" valid"`, or the padding's name and amounts before the input
/// (`" pad 1"`, `" edge 1x0"`), with `:` and the amount after it on an axis
/// that pads one more there (TF's "same": `" pad 4:5x1"`, `" pad 0:1"`).
/// An amount is written once when both axes agree.
pub(crate) const fn conv_label(
    kind: &str,
    padding: &str,
    window: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    one_more: [bool; 2],
) -> Label {
    let label = window_label(kind, window, stride);
    if pad[0] == 0 && pad[1] == 0 && !one_more[0] && !one_more[1] {
        return label.text(" valid");
    }
    let label = label.text(" ").text(padding).text(" ");
    if pad[0] == pad[1] && one_more[0] == one_more[1] {
        // Written once when both axes agree.
        let label = label.num(pad[0]);
        return if one_more[0] { label.text(":").num(pad[0] + 1) } else { label };
    }
    if !one_more[0] && !one_more[1] {
        return label.pair(pad);
    }
    let label = label.num(pad[0]);
    let label = if one_more[0] { label.text(":").num(pad[0] + 1) } else { label };
    let label = label.text("x").num(pad[1]);
    if one_more[1] {
        label.text(":").num(pad[1] + 1)
    } else {
        label
    }
}

/// `"{kind} {KH}x{KW}/{stride}"`, the stride written once when both axes
/// agree: `"MaxPool2d 2x2/2"`, `"Conv2d 3x2/1x2"`.
pub(crate) const fn window_label(kind: &str, window: [usize; 2], stride: [usize; 2]) -> Label {
    Label::new().text(kind).text(" ").num(window[0]).text("x").num(window[1]).text("/").pair(stride)
}
