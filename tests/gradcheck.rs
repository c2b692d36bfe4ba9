//! Every layer's backward pass against central finite differences, in `f64`.
//!
//! One generic checker ([`check_layer`]) runs each configuration: random
//! parameters and input, the scalar loss `sum_i r_i * y_i` with a fixed random
//! `r`, the analytic gradients from `backward`, and the numeric ones from
//! `(loss(p + h) - loss(p - h)) / 2h` for every input element and parameter
//! (or a fixed random sample of up to 200 of each for big layers).
//! [`check_model`] does the same for whole `sequential!` models, parameters
//! and the input gradient of `backward_to` (residual blocks: the gradient
//! through both branches, summed at the block's input).
//!
//! Kinks (relu at 0, max/min pooling ties) are kept away from the sampled
//! points: inputs of max/min pooling are distinct by construction, and a case
//! whose relu pre-activations come within `MARGIN` of zero is redrawn.

use constnet::pool::{Avg, Max, Min};
use constnet::{
    zeroed, Activate, Backward, Conv2d, Dense, DepthwiseConv2d, Dropout, EdgePad, Flatten, Layer, Linear, Model,
    NoBias, Params, Pool2d, Relu, Rng, Sigmoid, Softmax, Tanh, Tensor, TrainContext, Upsample, ZeroPad,
};

/// Finite-difference step.
const STEP: f64 = 1e-6;
/// Absolute and relative tolerance: `|a - n| <= ABS + REL * max(|a|, |n|)`.
const ABS: f64 = 1e-6;
const REL: f64 = 1e-5;
/// Most input elements (and, separately, parameters) checked per case.
const SAMPLE: usize = 200;
/// Smallest allowed distance of a sample point from a kink.
const MARGIN: f64 = 1e-3;
/// Dropout (the only layer that reads it) draws its mask from this seed.
const CTX: TrainContext = TrainContext { seed: 0x5eed_cafe, fused: false };

/// Where a sample point sits relative to the nearest kink of the loss; at
/// least `MARGIN` is required. `smooth` for layers without kinks.
type Margin<L> = fn(&L, &<L as Layer<f64>>::Input) -> f64;

fn smooth<L: Layer<f64>>(_: &L, _: &L::Input) -> f64 {
    f64::INFINITY
}

/// How the input of a case is drawn.
#[derive(Clone, Copy)]
enum Draw {
    /// Independent uniform values in `[-1, 1)`.
    Uniform,
    /// A shuffled ladder of distinct values 0.05 apart (plus a little noise):
    /// no two elements closer than 0.03, so max/min pooling has no ties.
    Distinct,
}

fn fill(rng: &mut Rng, xs: &mut [f64], draw: Draw) {
    match draw {
        Draw::Uniform => xs.iter_mut().for_each(|x| *x = rng.uniform(1.0)),
        Draw::Distinct => {
            let n = xs.len();
            let mut order: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut order);
            for (x, k) in xs.iter_mut().zip(order) {
                *x = (k as f64 - n as f64 / 2.0) * 0.05 + rng.uniform(0.01);
            }
        }
    }
}

fn copy_of<X: Tensor<f64>>(x: &X) -> X {
    let mut c = X::zeroed();
    c.as_flat_mut().copy_from_slice(x.as_flat());
    c
}

fn params_copy<P: Params<f64>>(p: &P) -> P {
    let mut c: P = zeroed();
    c.flat_mut().copy_from_slice(p.flat());
    c
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn min_abs(xs: &[f64]) -> f64 {
    xs.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()))
}

/// `n` indices, or a sorted random sample of `SAMPLE` of them.
fn sample(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    if n > SAMPLE {
        rng.shuffle(&mut all);
        all.truncate(SAMPLE);
        all.sort_unstable();
    }
    all
}

/// An element index as `[h, w, c]` (or `[n]`) for messages.
fn position(shape: &[usize], mut i: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for (d, &len) in idx.iter_mut().zip(shape).rev() {
        *d = i % len;
        i /= len;
    }
    format!("{idx:?}")
}

/// Worst mismatch between analytic and numeric gradients over one group.
#[derive(Default)]
struct Worst {
    checked: usize,
    failures: usize,
    excess: f64,
    what: String,
}

impl Worst {
    /// Records one comparison; `excess` is the error over the tolerance
    /// (NaN counts as a failure).
    fn record(&mut self, analytic: f64, numeric: f64, what: impl FnOnce() -> String) {
        self.checked += 1;
        let err = (analytic - numeric).abs();
        let tol = ABS + REL * analytic.abs().max(numeric.abs());
        let excess = if err.is_nan() { f64::INFINITY } else { err / tol };
        if err.is_nan() || err > tol {
            self.failures += 1;
        }
        if self.what.is_empty() || excess > self.excess {
            self.excess = excess;
            self.what = format!("{}: analytic {analytic:.9e}, numeric {numeric:.9e}, |diff| {err:.3e}", what());
        }
    }

    fn verdict(&self, case: &str, group: &str) -> Option<String> {
        (self.failures > 0).then(|| {
            format!(
                "{case}: {} of {} {group} gradients wrong; worst at {} ({:.1}x tolerance)",
                self.failures, self.checked, self.what, self.excess
            )
        })
    }
}

/// A layer, an input and the loss weights `r` of one case.
struct Case<L: Layer<f64>> {
    layer: L,
    x: L::Input,
    r: L::Output,
}

/// Draws case number `attempt` of `seed`: parameters from `init` plus a
/// random offset (so biases are nonzero too), input per `draw`, `r` uniform.
fn draw_case<L: Layer<f64>>(seed: u64, attempt: u64, draw: Draw) -> Case<L> {
    let mut rng = Rng::new(seed.wrapping_mul(0x9e37_79b9).wrapping_add(attempt));
    let mut layer: L = zeroed();
    layer.init(&mut rng);
    layer.flat_mut().iter_mut().for_each(|p| *p += rng.uniform(0.3));
    let mut x = L::Input::zeroed();
    fill(&mut rng, x.as_flat_mut(), draw);
    let mut r = L::Output::zeroed();
    r.as_flat_mut().iter_mut().for_each(|v| *v = rng.uniform(1.0));
    Case { layer, x, r }
}

