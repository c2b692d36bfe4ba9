//! The [`sequential!`](crate::sequential) macro: declare a network in a few
//! lines and let the compiler work out, and check, every shape.
//!
//! The macro works in three stages, each keeping the depth of macro
//! recursion low (the compiler's default limit is 128 nested expansions):
//!
//! 1. It reads every layer at once (`name: Kind<args> => Activation`) into a
//!    group of its own.
//! 2. It numbers the layers, one step per layer, tracking whether the
//!    activation is an image or a vector (so that `Dense` after an image, or a
//!    convolution after a vector, is an error that names the layer).
//! 3. It emits everything, each layer's items in an expansion of their own:
//!    the layer's geometry (its output dimensions, computed once by the
//!    `const fn`s of [`crate::model::shape`], on a type beside the model; a
//!    layer that does not fit is a compile error naming the layer and the
//!    sizes, reported once) and its type (every dimension a const parameter,
//!    taken from the geometry). Then the model struct (`#[repr(C)]`, fields in
//!    layer order, so the whole model is one flat run of weights) and its
//!    [`Model`](crate::Model) impl, whose inference runs every convolution
//!    fused with a pooling layer right after it ([`crate::model::fuse`]; not
//!    when the convolution ends in softmax), so the workspace never holds that
//!    convolution's output, and every depthwise convolution with a 1x1
//!    convolution right after it (`Conv2d<F, 1>`, no option but `bias`),
//!    whose output overwrites the depthwise input as its rows are done.
//!
//! Parsing a layer's options happens in that layer's own expansion, so the
//! recursion depth is the number of layers plus a constant, whatever the
//! options: `sequential!` takes up to 100 layers of any kind.

