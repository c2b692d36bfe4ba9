//! Int8 models: the [`Int8Model`] that [`sequential!`](crate::sequential)
//! derives from every float declaration, named [`Int8<M>`], and the
//! [`Pass`] steps that run int8 layers over an `i8` workspace.
//!
//! The int8 model of `M` holds the quantization of its input and output and,
//! field by field, the int8 form of each of `M`'s layers (see
//! [`QuantizeLayer`](crate::layers::int8::QuantizeLayer)). Like every int8 layer it has alignment 1 and no
//! padding, so it is its own saved form, usable in place from flash.

use super::{LayerSummary, Pass};
use crate::layers::int8::{Int8Layer, QuantizeError, QuantizeOptions, Range};
use crate::layers::tflite::LayerSource;
use crate::quant::{Bytes, QParams};
use crate::{Model, Tensor};

/// The int8 model derived from the float model `M`.
///
/// ```
/// use constnet::{zoo::Lenet, Int8, Int8Model};
/// assert_eq!(Int8::<Lenet>::WORKSPACE_BYTES, 1_936); // input 784 + pool1 1,152
/// ```
pub type Int8<M> = <M as QuantizeModel>::Int8;

/// A float model with an int8 counterpart (every [`sequential!`](crate::sequential)
/// model: a layer without an int8 form fails to build only where the int8
/// model is run, and fails to quantize with an error).
pub trait QuantizeModel: Model<f32> {
    /// The int8 model.
    type Int8: Int8Model;

    /// Calibration ranges the model takes: one per layer, and for a
    /// residual block its branches' and its own (see [`QuantizeModel::observe`]).
    const RANGES: usize;

    /// Widens `ranges` (of [`QuantizeModel::RANGES`]) with the values a
    /// trace holds (see [`Model::forward_trace`]): layer by layer, each
    /// block's branches first, then the block's output.
    fn observe(trace: &Self::Trace, ranges: &mut [Range]);

    /// Fills `q` from the trained weights, layer by layer: `input` is the
    /// input's quantization, `ranges` what calibration saw, in the order of
    /// [`QuantizeModel::observe`].
    fn quantize_layers(
        &self,
        input: QParams,
        ranges: &[Range],
        options: &QuantizeOptions,
        q: &mut Self::Int8,
    ) -> Result<(), QuantizeError>;
}

/// An int8 network, every shape fixed at compile time.
pub trait Int8Model: Bytes {
    /// The int8 image (or vector) the network reads.
    type Input: Tensor<i8>;
    /// What it produces.
    type Output: Tensor<i8>;
    /// Scratch memory for [`Int8Model::predict`].
    type Workspace: AsMut<[i8]> + Default;

    /// One row per layer.
    const LAYERS: &'static [LayerSummary];
    /// Changes whenever any layer's kind, shape, options or stored layout
    /// change: saved int8 weights carry it.
    const FINGERPRINT: u64;
    /// Bytes of the model: weights, biases, requantization and the
    /// quantization of input and output.
    const PARAM_BYTES: usize = Self::SIZE;
    /// Bytes of the inference workspace.
    const WORKSPACE_BYTES: usize = core::mem::size_of::<Self::Workspace>();

    /// The quantization of the input.
    fn input_params(&self) -> QParams;
    /// The quantization of the output.
    fn output_params(&self) -> QParams;
    /// Sets the quantization of the input and the output (what a `.tflite`
    /// file stores for the tensors a model, or a residual block's branch,
    /// reads and writes).
    fn set_params(&mut self, input: QParams, output: QParams);
    /// Whether every stored parameter is usable (checked on load).
    fn is_valid(&self) -> bool;

    /// Sets the input's and output's quantization from `source`, then visits
    /// every layer in order with it: `source` checks the layer's
    /// [`TFLITE`](Int8Layer::TFLITE) ops against what it reads and may fill
    /// the layer ([`Int8Layer::load_ops`]). The TFLite reader is such a source.
    fn load_layers<S: LayerSource>(&mut self, source: &mut S) -> Result<(), S::Error>;