fn loss<L: Backward<f64>>(layer: &L, x: &L::Input, r: &L::Output) -> f64 {
    let mut y = L::Output::zeroed();
    layer.forward_train(x, &mut y, &CTX);
    dot(y.as_flat(), r.as_flat())
}

/// Gradient-checks layer type `L`; see the module docs. Panics with the worst
/// mismatch of inputs and of parameters on failure.
fn check_layer<L: Backward<f64>>(case: &str, seed: u64, draw: Draw, margin: Margin<L>) {
    let Case { layer, x, r } = (0..50)
        .map(|attempt| draw_case::<L>(seed, attempt, draw))
        .find(|c| margin(&c.layer, &c.x) >= MARGIN)
        .unwrap_or_else(|| panic!("{case}: no case without a kink within {MARGIN} in 50 draws"));

    // Analytic gradients.
    let mut y = L::Output::zeroed();
    layer.forward_train(&x, &mut y, &CTX);
    let mut dy = copy_of(&r);
    let mut dx = L::Input::zeroed();
    let mut grads: L = zeroed();
    layer.backward(&x, &y, &mut dy, Some(&mut dx), &mut grads, &CTX);

    // `backward` adds parameter gradients and overwrites the input gradient:
    // a second call doubles the former and leaves the latter unchanged.
    let mut dy2 = copy_of(&r);
    let mut dx2 = L::Input::zeroed();
    dx2.as_flat_mut().fill(1e3);
    let mut grads2 = params_copy(&grads);
    layer.backward(&x, &y, &mut dy2, Some(&mut dx2), &mut grads2, &CTX);
    assert_eq!(dx2.as_flat(), dx.as_flat(), "{case}: backward must overwrite dx, not add to it");
    for (i, (&g2, &g)) in grads2.flat().iter().zip(grads.flat()).enumerate() {
        assert!((g2 - 2.0 * g).abs() <= 1e-12 * g.abs().max(1.0), "{case}: param {i}: backward must add to grads");
    }
    // Without dx, the parameter gradients are the same.
    if L::LEN > 0 {
        let mut dy3 = copy_of(&r);
        let mut grads3: L = zeroed();
        layer.backward(&x, &y, &mut dy3, None, &mut grads3, &CTX);
        assert_eq!(grads3.flat(), grads.flat(), "{case}: parameter gradients depend on whether dx is asked for");
    }

    let mut rng = Rng::new(seed ^ 0xabcd);
    let shape = <L::Input as Tensor<f64>>::SHAPE;

    // Numeric input gradients.
    let mut inputs = Worst::default();
    let mut xp = copy_of(&x);
    for i in sample(<L::Input as Tensor<f64>>::LEN, &mut rng) {
        let v = xp.as_flat()[i];
        xp.as_flat_mut()[i] = v + STEP;
        let plus = loss(&layer, &xp, &r);
        xp.as_flat_mut()[i] = v - STEP;
        let minus = loss(&layer, &xp, &r);
        xp.as_flat_mut()[i] = v;
        inputs.record(dx.as_flat()[i], (plus - minus) / (2.0 * STEP), || format!("input {}", position(shape, i)));
    }

    // Numeric parameter gradients.
    let mut params = Worst::default();
    let mut lp = params_copy(&layer);
    for i in sample(L::LEN, &mut rng) {
        let v = lp.flat()[i];
        lp.flat_mut()[i] = v + STEP;
        let plus = loss(&lp, &x, &r);
        lp.flat_mut()[i] = v - STEP;
        let minus = loss(&lp, &x, &r);
        lp.flat_mut()[i] = v;
        params.record(grads.flat()[i], (plus - minus) / (2.0 * STEP), || format!("param {i}"));
    }

    let errors: Vec<String> =
        [inputs.verdict(case, "input"), params.verdict(case, "parameter")].into_iter().flatten().collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(inputs.checked, <L::Input as Tensor<f64>>::LEN.min(SAMPLE));
    assert_eq!(params.checked, L::LEN.min(SAMPLE));
}

/// Smallest distance of a pre-activation from zero (the relu kink): runs
/// `Lin`, the same layer with a linear activation, on the parameters of `L`.
fn preact_margin<L: Layer<f64>, Lin: Layer<f64, Input = L::Input>>(layer: &L, x: &L::Input) -> f64 {
    assert_eq!(L::LEN, Lin::LEN);
    let mut lin: Lin = zeroed();
    lin.flat_mut().copy_from_slice(layer.flat());
    let mut y = Lin::Output::zeroed();
    lin.forward(x, &mut y);
    min_abs(y.as_flat())
}

/// Smallest gap, over all `KH x KW` windows at stride `SH, SW` and channels,
/// between the value max (or min) pooling picks and the runner-up. Windows
/// whose pick is exactly zero are skipped: they are relu outputs that stay
/// zero under perturbation (their pre-activations are checked separately).
fn window_gap<const H: usize, const W: usize, const C: usize>(
    x: &[[[f64; C]; W]; H],
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    max: bool,
) -> f64 {
    let mut gap = f64::INFINITY;
    for oy in 0..=(H - kh) / sh {
        for ox in 0..=(W - kw) / sw {
            let window: Vec<&[f64; C]> = (0..kh * kw).map(|k| &x[oy * sh + k / kw][ox * sw + k % kw]).collect();
            let gaps = (0..C).filter_map(|c| {
                let mut v: Vec<f64> = window.iter().map(|px| if max { -px[c] } else { px[c] }).collect();
                v.sort_by(f64::total_cmp);
                (v.len() > 1 && v[0] != 0.0).then(|| v[1] - v[0])
            });
            gap = gaps.fold(gap, f64::min);
        }
    }
    gap
}

// ---- convolution ------------------------------------------------------------------
//
// The convolution handles rows in blocks of 4 output pixels that read no
// padding, and the rest (borders, the ragged end of a row) one pixel at a
// time; the widths below are chosen so most cases take both paths, and some
// (narrow, or with padding wider than a block can clear) only the second.

