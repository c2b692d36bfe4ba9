//! Residual blocks: a branch of layers whose output is added to the block's
//! input, or to a shortcut branch of its own, with an activation after the
//! add (ResNet's `y = relu(F(x) + x)` and, where the shapes change,
//! `y = relu(F(x) + P(x))` with a 1x1 strided convolution `P`).
//!
//! # Why branches are models of their own
//!
//! Each branch is declared with [`sequential!`](crate::sequential) like any
//! network, and the block is one layer of the outer declaration:
//!
//! ```
//! constnet::sequential! {
//!     /// The main branch: two 3x3 convolutions that keep the shape.
//!     pub struct Stack: [8, 8, 4] {
//!         conv1: Conv2d<4, 3, pad = same> => Relu,
//!         conv2: Conv2d<4, 3, pad = same>,
//!     }
//! }
//! constnet::sequential! {
//!     pub struct Net: [8, 8, 1] {
//!         stem: Conv2d<4, 3, pad = same> => Relu,
//!         block: Residual<Stack> => Relu, // relu(stack(x) + x)
//!         pool: AvgPool2d<8>,
//!         flat: Flatten,
//!         out: Dense<10> => Softmax,
//!     }
//! }
//! # use constnet::Model;
//! # assert_eq!(Net::<f32>::param_count(), 4 * 9 + 4 + 2 * (4 * 4 * 9 + 4) + 4 * 10 + 10);
//! ```
//!
//! `Residual<Main>` adds the block's input; `Residual<Main, Shortcut>` adds
//! the output of a second branch. This reads like the graph (a block is one
//! line, its branches are named networks that can be tested on their own),
//! and it keeps the macro flat: a block is one layer of the outer model
//! (its summary row, its trace slot, its field), and everything inside it is
//! the branch models' own code, already written for every model: shapes,
//! training, int8, quantization. A branch states its input shape, which the
//! block checks against what reaches it; a block whose branches do not meet
//! in the same shape is a compile error that names both.
//!
//! # Memory
//!
//! At inference the block's input stays live while its branches run: the
//! main branch ping-pongs over the rest of the workspace, the shortcut over
//! what the main branch's output leaves free (`Pass::block`). Where the
//! main branch ends in a convolution after another layer, that last
//! convolution runs fused with the add (`Pass::block_fused`, [`Joined`]):
//! each output is added to the shortcut's value (or the input's) as soon as
//! it is computed and written over the block's input, whose last reader it
//! is, so the last convolution's output never exists on its own. That saves
//! one activation of the block's output size: in ResNet-8's first stack a
//! 32x32x16 map, 16 KiB in int8 (its workspace is 32,768 bytes fused,
//! 49,152 unfused). A block then needs its input plus the most its branches
//! hold at once: the main branch's [`Model::BRANCH_LEN`] (its head's,
//! [`Model::HEAD`], when fused), or its (head's) output beside the
//! shortcut's peak ([`block_len`]). `WORKSPACE_BYTES` is the largest of
//! that and the adjacent pairs of the other layers. In training the block's
//! trace slot keeps both branches' traces, so its backward pass needs no
//! recomputation and no allocation; the gradient of the block's input is
//! the sum of the two branches' input gradients.

use super::{Model, Pass, QuantizeModel, Slot, Zeroable};
use crate::kernels::dispatch3;
use crate::layers::int8::{QAdd, QConv2d, QuantizeError, QuantizeOptions, Range, Retype};
use crate::layers::{fingerprint, str_hash, Activation, BiasTerm, Padding};
use crate::model::Int8Model;
use crate::quant::{Bytes, QParams};
use crate::rng::splitmix64;
use crate::tensor::Element;
use crate::{Conv2d, Float, Layer, LayerInfo, Params, Rng, Tensor, TrainContext};
use core::marker::PhantomData;

