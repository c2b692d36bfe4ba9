//! Whole networks: the [`Model`] trait, the inference [`Workspace`] and the
//! [`Pass`] that runs layers over it; the [`sequential!`](crate::sequential)
//! macro that declares a model, the compile-time [`shape`] rules it checks,
//! the [`fuse`]d steps of inference and the [`summary`] table.
//!
//! Composes the [`layers`](crate::layers); nothing here is host-only.

use crate::tensor::Element;
use crate::{Float, Layer, LayerInfo, Params, Rng, Tensor};

pub mod fuse;
pub mod int8;
pub mod residual;
mod sequential;
pub mod shape;
pub mod summary;

pub use fuse::{FuseWith, SeparableWith};
pub use int8::{Int8, Int8Model, QuantizeModel};
pub use residual::{Identity, QResidual, Residual};

/// Layer `I` of a model, by position: lets [`sequential!`](crate::sequential)
/// write each layer's type once.
#[doc(hidden)]
pub trait LayerAt<T: Float, const I: usize> {
    /// The layer's type.
    type Layer: Layer<T>;
}

/// The geometry of layer `I` of a model, computed once at compile time by
/// [`sequential!`](crate::sequential) and used by every type that needs it
/// (the layer's own, the next layer's, the workspace's): a layer that does
/// not fit is reported once. Implemented on a type of the macro's own,
/// beside the model, since the model's layout depends on these values.
#[doc(hidden)]
pub trait LayerShape<const I: usize> {
    /// Padding before and after the input, height then width (convolutions).
    const PAD: [[usize; 2]; 2] = [[0, 0], [0, 0]];
    /// Elements of workspace the layer holds at its peak (residual blocks).
    const PEAK: usize = 0;
    /// The layer's output.
    const OUT: shape::Dims;
}

/// A type for which all-zero bytes are a valid value: scalars, arrays and
/// tuples of them (the activation traces of a model).
///
/// # Safety
/// All-zero bytes must be a valid value of the implementor.
pub unsafe trait Zeroable {}

// SAFETY: zero bits are 0.0.
unsafe impl Zeroable for f32 {}
// SAFETY: zero bits are 0.0.
unsafe impl Zeroable for f64 {}
// SAFETY: zero bits are 0.
unsafe impl Zeroable for i8 {}
// SAFETY: no bytes.
unsafe impl Zeroable for () {}
// SAFETY: an array of zeroable values is zeroable.
unsafe impl<Z: Zeroable, const N: usize> Zeroable for [Z; N] {}

/// Implements [`Zeroable`] for tuples of every length up to the given list's.
macro_rules! zeroable_tuples {
    () => {};
    ($first:ident $($rest:ident)*) => {
        // SAFETY: a tuple of zeroable values is zeroable.
        unsafe impl<$first: Zeroable $(, $rest: Zeroable)*> Zeroable for ($first, $($rest,)*) {}
        zeroable_tuples!($($rest)*);
    };
}
// As many as `sequential!` takes layers: a model's trace is a tuple of one
// output per layer.
zeroable_tuples! {
    A0 A1 A2 A3 A4 A5 A6 A7 A8 A9
    A10 A11 A12 A13 A14 A15 A16 A17 A18 A19
    A20 A21 A22 A23 A24 A25 A26 A27 A28 A29
    A30 A31 A32 A33 A34 A35 A36 A37 A38 A39
    A40 A41 A42 A43 A44 A45 A46 A47 A48 A49
    A50 A51 A52 A53 A54 A55 A56 A57 A58 A59
    A60 A61 A62 A63 A64 A65 A66 A67 A68 A69
    A70 A71 A72 A73 A74 A75 A76 A77 A78 A79
    A80 A81 A82 A83 A84 A85 A86 A87 A88 A89
    A90 A91 A92 A93 A94 A95 A96 A97 A98 A99
}