/// `Conv2d<f64, ...>` from `H, W, C, F, [KH, KW], [SH, SW], [PH, PW]`, the
/// activation, the bias type and the padding; computes `OH`, `OW`.
/// (or takes `[OH, OW]`, for TF's "same" with one more after).
macro_rules! conv {
    ($h:literal, $w:literal, $c:literal, $f:literal, [$kh:literal, $kw:literal], [$sh:literal, $sw:literal],
     [$ph:literal, $pw:literal], $act:ty, $bias:ty, $pad:ty) => {
        conv!($h, $w, $c, $f, [$kh, $kw], [$sh, $sw], [$ph, $pw], $act, $bias, $pad,
            [{ ($h + 2 * $ph - $kh) / $sh + 1 }, { ($w + 2 * $pw - $kw) / $sw + 1 }])
    };
    ($h:literal, $w:literal, $c:literal, $f:literal, [$kh:literal, $kw:literal], [$sh:literal, $sw:literal],
     [$ph:literal, $pw:literal], $act:ty, $bias:ty, $pad:ty, [$oh:expr, $ow:expr]) => {
        Conv2d<f64, $h, $w, $c, $f, $kh, $kw, $sh, $sw, $ph, $pw, $oh, $ow, $act, $bias, $pad>
    };
}

/// One gradient-checked convolution: `name, seed, H, W, C, F, [KH, KW],
/// [SH, SW], [PH, PW], activation, bias (`bias` or `nobias`), padding`.
macro_rules! conv_case {
    ($name:ident, $seed:literal, $h:literal, $w:literal, $c:literal, $f:literal, $k:tt, $s:tt, $p:tt,
     $act:ident, $bias:ident, $pad:ident $(, $out:tt)?) => {
        #[test]
        fn $name() {
    type L = conv!($h, $w, $c, $f, $k, $s, $p, $act, conv_case!(@bias $bias $f), $pad $(, $out)?);
    type Lin = conv!($h, $w, $c, $f, $k, $s, $p, Linear, conv_case!(@bias $bias $f), $pad $(, $out)?);
            let margin: Margin<L> =
                if <L as Layer<f64>>::INFO.activation == "relu" { preact_margin::<L, Lin> } else { smooth::<L> };
            check_layer::<L>(stringify!($name), $seed, Draw::Uniform, margin);
        }
    };
    (@bias bias $f:tt) => {
        [f64; $f]
    };
    (@bias nobias $f:tt) => {
        NoBias
    };
}

conv_case!(conv_k3_valid_linear, 1, 6, 9, 2, 4, [3, 3], [1, 1], [0, 0], Linear, bias, ZeroPad);
conv_case!(conv_k5_valid_relu, 2, 8, 8, 3, 5, [5, 5], [1, 1], [0, 0], Relu, bias, ZeroPad);
conv_case!(conv_k3_same_tanh, 3, 5, 10, 2, 4, [3, 3], [1, 1], [1, 1], Tanh, bias, ZeroPad);
conv_case!(conv_k5_same_sigmoid_one_filter, 4, 7, 11, 2, 1, [5, 5], [1, 1], [2, 2], Sigmoid, bias, ZeroPad);
conv_case!(conv_k3_stride2_zero1_softmax, 5, 7, 20, 3, 5, [3, 3], [2, 2], [1, 1], Softmax, bias, ZeroPad);
conv_case!(conv_k3_stride2x1_valid_nobias, 6, 7, 11, 2, 4, [3, 3], [2, 1], [0, 0], Linear, nobias, ZeroPad);
conv_case!(conv_k1x2_relu_nobias, 7, 4, 5, 3, 4, [1, 2], [1, 1], [0, 0], Relu, nobias, ZeroPad);
conv_case!(conv_k2x3_stride2x1_zero1_tanh, 8, 6, 9, 2, 5, [2, 3], [2, 1], [1, 1], Tanh, bias, ZeroPad);
conv_case!(conv_k3x1_edge1x0_sigmoid, 9, 5, 4, 2, 1, [3, 1], [1, 1], [1, 0], Sigmoid, bias, EdgePad);
conv_case!(conv_k3_edge1_relu, 10, 6, 12, 2, 4, [3, 3], [1, 1], [1, 1], Relu, bias, EdgePad);
conv_case!(conv_k5_edge2_tanh_nobias, 11, 6, 12, 3, 4, [5, 5], [1, 1], [2, 2], Tanh, nobias, EdgePad);
conv_case!(conv_k3_stride2_edge2_softmax, 12, 5, 5, 2, 4, [3, 3], [2, 2], [2, 2], Softmax, bias, EdgePad);
conv_case!(conv_k5_stride2_zero2_linear_nobias, 13, 9, 17, 3, 5, [5, 5], [2, 2], [2, 2], Linear, nobias, ZeroPad);
conv_case!(conv_k1x2_stride1x2_edge0x1_sigmoid, 14, 4, 15, 2, 4, [1, 2], [1, 2], [0, 1], Sigmoid, bias, EdgePad);
conv_case!(conv_k3_stride2_zero1_relu_one_filter, 15, 6, 6, 3, 1, [3, 3], [2, 2], [1, 1], Relu, nobias, ZeroPad);
// Padding wider than the kernel reach: border outputs see only padding.
// Stride larger than the kernel: some inputs are never read.
conv_case!(conv_k2_stride3_gaps_tanh, 17, 7, 14, 2, 3, [2, 2], [3, 3], [0, 0], Tanh, bias, ZeroPad);
conv_case!(conv_k3_zero2_linear, 16, 4, 4, 2, 4, [3, 3], [1, 1], [2, 2], Linear, bias, ZeroPad);
// Wider layers: the weight gradient in blocks of taps (6 of 12 filters, 12
// of 8), the last block of a tap row overlapping the one before.
conv_case!(conv_k3_zero1_tap_blocks_of_6_tanh, 18, 6, 7, 3, 12, [3, 3], [1, 1], [1, 1], Tanh, bias, ZeroPad);
conv_case!(conv_k3_stride2_edge1_tap_blocks_of_6, 19, 7, 9, 5, 10, [3, 3], [2, 2], [1, 1], Linear, nobias, EdgePad);
conv_case!(conv_k3_tap_blocks_of_12_relu, 20, 6, 7, 6, 8, [3, 3], [1, 1], [0, 0], Relu, bias, ZeroPad);
// TF's "same" with one more row or column of padding after than before
// (OH = ceil(H / SH), PH the smaller half): an even kernel, and stride 2
// over an even input (KWS's first layer is 10x4/2 over 49x10: 4 and 5 rows).
conv_case!(
    conv_k4x2_same_tf_pads_one_more_after_relu,
    18,
    7,
    6,
    2,
    3,
    [4, 2],
    [1, 1],
    [1, 0],
    Relu,
    bias,
    ZeroPad,
    [7, 6]
);
conv_case!(conv_k10x4_stride2_same_tf_tanh, 19, 13, 10, 1, 4, [10, 4], [2, 2], [4, 1], Tanh, bias, ZeroPad, [7, 5]);
conv_case!(
    conv_k3_stride2_even_same_tf_edge_sigmoid,
    20,
    8,
    10,
    2,
    3,
    [3, 3],
    [2, 2],
    [0, 0],
    Sigmoid,
    nobias,
    EdgePad,
    [4, 5]
);