/// A residual block: `A(main(x) + shortcut(x))`, `main` a model (a
/// [`sequential!`](crate::sequential) branch) and `shortcut` another one
/// or [`Identity`] (the block's input itself).
#[repr(C)]
pub struct Residual<M, S, A> {
    /// The main branch.
    pub main: M,
    /// The shortcut branch ([`Identity`]: none).
    pub shortcut: S,
    act: PhantomData<A>,
}

/// The shortcut of a block that adds its input unchanged.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity;

// SAFETY: zero-sized, alignment 1.
unsafe impl<T: Float> Params<T> for Identity {}
// SAFETY: zero-sized, alignment 1.
unsafe impl Bytes for Identity {}

// SAFETY: `#[repr(C)]` of two `Params<T>` types and a zero-sized marker.
unsafe impl<T: Float, M: Params<T>, S: Params<T>, A> Params<T> for Residual<M, S, A> {}

/// A block's trace slot in its model's trace: both branches' traces and the
/// block's output (after the activation). The same type holds the
/// gradients in the gradient trace.
#[repr(C)]
pub struct BlockTrace<MT, ST, Y> {
    /// The main branch's trace.
    pub main: MT,
    /// The shortcut's trace.
    pub shortcut: ST,
    /// The block's output.
    pub out: Y,
}

// SAFETY: all-zero fields are valid values.
unsafe impl<MT: Zeroable, ST: Zeroable, Y: Zeroable> Zeroable for BlockTrace<MT, ST, Y> {}

impl<MT, ST, Y> Slot for BlockTrace<MT, ST, Y> {
    type Out = Y;
    #[inline(always)]
    fn out(&self) -> &Y {
        &self.out
    }
    #[inline(always)]
    fn out_mut(&mut self) -> &mut Y {
        &mut self.out
    }
}

/// What a block needs of its shortcut branch over input `X`: another model
/// reading `X`, or [`Identity`].
pub trait Shortcut<T: Float, X: Tensor<T>>: Params<T> {
    /// The branch's trace, with room for its input gradient.
    type Trace: Zeroable;
    /// Whether the shortcut is the input itself.
    const IDENTITY: bool;
    /// The branch's [`Model::BRANCH_LEN`] (0 for the identity).
    const BRANCH_LEN: usize;
    /// The branch's fingerprint.
    const FINGERPRINT: u64;
    /// The branch's output's shape.
    const SHAPE: &'static [usize];
    /// Draws initial weights.
    fn init(&mut self, rng: &mut Rng);
    /// Training forward pass into `trace`.
    fn forward_train(&self, x: &X, trace: &mut Self::Trace, seed: u64);
    /// Inference-mode forward pass into `trace`.
    fn forward_trace(&self, x: &X, trace: &mut Self::Trace);
    /// The branch's output, flat.
    fn output<'a>(trace: &'a Self::Trace, x: &'a X) -> &'a [T];
    /// Backward pass for the output gradient `dy`; *adds* the input
    /// gradient to `dx`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        x: &X,
        trace: &Self::Trace,
        grad: &mut Self::Trace,
        dy: &[T],
        grads: &mut Self,
        seed: u64,
        dx: Option<&mut X>,
    );
    /// `y[i] = join(y[i], shortcut(x)[i])`, the branch run with a workspace of its own.
    fn join_into(&self, x: &X, y: &mut [T], join: impl FnMut(T, T) -> T);
    /// The branch's inference steps.
    fn run<'w>(&self, pass: Pass<'w, T>) -> Pass<'w, T>;
}

impl<T: Float, X: Tensor<T>> Shortcut<T, X> for Identity {
    type Trace = ();
    const IDENTITY: bool = true;
    const BRANCH_LEN: usize = 0;
    const FINGERPRINT: u64 = str_hash("Identity");
    const SHAPE: &'static [usize] = X::SHAPE;
    fn init(&mut self, _: &mut Rng) {}
    fn forward_train(&self, _: &X, _: &mut (), _: u64) {}
    fn forward_trace(&self, _: &X, _: &mut ()) {}
    fn output<'a>(_: &'a (), x: &'a X) -> &'a [T] {
        x.as_flat()
    }
    fn backward(&self, _: &X, _: &(), _: &mut (), dy: &[T], _: &mut Self, _: u64, dx: Option<&mut X>) {
        if let Some(dx) = dx {
            dx.as_flat_mut().iter_mut().zip(dy).for_each(|(d, &g)| *d += g);
        }
    }
    fn join_into(&self, x: &X, y: &mut [T], mut join: impl FnMut(T, T) -> T) {
        y.iter_mut().zip(x.as_flat()).for_each(|(y, &x)| *y = join(*y, x));
    }
    fn run<'w>(&self, pass: Pass<'w, T>) -> Pass<'w, T> {
        pass
    }
}