/// A layer's slot in a model's trace, and the layer's output in it: the
/// output itself for most layers, the output and the branches' traces for a
/// [`Residual`] block.
pub trait Slot {
    /// The layer's output.
    type Out;
    /// The output.
    fn out(&self) -> &Self::Out;
    /// The output, mutably.
    fn out_mut(&mut self) -> &mut Self::Out;
}

/// Tensors: the slot is the output.
macro_rules! tensor_slots {
    ($([$($generics:tt)*] $tensor:ty),+) => {$(
        impl<$($generics)*> Slot for $tensor {
            type Out = Self;
            #[inline(always)]
            fn out(&self) -> &Self {
                self
            }
            #[inline(always)]
            fn out_mut(&mut self) -> &mut Self {
                self
            }
        }
    )+};
}
tensor_slots!([E: Element, const N: usize] [E; N], [E: Element, const H: usize, const W: usize, const C: usize] [[[E; C]; W]; H]);

/// One row of a model summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSummary {
    /// Field name of the layer in the model struct.
    pub name: &'static str,
    /// Kind, activation, bias.
    pub info: LayerInfo,
    /// Input shape (`[H, W, C]` or `[N]`).
    pub input: &'static [usize],
    /// Output shape.
    pub output: &'static [usize],
    /// Trainable parameters.
    pub params: usize,
}

impl LayerSummary {
    /// The row for layer `L` named `name`.
    pub const fn of<T: Float, L: Layer<T>>(name: &'static str) -> Self {
        Self {
            name,
            info: L::INFO,
            input: <L::Input as Tensor<T>>::SHAPE,
            output: <L::Output as Tensor<T>>::SHAPE,
            params: <L as Params<T>>::LEN,
        }
    }
}

/// A network: layers in sequence, with every shape fixed at compile time.
///
/// Implemented by [`sequential!`](crate::sequential); the methods for
/// training (`forward_train`, `backward`) are driven by the trainer.
pub trait Model<T: Float>: Params<T> {
    /// The image (or vector) the network reads.
    type Input: Tensor<T>;
    /// What the network produces (after the last activation).
    type Output: Tensor<T>;
    /// Scratch memory for [`Model::predict`]; its size is the RAM that
    /// inference needs beyond the weights and the input.
    type Workspace: AsMut<[T]> + Default + WorkspaceLen;
    /// Every layer's output, kept by a training step for the backward pass.
    type Trace: Zeroable;

    /// One row per layer.
    const LAYERS: &'static [LayerSummary];
    /// Changes whenever any layer's kind, shape or options change, or the
    /// scalar type does: saved weights carry it, so another architecture's
    /// weights never load.
    const FINGERPRINT: u64;
    /// Bytes of the parameters (`Params::LEN * size_of::<T>()`).
    const PARAM_BYTES: usize = Self::LEN * T::BYTES;
    /// Bytes of the inference workspace.
    const WORKSPACE_BYTES: usize = core::mem::size_of::<Self::Workspace>();

    /// Draws initial weights from `rng` (fan-in-scaled uniform, zero bias).
    fn init(&mut self, rng: &mut Rng);

    /// A new model with weights drawn from `seed`. Builds the model on the
    /// stack: on a microcontroller, prefer a `static` and [`Model::init`];
    /// on the host, for models of more than a few hundred kilobytes,
    /// [`Model::new_boxed`].
    fn new(seed: u64) -> Self
    where
        Self: Sized,
    {
        let mut m: Self = crate::zeroed();
        m.init(&mut Rng::new(seed));
        m
    }

    /// [`Model::new`] on the heap: the model is never on the stack, whatever
    /// its size.
    #[cfg(feature = "std")]
    fn new_boxed(seed: u64) -> std::boxed::Box<Self>
    where
        Self: Sized,
    {
        let mut m = crate::zeroed_boxed::<T, Self>();
        m.init(&mut Rng::new(seed));
        m
    }