// ---- depthwise convolution -------------------------------------------------------

/// `DepthwiseConv2d<f64, ...>` from `H, W, C, M, [KH, KW], [SH, SW], [PH, PW]`,
/// the activation, the bias type and the padding; computes `OC`, `OH`, `OW`
/// (or takes `[OH, OW]`, for TF's "same" with one more after).
macro_rules! depthwise {
    ($h:literal, $w:literal, $c:literal, $m:literal, [$kh:literal, $kw:literal], [$sh:literal, $sw:literal],
     [$ph:literal, $pw:literal], $act:ty, $bias:ty, $pad:ty) => {
        depthwise!($h, $w, $c, $m, [$kh, $kw], [$sh, $sw], [$ph, $pw], $act, $bias, $pad,
            [{ ($h + 2 * $ph - $kh) / $sh + 1 }, { ($w + 2 * $pw - $kw) / $sw + 1 }])
    };
    ($h:literal, $w:literal, $c:literal, $m:literal, [$kh:literal, $kw:literal], [$sh:literal, $sw:literal],
     [$ph:literal, $pw:literal], $act:ty, $bias:ty, $pad:ty, [$oh:expr, $ow:expr]) => {
        DepthwiseConv2d<f64, $h, $w, $c, $m, { $c * $m }, $kh, $kw, $sh, $sw, $ph, $pw, $oh, $ow, $act, $bias, $pad>
    };
}

/// One gradient-checked depthwise convolution: `name, seed, H, W, C, M,
/// [KH, KW], [SH, SW], [PH, PW], activation, bias, padding[, [OH, OW]]`.
macro_rules! depthwise_case {
    ($name:ident, $seed:literal, $h:literal, $w:literal, $c:literal, $m:literal, $k:tt, $s:tt, $p:tt,
     $act:ident, $bias:ident, $pad:ident $(, $out:tt)?) => {
        #[test]
        fn $name() {
            type L = depthwise!($h, $w, $c, $m, $k, $s, $p, $act, conv_case!(@bias $bias { $c * $m }), $pad $(, $out)?);
            type Lin = depthwise!($h, $w, $c, $m, $k, $s, $p, Linear, conv_case!(@bias $bias { $c * $m }), $pad $(, $out)?);
            let margin: Margin<L> =
                if <L as Layer<f64>>::INFO.activation == "relu" { preact_margin::<L, Lin> } else { smooth::<L> };
            check_layer::<L>(stringify!($name), $seed, Draw::Uniform, margin);
        }
    };
}

depthwise_case!(depthwise_k3_valid_linear, 41, 6, 7, 3, 1, [3, 3], [1, 1], [0, 0], Linear, bias, ZeroPad);
depthwise_case!(depthwise_k3_same_relu, 42, 5, 6, 4, 1, [3, 3], [1, 1], [1, 1], Relu, bias, ZeroPad);
depthwise_case!(depthwise_k3_multiplier2_same_tanh, 43, 5, 5, 2, 2, [3, 3], [1, 1], [1, 1], Tanh, bias, ZeroPad);
depthwise_case!(
    depthwise_k3_stride2_multiplier3_nobias,
    44,
    7,
    8,
    2,
    3,
    [3, 3],
    [2, 2],
    [1, 1],
    Sigmoid,
    nobias,
    ZeroPad
);
depthwise_case!(depthwise_k2x3_stride1x2_edge_softmax, 45, 5, 7, 3, 1, [2, 3], [1, 2], [1, 1], Softmax, bias, EdgePad);
depthwise_case!(depthwise_k5_edge2_relu_nobias, 46, 6, 6, 2, 2, [5, 5], [1, 1], [2, 2], Relu, nobias, EdgePad);
// TF's "same" at stride 2 over an even map: nothing before, one after.
depthwise_case!(
    depthwise_k3_stride2_even_same_tf_relu,
    47,
    8,
    6,
    3,
    1,
    [3, 3],
    [2, 2],
    [0, 0],
    Relu,
    bias,
    ZeroPad,
    [4, 3]
);

// ---- pooling ----------------------------------------------------------------------

/// One gradient-checked pooling: `name, seed, kind, H, W, C, [KH, KW], [SH, SW]`.
macro_rules! pool_case {
    ($name:ident, $seed:literal, $kind:ident, $h:literal, $w:literal, $c:literal, [$kh:literal, $kw:literal],
     [$sh:literal, $sw:literal]) => {
        #[test]
        fn $name() {
            type L = Pool2d<$kind, $h, $w, $c, $kh, $kw, $sh, $sw, { ($h - $kh) / $sh + 1 }, { ($w - $kw) / $sw + 1 }>;
            fn margin(_: &L, x: &<L as Layer<f64>>::Input) -> f64 {
                match stringify!($kind) {
                    "Avg" => f64::INFINITY,
                    kind => window_gap(x, ($kh, $kw), ($sh, $sw), kind == "Max"),
                }
            }
            check_layer::<L>(stringify!($name), $seed, Draw::Distinct, margin);
        }
    };
}