/// Every [`sequential!`](crate::sequential) model: what makes a model a
/// shortcut branch (a marker, so that the identity's impl cannot overlap).
pub trait Sequential {}

impl<T: Float, S: Model<T> + Sequential> Shortcut<T, S::Input> for S {
    /// The branch's trace and its input gradient (the backward pass adds
    /// it to the block's).
    type Trace = (S::Trace, S::Input);
    const IDENTITY: bool = false;
    const BRANCH_LEN: usize = S::BRANCH_LEN;
    const FINGERPRINT: u64 = S::FINGERPRINT;
    const SHAPE: &'static [usize] = <S::Output as Tensor<T>>::SHAPE;
    fn init(&mut self, rng: &mut Rng) {
        Model::init(self, rng);
    }
    fn forward_train(&self, x: &S::Input, trace: &mut Self::Trace, seed: u64) {
        Model::forward_train(self, x, &mut trace.0, seed, false);
    }
    fn forward_trace(&self, x: &S::Input, trace: &mut Self::Trace) {
        Model::forward_trace(self, x, &mut trace.0, false);
    }
    fn output<'a>(trace: &'a Self::Trace, _: &'a S::Input) -> &'a [T] {
        S::output(&trace.0).as_flat()
    }
    fn backward(
        &self,
        x: &S::Input,
        trace: &Self::Trace,
        grad: &mut Self::Trace,
        dy: &[T],
        grads: &mut Self,
        seed: u64,
        dx: Option<&mut S::Input>,
    ) {
        S::output_mut(&mut grad.0).as_flat_mut().copy_from_slice(dy);
        let (g, gx) = grad;
        self.backward_to(x, &trace.0, g, grads, seed, false, dx.is_some().then_some(&mut *gx));
        if let Some(dx) = dx {
            dx.as_flat_mut().iter_mut().zip(gx.as_flat()).for_each(|(d, &g)| *d += g);
        }
    }
    fn join_into(&self, x: &S::Input, y: &mut [T], mut join: impl FnMut(T, T) -> T) {
        let mut ws = S::Workspace::default();
        let s = self.predict(x, &mut ws);
        y.iter_mut().zip(s.as_flat()).for_each(|(y, &s)| *y = join(*y, s));
    }
    fn run<'w>(&self, pass: Pass<'w, T>) -> Pass<'w, T> {
        Model::run(self, pass)
    }
}

/// Whether a block runs its main branch's last layer fused with the add
/// (`Pass::block_fused`): the branch allows it (its [`Model::HEAD`]), and
/// the output fits where the block's input was (with a shortcut, the
/// output may be smaller than the input; without one they are the same).
pub const fn fuses(head: Option<(usize, usize)>, input: usize, out: usize) -> bool {
    head.is_some() && out <= input
}

/// Elements of workspace a block needs: its input, held throughout, and
/// the most its branches hold at once. Unfused, the main branch's own peak
/// `main`, or its output beside the shortcut's peak; fused, the same with
/// the head (the main branch without its last layer) in place of the main
/// branch, since the last layer writes over the input. `shortcut` is the
/// shortcut's [`Model::BRANCH_LEN`], `None` for the identity.
pub const fn block_len(
    input: usize,
    main: usize,
    head: Option<(usize, usize)>,
    out: usize,
    shortcut: Option<usize>,
) -> usize {
    let short = match shortcut {
        Some(len) => len,
        None => 0,
    };
    let (branch, beside) = match head {
        Some((head_len, head_out)) if fuses(head, input, out) => (head_len, head_out),
        _ => (main, out),
    };
    input + if branch > beside + short { branch } else { beside + short }
}