    /// Runs the network on `x`, using only `workspace` for intermediate
    /// activations, and returns the output, which lives in the workspace.
    /// Allocates nothing and cannot fail. (Copies `x` into the workspace
    /// and calls [`Model::predict_staged`].)
    fn predict<'w>(&self, x: &Self::Input, workspace: &'w mut Self::Workspace) -> &'w Self::Output {
        Self::staged_input(workspace).as_flat_mut().copy_from_slice(x.as_flat());
        self.predict_staged(workspace)
    }

    /// Where [`Model::predict_staged`] reads its input: the top end of the
    /// workspace. Write the image here instead of into a buffer of its own,
    /// and inference needs no RAM beyond the workspace (and the stack).
    fn staged_input(workspace: &mut Self::Workspace) -> &mut Self::Input {
        let buf = workspace.as_mut();
        let at = buf.len() - <Self::Input as Tensor<T>>::LEN;
        view_mut::<T, Self::Input>(&mut buf[at..])
    }

    /// [`Model::predict`] on the input written through
    /// [`Model::staged_input`]; the first layer's output overwrites it.
    fn predict_staged<'w>(&self, workspace: &'w mut Self::Workspace) -> &'w Self::Output {
        self.run(Pass::staged::<Self::Input>(workspace.as_mut())).output()
    }

    /// Elements of workspace [`Model::run`] needs when its input lies
    /// outside the buffer it runs in (the model is a branch of a
    /// [`Residual`] block, whose input stays live): the largest pair of
    /// adjacent activations it holds, not counting the input.
    const BRANCH_LEN: usize;

    /// Runs every layer on the pass's current activation: the steps of
    /// [`Model::predict_staged`], and of a [`Residual`] block's branch.
    fn run<'w>(&self, pass: Pass<'w, T>) -> Pass<'w, T>;

    /// For a model whose last layer can run fused with a [`Residual`]
    /// block's add (a convolution after at least one other layer): the
    /// [`Model::BRANCH_LEN`] of the layers before it (the head) and the
    /// length of the head's output. `None` for other models.
    const HEAD: Option<(usize, usize)>;

    /// The steps of every layer but the last (see [`Model::HEAD`]).
    fn run_head<'w>(&self, pass: Pass<'w, T>) -> Pass<'w, T>;

    /// The last layer on the head's output `x` (flat), each output joined
    /// as it is computed: `out[i] = join(y[i], skip[i])`, `skip` being
    /// `out` itself when `None` (in place). Does nothing unless
    /// [`Model::HEAD`] is `Some`.
    fn last_join(&self, x: &[T], skip: Option<&[T]>, out: &mut [T], join: impl FnMut(T, T) -> T);

    /// A zeroed trace (one buffer per layer output), on the heap.
    #[cfg(feature = "std")]
    fn new_trace() -> std::boxed::Box<Self::Trace> {
        // SAFETY: `Self::Trace: Zeroable`: all-zero bytes are a valid value.
        unsafe { std::boxed::Box::new_zeroed().assume_init() }
    }

    /// Training-mode forward pass of one sample: fills `trace` with every
    /// layer's output. `seed` drives dropout. With `fused_output` the last
    /// layer leaves out its activation: the output slot holds logits for a
    /// loss fused with that activation (see [`Model::backward`]).
    fn forward_train(&self, x: &Self::Input, trace: &mut Self::Trace, seed: u64, fused_output: bool);

    /// Inference-mode forward pass of one sample that keeps every layer's
    /// output in `trace` (dropout passes values through). With `logits`
    /// the last layer leaves out its activation. Calibration for int8
    /// quantization reads the ranges of these outputs.
    fn forward_trace(&self, x: &Self::Input, trace: &mut Self::Trace, logits: bool);

    /// Layer `i`'s output in a trace, flat (empty past the last layer).
    fn layer_output(trace: &Self::Trace, i: usize) -> &[T];

    /// The network output stored in a trace.
    fn output(trace: &Self::Trace) -> &Self::Output;
    /// The slot for the loss gradient in a gradient trace.
    fn output_mut(trace: &mut Self::Trace) -> &mut Self::Output;

    /// Backward pass of one sample. `trace` is what [`Model::forward_train`]
    /// wrote; `grad` holds the loss gradient in its output slot (see
    /// [`Model::output_mut`]) and receives every layer's output gradient.
    /// Parameter gradients are *added* to `grads`. With `fused_output`, the
    /// output gradient is already taken through the last activation (softmax
    /// with cross-entropy, sigmoid with binary cross-entropy).
    fn backward(
        &self,
        x: &Self::Input,
        trace: &Self::Trace,
        grad: &mut Self::Trace,
        grads: &mut Self,
        seed: u64,
        fused_output: bool,
    ) {
        self.backward_to(x, trace, grad, grads, seed, fused_output, None);
    }

    /// [`Model::backward`], also writing the gradient with respect to the
    /// input into `dx` when it is given (a [`Residual`] block's branches
    /// pass theirs on to the block's input).
    #[allow(clippy::too_many_arguments)]
    fn backward_to(
        &self,
        x: &Self::Input,
        trace: &Self::Trace,
        grad: &mut Self::Trace,
        grads: &mut Self,
        seed: u64,
        fused_output: bool,
        dx: Option<&mut Self::Input>,
    );

    /// Total number of parameters.
    fn param_count() -> usize {
        Self::LEN
    }
}