    /// Runs the network on `x` using only `workspace`; the output lives in
    /// the workspace. Allocates nothing and cannot fail.
    fn predict<'w>(&self, x: &Self::Input, workspace: &'w mut Self::Workspace) -> &'w Self::Output {
        Self::staged_input(workspace).as_flat_mut().copy_from_slice(x.as_flat());
        self.predict_staged(workspace)
    }

    /// Where [`Int8Model::predict_staged`] reads its input: the top end of
    /// the workspace.
    fn staged_input(workspace: &mut Self::Workspace) -> &mut Self::Input {
        let buf = workspace.as_mut();
        let at = buf.len() - Self::Input::LEN;
        Self::Input::from_flat_mut(&mut buf[at..]).expect("workspace holds the input")
    }

    /// [`Int8Model::predict`] on the input written through
    /// [`Int8Model::staged_input`].
    fn predict_staged<'w>(&self, workspace: &'w mut Self::Workspace) -> &'w Self::Output {
        self.run(Pass::staged::<Self::Input>(workspace.as_mut())).output()
    }

    /// Runs every layer on the pass's current activation (see [`Model::run`]).
    fn run<'w>(&self, pass: Pass<'w, i8>) -> Pass<'w, i8>;

    /// As [`Model::HEAD`]: whether the last layer can run fused with a
    /// residual block's add, and the head's sizes.
    const HEAD: Option<(usize, usize)>;

    /// The steps of every layer but the last (see [`Model::run_head`]).
    fn run_head<'w>(&self, pass: Pass<'w, i8>) -> Pass<'w, i8>;

    /// The last layer joined with a residual block's other branch (see
    /// [`Model::last_join`]).
    fn last_join(&self, x: &[i8], skip: Option<&[i8]>, out: &mut [i8], join: impl FnMut(i8, i8) -> i8);

    /// Quantizes a float input (flat, in the input's order) into `q`.
    fn quantize_input(&self, x: &[f32], q: &mut Self::Input) {
        let p = self.input_params();
        for (q, &x) in q.as_flat_mut().iter_mut().zip(x) {
            *q = p.quantize(x);
        }
    }

    /// The real values an output stands for, into `out` (flat).
    fn dequantize_output(&self, y: &Self::Output, out: &mut [f32]) {
        let p = self.output_params();
        for (o, &q) in out.iter_mut().zip(y.as_flat()) {
            *o = p.dequantize(q);
        }
    }
}

impl LayerSummary {
    /// The row for int8 layer `L` named `name`; `params` counts its bytes.
    pub const fn of_int8<L: Int8Layer>(name: &'static str) -> Self {
        Self {
            name,
            info: L::INFO,
            input: <L::Input as Tensor<i8>>::SHAPE,
            output: <L::Output as Tensor<i8>>::SHAPE,
            params: L::SIZE,
        }
    }
}

/// An int8 layer that can run together with the layer `N` after it.
pub trait Int8FuseWith<N: Int8Layer<Input = Self::Output>>: Int8Layer {
    /// `next.forward(self.forward(x))`, bit for bit, without `self`'s output.
    fn forward_fused(&self, next: &N, x: &Self::Input, y: &mut N::Output);
}

impl<'w> Pass<'w, i8> {
    /// Runs the next int8 layer on the current activation.
    #[inline(always)]
    pub fn then_int8<L: Int8Layer>(self, layer: &L) -> Self {
        if L::IN_PLACE {
            let mut pass = self;
            layer.forward_in_place(pass.current_mut());
            return pass;
        }
        self.step(|x, y| layer.forward(x, y))
    }

    /// Runs the next int8 layer and the one after it as one step.
    #[inline(always)]
    pub fn then_int8_fused<L: Int8FuseWith<N>, N: Int8Layer<Input = L::Output>>(self, layer: &L, next: &N) -> Self {
        self.step(|x, y| layer.forward_fused(next, x, y))
    }
}