/// A layer that can run fused with a residual block's add: each output is
/// joined with the other branch's as soon as it is computed, so the
/// layer's output never exists on its own (see `Pass::block_fused`).
pub trait Joined<E: Element> {
    /// The input the layer reads.
    type Input;
    /// `out[i] = join(y[i], skip[i])` for the layer's output `y` (after its
    /// own activation), `skip` being `out` itself when `None`.
    fn forward_join(&self, x: &Self::Input, skip: Option<&[E]>, out: &mut [E], join: impl FnMut(E, E) -> E);
}

crate::layers::conv::conv_impl! {<Joined<T>> {
    type Input = [[[T; C]; W]; H];

    fn forward_join(&self, x: &Self::Input, skip: Option<&[T]>, out: &mut [T], mut join: impl FnMut(T, T) -> T) {
        let () = Self::SHAPE_OK;
        const { assert!(A::ELEMENTWISE, "a convolution with softmax over its filters cannot be fused with an add") };
        dispatch3(
            self,
            x,
            out,
            #[inline(always)]
            |conv, x, out| {
                for oy in 0..OH {
                    conv.row(
                        x,
                        oy,
                        #[inline(always)]
                        |ox, f0, v| {
                            A::apply(v, F);
                            let at = (oy * OW + ox) * F + f0;
                            for (k, &v) in v.iter().enumerate() {
                                let s = match skip {
                                    Some(s) => s[at + k],
                                    None => out[at + k],
                                };
                                out[at + k] = join(v, s);
                            }
                        },
                    );
                }
            },
        );
    }
}}

crate::layers::int8::qconv_impl! {<Joined<i8>> {
    type Input = [[[i8; C]; W]; H];

    fn forward_join(&self, x: &Self::Input, skip: Option<&[i8]>, out: &mut [i8], mut join: impl FnMut(i8, i8) -> i8) {
        let () = Self::CHECK;
        let clamp = self.clamp();
        for oy in 0..OH {
            self.row_acc(x, oy, |ox, f0, acc| {
                let at = (oy * OW + ox) * F + f0;
                for (k, &a) in acc.iter().enumerate() {
                    let v = self.requantize(f0 + k, a, clamp);
                    let s = match skip {
                        Some(s) => s[at + k],
                        None => out[at + k],
                    };
                    out[at + k] = join(v, s);
                }
            });
        }
    }
}}

impl<M, S, A> Residual<M, S, A> {
    /// The block's inference steps on the pass's current activation (see
    /// `Pass::block`).
    #[inline(always)]
    pub fn run<'w, T>(&self, pass: Pass<'w, T>) -> Pass<'w, T>
    where
        T: Float,
        M: Model<T>,
        S: Shortcut<T, M::Input>,
        A: Activation,
    {
        check::<T, M, S, A>();
        let (input, len) = (<M::Input as Tensor<T>>::LEN, <M::Output as Tensor<T>>::LEN);
        if fuses(M::HEAD, input, len) {
            let join = |m: T, s: T| {
                let mut v = [m + s];
                A::apply(&mut v, 1);
                v[0]
            };
            let last = |c: &[T], s: Option<&[T]>, out: &mut [T]| self.main.last_join(c, s, out, join);
            return pass.block_fused(|p| self.main.run_head(p), |p| self.shortcut.run(p), S::IDENTITY, len, last);
        }
        let mut pass = pass.block(|p| self.main.run(p), |p| self.shortcut.run(p), S::IDENTITY, len, |m, s| m + s);
        A::apply(pass.current_mut(), 1);
        pass
    }
}

