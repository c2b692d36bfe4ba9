//! The [`sequential!`](crate::sequential) macro: declare a network in a few
//! lines and let the compiler work out, and check, every shape.
//!
//! The macro walks the layers in order, carrying the current shape as
//! constant expressions. For each layer it computes the output shape with the
//! `const fn`s of [`crate::model::shape`] (a layer that does not fit is a compile
//! error naming the layer and the sizes) and writes the layer's full type with
//! every dimension as a const parameter. It then emits the model struct
//! (`#[repr(C)]`, fields in layer order, so the whole model is one flat run of
//! weights) and its [`Model`](crate::Model) impl, whose inference runs every
//! convolution fused with a pooling layer right after it
//! ([`crate::model::fuse`]; not when the convolution ends in softmax), so the
//! workspace never holds that convolution's output.

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
/// - `MaxPool2d<K>`, `MinPool2d<K>`, `AvgPool2d<K>`, option `stride = S`
///   (default: the window, so `2` halves the image).
/// - `Dense<O>`, or `Dense<I, O>` to state the input size (checked); option
///   `bias = false`.
/// - `Flatten`, `Dropout<RATE>` (e.g. `0.25`), `Upsample<F>`.
/// - Activations as layers: `Relu`, `Sigmoid`, `Tanh`, `Softmax`, `Linear`;
///   or fused after conv and dense: `=> Relu`.
///
/// The struct gets a scalar parameter `T` (default `f32`) and up to 32 layers.
#[macro_export]
macro_rules! sequential {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident : [$($input:tt)*] { $($body:tt)* }
    ) => {
        $crate::sequential!(@parse
            [[$(#[$attr])* $vis struct $name in [$($input)*]]
             [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]
             [first] [] []]
            shape [$($input)*]
            rest [$($body)*]
        );
    };

    // ---- one layer: split off its tokens, dispatch on its kind -------------
    (@parse $st:tt shape [$($shape:tt)*]
        rest [$(#[$la:meta])* $field:ident : $kind:ident
              $(< $($arg:tt $(= $val:tt)?),* >)? $(=> $act:ident)? $(, $($rest:tt)*)?]
    ) => {
        $crate::sequential!(@kind $kind $st [$(#[$la])*] $field
            shape [$($shape)*]
            args [$($($arg $(= $val)?),*)?]
            act [$($act)?]
            rest [$($($rest)*)?]
        );
    };
    (@parse [$meta:tt $ids:tt $prev:tt $layers:tt $rev:tt] shape $shape:tt rest []) => {
        $crate::sequential!(@emit $meta $layers $rev);
    };

    // ---- Conv2d: gather options, then compute the geometry -----------------
    (@kind Conv2d $st:tt $la:tt $field:ident shape $shape:tt
        args [$f:tt, $k:tt $(, $($opt:tt)*)?] act $act:tt rest $rest:tt) => {
        $crate::sequential!(@conv $st $la $field shape $shape f $f k $k
            opts [stride 1 pad 0 mode ZeroPad bias true] [$($($opt)*)?] act $act rest $rest);
    };
    (@conv $st:tt $la:tt $field:ident shape $shape:tt f $f:tt k $k:tt
        opts [stride $s:tt pad $p:tt mode $m:ident bias $b:tt] [stride = $v:tt $(, $($more:tt)*)?] $($tail:tt)*) => {
        $crate::sequential!(@conv $st $la $field shape $shape f $f k $k
            opts [stride $v pad $p mode $m bias $b] [$($($more)*)?] $($tail)*);
    };
    (@conv $st:tt $la:tt $field:ident shape $shape:tt f $f:tt k $k:tt
        opts [stride $s:tt pad $p:tt mode $m:ident bias $b:tt] [pad = $v:tt $(, $($more:tt)*)?] $($tail:tt)*) => {
        $crate::sequential!(@conv $st $la $field shape $shape f $f k $k
            opts [stride $s pad $v mode ZeroPad bias $b] [$($($more)*)?] $($tail)*);
    };
    (@conv $st:tt $la:tt $field:ident shape $shape:tt f $f:tt k $k:tt
        opts [stride $s:tt pad $p:tt mode $m:ident bias $b:tt] [edge = $v:tt $(, $($more:tt)*)?] $($tail:tt)*) => {
        $crate::sequential!(@conv $st $la $field shape $shape f $f k $k
            opts [stride $s pad $v mode EdgePad bias $b] [$($($more)*)?] $($tail)*);
    };
    (@conv $st:tt $la:tt $field:ident shape $shape:tt f $f:tt k $k:tt
        opts [stride $s:tt pad $p:tt mode $m:ident bias $b:tt] [bias = $v:tt $(, $($more:tt)*)?] $($tail:tt)*) => {
        $crate::sequential!(@conv $st $la $field shape $shape f $f k $k
            opts [stride $s pad $p mode $m bias $v] [$($($more)*)?] $($tail)*);
    };
    (@conv $st:tt $la:tt $field:ident shape [$h:expr, $w:expr, $c:expr] f $f:tt k $k:tt
        opts [stride $s:tt pad $p:tt mode $m:ident bias $b:tt] [] act [$($act:ident)?] rest $rest:tt) => {
        $crate::sequential!(@conv_out $st $la $field [$h, $w, $c] f $f
            kh ($crate::__axis!(0, $k)) kw ($crate::__axis!(1, $k))
            sh ($crate::__axis!(0, $s)) sw ($crate::__axis!(1, $s))
            ph ($crate::__pad!($field, 0, $p, $crate::__axis!(0, $k)))
            pw ($crate::__pad!($field, 1, $p, $crate::__axis!(1, $k)))
            mode $m bias $b act [$($act)?] rest $rest);
    };
    (@conv_out $st:tt $la:tt $field:ident [$h:expr, $w:expr, $c:expr] f $f:tt
        kh ($kh:expr) kw ($kw:expr) sh ($sh:expr) sw ($sw:expr) ph ($ph:expr) pw ($pw:expr)
        mode $m:ident bias $b:tt act [$($act:ident)?] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Conv2d<T, {$h}, {$w}, {$c}, {$f}, {$kh}, {$kw}, {$sh}, {$sw}, {$ph}, {$pw},
                {$crate::model::shape::window_out(stringify!($field), "height", $h, $kh, $sh, $ph)},
                {$crate::model::shape::window_out(stringify!($field), "width", $w, $kw, $sw, $pw)},
                $crate::__act!($($act)?), $crate::__bias!($b, $f), $crate::$m>]
            shape [
                $crate::model::shape::window_out(stringify!($field), "height", $h, $kh, $sh, $ph),
                $crate::model::shape::window_out(stringify!($field), "width", $w, $kw, $sw, $pw),
                $f
            ]
            role [Conv $($act)?] rest $rest);
    };

    // ---- pooling -------------------------------------------------------------
    (@kind MaxPool2d $($tail:tt)*) => { $crate::sequential!(@pool Max $($tail)*); };
    (@kind MinPool2d $($tail:tt)*) => { $crate::sequential!(@pool Min $($tail)*); };
    (@kind AvgPool2d $($tail:tt)*) => { $crate::sequential!(@pool Avg $($tail)*); };
    (@pool $op:ident $st:tt $la:tt $field:ident shape $shape:tt args [$k:tt] $($tail:tt)*) => {
        $crate::sequential!(@pool $op $st $la $field shape $shape args [$k, stride = $k] $($tail)*);
    };
    (@pool $op:ident $st:tt $la:tt $field:ident shape [$h:expr, $w:expr, $c:expr]
        args [$k:tt, stride = $s:tt] act [] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Pool2d<$crate::layers::pool::$op, {$h}, {$w}, {$c},
                {$crate::__axis!(0, $k)}, {$crate::__axis!(1, $k)},
                {$crate::__axis!(0, $s)}, {$crate::__axis!(1, $s)},
                {$crate::model::shape::window_out(stringify!($field), "height", $h, $crate::__axis!(0, $k), $crate::__axis!(0, $s), 0)},
                {$crate::model::shape::window_out(stringify!($field), "width", $w, $crate::__axis!(1, $k), $crate::__axis!(1, $s), 0)}>]
            shape [
                $crate::model::shape::window_out(stringify!($field), "height", $h, $crate::__axis!(0, $k), $crate::__axis!(0, $s), 0),
                $crate::model::shape::window_out(stringify!($field), "width", $w, $crate::__axis!(1, $k), $crate::__axis!(1, $s), 0),
                $c
            ]
            role [Pool] rest $rest);
    };

    // ---- dense ---------------------------------------------------------------
    (@kind Dense $st:tt $la:tt $field:ident shape [$n:expr] args [$i:tt, $o:tt $(, bias = $b:tt)?]
        act [$($act:ident)?] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Dense<T, {$crate::model::shape::expect_len(stringify!($field), $i, $n)}, {$o},
                $crate::__act!($($act)?), $crate::__bias!($($b)? true, $o)>]
            shape [$o] role [Buffer] rest $rest);
    };
    (@kind Dense $st:tt $la:tt $field:ident shape [$n:expr] args [$o:tt $(, bias = $b:tt)?]
        act [$($act:ident)?] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Dense<T, {$n}, {$o}, $crate::__act!($($act)?), $crate::__bias!($($b)? true, $o)>]
            shape [$o] role [Buffer] rest $rest);
    };
    (@kind Dense $st:tt $la:tt $field:ident shape [$h:expr, $w:expr, $c:expr] $($tail:tt)*) => {
        ::core::compile_error!(concat!("layer `", stringify!($field),
            "`: Dense needs a vector input; put a Flatten before it"));
    };

    // ---- shape-only layers -----------------------------------------------------
    (@kind Flatten $st:tt $la:tt $field:ident shape [$h:expr, $w:expr, $c:expr] args [] act [] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Flatten<{$h}, {$w}, {$c}, {($h) * ($w) * ($c)}>]
            shape [($h) * ($w) * ($c)] role [InPlace] rest $rest);
    };
    (@kind Upsample $st:tt $la:tt $field:ident shape [$h:expr, $w:expr, $c:expr] args [$f:tt] act [] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Upsample<{$h}, {$w}, {$c}, {$crate::__axis!(0, $f)}, {$crate::__axis!(1, $f)},
                {($h) * $crate::__axis!(0, $f)}, {($w) * $crate::__axis!(1, $f)}>]
            shape [($h) * $crate::__axis!(0, $f), ($w) * $crate::__axis!(1, $f), $c]
            role [Buffer] rest $rest);
    };
    (@kind Dropout $st:tt $la:tt $field:ident shape $shape:tt args [$rate:tt] act [] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Dropout<$crate::__tensor!($shape), {$crate::model::shape::permille(stringify!($field), $rate, stringify!($rate))}>]
            shape $shape role [InPlace] rest $rest);
    };
    (@kind $act:ident $st:tt $la:tt $field:ident shape $shape:tt args [] act [] rest $rest:tt) => {
        $crate::sequential!(@push $st $la $field
            ty [$crate::Activate<$crate::layers::activation::$act, $crate::__tensor!($shape)>]
            shape $shape role [InPlace] rest $rest);
    };

    // ---- append a layer to the state -------------------------------------------
    (@push [$meta:tt [$i:tt $($ids:tt)*] [$prev:tt] [$($layers:tt)*] [$($rev:tt)*]] [$($la:tt)*] $field:ident
        ty [$($ty:tt)*] shape $shape:tt role $ip:tt rest $rest:tt) => {
        $crate::sequential!(@parse
            [$meta [$($ids)*] [$i]
             [$($layers)* {[$($la)*] $field [$($ty)*] ($crate::__len!($shape)) $ip $i $prev}]
             [{$field $i $prev [$($ty)*]} $($rev)*]]
            shape $shape rest $rest);
    };

    // ---- the struct and its Model impl -------------------------------------------
    // Each layer's type is written once, in its `LayerAt` impl, and named
    // through it everywhere else: a shape error is reported once per layer.
    (@emit [$(#[$attr:meta])* $vis:vis struct $name:ident in $input:tt]
        [{$fla:tt $ffield:ident $fty:tt $flen:tt $fip:tt $fi:tt $fprev:tt}
         $({$la:tt $field:ident $ty:tt $len:tt $ip:tt $i:tt $prev:tt})*]
        [{$lfield:ident $li:tt $lprev:tt $lty:tt} $($rev:tt)*]
    ) => {
        $crate::sequential!(@struct [$(#[$attr])* $vis struct $name]
            [{$fla $ffield $fty $flen $fip $fi $fprev} $({$la $field $ty $len $ip $i $prev})*]);

        impl<T: $crate::Float> $crate::Model<T> for $name<T> {
            type Input = <$crate::__at!($name, $fi) as $crate::Layer<T>>::Input;
            type Output = <$crate::__at!($name, $li) as $crate::Layer<T>>::Output;
            type Workspace = $crate::Workspace<T, {
                $crate::model::shape::workspace_len(
                    $crate::__len!($input),
                    &[($crate::__paren!($flen), $crate::__role!($fip)) $(, ($crate::__paren!($len), $crate::__role!($ip)))*],
                )
            }>;
            type Trace = (
                <$crate::__at!($name, $fi) as $crate::Layer<T>>::Output,
                $(<$crate::__at!($name, $i) as $crate::Layer<T>>::Output,)*
            );

            const LAYERS: &'static [$crate::LayerSummary] = &[
                $crate::LayerSummary::of::<T, $crate::__at!($name, $fi)>(stringify!($ffield)),
                $($crate::LayerSummary::of::<T, $crate::__at!($name, $i)>(stringify!($field)),)*
            ];
            const FINGERPRINT: u64 = $crate::layers::fingerprint(&[
                $crate::layers::str_hash(<T as $crate::Float>::NAME),
                <$crate::__at!($name, $fi) as $crate::Layer<T>>::FINGERPRINT,
                $(<$crate::__at!($name, $i) as $crate::Layer<T>>::FINGERPRINT,)*
            ]);

            fn init(&mut self, rng: &mut $crate::Rng) {
                $crate::Layer::<T>::init(&mut self.$ffield, rng);
                $($crate::Layer::<T>::init(&mut self.$field, rng);)*
            }

            fn predict_staged<'w>(&self, workspace: &'w mut Self::Workspace) -> &'w Self::Output {
                let pass = $crate::model::Pass::staged::<Self::Input>(workspace.as_mut());
                $crate::sequential!(@steps pass self [{$ffield $fip} $({$field $ip})*]);
                pass.output()
            }

            fn forward_train(&self, x: &Self::Input, trace: &mut Self::Trace, seed: u64, fused_output: bool) {
                let ctx = |i: u64| $crate::TrainContext {
                    seed: $crate::rng::splitmix64(seed ^ i),
                    fused: fused_output && i == $li,
                };
                $crate::Backward::<T>::forward_train(&self.$ffield, x, &mut trace.$fi, &ctx($fi));
                $($crate::Backward::<T>::forward_train(&self.$field, &trace.$prev, &mut trace.$i, &ctx($i));)*
            }

            fn forward_trace(&self, x: &Self::Input, trace: &mut Self::Trace, logits: bool) {
                let logits_of = |i: u64| $crate::TrainContext { seed: 0, fused: logits && i == $li };
                let ctx = logits_of($fi);
                if ctx.fused {
                    $crate::Backward::<T>::forward_train(&self.$ffield, x, &mut trace.$fi, &ctx);
                } else {
                    $crate::Layer::<T>::forward(&self.$ffield, x, &mut trace.$fi);
                }
                $(
                    let ctx = logits_of($i);
                    if ctx.fused {
                        $crate::Backward::<T>::forward_train(&self.$field, &trace.$prev, &mut trace.$i, &ctx);
                    } else {
                        $crate::Layer::<T>::forward(&self.$field, &trace.$prev, &mut trace.$i);
                    }
                )*
            }

            fn layer_output(trace: &Self::Trace, i: usize) -> &[T] {
                match i {
                    $fi => $crate::Tensor::<T>::as_flat(&trace.$fi),
                    $($i => $crate::Tensor::<T>::as_flat(&trace.$i),)*
                    _ => &[],
                }
            }

            fn output(trace: &Self::Trace) -> &Self::Output {
                &trace.$li
            }
            fn output_mut(trace: &mut Self::Trace) -> &mut Self::Output {
                &mut trace.$li
            }

            fn backward(
                &self,
                x: &Self::Input,
                trace: &Self::Trace,
                grad: &mut Self::Trace,
                grads: &mut Self,
                seed: u64,
                fused_output: bool,
            ) {
                let ctx = |i: u64| $crate::TrainContext {
                    seed: $crate::rng::splitmix64(seed ^ i),
                    fused: fused_output && i == $li,
                };
                $crate::sequential!(@backward self x trace grad grads ctx [{$lfield $li $lprev $lty} $($rev)*]);
            }
        }

        $crate::__int8_model!($vis $name [{$ffield $fip $fi} $({$field $ip $i})*]);
    };
    // Inference steps: a convolution and the pooling after it run fused.
    (@steps $p:ident $s:ident []) => {};
    (@steps $p:ident $s:ident [{$f:ident [Conv Softmax]} $($rest:tt)*]) => {
        let $p = $p.then(&$s.$f);
        $crate::sequential!(@steps $p $s [$($rest)*]);
    };
    (@steps $p:ident $s:ident [{$f:ident [Conv $($act:ident)?]} {$g:ident [Pool]} $($rest:tt)*]) => {
        let $p = $p.then_fused(&$s.$f, &$s.$g);
        $crate::sequential!(@steps $p $s [$($rest)*]);
    };
    (@steps $p:ident $s:ident [{$f:ident $role:tt} $($rest:tt)*]) => {
        let $p = $p.then(&$s.$f);
        $crate::sequential!(@steps $p $s [$($rest)*]);
    };
    (@backward $s:ident $x:ident $tr:ident $g:ident $gs:ident $ctx:ident [{$field:ident $i:tt first $ty:tt}]) => {
        $crate::Backward::<T>::backward(&$s.$field, $x, &$tr.$i, &mut $g.$i, None, &mut $gs.$field, &$ctx($i));
    };
    (@backward $s:ident $x:ident $tr:ident $g:ident $gs:ident $ctx:ident [{$field:ident $i:tt $prev:tt $ty:tt} $($rev:tt)*]) => {
        $crate::Backward::<T>::backward(
            &$s.$field, &$tr.$prev, &$tr.$i, &mut $g.$i, Some(&mut $g.$prev), &mut $gs.$field, &$ctx($i));
        $crate::sequential!(@backward $s $x $tr $g $gs $ctx [$($rev)*]);
    };
    (@struct [$(#[$attr:meta])* $vis:vis struct $name:ident] [$({[$($la:tt)*] $field:ident [$($ty:tt)*] $len:tt $ip:tt $i:tt $prev:tt})*]) => {
        $(#[$attr])*
        #[repr(C)]
        $vis struct $name<T: $crate::Float = f32> {
            $($($la)* #[doc = concat!("Layer `", stringify!($field), "`.")] pub $field: $crate::__at!($name, $i),)*
        }

        $(
            impl<T: $crate::Float> $crate::model::LayerAt<T, $i> for $name<T> {
                type Layer = $($ty)*;
            }
        )*

        // SAFETY: `#[repr(C)]` struct whose fields are all `Params<T>` layers.
        unsafe impl<T: $crate::Float> $crate::Params<T> for $name<T> {}
    };
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

/// Padding amount along axis `i`: `same`, `valid`, a number or `[h, w]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __pad {
    ($field:ident, $i:tt, same, $k:expr) => {
        $crate::model::shape::same_pad(stringify!($field), $k)
    };
    ($field:ident, $i:tt, valid, $k:expr) => {
        0
    };
    ($field:ident, $i:tt, $p:tt, $k:expr) => {
        $crate::__axis!($i, $p)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __act {
    () => {
        $crate::layers::activation::Linear
    };
    ($act:ident) => {
        $crate::layers::activation::$act
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __bias {
    (true, $n:tt) => {
        [T; $n]
    };
    (false, $n:tt) => {
        $crate::NoBias
    };
    (false true, $n:tt) => {
        $crate::NoBias
    };
    (true true, $n:tt) => {
        [T; $n]
    };
}

/// How layer output is held at inference (see `shape::Role`); a convolution
/// with softmax over its filters is not fused.
#[doc(hidden)]
#[macro_export]
macro_rules! __role {
    ([Conv Softmax]) => {
        $crate::model::shape::Role::Buffer
    };
    ([Conv $($act:ident)?]) => {
        $crate::model::shape::Role::Conv
    };
    ([$role:ident]) => {
        $crate::model::shape::Role::$role
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tensor {
    ([$h:expr, $w:expr, $c:expr]) => {
        [[[T; { $c }]; { $w }]; { $h }]
    };
    ([$n:expr]) => {
        [T; { $n }]
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __len {
    ([$h:expr, $w:expr, $c:expr]) => {
        ($h) * ($w) * ($c)
    };
    ([$n:expr]) => {
        $n
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

#[doc(hidden)]
#[macro_export]
macro_rules! __paren {
    (($e:expr)) => {
        $e
    };
}
