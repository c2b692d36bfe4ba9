//! Sliding-window geometry shared by convolution and pooling.

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
    const NAME: &'static str = "zero";
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

/// Whether `out` is the window count `(input + 2 * pad - window) / stride + 1`.
pub(crate) const fn fits(input: usize, window: usize, stride: usize, pad: usize, out: usize) -> bool {
    stride > 0 && input + 2 * pad >= window && out == (input + 2 * pad - window) / stride + 1
}