/// Fails the build for an activation that is not elementwise (softmax over
/// a block's output is a layer of its own) or branches of different shapes.
#[inline(always)]
fn check<T: Float, M: Model<T>, S: Shortcut<T, M::Input>, A: Activation>() {
    const {
        assert!(A::ELEMENTWISE, "Residual: the activation after the add must be elementwise");
        assert!(
            super::shape::same_shape(S::SHAPE, <M::Output as Tensor<T>>::SHAPE),
            "Residual: the main branch's output and the shortcut differ in shape"
        );
    }
}

/// `t.out = A(main + shortcut)` from the branches' traces, the activation
/// left out unless `activate`.
fn join<T: Float, M: Model<T>, S: Shortcut<T, M::Input>, A: Activation>(
    x: &M::Input,
    t: &mut BlockTrace<M::Trace, S::Trace, M::Output>,
    activate: bool,
) {
    check::<T, M, S, A>();
    let (m, s) = (M::output(&t.main).as_flat(), S::output(&t.shortcut, x));
    for ((y, &m), &s) in t.out.as_flat_mut().iter_mut().zip(m).zip(s) {
        *y = m + s;
    }
    if activate {
        A::apply(t.out.as_flat_mut(), 1);
    }
}

/// A layer whose trace slot holds more than its output: what
/// [`sequential!`](crate::sequential) calls for a `Residual` layer where it
/// calls [`Backward`](crate::Backward) for the others.
pub trait Block<T: Float>: Layer<T> {
    /// The slot: the block's output and its branches' traces.
    type Trace: Zeroable + Slot<Out = Self::Output>;
    /// Training forward pass: both branches' traces and the output into `t`.
    fn forward_train(&self, x: &Self::Input, t: &mut Self::Trace, ctx: &TrainContext);
    /// Inference-mode forward pass into `t` (calibration).
    fn forward_trace(&self, x: &Self::Input, t: &mut Self::Trace);
    /// Backward pass: `g`'s output holds the output gradient; the
    /// parameter gradients of both branches are added to `grads`, and `dx`,
    /// when given, receives the sum of the branches' input gradients.
    fn backward(
        &self,
        x: &Self::Input,
        t: &Self::Trace,
        g: &mut Self::Trace,
        dx: Option<&mut Self::Input>,
        grads: &mut Self,
        ctx: &TrainContext,
    );
}

impl<T: Float, M: Model<T>, S: Shortcut<T, M::Input>, A: Activation> Block<T> for Residual<M, S, A> {
    type Trace = BlockTrace<M::Trace, S::Trace, M::Output>;

    fn forward_train(&self, x: &M::Input, t: &mut Self::Trace, ctx: &TrainContext) {
        self.main.forward_train(x, &mut t.main, ctx.seed, false);
        self.shortcut.forward_train(x, &mut t.shortcut, splitmix64(ctx.seed));
        join::<T, M, S, A>(x, t, !ctx.fused);
    }

    fn forward_trace(&self, x: &M::Input, t: &mut Self::Trace) {
        self.main.forward_trace(x, &mut t.main, false);
        self.shortcut.forward_trace(x, &mut t.shortcut);
        join::<T, M, S, A>(x, t, true);
    }

    fn backward(
        &self,
        x: &M::Input,
        t: &Self::Trace,
        g: &mut Self::Trace,
        mut dx: Option<&mut M::Input>,
        grads: &mut Self,
        ctx: &TrainContext,
    ) {
        if !ctx.fused {
            A::backward(t.out.as_flat(), g.out.as_flat_mut(), 1);
        }
        M::output_mut(&mut g.main).as_flat_mut().copy_from_slice(g.out.as_flat());
        self.main.backward_to(x, &t.main, &mut g.main, &mut grads.main, ctx.seed, false, dx.as_deref_mut());
        let seed = splitmix64(ctx.seed);
        self.shortcut.backward(x, &t.shortcut, &mut g.shortcut, g.out.as_flat(), &mut grads.shortcut, seed, dx);
    }
}