/// Declares a sequential network. See the [crate docs](crate) for an example.
///
/// ```text
/// sequential! {
///     /// docs
///     pub struct Name: [H, W, C] {     // or [N] for a vector input
///         field: Layer<args> => Activation,
///         ...
///     }
/// }
/// ```
///
/// Layers (`[a, b]` gives height and width separately wherever a single
/// number is accepted):
/// - `Conv2d<F, K>` with options, in any order: `stride = S`,
///   `pad = P` (zero padding: a number, `valid` or `same`),
///   `edge = P` (edge-replicating padding), `bias = false`.
///   `pad = same` is TensorFlow's "same": `ceil(H / S)` outputs, the odd
///   position of padding after the input (even kernels, stride 2 over an
///   even input).
/// - `DepthwiseConv2d<K>`: each input channel filtered on its own, with the
///   options of `Conv2d` and `multiplier = M` (the depth multiplier: `M`
///   filters per channel, `C * M` outputs; default 1).
/// - `MaxPool2d<K>`, `MinPool2d<K>`, `AvgPool2d<K>`, option `stride = S`
///   (default: the window, so `2` halves the image); `GlobalAvgPool2d`, the
///   mean of each channel over the whole map (`1 x 1 x C`).
/// - `Dense<O>`, or `Dense<I, O>` to state the input size (checked); option
///   `bias = false`.
/// - `Flatten`, `Dropout<RATE>` (e.g. `0.25`), `Upsample<F>`.
/// - `Residual<Main>` and `Residual<Main, Shortcut>` with `=> Activation`:
///   a residual block, `act(main(x) + x)` or `act(main(x) + shortcut(x))`,
///   its branches models declared with `sequential!` (see
///   [`model::residual`](crate::model::residual) for why). Branches that do
///   not meet in one shape are a compile error naming both shapes.
/// - Activations as layers: `Relu`, `Sigmoid`, `Tanh`, `Softmax`, `Linear`;
///   or fused after conv and dense: `=> Relu`.
///
/// The struct gets a scalar parameter `T` (default `f32`) and up to 100
/// layers, of any kind and with any options, within the compiler's default
/// `recursion_limit`; more is a compile error that says so. An unknown layer
/// kind or option, or a layer that does not fit, is a compile error that
/// names the layer.
#[macro_export]
macro_rules! sequential {
    // ---- 1. read the layers, one group each --------------------------------------
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident : [$($input:tt)*] {
            $($(#[$la:meta])* $field:ident : $kind:ident $(< $($arg:tt $(= $val:tt)?),* >)? $(=> $act:ident)?),+ $(,)?
        }
    ) => {
        $crate::sequential!(@input [$($input)*] [$(#[$attr])* $vis struct $name]
            // The layer numbers, and so the most layers a model can have.
            [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99]
            [$({[$kind] [$(#[$la])*] $field $kind [$($($arg $(= $val)?),*)?] [$($act)?]})+]);
    };
    // Anything else: point at the first layer that does not read as one.
    ($(#[$attr:meta])* $vis:vis struct $name:ident : [$($input:tt)*] { $($body:tt)* }) => {
        $crate::sequential!(@syntax first [$($body)*]);
    };
    (@syntax first []) => {
        ::core::compile_error!("sequential!: the model has no layers");
    };
    (@syntax $after:tt [$(#[$la:meta])* $field:ident : $kind:ident $(< $($arg:tt $(= $val:tt)?),* >)? $(=> $act:ident)?
        $(, $($rest:tt)*)?]) => {
        $crate::sequential!(@syntax $field [$($($rest)*)?]);
    };
    (@syntax first $rest:tt) => {
        ::core::compile_error!(concat!("sequential!: cannot read the first layer: ", $crate::sequential!(@syntax)));
    };
    (@syntax $after:ident $rest:tt) => {
        ::core::compile_error!(concat!("sequential!: cannot read the layer after `", stringify!($after), "`: ",
            $crate::sequential!(@syntax)));
    };
    (@syntax) => { "write `name: Kind<args, option = value> => Activation`, layers separated by commas" };

    (@input [$h:expr, $w:expr, $c:expr] $meta:tt $ids:tt $layers:tt) => {
        $crate::sequential!(@number [$meta ($crate::model::shape::Dims::image($h, $w, $c))] $ids
            [first image ($crate::model::shape::Dims::image($h, $w, $c)) [] []] [] [] $layers);
    };
    (@input [$n:expr] $meta:tt $ids:tt $layers:tt) => {
        $crate::sequential!(@number [$meta ($crate::model::shape::Dims::vector($n))] $ids
            [first vector ($crate::model::shape::Dims::vector($n)) [] []] [] [] $layers);
    };
    (@input [$($input:tt)*] $($rest:tt)*) => {
        ::core::compile_error!(concat!("sequential!: the input is `[H, W, C]` (an image) or `[N]` (a vector), not `[",
            stringify!($($input)*), "]`"));
    };

    // ---- 2. number the layers ------------------------------------------------------
    // State: the model, the numbers left, the layer before (number, whether
    // its output is an image or a vector, its dimensions, kind, activation),
    // the layers numbered so far and the same in reverse, the layers left.
    // Each layer is recorded as
    //     {number field [kind] [args] [activation] [attributes]
    //      in [image-or-vector dimensions] prev [number-or-first [kind] [activation]]}
    // One step per layer: the arms below differ only in what the layer makes
    // of the activation (an image, a vector, or what it gets).
    (@number $m:tt [$i:tt $($ids:tt)*] [$p:tt $r:ident $in:tt $pk:tt $pa:tt] [$($d:tt)*] [$($rev:tt)*]
        [{[$(Conv2d)? $(DepthwiseConv2d)? $(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)? $(GlobalAvgPool2d)? $(Upsample)?] $la:tt $f:ident $k:ident $args:tt $act:tt} $($rest:tt)*]
    ) => {
        $crate::sequential!(@number $m [$($ids)*] [$i image (<Shapes as $crate::model::LayerShape<$i>>::OUT) [$k] $act]
            [$($d)* {$i $f [$k] $args $act $la in [$r $in] prev [$p $pk $pa]}] [{$f $i $p [$k] $act} $($rev)*] [$($rest)*]);
    };
    (@number $m:tt [$i:tt $($ids:tt)*] [$p:tt $r:ident $in:tt $pk:tt $pa:tt] [$($d:tt)*] [$($rev:tt)*]
        [{[$(Dense)? $(Flatten)?] $la:tt $f:ident $k:ident $args:tt $act:tt} $($rest:tt)*]
    ) => {
        $crate::sequential!(@number $m [$($ids)*] [$i vector (<Shapes as $crate::model::LayerShape<$i>>::OUT) [$k] $act]
            [$($d)* {$i $f [$k] $args $act $la in [$r $in] prev [$p $pk $pa]}] [{$f $i $p [$k] $act} $($rev)*] [$($rest)*]);
    };
    (@number $m:tt [$i:tt $($ids:tt)*] [$p:tt $r:ident $in:tt $pk:tt $pa:tt] [$($d:tt)*] [$($rev:tt)*]
        [{[$(Dropout)? $(Relu)? $(Sigmoid)? $(Tanh)? $(Softmax)? $(Linear)? $(Residual)?] $la:tt $f:ident $k:ident $args:tt $act:tt} $($rest:tt)*]
    ) => {
        $crate::sequential!(@number $m [$($ids)*] [$i $r (<Shapes as $crate::model::LayerShape<$i>>::OUT) [$k] $act]
            [$($d)* {$i $f [$k] $args $act $la in [$r $in] prev [$p $pk $pa]}] [{$f $i $p [$k] $act} $($rev)*] [$($rest)*]);
    };
    (@number $m:tt [] $last:tt $d:tt $rev:tt [{$k:tt $la:tt $f:ident $($l:tt)*} $($rest:tt)*]) => {
        ::core::compile_error!(concat!("layer `", stringify!($f), "`: a model has at most 100 layers, this is the 101st"));
    };
    (@number $m:tt $ids:tt $last:tt $d:tt $rev:tt [{[$kind:ident] $la:tt $f:ident $($l:tt)*} $($rest:tt)*]) => {
        ::core::compile_error!(concat!("layer `", stringify!($f), "`: unknown layer kind `", stringify!($kind),
            "`: expected one of Conv2d, DepthwiseConv2d, MaxPool2d, MinPool2d, AvgPool2d, GlobalAvgPool2d, Dense, ",
            "Flatten, Dropout, Upsample, Residual, ",
            "Relu, Sigmoid, Tanh, Softmax, Linear"));
    };
    // Done. Also each layer's successor, for fusing a convolution with the
    // pooling after it, and each layer's output: the tokens that are the
    // next layer's input (so that every use of a layer's output is the same
    // expression, and a failed one is noted once).
    (@number $m:tt $ids:tt [$lp:tt $lr:ident $lout:tt $lk:tt $la:tt]
        [$first:tt $({$i:tt $f:ident $k:tt $args:tt $act:tt $attrs:tt in [$r:ident $in:tt] prev $prev:tt})*] $rev:tt []
    ) => {
        $crate::sequential!(@emit $m [$first $({$i $f $k $args $act $attrs in [$r $in] prev $prev})*]
            next [$([$f $k $act $args])* [end]] out [$($in)* $lout] rev $rev);
    };

    // ---- 3. the struct, each layer's geometry and type, the Model impl -------------
    // Each layer's type is written once, in its `LayerAt` impl, and named
    // through it everywhere else; its dimensions are computed once, in its
    // `LayerShape` impl. Everything a later stage may need of a layer is in
    // the lists this arm reads: its field, number `$i` (its type is
    // `__at!($name, $i)`), kind and activation (its role at inference:
    // `@role`), the number of the layer before it, `$prev` (`first` for the
    // first layer), its input's and its output's dimensions (`$in`, `$out`:
    // constant expressions of type `shape::Dims`) and the layer after it.
    (@emit [[$(#[$attr:meta])* $vis:vis struct $name:ident] $input:tt]
        [$({$i:tt $field:ident $kind:tt $args:tt $act:tt [$($la:tt)*] in [$rank:ident $in:tt] prev [$prev:tt $pk:tt $pa:tt]})+]
        next [$($next:tt)+]
        out [$($out:tt)+]
        rev [{$lfield:ident $li:tt $lprev:tt $lk:tt $lact:tt} $($rev:tt)*]
    ) => {
        $(#[$attr])*
        #[repr(C)]
        $vis struct $name<T: $crate::Float = f32> {
            $($($la)* #[doc = concat!("Layer `", stringify!($field), "`.")] pub $field: $crate::__at!($name, $i),)+
        }

        const _: () = {
            /// Carries the layers' geometry (`LayerShape`): the model's own
            /// layout depends on it, so it cannot live on the model.
            enum Shapes {}

            $($crate::sequential!(@layer [$name $i $field] $rank $in $out $kind $args $act);)+

            // SAFETY: `#[repr(C)]` struct whose fields are all `Params<T>` layers.
            unsafe impl<T: $crate::Float> $crate::Params<T> for $name<T> {}
            impl<T: $crate::Float> $crate::model::residual::Sequential for $name<T> {}

            impl<T: $crate::Float> $crate::Model<T> for $name<T> {
                type Input = <$crate::__at!($name, 0) as $crate::Layer<T>>::Input;
                type Output = <$crate::__at!($name, $li) as $crate::Layer<T>>::Output;
                type Workspace = $crate::Workspace<T, {
                    $crate::model::shape::workspace_len(
                        $input.size(),
                        &[$(($out.size(), $crate::sequential!(@role [$name $i] $kind $act $args $pk $next)),)+],
                    )
                }>;
                type Trace = ($($crate::sequential!(@slot $kind $crate::__at!($name, $i)),)+);
                const BRANCH_LEN: usize =
                    $crate::model::shape::branch_len(&[$(($out.size(), $crate::sequential!(@role [$name $i] $kind $act $args $pk $next)),)+]);
                const HEAD: Option<(usize, usize)> = $crate::sequential!(@head $lprev
                    &[$(($out.size(), $crate::sequential!(@role [$name $i] $kind $act $args $pk $next)),)+]);

                const LAYERS: &'static [$crate::LayerSummary] = &[
                    $($crate::LayerSummary::of::<T, $crate::__at!($name, $i)>(stringify!($field)),)+
                ];
                const FINGERPRINT: u64 = $crate::layers::fingerprint(&[
                    $crate::layers::str_hash(<T as $crate::Float>::NAME),
                    $(<$crate::__at!($name, $i) as $crate::Layer<T>>::FINGERPRINT,)+
                ]);

                fn init(&mut self, rng: &mut $crate::Rng) {
                    $($crate::Layer::<T>::init(&mut self.$field, rng);)+
                }

                #[inline(always)]
                fn run<'w>(&self, pass: $crate::model::Pass<'w, T>) -> $crate::model::Pass<'w, T> {
                    $($crate::sequential!(@step [then then_fused] pass self [$pk $pa] [$field $kind $act $args] $next);)+
                    pass
                }

                #[inline(always)]
                fn run_head<'w>(&self, pass: $crate::model::Pass<'w, T>) -> $crate::model::Pass<'w, T> {
                    $($crate::sequential!(@head_step [then then_fused] pass self [$pk $pa] [$field $kind $act $args] $next);)+
                    pass
                }

                fn last_join(&self, x: &[T], skip: Option<&[T]>, out: &mut [T], join: impl FnMut(T, T) -> T) {
                    $crate::sequential!(@last_join $lk $lact self.$lfield, x, skip, out, join);
                }

                fn forward_train(&self, x: &Self::Input, trace: &mut Self::Trace, seed: u64, fused_output: bool) {
                    let ctx = |i: u64| $crate::TrainContext {
                        seed: $crate::rng::splitmix64(seed ^ i),
                        fused: fused_output && i == $li,
                    };
                    $($crate::sequential!(@train $kind
                        &self.$field, $crate::sequential!(@input_of x trace $prev), &mut trace.$i, &ctx($i));)+
                }

                fn forward_trace(&self, x: &Self::Input, trace: &mut Self::Trace, logits: bool) {
                    $({
                        let ctx = $crate::TrainContext { seed: 0, fused: logits && $i == $li };
                        let input = $crate::sequential!(@input_of x trace $prev);
                        if ctx.fused {
                            $crate::sequential!(@train $kind &self.$field, input, &mut trace.$i, &ctx);
                        } else {
                            $crate::sequential!(@infer $kind &self.$field, input, &mut trace.$i);
                        }
                    })+
                }

                fn layer_output(trace: &Self::Trace, i: usize) -> &[T] {
                    match i {
                        $($i => $crate::Tensor::<T>::as_flat($crate::model::Slot::out(&trace.$i)),)+
                        _ => &[],
                    }
                }

                fn output(trace: &Self::Trace) -> &Self::Output {
                    $crate::model::Slot::out(&trace.$li)
                }
                fn output_mut(trace: &mut Self::Trace) -> &mut Self::Output {
                    $crate::model::Slot::out_mut(&mut trace.$li)
                }

                fn backward_to(
                    &self,
                    x: &Self::Input,
                    trace: &Self::Trace,
                    grad: &mut Self::Trace,
                    grads: &mut Self,
                    seed: u64,
                    fused_output: bool,
                    dx: Option<&mut Self::Input>,
                ) {
                    let ctx = |i: u64| $crate::TrainContext {
                        seed: $crate::rng::splitmix64(seed ^ i),
                        fused: fused_output && i == $li,
                    };
                    $crate::sequential!(@backward self x trace grad grads ctx dx {$lfield $li $lprev $lk $lact});
                    $($crate::sequential!(@backward self x trace grad grads ctx dx $rev);)*
                }
            }

            $crate::__int8_model!($vis $name last [$lfield $lk $lact] $li [$({$field $i $kind})+] steps [$([[$pk $pa] [$field $kind $act $args] $next])+]);
        };
    };
    // How a layer's output is held at inference (see `shape::Role`), from
    // the layer (`[$name $i]`, kind, activation, arguments), the kind of the
    // one before and the one after: a convolution with softmax over its
    // filters is not fused with pooling; a depthwise convolution and a 1x1
    // convolution after it (`Conv2d<F, 1>`, no option but `bias`) are.
    (@role [$name:ident $i:tt] [DepthwiseConv2d] $act:tt $args:tt $pk:tt
        [$g:ident [Conv2d] $gact:tt [$gf:tt, 1 $(, bias = $b:tt)?]]) => {
        $crate::model::shape::Role::Separable {
            peak: <<$name<f32> as $crate::model::LayerAt<f32, $i>>::Layer>::separable_peak($gf),
        }
    };
    (@role $ctx:tt [Conv2d] $act:tt [$f:tt, 1 $(, bias = $b:tt)?] [DepthwiseConv2d] $next:tt) => {
        $crate::model::shape::Role::Pointwise
    };
    (@role [$name:ident $i:tt] [Residual] $($rest:tt)*) => {
        $crate::model::shape::Role::Block(<Shapes as $crate::model::LayerShape<$i>>::PEAK)
    };
    (@role $ctx:tt [Conv2d] [Softmax] $($rest:tt)*) => { $crate::model::shape::Role::Buffer };
    (@role $ctx:tt [Conv2d] $($rest:tt)*) => { $crate::model::shape::Role::Conv };
    (@role $ctx:tt [$(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)? $(GlobalAvgPool2d)?] $($rest:tt)*) => {
        $crate::model::shape::Role::Pool
    };
    (@role $ctx:tt [$(Dense)? $(DepthwiseConv2d)? $(Upsample)?] $($rest:tt)*) => { $crate::model::shape::Role::Buffer };
    (@role $ctx:tt $kind:tt $($rest:tt)*) => { $crate::model::shape::Role::InPlace };
    // A layer's slot in the trace, and the calls that fill it: its output,
    // or, for a residual block, its branches' traces too.
    (@slot [Residual] $l:ty) => { <$l as $crate::model::residual::Block<T>>::Trace };
    (@slot $kind:tt $l:ty) => { <$l as $crate::Layer<T>>::Output };
    (@train [Residual] $l:expr, $x:expr, $slot:expr, $ctx:expr) => {
        $crate::model::residual::Block::<T>::forward_train($l, $x, $slot, $ctx)
    };
    (@train $kind:tt $l:expr, $x:expr, $y:expr, $ctx:expr) => { $crate::Backward::<T>::forward_train($l, $x, $y, $ctx) };
    (@infer [Residual] $l:expr, $x:expr, $slot:expr) => { $crate::model::residual::Block::<T>::forward_trace($l, $x, $slot) };
    (@infer $kind:tt $l:expr, $x:expr, $y:expr) => { $crate::Layer::<T>::forward($l, $x, $y) };
    (@grad [Residual] $($a:expr),+) => { $crate::model::residual::Block::<T>::backward($($a),+) };
    (@grad $kind:tt $($a:expr),+) => { $crate::Backward::<T>::backward($($a),+) };
    // Inference steps, from the layer before (kind, activation), the layer
    // (field, kind, activation, arguments) and the layer after: a
    // convolution and the pooling after it run as one step, and that pooling
    // layer has none of its own; so do a depthwise convolution and a 1x1
    // convolution after it (whose step then runs the pooling that may follow
    // it, unfused). `[then then_fused]` name the `Pass` methods (the int8
    // model's are `then_int8` and `then_int8_fused`).
    (@step [$then:ident $fused:ident] $p:ident $s:ident $prev:tt [$f:ident [Residual] $act:tt $args:tt] $next:tt) => {
        let $p = $s.$f.run($p);
    };
    (@step [$then:ident $fused:ident] $p:ident $s:ident $prev:tt [$f:ident [DepthwiseConv2d] $act:tt $args:tt]
        [$g:ident [Conv2d] $gact:tt [$gf:tt, 1 $(, bias = $b:tt)?]]) => {
        let $p = $p.then_separable(&$s.$f, &$s.$g);
    };
    (@step [$then:ident $fused:ident] $p:ident $s:ident [[DepthwiseConv2d] $pact:tt]
        [$f:ident [Conv2d] [Softmax] [$ff:tt, 1 $(, bias = $b:tt)?]] $next:tt) => {};
    (@step [$then:ident $fused:ident] $p:ident $s:ident [[DepthwiseConv2d] $pact:tt]
        [$f:ident [Conv2d] $act:tt [$ff:tt, 1 $(, bias = $b:tt)?]]
        [$g:ident [$(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)? $(GlobalAvgPool2d)?] $gact:tt $gargs:tt]) => {
        let $p = $p.$then(&$s.$g);
    };
    (@step [$then:ident $fused:ident] $p:ident $s:ident [[DepthwiseConv2d] $pact:tt]
        [$f:ident [Conv2d] $act:tt [$ff:tt, 1 $(, bias = $b:tt)?]] $next:tt) => {};
    (@step [$then:ident $fused:ident] $p:ident $s:ident $prev:tt [$f:ident [Conv2d] [Softmax] $args:tt] $next:tt) => {
        let $p = $p.$then(&$s.$f);
    };
    (@step [$then:ident $fused:ident] $p:ident $s:ident $prev:tt [$f:ident [Conv2d] $act:tt $args:tt]
        [$g:ident [$(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)? $(GlobalAvgPool2d)?] $gact:tt $gargs:tt]) => {
        let $p = $p.$fused(&$s.$f, &$s.$g);
    };
    (@step [$then:ident $fused:ident] $p:ident $s:ident [[Conv2d] [Softmax]] [$f:ident $kind:tt $act:tt $args:tt] $next:tt) => {
        let $p = $p.$then(&$s.$f);
    };
    (@step [$then:ident $fused:ident] $p:ident $s:ident [[Conv2d] $pact:tt]
        [$f:ident [$(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)? $(GlobalAvgPool2d)?] $act:tt $args:tt] $next:tt) => {};
    (@step [$then:ident $fused:ident] $p:ident $s:ident $prev:tt [$f:ident $kind:tt $act:tt $args:tt] $next:tt) => {
        let $p = $p.$then(&$s.$f);
    };
    // A residual block's main branch: its steps but the last, and the last
    // layer fused with the add where it can be (a convolution after another
    // layer; see `model::residual`).
    (@head_step $names:tt $p:ident $s:ident $prev:tt $this:tt [end]) => {};
    (@head_step $($step:tt)*) => { $crate::sequential!(@step $($step)*); };
    (@head first $roles:expr) => { None };
    (@head $lprev:tt $roles:expr) => {
        $crate::model::shape::head($roles, <Shapes as $crate::model::LayerShape<$lprev>>::OUT.size())
    };
    (@last_join [Conv2d] [Softmax] $l:expr, $x:ident, $s:ident, $o:ident, $j:ident) => { let _ = (&$l, $x, $s, $o, $j); };
    (@last_join [Conv2d] $act:tt $l:expr, $x:ident, $s:ident, $o:ident, $j:ident) => {
        if let Some(x) = $crate::Tensor::from_flat($x) {
            $crate::model::residual::Joined::forward_join(&$l, x, $s, $o, $j);
        }
    };
    (@last_join $kind:tt $act:tt $l:expr, $x:ident, $s:ident, $o:ident, $j:ident) => { let _ = (&$l, $x, $s, $o, $j); };
    // Training: what a layer reads (the model input for the first).
    (@input_of $x:ident $tr:ident first) => { $x };
    (@input_of $x:ident $tr:ident $prev:tt) => { $crate::model::Slot::out(&$tr.$prev) };
    (@backward $s:ident $x:ident $tr:ident $g:ident $gs:ident $ctx:ident $dx:ident {$field:ident $i:tt first $k:tt $a:tt}) => {
        $crate::sequential!(@grad $k &$s.$field, $x, &$tr.$i, &mut $g.$i, $dx, &mut $gs.$field, &$ctx($i));
    };
    (@backward $s:ident $x:ident $tr:ident $g:ident $gs:ident $ctx:ident $dx:ident {$field:ident $i:tt $prev:tt $k:tt $a:tt}) => {
        $crate::sequential!(@grad $k &$s.$field, $crate::model::Slot::out(&$tr.$prev), &$tr.$i, &mut $g.$i,
            Some($crate::model::Slot::out_mut(&mut $g.$prev)), &mut $gs.$field, &$ctx($i));
    };

    // ---- one layer: its arguments and options, its geometry and its type -------------
    // `[$name $i $field]`, whether the input is an image or a vector, the
    // input's and the output's dimensions, the kind, the arguments, the
    // activation.
    (@layer $ctx:tt image $in:tt $out:tt [Dense] $args:tt $act:tt) => {
        $crate::sequential!(@error $ctx "Dense needs a vector input; put a Flatten before it");
    };
    (@layer $ctx:tt vector $in:tt $out:tt [$(Conv2d)? $(DepthwiseConv2d)? $(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)? $(GlobalAvgPool2d)? $(Upsample)? $(Flatten)?] $args:tt $act:tt) => {
        $crate::sequential!(@error $ctx "this layer needs an image input [H, W, C], but the layer before it yields a vector");
    };

    // The kinds with options: their arguments, then `@options`, then `@build`.
    (@layer [$name:ident $i:tt $field:ident] $r:ident $in:tt $out:tt [Conv2d] [$f:tt, $k:tt $(, $($opt:tt)*)?] $act:tt) => {
        $crate::sequential!(@options [Conv2d] Conv2d [$name $i $field]
            [$in $out $f $k $act (<Shapes as $crate::model::LayerShape<$i>>::PAD)]
            [stride 1 pad 0 mode ZeroPad bias true mult 1] [$($($opt)*)?]);
    };
    (@layer [$name:ident $i:tt $field:ident] $r:ident $in:tt $out:tt [DepthwiseConv2d] [$k:tt $(, $($opt:tt)*)?] $act:tt) => {
        $crate::sequential!(@options [DepthwiseConv2d] DepthwiseConv2d [$name $i $field]
            [$in $out $k $act (<Shapes as $crate::model::LayerShape<$i>>::PAD)]
            [stride 1 pad 0 mode ZeroPad bias true mult 1] [$($($opt)*)?]);
    };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [MaxPool2d] [$k:tt $(, $($opt:tt)*)?] []) => {
        $crate::sequential!(@options [MaxPool2d] MaxPool2d $ctx [Max $in $out $k] [stride $k pad 0 mode ZeroPad bias true mult 1] [$($($opt)*)?]);
    };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [MinPool2d] [$k:tt $(, $($opt:tt)*)?] []) => {
        $crate::sequential!(@options [MinPool2d] MinPool2d $ctx [Min $in $out $k] [stride $k pad 0 mode ZeroPad bias true mult 1] [$($($opt)*)?]);
    };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [AvgPool2d] [$k:tt $(, $($opt:tt)*)?] []) => {
        $crate::sequential!(@options [AvgPool2d] AvgPool2d $ctx [Avg $in $out $k] [stride $k pad 0 mode ZeroPad bias true mult 1] [$($($opt)*)?]);
    };
    (@layer [$name:ident $i:tt $field:ident] $r:ident $in:tt $out:tt [Dense] [$n:tt, $o:tt $(, $($opt:tt)*)?] $act:tt) => {
        $crate::sequential!(@options [Dense] Dense [$name $i $field]
            [{$crate::model::shape::expect_len(stringify!($field), $n, $in.size())} $o $act]
            [stride 1 pad 0 mode ZeroPad bias true mult 1] [$($($opt)*)?]);
    };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [Dense] [$o:tt $(, $($opt:tt)*)?] $act:tt) => {
        $crate::sequential!(@options [Dense] Dense $ctx [{$in.size()} $o $act] [stride 1 pad 0 mode ZeroPad bias true mult 1] [$($($opt)*)?]);
    };

    // Options, in any order; each arm lists the kinds that take its option.
    // The kind comes twice: in brackets to match, bare to pass on.
    (@options [$(Conv2d)? $(DepthwiseConv2d)? $(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)?] $kind:ident $ctx:tt $args:tt
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt] [stride = $v:tt $(, $($more:tt)*)?]) => {
        $crate::sequential!(@options [$kind] $kind $ctx $args [stride $v pad $p mode $m bias $b mult $d] [$($($more)*)?]);
    };
    (@options [$(Conv2d)? $(DepthwiseConv2d)?] $kind:ident $ctx:tt $args:tt
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt] [pad = $v:tt $(, $($more:tt)*)?]) => {
        $crate::sequential!(@options [$kind] $kind $ctx $args [stride $s pad $v mode ZeroPad bias $b mult $d] [$($($more)*)?]);
    };
    (@options [$(Conv2d)? $(DepthwiseConv2d)?] $kind:ident $ctx:tt $args:tt
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt] [edge = $v:tt $(, $($more:tt)*)?]) => {
        $crate::sequential!(@options [$kind] $kind $ctx $args [stride $s pad $v mode EdgePad bias $b mult $d] [$($($more)*)?]);
    };
    (@options [DepthwiseConv2d] $kind:ident $ctx:tt $args:tt
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt] [multiplier = $v:tt $(, $($more:tt)*)?]) => {
        $crate::sequential!(@options [$kind] $kind $ctx $args [stride $s pad $p mode $m bias $b mult $v] [$($($more)*)?]);
    };
    (@options [$(Conv2d)? $(DepthwiseConv2d)? $(Dense)?] $kind:ident $ctx:tt $args:tt
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt] [bias = true $(, $($more:tt)*)?]) => {
        $crate::sequential!(@options [$kind] $kind $ctx $args [stride $s pad $p mode $m bias true mult $d] [$($($more)*)?]);
    };
    (@options [$(Conv2d)? $(DepthwiseConv2d)? $(Dense)?] $kind:ident $ctx:tt $args:tt
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt] [bias = false $(, $($more:tt)*)?]) => {
        $crate::sequential!(@options [$kind] $kind $ctx $args [stride $s pad $p mode $m bias false mult $d] [$($($more)*)?]);
    };
    (@options [$(Conv2d)? $(DepthwiseConv2d)? $(Dense)?] $kind:ident $ctx:tt $args:tt $opts:tt [bias = $($rest:tt)*]) => {
        $crate::sequential!(@bad $ctx $kind);
    };
    (@options $k:tt $kind:ident $ctx:tt $args:tt $opts:tt []) => {
        $crate::sequential!(@build $kind $ctx $args $opts);
    };
    (@options $k:tt $kind:ident $ctx:tt $args:tt $opts:tt [$opt:ident = $($rest:tt)*]) => {
        $crate::sequential!(@error $ctx "unknown option `", stringify!($opt), "`: ", $crate::sequential!(@usage [$kind] $kind));
    };
    (@options $k:tt $kind:ident $ctx:tt $args:tt $opts:tt $rest:tt) => { $crate::sequential!(@bad $ctx $kind); };

    (@build Conv2d [$name:ident $i:tt $field:ident] [$in:tt $out:tt $f:tt $k:tt $act:tt $pad:tt]
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt]) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const PAD: [[usize; 2]; 2] = $crate::__pad!($field, $in, $p, $k, $s);
            const OUT: $crate::model::shape::Dims = $crate::model::shape::conv(
                stringify!($field),
                $in,
                $f,
                [$crate::__axis!(0, $k), $crate::__axis!(1, $k)],
                [$crate::__axis!(0, $s), $crate::__axis!(1, $s)],
                // Read as the type below reads it: a failed padding is noted once.
                $pad,
            );
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::Conv2d<T, {$in.h}, {$in.w}, {$in.c}, {$f},
                {$crate::__axis!(0, $k)}, {$crate::__axis!(1, $k)}, {$crate::__axis!(0, $s)}, {$crate::__axis!(1, $s)},
                {$pad[0][0]}, {$pad[1][0]}, {$out.h}, {$out.w},
                $crate::__act!($act), $crate::__bias!($b, $f), $crate::$m>;
        }
    };
    (@build DepthwiseConv2d [$name:ident $i:tt $field:ident] [$in:tt $out:tt $k:tt $act:tt $pad:tt]
        [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt]) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const PAD: [[usize; 2]; 2] = $crate::__pad!($field, $in, $p, $k, $s);
            const OUT: $crate::model::shape::Dims = $crate::model::shape::depthwise(
                stringify!($field),
                $in,
                $d,
                [$crate::__axis!(0, $k), $crate::__axis!(1, $k)],
                [$crate::__axis!(0, $s), $crate::__axis!(1, $s)],
                $pad,
            );
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::DepthwiseConv2d<T, {$in.h}, {$in.w}, {$in.c}, {$d}, {$out.c},
                {$crate::__axis!(0, $k)}, {$crate::__axis!(1, $k)}, {$crate::__axis!(0, $s)}, {$crate::__axis!(1, $s)},
                {$pad[0][0]}, {$pad[1][0]}, {$out.h}, {$out.w},
                $crate::__act!($act), $crate::__bias!($b, {$out.c}), $crate::$m>;
        }
    };
    (@build $pool:ident [$name:ident $i:tt $field:ident] [$op:ident $in:tt $out:tt $k:tt] [stride $s:tt $($unused:tt)*]) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims = $crate::model::shape::pool(
                stringify!($field),
                $in,
                [$crate::__axis!(0, $k), $crate::__axis!(1, $k)],
                [$crate::__axis!(0, $s), $crate::__axis!(1, $s)],
            );
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::Pool2d<$crate::layers::pool::$op, {$in.h}, {$in.w}, {$in.c},
                {$crate::__axis!(0, $k)}, {$crate::__axis!(1, $k)}, {$crate::__axis!(0, $s)}, {$crate::__axis!(1, $s)},
                {$out.h}, {$out.w}>;
        }
    };
    (@build Dense [$name:ident $i:tt $field:ident] [$n:tt $o:tt $act:tt] [stride $s:tt pad $p:tt mode $m:ident bias $b:tt mult $d:tt]) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims = $crate::model::shape::Dims::vector($o);
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::Dense<T, $n, {$o}, $crate::__act!($act), $crate::__bias!($b, $o)>;
        }
    };

    // A residual block: its geometry checks that the branches read the
    // block's input and meet in one shape; its peak is the block's share of
    // the workspace (see `model::residual`).
    (@layer [$name:ident $i:tt $field:ident] $r:ident $in:tt $out:tt [Residual] [$m:ident $(, $sc:ident)?] $act:tt) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims = $crate::model::shape::residual(
                stringify!($field),
                $crate::__shape!($r, $in),
                <<$m<f32> as $crate::Model<f32>>::Input as $crate::Tensor<f32>>::SHAPE,
                <<$m<f32> as $crate::Model<f32>>::Output as $crate::Tensor<f32>>::SHAPE,
                $crate::sequential!(@shortcut shapes [$($sc)?]),
            );
            const PEAK: usize = $crate::model::residual::block_len(
                $in.size(),
                <$m<f32> as $crate::Model<f32>>::BRANCH_LEN,
                <$m<f32> as $crate::Model<f32>>::HEAD,
                $out.size(),
                $crate::sequential!(@shortcut len [$($sc)?]),
            );
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::model::Residual<$m<T>, $crate::sequential!(@shortcut type [$($sc)?]), $crate::__act!($act)>;
        }
    };
    (@shortcut shapes []) => { None };
    (@shortcut shapes [$sc:ident]) => {
        Some((
            <<$sc<f32> as $crate::Model<f32>>::Input as $crate::Tensor<f32>>::SHAPE,
            <<$sc<f32> as $crate::Model<f32>>::Output as $crate::Tensor<f32>>::SHAPE,
        ))
    };
    (@shortcut len []) => { None };
    (@shortcut len [$sc:ident]) => { Some(<$sc<f32> as $crate::Model<f32>>::BRANCH_LEN) };
    (@shortcut type []) => { $crate::model::Identity };
    (@shortcut type [$sc:ident]) => { $sc<T> };

    // Shape-only layers and activations.
    (@layer [$name:ident $i:tt $field:ident] image $in:tt $out:tt [GlobalAvgPool2d] [] []) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims = $crate::model::shape::Dims::image(1, 1, $in.c);
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            // One window, its stride the window's (as Keras's and TFLite's).
            type Layer = $crate::Pool2d<$crate::layers::pool::Avg, {$in.h}, {$in.w}, {$in.c}, {$in.h}, {$in.w},
                {$in.h}, {$in.w}, 1, 1>;
        }
    };
    (@layer [$name:ident $i:tt $field:ident] image $in:tt $out:tt [Flatten] [] []) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims = $crate::model::shape::Dims::vector($in.size());
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::Flatten<{$in.h}, {$in.w}, {$in.c}, {$out.size()}>;
        }
    };
    (@layer [$name:ident $i:tt $field:ident] image $in:tt $out:tt [Upsample] [$f:tt] []) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims =
                $crate::model::shape::upsample($in, [$crate::__axis!(0, $f), $crate::__axis!(1, $f)]);
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::Upsample<{$in.h}, {$in.w}, {$in.c}, {$crate::__axis!(0, $f)}, {$crate::__axis!(1, $f)},
                {$out.h}, {$out.w}>;
        }
    };
    (@layer [$name:ident $i:tt $field:ident] $r:ident $in:tt $out:tt [Dropout] [$rate:tt] []) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims = $in;
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::Dropout<$crate::__tensor!($r, $in),
                {$crate::model::shape::permille(stringify!($field), $rate, stringify!($rate))}>;
        }
    };
    // Arguments that no arm above reads (before the activations, whose arm
    // would take any kind without arguments).
    (@layer $ctx:tt $r:ident $in:tt $out:tt [Conv2d] $($x:tt)*) => { $crate::sequential!(@bad $ctx Conv2d); };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [DepthwiseConv2d] $($x:tt)*) => { $crate::sequential!(@bad $ctx DepthwiseConv2d); };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [GlobalAvgPool2d] $($x:tt)*) => { $crate::sequential!(@bad $ctx GlobalAvgPool2d); };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [Dense] $($x:tt)*) => { $crate::sequential!(@bad $ctx Dense); };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [Upsample] $($x:tt)*) => { $crate::sequential!(@bad $ctx Upsample); };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [Dropout] $($x:tt)*) => { $crate::sequential!(@bad $ctx Dropout); };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [Residual] $($x:tt)*) => { $crate::sequential!(@bad $ctx Residual); };
    (@layer [$name:ident $i:tt $field:ident] $r:ident $in:tt $out:tt [$act:ident] [] []) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims = $in;
        }
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::Activate<$crate::layers::activation::$act, $crate::__tensor!($r, $in)>;
        }
    };
    (@layer $ctx:tt $r:ident $in:tt $out:tt [$kind:ident] $($x:tt)*) => { $crate::sequential!(@bad $ctx $kind); };
    (@bad $ctx:tt $kind:ident) => {
        $crate::sequential!(@error $ctx "cannot read this ", stringify!($kind), ": ", $crate::sequential!(@usage [$kind] $kind));
    };
    // What each kind takes (the kind in brackets to match, then bare).
    (@usage [Conv2d] $kind:ident) => { "Conv2d<F, K> takes stride = .., pad = .., edge = .., bias = .., and => Activation" };
    (@usage [DepthwiseConv2d] $kind:ident) => {
        "DepthwiseConv2d<K> takes multiplier = .., stride = .., pad = .., edge = .., bias = .., and => Activation"
    };
    (@usage [GlobalAvgPool2d] $kind:ident) => { "GlobalAvgPool2d takes no arguments and no activation" };
    (@usage [$(MaxPool2d)? $(MinPool2d)? $(AvgPool2d)?] $kind:ident) => {
        concat!(stringify!($kind), "<K> takes stride = .., and no activation")
    };
    (@usage [Dense] $kind:ident) => { "Dense<O> or Dense<I, O> takes bias = .., and => Activation" };
    (@usage [Flatten] $kind:ident) => { "Flatten takes no arguments and no activation" };
    (@usage [Upsample] $kind:ident) => { "Upsample<F> takes no options and no activation" };
    (@usage [Dropout] $kind:ident) => { "Dropout<RATE> takes no options and no activation" };
    (@usage [Residual] $kind:ident) => {
        "Residual<Main> or Residual<Main, Shortcut> (branches declared with sequential!) takes no options, and => Activation"
    };
    (@usage $k:tt $kind:ident) => { concat!(stringify!($kind), " as a layer takes no arguments and no activation") };

    // A layer that cannot be built: the error is its geometry, so that
    // nothing that uses the layer's sizes reports it again.
    (@error [$name:ident $i:tt $field:ident] $($msg:expr),+) => {
        impl $crate::model::LayerShape<$i> for Shapes {
            const OUT: $crate::model::shape::Dims =
                ::core::compile_error!(concat!("layer `", stringify!($field), "`: ", $($msg),+));
        }
        // Never built: stands in for the layer, with the failed sizes.
        impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
            type Layer = $crate::sequential!(@unbuilt <Shapes as $crate::model::LayerShape<$i>>::OUT);
        }
    };
    (@unbuilt $out:expr) => { $crate::Flatten<{$out.h}, {$out.w}, {$out.c}, {$out.size()}> };
}