/// Inference scratch memory of `N` scalars: enough for the two largest
/// adjacent activations, which is all a sequential network ever needs live.
#[repr(transparent)]
pub struct Workspace<T, const N: usize> {
    buf: [T; N],
}

impl<T: Element, const N: usize> Workspace<T, N> {
    /// A zeroed workspace; `const`, so it can live in a `static` (`.bss`).
    pub const fn new() -> Self {
        // SAFETY: all-zero bytes are a valid `Element` (its `Zeroable` bound).
        Self { buf: unsafe { core::mem::zeroed() } }
    }
}

impl<T: Element, const N: usize> Default for Workspace<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The number of elements of a workspace type, for workspaces of other
/// element types sized alike (the int8 model's).
#[doc(hidden)]
pub trait WorkspaceLen {
    /// Elements.
    const LEN: usize;
}

impl<T, const N: usize> WorkspaceLen for Workspace<T, N> {
    const LEN: usize = N;
}

impl<T, const N: usize> AsMut<[T]> for Workspace<T, N> {
    fn as_mut(&mut self) -> &mut [T] {
        &mut self.buf
    }
}

/// Runs layers one after another over a workspace, placing each output at
/// the end of the buffer opposite to its input (ping-pong from both ends), so
/// the buffer only needs the largest *adjacent* pair of activations (less
/// for [`Pass::then_separable`], whose output overwrites its input).
///
/// [`Model::predict_staged`] is `Pass::staged(..)` followed by one `then` per
/// layer, or one `then_fused` per convolution and the pooling after it;
/// calling the steps yourself lets firmware measure each layer (see
/// `firmware-example`). A [`Residual`] block runs its branches as passes of
/// their own over the part of the buffer its input does not hold.
pub struct Pass<'w, T> {
    buf: &'w mut [T],
    /// Current activation: its length and whether it sits at the top end.
    len: usize,
    top: bool,
    /// The current activation when it lies outside `buf`: a residual
    /// block's input, which its branches read and must not overwrite.
    outside: Option<&'w [T]>,
}

impl<'w, T: Element> Pass<'w, T> {
    /// Starts from an input of type `X` staged at the top end of `buf`
    /// (see [`Model::staged_input`]).
    #[inline(always)]
    pub fn staged<X: Tensor<T>>(buf: &'w mut [T]) -> Self {
        Self { len: X::LEN, top: true, buf, outside: None }
    }

    /// Starts from `input`, which lies outside `buf`: the first step writes
    /// its output at the bottom of `buf` and never touches `input`.
    #[inline(always)]
    pub(crate) fn outside(input: &'w [T], buf: &'w mut [T]) -> Self {
        Self { len: input.len(), top: false, buf, outside: Some(input) }
    }