impl<T: Float, M: Model<T>, S: Shortcut<T, M::Input>, A: Activation> Layer<T> for Residual<M, S, A> {
    type Input = M::Input;
    type Output = M::Output;
    const INFO: LayerInfo = LayerInfo {
        kind: if S::IDENTITY { "Residual" } else { "Residual+shortcut" },
        activation: A::NAME,
        bias: false,
        window: [0, 0],
    };
    const FINGERPRINT: u64 = fingerprint(&[str_hash("Residual"), M::FINGERPRINT, S::FINGERPRINT, str_hash(A::NAME)]);

    fn init(&mut self, rng: &mut Rng) {
        self.main.init(rng);
        self.shortcut.init(rng);
    }

    /// The block on its own, each branch with a workspace of its own (on
    /// the stack); inside a model the block runs in the model's workspace
    /// ([`Residual::run`]). Bit-identical to that.
    fn forward(&self, x: &M::Input, y: &mut M::Output) {
        check::<T, M, S, A>();
        let mut ws = M::Workspace::default();
        y.as_flat_mut().copy_from_slice(self.main.predict(x, &mut ws).as_flat());
        self.shortcut.join_into(x, y.as_flat_mut(), |m, s| m + s);
        A::apply(y.as_flat_mut(), 1);
    }
}

/// The int8 form of a residual block: both branches' int8 models and
/// TFLite's ADD with the fused activation.
#[repr(C)]
pub struct QResidual<M, S, A> {
    /// The main branch.
    pub main: M,
    /// The shortcut branch ([`Identity`]: none).
    pub shortcut: S,
    /// The add: input 1 is the main branch's output, input 2 the shortcut's.
    pub add: QAdd<A>,
}

// SAFETY: `#[repr(C)]` of three `Bytes` types.
unsafe impl<M: Bytes, S: Bytes, A> Bytes for QResidual<M, S, A> {}

/// What an int8 block needs of its shortcut over input `X`: another int8
/// model reading `X`, or [`Identity`].
pub trait QShortcut<X: Tensor<i8>>: Bytes {
    /// Whether the shortcut is the input itself.
    const IDENTITY: bool;
    /// The branch's fingerprint.
    const FINGERPRINT: u64;
    /// Whether the stored parameters are usable.
    fn is_valid(&self) -> bool;
    /// Sets the branch's input and output quantization (nothing for the
    /// identity, whose output is its input); returns the output's.
    fn set_params(&mut self, input: QParams, output: QParams) -> QParams;
    /// `y[i] = join(y[i], shortcut(x)[i])`, the branch run with a workspace of its own.
    fn join_into(&self, x: &X, y: &mut [i8], join: impl FnMut(i8, i8) -> i8);
    /// The branch's inference steps.
    fn run<'w>(&self, pass: Pass<'w, i8>) -> Pass<'w, i8>;
}

impl<X: Tensor<i8>> QShortcut<X> for Identity {
    const IDENTITY: bool = true;
    const FINGERPRINT: u64 = str_hash("Identity");
    fn is_valid(&self) -> bool {
        true
    }
    fn set_params(&mut self, input: QParams, _: QParams) -> QParams {
        input
    }
    fn join_into(&self, x: &X, y: &mut [i8], mut join: impl FnMut(i8, i8) -> i8) {
        y.iter_mut().zip(x.as_flat()).for_each(|(y, &x)| *y = join(*y, x));
    }
    fn run<'w>(&self, pass: Pass<'w, i8>) -> Pass<'w, i8> {
        pass
    }
}

impl<S: Int8Model> QShortcut<S::Input> for S {
    const IDENTITY: bool = false;
    const FINGERPRINT: u64 = S::FINGERPRINT;
    fn is_valid(&self) -> bool {
        Int8Model::is_valid(self)
    }
    fn set_params(&mut self, input: QParams, output: QParams) -> QParams {
        Int8Model::set_params(self, input, output);
        output
    }
    fn join_into(&self, x: &S::Input, y: &mut [i8], mut join: impl FnMut(i8, i8) -> i8) {
        let mut ws = S::Workspace::default();
        let s = self.predict(x, &mut ws);
        y.iter_mut().zip(s.as_flat()).for_each(|(y, &s)| *y = join(*y, s));
    }
    fn run<'w>(&self, pass: Pass<'w, i8>) -> Pass<'w, i8> {
        Int8Model::run(self, pass)
    }
}