pool_case!(max_pool_2x2_stride2, 21, Max, 6, 6, 2, [2, 2], [2, 2]);
pool_case!(max_pool_2x2_stride1_overlapping, 22, Max, 5, 4, 2, [2, 2], [1, 1]);
pool_case!(max_pool_3x3_stride2_ragged, 23, Max, 8, 8, 3, [3, 3], [2, 2]);
pool_case!(max_pool_2x3_stride1x2, 24, Max, 5, 7, 2, [2, 3], [1, 2]);
pool_case!(min_pool_2x2_stride2, 25, Min, 6, 6, 2, [2, 2], [2, 2]);
pool_case!(min_pool_2x2_stride1_overlapping, 26, Min, 5, 4, 2, [2, 2], [1, 1]);
pool_case!(min_pool_3x3_stride2_ragged, 27, Min, 8, 8, 3, [3, 3], [2, 2]);
pool_case!(min_pool_2x3_stride1x2, 28, Min, 5, 7, 2, [2, 3], [1, 2]);
pool_case!(avg_pool_2x2_stride2, 29, Avg, 6, 6, 2, [2, 2], [2, 2]);
pool_case!(avg_pool_2x2_stride1_overlapping, 30, Avg, 5, 4, 2, [2, 2], [1, 1]);
pool_case!(avg_pool_3x3_stride2_ragged, 31, Avg, 8, 8, 3, [3, 3], [2, 2]);
pool_case!(avg_pool_2x3_stride1x2, 32, Avg, 5, 7, 2, [2, 3], [1, 2]);

// ---- dense ------------------------------------------------------------------------

/// One gradient-checked dense layer: `name, seed, I, O, activation, bias`.
macro_rules! dense_case {
    ($name:ident, $seed:literal, $i:literal, $o:literal, $act:ident, $bias:ident) => {
        #[test]
        fn $name() {
    type L = Dense<f64, $i, $o, $act, conv_case!(@bias $bias $o)>;
    type Lin = Dense<f64, $i, $o, Linear, conv_case!(@bias $bias $o)>;
            let margin: Margin<L> =
                if <L as Layer<f64>>::INFO.activation == "relu" { preact_margin::<L, Lin> } else { smooth::<L> };
            check_layer::<L>(stringify!($name), $seed, Draw::Uniform, margin);
        }
    };
}

dense_case!(dense_linear_bias, 41, 7, 5, Linear, bias);
dense_case!(dense_linear_nobias, 42, 6, 4, Linear, nobias);
dense_case!(dense_relu_bias, 43, 9, 6, Relu, bias);
dense_case!(dense_relu_nobias, 44, 5, 7, Relu, nobias);
dense_case!(dense_sigmoid_bias, 45, 8, 3, Sigmoid, bias);
dense_case!(dense_tanh_nobias, 46, 4, 5, Tanh, nobias);
dense_case!(dense_softmax_bias, 47, 10, 4, Softmax, bias);
dense_case!(dense_softmax_nobias, 48, 6, 5, Softmax, nobias);
// Big enough that inputs and parameters are sampled.
dense_case!(dense_tanh_sampled, 49, 300, 3, Tanh, bias);

// ---- layers without weights -------------------------------------------------------

#[test]
fn flatten() {
    check_layer::<Flatten<2, 4, 3, 24>>("flatten", 51, Draw::Uniform, smooth);
}

#[test]
fn upsample_2x2() {
    check_layer::<Upsample<3, 2, 2, 2, 2, 6, 4>>("upsample_2x2", 52, Draw::Uniform, smooth);
}

#[test]
fn upsample_2x1() {
    check_layer::<Upsample<3, 4, 2, 2, 1, 6, 4>>("upsample_2x1", 53, Draw::Uniform, smooth);
}

#[test]
fn upsample_1x3() {
    check_layer::<Upsample<2, 2, 3, 1, 3, 2, 6>>("upsample_1x3", 54, Draw::Uniform, smooth);
}

/// Training-mode dropout zeroes some values and scales the rest by
/// `1 / (1 - p)`, with a mask fixed by the context's seed.
fn dropout_mask<X: Tensor<f64>, const PERMILLE: u32>(seed: u64) -> Vec<bool> {
    let layer = Dropout::<X, PERMILLE>::default();
    let mut x = X::zeroed();
    x.as_flat_mut().iter_mut().enumerate().for_each(|(i, v)| *v = 1.0 + i as f64);
    let mut y = X::zeroed();
    layer.forward_train(&x, &mut y, &TrainContext { seed, fused: false });
    let scale = 1000.0 / (1000 - PERMILLE) as f64;
    y.as_flat()
        .iter()
        .zip(x.as_flat())
        .map(|(&y, &x)| {
            assert!(y == 0.0 || (y - x * scale).abs() <= 1e-12 * y.abs(), "dropout output {y} from {x}");
            y != 0.0
        })
        .collect()
}

fn check_dropout<X: Tensor<f64>, const PERMILLE: u32>(case: &str, seed: u64) {
    let mask = dropout_mask::<X, PERMILLE>(CTX.seed);
    let kept = mask.iter().filter(|&&k| k).count();
    let n = mask.len();
    let expected = n as f64 * (1000 - PERMILLE) as f64 / 1000.0;
    // Within four standard deviations of the binomial mean.
    let sd = (expected * PERMILLE as f64 / 1000.0).sqrt();
    assert!(kept > 0 && kept < n, "{case}: trivial mask, {kept} of {n} kept");
    assert!((kept as f64 - expected).abs() <= 4.0 * sd, "{case}: kept {kept} of {n}, expected about {expected}");
    assert_eq!(mask, dropout_mask::<X, PERMILLE>(CTX.seed), "{case}: same seed, same mask");
    assert_ne!(mask, dropout_mask::<X, PERMILLE>(CTX.seed + 1), "{case}: another seed, another mask");
    check_layer::<Dropout<X, PERMILLE>>(case, seed, Draw::Uniform, smooth);
}