/// The int8 model of a [`sequential!`](crate::sequential) model `$name`:
/// a struct in an anonymous scope (named as [`Int8<$name>`](Int8)), its
/// [`Int8Model`] impl, and the [`QuantizeModel`] impl of `$name<f32>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __int8_model {
    // Calibration ranges of a layer, what it observes, how it is quantized.
    (@ranges [Residual] $l:ty) => { <$l as $crate::model::residual::QuantizeBlock>::RANGES };
    (@ranges $kind:tt $l:ty) => { 1 };
    (@observe [Residual] $l:ty, $slot:expr, $r:expr) => {
        <$l as $crate::model::residual::QuantizeBlock>::observe($slot, $r)
    };
    (@observe $kind:tt $l:ty, $slot:expr, $r:expr) => {
        if let Some(r) = $r.first_mut() {
            r.observe($crate::Tensor::<f32>::as_flat($slot));
        }
    };
    (@quantize [Residual] $layer:expr, $p:expr, $r:expr, $o:expr, $q:expr) => {
        $crate::model::residual::QuantizeBlock::quantize_block($layer, $p, $r, $o, $q)?
    };
    (@quantize $kind:tt $layer:expr, $p:expr, $r:expr, $o:expr, $q:expr) => {
        $crate::layers::int8::QuantizeLayer::quantize(
            $layer, $p, $r.first().copied().unwrap_or($crate::layers::int8::Range::EMPTY), $o, $q)?
    };
    ($vis:vis $name:ident last [$lfield:ident $lk:tt $lact:tt] $li:tt [$({$field:ident $i:tt $kind:tt})*]
        steps [$([$prev:tt $this:tt $next:tt])*]) => {
        const _: () = {
            /// The int8 form of the model. (Generic only so that its code is
            /// built where it is used: a model with a layer that has no int8
            /// form still declares and trains in float.)
            #[repr(C)]
            $vis struct Int8<Z> {
                /// The input's quantization.
                pub input: $crate::quant::QParams,
                /// The output's quantization.
                pub output: $crate::quant::QParams,
                $(
                    #[doc = concat!("Layer `", stringify!($field), "`.")]
                    pub $field: $crate::__int8_at!($name, $i, $kind),
                )*
                unit: ::core::marker::PhantomData<Z>,
            }

            // SAFETY: `#[repr(C)]` of `QParams` and int8 layers, all `Bytes`.
            unsafe impl<Z> $crate::quant::Bytes for Int8<Z> {}

            impl<Z> $crate::model::Int8Model for Int8<Z> {
                type Input = <<$name<f32> as $crate::Model<f32>>::Input as $crate::layers::int8::Retype>::Int8;
                type Output = <<$name<f32> as $crate::Model<f32>>::Output as $crate::layers::int8::Retype>::Int8;
                // As many elements as the float model's workspace: the same
                // activations live at once (and the shape rules are checked
                // there, once).
                type Workspace = $crate::Workspace<i8, {
                    <<$name<f32> as $crate::Model<f32>>::Workspace as $crate::model::WorkspaceLen>::LEN
                }>;

                const LAYERS: &'static [$crate::LayerSummary] = &[
                    $($crate::LayerSummary::of_int8::<$crate::__int8_at!($name, $i, $kind)>(stringify!($field)),)*
                ];
                const FINGERPRINT: u64 = $crate::layers::fingerprint(&[
                    $crate::layers::str_hash("int8"),
                    $(<$crate::__int8_at!($name, $i, $kind) as $crate::layers::int8::Int8Layer>::FINGERPRINT,)*
                ]);

                fn input_params(&self) -> $crate::quant::QParams {
                    self.input
                }
                fn output_params(&self) -> $crate::quant::QParams {
                    self.output
                }
                fn set_params(&mut self, input: $crate::quant::QParams, output: $crate::quant::QParams) {
                    self.input = input;
                    self.output = output;
                }
                fn is_valid(&self) -> bool {
                    self.input.is_valid()
                        && self.output.is_valid()
                        $(&& $crate::layers::int8::Int8Layer::is_valid(&self.$field))*
                }

                fn load_layers<S: $crate::layers::tflite::LayerSource>(&mut self, source: &mut S) -> Result<(), S::Error> {
                    (self.input, self.output) = source.quantization();
                    $(
                        source.layer(
                            stringify!($field),
                            <$crate::__int8_at!($name, $i, $kind) as $crate::layers::int8::Int8Layer>::TFLITE,
                            &mut |ops| $crate::layers::int8::Int8Layer::load_ops(&mut self.$field, ops),
                        )?;
                    )*
                    Ok(())
                }

                #[inline(always)]
                fn run<'w>(&self, pass: $crate::model::Pass<'w, i8>) -> $crate::model::Pass<'w, i8> {
                    $($crate::sequential!(@step [then_int8 then_int8_fused] pass self $prev $this $next);)*
                    pass
                }

                const HEAD: Option<(usize, usize)> = <$name<f32> as $crate::Model<f32>>::HEAD;

                #[inline(always)]
                fn run_head<'w>(&self, pass: $crate::model::Pass<'w, i8>) -> $crate::model::Pass<'w, i8> {
                    $($crate::sequential!(@head_step [then_int8 then_int8_fused] pass self $prev $this $next);)*
                    pass
                }

                fn last_join(&self, x: &[i8], skip: Option<&[i8]>, out: &mut [i8], join: impl FnMut(i8, i8) -> i8) {
                    $crate::sequential!(@last_join $lk $lact self.$lfield, x, skip, out, join);
                }
            }

            impl $crate::model::QuantizeModel for $name<f32> {
                type Int8 = Int8<()>;
                const RANGES: usize = 0 $(+ $crate::__int8_model!(@ranges $kind <$name<f32> as $crate::model::LayerAt<f32, $i>>::Layer))*;

                fn observe(trace: &Self::Trace, ranges: &mut [$crate::layers::int8::Range]) {
                    $(
                        let (r, ranges) = $crate::model::residual::split_mut(
                            ranges, $crate::__int8_model!(@ranges $kind <$name<f32> as $crate::model::LayerAt<f32, $i>>::Layer));
                        $crate::__int8_model!(@observe $kind <$name<f32> as $crate::model::LayerAt<f32, $i>>::Layer, &trace.$i, r);
                    )*
                    let _ = ranges;
                }

                fn quantize_layers(
                    &self,
                    input: $crate::quant::QParams,
                    ranges: &[$crate::layers::int8::Range],
                    options: &$crate::layers::int8::QuantizeOptions,
                    q: &mut Int8<()>,
                ) -> Result<(), $crate::layers::int8::QuantizeError> {
                    q.input = input;
                    let params = input;
                    $(
                        let (r, ranges) = $crate::model::residual::split(
                            ranges, $crate::__int8_model!(@ranges $kind <$name<f32> as $crate::model::LayerAt<f32, $i>>::Layer));
                        let params = $crate::__int8_model!(@quantize $kind &self.$field, params, r, options, &mut q.$field);
                    )*
                    let _ = ranges;
                    q.output = params;
                    Ok(())
                }
            }
        };
    };
}

/// The int8 type of layer `i` (of kind `kind`, `_` when it does not
/// matter) of model `name`.
#[doc(hidden)]
#[macro_export]
macro_rules! __int8_at {
    ($name:ident, $i:tt, [Residual]) => {
        <<$name<f32> as $crate::model::LayerAt<f32, $i>>::Layer as $crate::model::residual::QuantizeBlock>::Int8
    };
    ($name:ident, $i:tt, $kind:tt) => {
        <<$name<f32> as $crate::model::LayerAt<f32, $i>>::Layer as $crate::layers::int8::QuantizeLayer>::Int8
    };
}