impl<M: Int8Model, S: QShortcut<M::Input>, A: Activation> QResidual<M, S, A> {
    /// Sets the quantization of the tensors around the block's ADD, as a
    /// `.tflite` file stores them: the block's `input`, the main branch's
    /// output `main` (ADD's input 1), the shortcut's output `shortcut`
    /// (ADD's input 2; ignored for the identity, whose output is `input`)
    /// and the block's `output`; the branches' layers are loaded on their
    /// own ([`LoadTflite`](crate::layers::int8::LoadTflite)).
    pub fn load_tflite(
        &mut self,
        input: QParams,
        main: QParams,
        shortcut: QParams,
        output: QParams,
    ) -> Result<(), QuantizeError> {
        self.main.set_params(input, main);
        let shortcut = self.shortcut.set_params(input, shortcut);
        self.add = QAdd::new(main, shortcut, output)?;
        Ok(())
    }

    /// The block's inference steps on the pass's current activation.
    #[inline(always)]
    pub fn run<'w>(&self, pass: Pass<'w, i8>) -> Pass<'w, i8> {
        let add = self.add.prepared();
        let (input, len) = (<M::Input as Tensor<i8>>::LEN, <M::Output as Tensor<i8>>::LEN);
        if fuses(M::HEAD, input, len) {
            let last =
                |c: &[i8], s: Option<&[i8]>, out: &mut [i8]| self.main.last_join(c, s, out, |m, s| add.apply(m, s));
            return pass.block_fused(|p| self.main.run_head(p), |p| self.shortcut.run(p), S::IDENTITY, len, last);
        }
        pass.block(|p| self.main.run(p), |p| self.shortcut.run(p), S::IDENTITY, len, |m, s| add.apply(m, s))
    }
}

impl<M: Int8Model, S: QShortcut<M::Input>, A: Activation> crate::layers::int8::Int8Layer for QResidual<M, S, A> {
    type Input = M::Input;
    type Output = M::Output;
    const INFO: LayerInfo = LayerInfo {
        kind: if S::IDENTITY { "QResidual" } else { "QResidual+shortcut" },
        activation: A::NAME,
        bias: false,
        window: [0, 0],
    };
    const FINGERPRINT: u64 =
        fingerprint(&[str_hash("QResidual/int8"), M::FINGERPRINT, S::FINGERPRINT, str_hash(A::NAME)]);

    /// The block on its own, each branch with a workspace of its own (on
    /// the stack); inside a model it runs in the model's workspace
    /// ([`QResidual::run`]), with the same result.
    fn forward(&self, x: &M::Input, y: &mut M::Output) {
        let add = self.add.prepared();
        let mut ws = M::Workspace::default();
        y.as_flat_mut().copy_from_slice(self.main.predict(x, &mut ws).as_flat());
        self.shortcut.join_into(x, y.as_flat_mut(), |m, s| add.apply(m, s));
    }

    fn is_valid(&self) -> bool {
        self.main.is_valid() && self.shortcut.is_valid() && self.add.is_valid()
    }
}