#[test]
fn dropout_image() {
    check_dropout::<[[[f64; 3]; 4]; 4], 300>("dropout_image", 55);
}

#[test]
fn dropout_vector() {
    check_dropout::<[f64; 64], 500>("dropout_vector", 56);
}

/// One gradient-checked activation layer: `name, seed, activation, tensor`.
macro_rules! activate_case {
    ($name:ident, $seed:literal, $act:ident, $x:ty) => {
        #[test]
        fn $name() {
            type L = Activate<$act, $x>;
            fn margin(_: &L, x: &$x) -> f64 {
                if stringify!($act) == "Relu" {
                    min_abs(x.as_flat())
                } else {
                    f64::INFINITY
                }
            }
            check_layer::<L>(stringify!($name), $seed, Draw::Uniform, margin);
        }
    };
}

activate_case!(activate_linear, 61, Linear, [f64; 9]);
activate_case!(activate_relu, 62, Relu, [f64; 9]);
activate_case!(activate_sigmoid, 63, Sigmoid, [f64; 9]);
activate_case!(activate_tanh, 64, Tanh, [f64; 9]);
activate_case!(activate_softmax, 65, Softmax, [f64; 9]);
// On images softmax runs over the channels of each pixel.
activate_case!(activate_softmax_image, 66, Softmax, [[[f64; 4]; 3]; 2]);
activate_case!(activate_relu_image, 67, Relu, [[[f64; 3]; 3]; 2]);
activate_case!(activate_tanh_image, 68, Tanh, [[[f64; 2]; 2]; 3]);

// ---- fused loss: `ctx.fused` skips the activation's backward ----------------------

/// With `fused`, the training forward pass leaves the activation out and `dy`
/// is the gradient of the pre-activation, so outputs and gradients equal
/// those of the same layer with a linear activation (which the cases above
/// check against finite differences).
fn check_fused<L: Backward<f64>, Lin: Backward<f64, Input = L::Input, Output = L::Output>>(case: &str, seed: u64) {
    let Case { layer, x, r } = draw_case::<L>(seed, 0, Draw::Uniform);
    let lin: Lin = {
        let mut l: Lin = zeroed();
        l.flat_mut().copy_from_slice(layer.flat());
        l
    };
    let (mut y, mut y_lin) = (L::Output::zeroed(), L::Output::zeroed());
    let fused = TrainContext { fused: true, ..CTX };
    layer.forward_train(&x, &mut y, &fused);
    lin.forward_train(&x, &mut y_lin, &CTX);
    assert_eq!(y.as_flat(), y_lin.as_flat(), "{case}: fused forward must give the pre-activation");
    let (mut dy, mut dy_lin) = (copy_of(&r), copy_of(&r));
    let (mut dx, mut dx_lin) = (L::Input::zeroed(), L::Input::zeroed());
    let (mut g, mut g_lin): (L, Lin) = (zeroed(), zeroed());
    layer.backward(&x, &y, &mut dy, Some(&mut dx), &mut g, &fused);
    lin.backward(&x, &y_lin, &mut dy_lin, Some(&mut dx_lin), &mut g_lin, &CTX);
    assert_eq!(dx.as_flat(), dx_lin.as_flat(), "{case}: input gradient");
    assert_eq!(g.flat(), g_lin.flat(), "{case}: parameter gradients");
}

#[test]
fn fused_dense_softmax() {
    check_fused::<Dense<f64, 6, 4, Softmax>, Dense<f64, 6, 4, Linear>>("fused_dense_softmax", 71);
}

#[test]
fn fused_conv_sigmoid() {
    type L = conv!(5, 5, 2, 3, [3, 3], [1, 1], [1, 1], Sigmoid, [f64; 3], ZeroPad);
    type Lin = conv!(5, 5, 2, 3, [3, 3], [1, 1], [1, 1], Linear, [f64; 3], ZeroPad);
    check_fused::<L, Lin>("fused_conv_sigmoid", 72);
}

#[test]
fn fused_activate_softmax() {
    check_fused::<Activate<Softmax, [f64; 5]>, Activate<Linear, [f64; 5]>>("fused_activate_softmax", 73);
}

// ---- whole models -----------------------------------------------------------------

fn model_loss<M: Model<f64>>(m: &M, x: &M::Input, r: &M::Output, seed: u64, fused: bool) -> f64 {
    let mut trace = M::new_trace();
    m.forward_train(x, &mut trace, seed, fused);
    dot(M::output(&trace).as_flat(), r.as_flat())
}

