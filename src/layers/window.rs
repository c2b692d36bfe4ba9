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

/// Zero padding ("valid" when the padding amount is 0, "same" at `(k-1)/2`).
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
pub(crate) type Label = Text<32>;

/// `"{kind} {KH}x{KW}/{stride}"`, the stride written once when both axes
/// agree: `"MaxPool2d 2x2/2"`, `"Conv2d 3x2/1x2"`.
pub(crate) const fn window_label(kind: &str, window: [usize; 2], stride: [usize; 2]) -> Label {
    Label::new().text(kind).text(" ").num(window[0]).text("x").num(window[1]).text("/").pair(stride)
}