    /// Computes an `Y` from the current activation, read as an `X`, into the
    /// other end of the buffer.
    #[inline(always)]
    pub(crate) fn step<X: Tensor<T>, Y: Tensor<T>>(mut self, f: impl FnOnce(&X, &mut Y)) -> Self {
        let n = self.buf.len();
        if let Some(x) = self.outside.take() {
            f(view(x), view_mut(&mut self.buf[..Y::LEN]));
            self.top = false;
        } else if self.top {
            let (lo, hi) = self.buf.split_at_mut(n - self.len);
            f(view(hi), view_mut(&mut lo[..Y::LEN]));
            self.top = false;
        } else {
            let (lo, hi) = self.buf.split_at_mut(n - Y::LEN);
            f(view(lo), view_mut(hi));
            self.top = true;
        }
        self.len = Y::LEN;
        self
    }

    /// Runs a depthwise convolution and the 1x1 convolution after it as one
    /// step whose output overwrites the input rows already read (see
    /// [`SeparableWith`]); the workspace is sized for it.
    #[inline(always)]
    pub fn then_separable<L: SeparableWith<T, N>, N>(mut self, layer: &L, next: &N) -> Self {
        if self.outside.is_some() {
            // A residual branch's input: copied in, as it is overwritten.
            let _ = self.current_mut();
        }
        let n = self.buf.len();
        let out = <L::Output as Tensor<T>>::LEN;
        let (x_at, y_at) = if self.top { (n - self.len, 0) } else { (0, n - out) };
        layer.forward_separable(next, self.buf, x_at, y_at, self.top);
        self.len = out;
        self.top = !self.top;
        self
    }

    /// The current activation, flat, where it lies (for in-place layers);
    /// an input outside the buffer is copied to its bottom first.
    #[inline(always)]
    pub(crate) fn current_mut(&mut self) -> &mut [T] {
        if let Some(x) = self.outside.take() {
            self.buf[..x.len()].copy_from_slice(x);
            self.top = false;
        }
        let at = if self.top { self.buf.len() - self.len } else { 0 };
        &mut self.buf[at..at + self.len]
    }

    /// Where the current activation starts in the buffer, and its length.
    #[inline(always)]
    fn span(&self) -> (usize, usize) {
        (if self.top { self.buf.len() - self.len } else { 0 }, self.len)
    }