/// Gradient-checks all parameters of model `M` (random weights and biases,
/// input and `r`) and the gradient with respect to its input, with `seed`
/// also driving the model's dropout. With `fused` the output is the last
/// layer's pre-activation (logits), forward and back.
fn check_model<M: Model<f64>>(case: &str, seed: u64, fused: bool, margin: fn(&M, &M::Input, &M::Trace) -> f64) {
    let (model, x, r) = (0..50)
        .map(|attempt| {
            let mut rng = Rng::new(seed.wrapping_mul(0x9e37_79b9).wrapping_add(attempt));
            let mut m: M = zeroed();
            m.init(&mut rng);
            m.flat_mut().iter_mut().for_each(|p| *p += rng.uniform(0.3));
            let mut x = M::Input::zeroed();
            fill(&mut rng, x.as_flat_mut(), Draw::Uniform);
            let mut r = M::Output::zeroed();
            r.as_flat_mut().iter_mut().for_each(|v| *v = rng.uniform(1.0));
            (m, x, r)
        })
        .find(|(m, x, _)| {
            let mut trace = M::new_trace();
            m.forward_train(x, &mut trace, seed, fused);
            margin(m, x, &trace) >= MARGIN
        })
        .unwrap_or_else(|| panic!("{case}: no case without a kink within {MARGIN} in 50 draws"));

    let mut trace = M::new_trace();
    model.forward_train(&x, &mut trace, seed, fused);
    let mut grad = M::new_trace();
    M::output_mut(&mut grad).as_flat_mut().copy_from_slice(r.as_flat());
    let mut grads: M = zeroed();
    let mut dx = M::Input::zeroed();
    model.backward_to(&x, &trace, &mut grad, &mut grads, seed, fused, Some(&mut dx));
    // Without `dx`, the same parameter gradients.
    let mut grad2 = M::new_trace();
    M::output_mut(&mut grad2).as_flat_mut().copy_from_slice(r.as_flat());
    let mut grads2: M = zeroed();
    model.backward(&x, &trace, &mut grad2, &mut grads2, seed, fused);
    assert_eq!(grads.flat(), grads2.flat(), "{case}: backward and backward_to differ");

    let mut worst = Worst::default();
    let mut xp = copy_of(&x);
    let mut rng = Rng::new(seed ^ 0x1234);
    for i in sample(M::Input::LEN, &mut rng) {
        let v = xp.as_flat()[i];
        xp.as_flat_mut()[i] = v + STEP;
        let plus = model_loss(&model, &xp, &r, seed, fused);
        xp.as_flat_mut()[i] = v - STEP;
        let minus = model_loss(&model, &xp, &r, seed, fused);
        xp.as_flat_mut()[i] = v;
        worst.record(dx.as_flat()[i], (plus - minus) / (2.0 * STEP), || position(M::Input::SHAPE, i));
    }
    if let Some(e) = worst.verdict(case, "input") {
        panic!("{e}");
    }

    let mut worst = Worst::default();
    let mut mp = params_copy(&model);
    let mut rng = Rng::new(seed ^ 0xabcd);
    for i in sample(M::LEN, &mut rng) {
        let v = mp.flat()[i];
        mp.flat_mut()[i] = v + STEP;
        let plus = model_loss(&mp, &x, &r, seed, fused);
        mp.flat_mut()[i] = v - STEP;
        let minus = model_loss(&mp, &x, &r, seed, fused);
        mp.flat_mut()[i] = v;
        worst.record(grads.flat()[i], (plus - minus) / (2.0 * STEP), || format!("param {i}"));
    }
    if let Some(e) = worst.verdict(case, "parameter") {
        panic!("{e}");
    }
    assert_eq!(worst.checked, M::LEN.min(SAMPLE));
    assert!(grads.flat().iter().any(|&g| g != 0.0), "{case}: all gradients zero");
}

constnet::sequential! {
    /// The small classifier of the brief.
    struct Small: [8, 8, 2] {
        conv: Conv2d<4, 3> => Relu,
        pool: MaxPool2d<2>,
        flat: Flatten,
        hidden: Dense<5> => Tanh,
        out: Dense<3> => Softmax,
    }
}

#[test]
fn model_small_classifier() {
    fn margin(m: &Small<f64>, x: &[[[f64; 2]; 8]; 8], trace: &<Small<f64> as Model<f64>>::Trace) -> f64 {
        type Lin = conv!(8, 8, 2, 4, [3, 3], [1, 1], [0, 0], Linear, [f64; 4], ZeroPad);
        preact_margin::<_, Lin>(&m.conv, x).min(window_gap(&trace.0, (2, 2), (2, 2), true))
    }
    assert_eq!(<Small<f64> as Params<f64>>::LEN, 2 * 9 * 4 + 4 + 36 * 5 + 5 + 5 * 3 + 3);
    check_model::<Small<f64>>("model_small_classifier", 81, false, margin);
    // Fused with the loss: the output slot holds logits, and the gradient
    // given is theirs.
    check_model::<Small<f64>>("model_small_classifier_fused", 83, true, margin);
}

constnet::sequential! {
    /// Every other layer kind, including dropout (whose masks the model seeds
    /// per layer) and standalone activations.
    struct Mixed: [6, 6, 1] {
        conv1: Conv2d<3, 3, edge = 1> => Tanh,
        drop: Dropout<0.25>,
        pool: AvgPool2d<2>,
        up: Upsample<2>,
        conv2: Conv2d<2, [3, 2], stride = [2, 1], bias = false>,
        squash: Sigmoid,
        minpool: MinPool2d<[1, 2], stride = [1, 2]>,
        flat: Flatten,
        fc: Dense<4, bias = false>,
        relu: Relu,
        out: Softmax,
    }
}

#[test]
fn model_mixed_layers() {
    fn margin(_: &Mixed<f64>, _: &[[[f64; 1]; 6]; 6], t: &<Mixed<f64> as Model<f64>>::Trace) -> f64 {
        window_gap(&t.5, (1, 2), (1, 2), false).min(min_abs(&t.8))
    }
    // The dropout layer really drops something for this seed.
    let m = Mixed::<f64>::new(1);
    let mut trace = Mixed::<f64>::new_trace();
    m.forward_train(&[[[0.5; 1]; 6]; 6], &mut trace, 82, false);
    let dropped = trace.1.as_flat().iter().zip(trace.0.as_flat()).filter(|(d, c)| **d == 0.0 && **c != 0.0).count();
    assert!(dropped > 0 && dropped < 108, "dropout dropped {dropped} of 108");
    check_model::<Mixed<f64>>("model_mixed_layers", 82, false, margin);
    // Fused, the standalone softmax layer at the end is left out.
    check_model::<Mixed<f64>>("model_mixed_layers_fused", 84, true, margin);
}

constnet::sequential! {
    /// A small separable network: TF-"same" convolution at stride 2 with
    /// an even kernel, depthwise with a multiplier, pointwise, global
    /// average pooling.
    struct Separable: [8, 6, 1] {
        conv: Conv2d<3, [4, 2], stride = 2, pad = same> => Tanh,
        dw: DepthwiseConv2d<3, multiplier = 2, pad = same> => Tanh,
        pw: Conv2d<4, 1> => Tanh,
        pool: GlobalAvgPool2d,
        flat: Flatten,
        out: Dense<3> => Softmax,
    }
}