/// A float block with an int8 form: what [`sequential!`](crate::sequential)
/// calibrates and quantizes for a `Residual` layer.
pub trait QuantizeBlock: Block<f32> {
    /// The int8 block.
    type Int8: crate::layers::int8::Int8Layer;
    /// Calibration ranges: the main branch's, the shortcut's, then the
    /// block's output (after the activation: the add's output).
    const RANGES: usize;
    /// Widens `ranges` with what `trace` holds.
    fn observe(trace: &<Self as Block<f32>>::Trace, ranges: &mut [Range]);
    /// Quantizes both branches from their ranges and sets the add's
    /// parameters; returns the block output's quantization.
    fn quantize_block(
        &self,
        input: QParams,
        ranges: &[Range],
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError>;
}

/// `ranges` cut at `n` (short slices stay short: a missing range is empty);
/// used by [`sequential!`](crate::sequential)'s calibration.
#[doc(hidden)]
pub fn split(ranges: &[Range], n: usize) -> (&[Range], &[Range]) {
    ranges.split_at(n.min(ranges.len()))
}

/// [`split`], mutably.
#[doc(hidden)]
pub fn split_mut(ranges: &mut [Range], n: usize) -> (&mut [Range], &mut [Range]) {
    let n = n.min(ranges.len());
    ranges.split_at_mut(n)
}

/// What post-training quantization needs of a block's shortcut over `X`:
/// another model, or [`Identity`].
pub trait QuantizeShortcut<X: Tensor<f32> + Retype>: Shortcut<f32, X> {
    /// Its int8 form.
    type Int8: QShortcut<X::Int8>;
    /// Calibration ranges it takes (see [`QuantizeModel::RANGES`]).
    const RANGES: usize;
    /// Widens `ranges` with what `trace` holds.
    fn observe(trace: &Self::Trace, ranges: &mut [Range]);
    /// Quantizes the branch for an input quantized as `input`; returns its
    /// output's quantization.
    fn quantize_shortcut(
        &self,
        input: QParams,
        ranges: &[Range],
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError>;
}

impl<X: Tensor<f32> + Retype> QuantizeShortcut<X> for Identity {
    type Int8 = Identity;
    const RANGES: usize = 0;
    fn observe(_: &(), _: &mut [Range]) {}
    fn quantize_shortcut(
        &self,
        input: QParams,
        _: &[Range],
        _: &QuantizeOptions,
        _: &mut Identity,
    ) -> Result<QParams, QuantizeError> {
        Ok(input)
    }
}

impl<S> QuantizeShortcut<S::Input> for S
where
    S: QuantizeModel + Sequential,
    S::Input: Retype<Int8 = <S::Int8 as Int8Model>::Input>,
{
    type Int8 = S::Int8;
    const RANGES: usize = S::RANGES;
    fn observe(trace: &Self::Trace, ranges: &mut [Range]) {
        S::observe(&trace.0, ranges);
    }
    fn quantize_shortcut(
        &self,
        input: QParams,
        ranges: &[Range],
        options: &QuantizeOptions,
        q: &mut S::Int8,
    ) -> Result<QParams, QuantizeError> {
        self.quantize_layers(input, ranges, options, q)?;
        Ok(q.output_params())
    }
}

impl<M, S, A> QuantizeBlock for Residual<M, S, A>
where
    M: QuantizeModel,
    M::Input: Retype<Int8 = <M::Int8 as Int8Model>::Input>,
    S: QuantizeShortcut<M::Input>,
    A: Activation,
{
    type Int8 = QResidual<M::Int8, S::Int8, A>;
    const RANGES: usize = M::RANGES + S::RANGES + 1;

    fn observe(trace: &<Self as Block<f32>>::Trace, ranges: &mut [Range]) {
        let (main, rest) = split_mut(ranges, M::RANGES);
        let (shortcut, out) = split_mut(rest, S::RANGES);
        M::observe(&trace.main, main);
        S::observe(&trace.shortcut, shortcut);
        if let Some(out) = out.first_mut() {
            out.observe(trace.out.as_flat());
        }
    }

    fn quantize_block(
        &self,
        input: QParams,
        ranges: &[Range],
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<QParams, QuantizeError> {
        let (main, rest) = split(ranges, M::RANGES);
        let (shortcut, out) = split(rest, S::RANGES);
        self.main.quantize_layers(input, main, options, &mut q.main)?;
        let shortcut = self.shortcut.quantize_shortcut(input, shortcut, options, &mut q.shortcut)?;
        let output = out.first().copied().unwrap_or(Range::EMPTY).params();
        q.add = QAdd::new(q.main.output_params(), shortcut, output)?;
        Ok(output)
    }
}