    /// The final activation.
    #[inline(always)]
    pub fn output<O: Tensor<T>>(self) -> &'w O {
        if let Some(x) = self.outside {
            return view::<T, O>(x);
        }
        let n = self.buf.len();
        let at = if self.top { n - self.len } else { 0 };
        view::<T, O>(&self.buf[at..])
    }

    /// Runs a residual block on the current activation `x`, which stays
    /// live: `main` as a pass over the rest of the buffer, then `shortcut`
    /// (not with `identity`: the shortcut is `x` itself) over what `main`'s output leaves
    /// free, then `join(main, shortcut)` for each of the `len` outputs,
    /// written at the end of the buffer opposite to `x`. Nothing is copied:
    /// the outputs are written in the direction that never overwrites a
    /// value still to be read (each source starts at or beyond the output's
    /// start, counted from that end).
    #[inline(always)]
    pub(crate) fn block(
        mut self,
        main: impl for<'a> FnOnce(Pass<'a, T>) -> Pass<'a, T>,
        shortcut: impl for<'a> FnOnce(Pass<'a, T>) -> Pass<'a, T>,
        identity: bool,
        len: usize,
        mut join: impl FnMut(T, T) -> T,
    ) -> Self {
        if self.outside.is_some() {
            // A block right at the start of a branch: hold its input in the buffer.
            let _ = self.current_mut();
        }
        let n = self.buf.len();
        let (x_at, x_len) = self.span();
        // The part of the buffer `x` leaves free, and where it starts.
        let free_at = if self.top { 0 } else { x_len };
        let (m_at, m_len, s_at) = {
            let (lo, hi) = self.buf.split_at_mut(x_at);
            let (x, rest) = hi.split_at_mut(x_len);
            let free = if self.top { lo } else { rest };
            let x: &[T] = x;
            let (m_at, m_len) = main(Pass::outside(x, free)).span();
            let s_at = if identity {
                x_at
            } else {
                // The shortcut runs beside the main branch's output.
                let (skip, free2) = if m_at == 0 { (m_len, &mut free[m_len..]) } else { (0, &mut free[..m_at]) };
                let s = shortcut(Pass::outside(x, free2));
                free_at + skip + s.span().0
            };
            (free_at + m_at, m_len, s_at)
        };
        debug_assert!(m_len == len);
        let buf = &mut *self.buf;
        if self.top {
            for i in 0..len {
                buf[i] = join(buf[m_at + i], buf[s_at + i]);
            }
        } else {
            for i in (0..len).rev() {
                buf[n - len + i] = join(buf[m_at + i], buf[s_at + i]);
            }
        }
        self.len = len;
        self.top = !self.top;
        self
    }

    /// [`Pass::block`] with the main branch's last layer fused with the
    /// add: `head` (the main branch but its last layer) runs beside `x`,
    /// then `shortcut` (not with `identity`) beside the head's output, then
    /// `last(head output, shortcut output, out)` writes the block's `len`
    /// outputs over `x`, which is dead by then (with `identity`, in place:
    /// each output over the input value it adds). The output stays at `x`'s
    /// end of the buffer; `len` is at most `x`'s length.
    #[inline(always)]
    pub(crate) fn block_fused(
        mut self,
        head: impl for<'a> FnOnce(Pass<'a, T>) -> Pass<'a, T>,
        shortcut: impl for<'a> FnOnce(Pass<'a, T>) -> Pass<'a, T>,
        identity: bool,
        len: usize,
        last: impl FnOnce(&[T], Option<&[T]>, &mut [T]),
    ) -> Self {
        if self.outside.is_some() {
            let _ = self.current_mut();
        }
        let (x_at, x_len) = self.span();
        let (lo, hi) = self.buf.split_at_mut(x_at);
        let (x, rest) = hi.split_at_mut(x_len);
        let free = if self.top { lo } else { rest };
        let (c_at, c_len) = head(Pass::outside(&*x, free)).span();
        // The output's place in `x`: at the buffer's end.
        let at = if self.top { x_len - len } else { 0 };
        if identity {
            last(&free[c_at..c_at + c_len], None, &mut x[at..at + len]);
        } else {
            // The shortcut runs beside the head's output.
            let (c, free2) = if c_at == 0 {
                let (c, rest) = free.split_at_mut(c_len);
                (&*c, rest)
            } else {
                let (rest, c) = free.split_at_mut(c_at);
                (&c[..c_len], rest)
            };
            let (s_at, s_len) = shortcut(Pass::outside(&*x, free2)).span();
            last(c, Some(&free2[s_at..s_at + s_len]), &mut x[at..at + len]);
        }
        self.len = len;
        self
    }
}

impl<'w, T: Float> Pass<'w, T> {
    /// Runs the next layer on the current activation.
    #[inline(always)]
    pub fn then<L: Layer<T>>(self, layer: &L) -> Self {
        if L::IN_PLACE {
            let mut pass = self;
            layer.forward_in_place(pass.current_mut());
            return pass;
        }
        self.step(|x, y| layer.forward(x, y))
    }

    /// Runs the next layer and the one after it as one step, without the
    /// first one's output (see [`FuseWith`]).
    #[inline(always)]
    pub fn then_fused<L: FuseWith<T, N>, N: Layer<T, Input = L::Output>>(self, layer: &L, next: &N) -> Self {
        self.step(|x, y| layer.forward_fused(next, x, y))
    }
}

/// Typed view of the start of a workspace slice. The workspace is sized by
/// [`crate::model::shape::workspace_len`] from the same layer list, so it always fits.
#[inline(always)]
fn view<T: Element, X: Tensor<T>>(s: &[T]) -> &X {
    X::from_flat(s).expect("workspace is sized for every activation")
}

#[inline(always)]
fn view_mut<T: Element, X: Tensor<T>>(s: &mut [T]) -> &mut X {
    X::from_flat_mut(s).expect("workspace is sized for every activation")
}