#[test]
fn model_separable() {
    fn margin(_: &Separable<f64>, _: &[[[f64; 1]; 6]; 8], _: &<Separable<f64> as Model<f64>>::Trace) -> f64 {
        f64::INFINITY
    }
    check_model::<Separable<f64>>("model_separable", 85, false, margin);
    check_model::<Separable<f64>>("model_separable_fused", 86, true, margin);
}

// ---- the checker itself -------------------------------------------------------------

/// A dense layer whose backward is wrong on purpose: `WHAT` 0 scales one input
/// gradient by 1.001, 1 shifts one weight gradient by 1e-3. The checker must
/// catch both.
#[repr(transparent)]
struct Broken<const WHAT: u8>(Dense<f64, 4, 3, Tanh>);

// SAFETY: a transparent wrapper of a `Params<f64>` layer.
unsafe impl<const WHAT: u8> Params<f64> for Broken<WHAT> {}

impl<const WHAT: u8> Layer<f64> for Broken<WHAT> {
    type Input = [f64; 4];
    type Output = [f64; 3];
    const INFO: constnet::LayerInfo = <Dense<f64, 4, 3, Tanh> as Layer<f64>>::INFO;
    const FINGERPRINT: u64 = 0;
    fn init(&mut self, rng: &mut Rng) {
        self.0.init(rng);
    }
    fn forward(&self, x: &[f64; 4], y: &mut [f64; 3]) {
        self.0.forward(x, y);
    }
}

impl<const WHAT: u8> Backward<f64> for Broken<WHAT> {
    fn backward(
        &self,
        x: &[f64; 4],
        y: &[f64; 3],
        dy: &mut [f64; 3],
        mut dx: Option<&mut [f64; 4]>,
        grads: &mut Self,
        ctx: &TrainContext,
    ) {
        self.0.backward(x, y, dy, dx.as_deref_mut(), &mut grads.0, ctx);
        match (WHAT, dx) {
            (0, Some(dx)) => dx[2] *= 1.001,
            (1, _) => grads.0.weight[1][2] += 1e-3,
            _ => {}
        }
    }
}

#[test]
#[should_panic(expected = "1 of 4 input gradients wrong; worst at input [2]")]
fn checker_catches_a_wrong_input_gradient() {
    check_layer::<Broken<0>>("broken", 91, Draw::Uniform, smooth);
}

#[test]
#[should_panic(expected = "1 of 15 parameter gradients wrong; worst at param 5")]
fn checker_catches_a_wrong_parameter_gradient() {
    check_layer::<Broken<1>>("broken", 92, Draw::Uniform, smooth);
}

// ---- residual blocks ----------------------------------------------------------------

constnet::sequential! {
    /// A block's main branch that keeps the shape.
    struct KeepMain: [6, 6, 3] {
        conv1: Conv2d<3, 3, pad = same> => Tanh,
        conv2: Conv2d<3, 3, pad = same>,
    }
}

constnet::sequential! {
    /// A main branch that halves the image and widens it...
    struct DownMain: [6, 6, 3] {
        conv1: Conv2d<4, 3, stride = 2, pad = 1> => Tanh,
        conv2: Conv2d<4, 3, pad = same>,
    }
}

constnet::sequential! {
    /// ... and its shortcut, a 1x1 convolution at stride 2.
    struct DownShortcut: [6, 6, 3] {
        proj: Conv2d<4, 1, stride = 2>,
    }
}

constnet::sequential! {
    /// Two residual blocks, the first one the model's first layer: the
    /// input gradient is the sum of its main branch's and its input's.
    struct Resid: [6, 6, 3] {
        block1: Residual<KeepMain> => Tanh,
        block2: Residual<DownMain, DownShortcut> => Tanh,
        flat: Flatten,
        out: Dense<3> => Softmax,
    }
}

#[test]
fn model_residual_blocks() {
    fn margin(_: &Resid<f64>, _: &[[[f64; 3]; 6]; 6], _: &<Resid<f64> as Model<f64>>::Trace) -> f64 {
        f64::INFINITY
    }
    assert_eq!(
        <Resid<f64> as Params<f64>>::LEN,
        2 * (27 * 3 + 3) + (27 * 4 + 4 + 36 * 4 + 4) + (3 * 4 + 4) + 36 * 3 + 3
    );
    check_model::<Resid<f64>>("model_residual_blocks", 85, false, margin);
    check_model::<Resid<f64>>("model_residual_blocks_fused", 86, true, margin);
}

constnet::sequential! {
    /// A block after a convolution, with relu after the add.
    struct ResidRelu: [5, 5, 2] {
        stem: Conv2d<3, 3, pad = same> => Tanh,
        block: Residual<Branch3> => Relu,
        flat: Flatten,
        out: Dense<2>,
    }
}

constnet::sequential! {
    /// A one-layer branch.
    struct Branch3: [5, 5, 3] {
        conv: Conv2d<3, 3, pad = same> => Tanh,
    }
}

#[test]
fn model_residual_block_after_a_layer_with_relu() {
    fn margin(_: &ResidRelu<f64>, _: &[[[f64; 2]; 5]; 5], t: &<ResidRelu<f64> as Model<f64>>::Trace) -> f64 {
        // The sum before the relu: the branch's output plus the block's input.
        let sum: Vec<f64> = t.1.main.0.as_flat().iter().zip(t.0.as_flat()).map(|(m, x)| m + x).collect();
        min_abs(&sum)
    }
    check_model::<ResidRelu<f64>>("model_residual_relu", 87, false, margin);
}

constnet::sequential! {
    /// A model that ends in a block: its output slot is the block's.
    struct EndsInBlock: [5, 5, 3] {
        block: Residual<Branch3> => Tanh,
    }
}

#[test]
fn model_ending_in_a_residual_block() {
    fn margin(_: &EndsInBlock<f64>, _: &[[[f64; 3]; 5]; 5], _: &<EndsInBlock<f64> as Model<f64>>::Trace) -> f64 {
        f64::INFINITY
    }
    check_model::<EndsInBlock<f64>>("model_ending_in_a_block", 88, false, margin);
    // Fused with the loss, the block leaves its activation out.
    check_model::<EndsInBlock<f64>>("model_ending_in_a_block_fused", 89, true, margin);
}