/// The `i`-th (0: height, 1: width) of `[a, b]`, or `a` itself.
#[doc(hidden)]
#[macro_export]
macro_rules! __axis {
    (0, [$a:expr, $b:expr]) => {
        $a
    };
    (1, [$a:expr, $b:expr]) => {
        $b
    };
    ($i:tt, $a:expr) => {
        $a
    };
}

/// Padding before and after the input, per axis (`[[h_before, h_after],
/// [w_before, w_after]]`): `same` (TensorFlow's, from the input `in`, the
/// kernel `k` and the stride `s`), `valid`, a number or `[h, w]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __pad {
    ($field:ident, $in:tt, same, $k:tt, $s:tt) => {
        [
            $crate::model::shape::same_pad(stringify!($field), $in.h, $crate::__axis!(0, $k), $crate::__axis!(0, $s)),
            $crate::model::shape::same_pad(stringify!($field), $in.w, $crate::__axis!(1, $k), $crate::__axis!(1, $s)),
        ]
    };
    ($field:ident, $in:tt, valid, $k:tt, $s:tt) => {
        [[0, 0], [0, 0]]
    };
    ($field:ident, $in:tt, $p:tt, $k:tt, $s:tt) => {
        [[$crate::__axis!(0, $p), $crate::__axis!(0, $p)], [$crate::__axis!(1, $p), $crate::__axis!(1, $p)]]
    };
}

/// The activation type for `[Name]`, or linear for `[]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __act {
    ([]) => {
        $crate::layers::activation::Linear
    };
    ([$act:ident]) => {
        $crate::layers::activation::$act
    };
}

/// The bias of `n` outputs, for `bias = true` or `false`.
#[doc(hidden)]
#[macro_export]
macro_rules! __bias {
    (true, $n:tt) => {
        [T; $n]
    };
    (false, $n:tt) => {
        $crate::NoBias
    };
}

/// The tensor type of an `image` or a `vector` of dimensions `dims`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tensor {
    (image, $dims:tt) => {
        [[[T; { $dims.c }]; { $dims.w }]; { $dims.h }]
    };
    (vector, $dims:tt) => {
        [T; { $dims.size() }]
    };
}

/// The shape of an `image` or a `vector` of dimensions `dims`, as a slice.
#[doc(hidden)]
#[macro_export]
macro_rules! __shape {
    (image, $dims:tt) => {
        &[$dims.h, $dims.w, $dims.c]
    };
    (vector, $dims:tt) => {
        &[$dims.size()]
    };
}

/// The type of layer `i` of model `name`.
#[doc(hidden)]
#[macro_export]
macro_rules! __at {
    ($name:ident, $i:tt) => {
        <$name<T> as $crate::model::LayerAt<T, $i>>::Layer
    };
}
