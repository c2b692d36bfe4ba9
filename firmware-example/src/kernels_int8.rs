//! The library's int8 layers on a microcontroller, checked byte for byte
//! against straightforward reference loops written here, as TFLM's
//! reference kernels compute: `acc = bias + sum((x - zp_in) * w)` over the
//! taps inside the input, requantized, offset by the output zero point and
//! clamped. Shared by firmware-example's `kernels_int8` binary (Cortex-M4F:
//! the DSP assembly of `src/kernels/arm_dsp.rs`) and firmware-m0's
//! (Cortex-M0: `src/kernels/armv6m.rs`).
//!
//! The LeNet firmware runs only its own shapes; the cases here cover the
//! kernels' other paths: blocks of 1, 2 and 3 pixels, rows of taps that are
//! whole words or leave 1 to 3 bytes, rows unrolled or looped, offsets too
//! far for the assembly (the Rust block), an odd filter
//! count (the last filter alone), padding (the border pixels take the
//! portable loop), strides, relu and none, convolutions fused with max and
//! average pooling (side by side and overlapping windows; 2x2 max pooling
//! on the window kernels, five-tap single-channel and widened), and dense layers
//! with 1 to 13 outputs (whole blocks of six and the rest in one block of
//! one to five, or four at a time on the Cortex-M0) and input counts that
//! are and are not multiples of four (and of eight: an odd word).
//!
//! Prints `<name>: PASS` or `<name>: FAIL at <index>: <got> != <expected>`
//! per case, then `KERNELS-INT8 ok=<k>/<n>`; exits 0 only if all pass.

use constnet::layers::int8::{Int8Layer, LoadTflite, QConv2d, QDense, QPool2d};
use constnet::model::int8::Int8FuseWith;
use constnet::pool::{Avg, Max, Min, PoolKind};
use constnet::quant::{channel_requant, zeroed_bytes, QParams};
use constnet::{Activation, Linear, Relu, Tensor};
use cortex_m_semihosting::{debug, hprintln};

/// A 32-bit hash of `(seed, i)` (murmur3's finalizer).
fn hash(seed: u32, i: usize) -> u32 {
    let mut h = seed ^ (i as u32).wrapping_mul(0x9e37_79b9);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Deterministic int8 values over the whole range.
fn fill(seed: u32, xs: &mut [i8]) {
    for (i, x) in xs.iter_mut().enumerate() {
        *x = hash(seed, i) as i8;
    }
}

/// Weights of TFLite's symmetric range, -127..=127.
fn fill_weights(seed: u32, ws: &mut [i8]) {
    for (i, w) in ws.iter_mut().enumerate() {
        *w = (hash(seed, i) % 255) as i8;
    }
}

/// The quantization of every case: input, output, per-channel weight scales
/// (scales of the size a calibrated layer gets).
const INPUT: QParams = QParams::new(0.02, -7);
const OUTPUT: QParams = QParams::new(0.3, 5);

fn weight_scale(seed: u32, c: usize) -> f32 {
    0.002 + (hash(seed, c) % 1000) as f32 * 0.00001
}

fn bias_of(seed: u32, c: usize) -> i32 {
    (hash(seed ^ 0x55, c) % 20_001) as i32 - 10_000
}

/// The tally of the cases.
struct Tally {
    ok: usize,
    n: usize,
}

impl Tally {
    /// Output `i` must be `expected(i)`, for every `i`.
    fn check_with(&mut self, name: &str, got: &[i8], expected: impl Fn(usize) -> i8) {
        self.n += 1;
        match (0..got.len()).find(|&i| got[i] != expected(i)) {
            None => {
                self.ok += 1;
                hprintln!("{}: PASS", name);
            }
            Some(i) => hprintln!("{}: FAIL at {}: {} != {}", name, i, got[i], expected(i)),
        }
    }
}

/// The clamp of activation `A` on outputs with zero point `zp`.
fn clamp<A: Activation>(zp: i32) -> (i32, i32) {
    if A::NAME == "relu" {
        (zp.max(-128), 127)
    } else {
        (-128, 127)
    }
}

/// TFLM's convolution, one output value: `w` is `[F][KH][KW][C]`, `x` is
/// `H x W x C`, windows start `(ph, pw)` before the input.
#[allow(clippy::too_many_arguments)]
fn reference_conv(
    x: &[i8],
    (h, w_, c): (usize, usize, usize),
    w: &[i8],
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    (ph, pw): (usize, usize),
    (oy, ox, f): (usize, usize, usize),
    bias: i32,
) -> i32 {
    let mut acc = bias;
    for ky in 0..kh {
        for kx in 0..kw {
            let iy = (oy * sh + ky) as isize - ph as isize;
            let ix = (ox * sw + kx) as isize - pw as isize;
            if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w_ {
                continue;
            }
            for ci in 0..c {
                let xv = x[(iy as usize * w_ + ix as usize) * c + ci] as i32 - INPUT.zero_point();
                let wv = w[((f * kh + ky) * kw + kx) * c + ci] as i32;
                acc += xv * wv;
            }
        }
    }
    acc
}

/// `acc` requantized for channel `f` of `seed`'s layer, clamped to `lo..=hi`.
fn requantized(acc: i32, seed: u32, f: usize, (lo, hi): (i32, i32)) -> i32 {
    let r = channel_requant(INPUT.scale(), weight_scale(seed, f), OUTPUT.scale());
    (r.apply(acc) + OUTPUT.zero_point()).clamp(lo, hi)
}

/// One convolution case: the layer alone and fused with pooling `K`
/// (window `PK`, stride `PS`) against the references.
macro_rules! conv_case {
    ($t:ident, $name:literal, $seed:literal, H $h:literal W $w:literal C $c:literal F $f:literal
     K [$kh:literal, $kw:literal] S [$sh:literal, $sw:literal] P [$ph:literal, $pw:literal] O [$oh:literal, $ow:literal]
     $act:ty $(, pool $kind:ty [$pk:literal, $ps:literal] [$poh:literal, $pow:literal])?) => {{
        // A frame of its own per case: only one case's arrays are live.
        #[inline(never)]
        fn case($t: &mut Tally) {
        type L = QConv2d<$h, $w, $c, $f, $kh, $kw, $sh, $sw, $ph, $pw, $oh, $ow, $act>;
        let mut layer: L = zeroed_bytes();
        let mut weights = [0i8; $f * $kh * $kw * $c];
        fill_weights($seed, &mut weights);
        let bias: [i32; $f] = core::array::from_fn(|f| bias_of($seed, f));
        let scales: [f32; $f] = core::array::from_fn(|f| weight_scale($seed, f));
        layer.load_tflite(&weights, &bias, &scales, INPUT, OUTPUT).ok();
        let mut x = [[[0i8; $c]; $w]; $h];
        fill($seed + 1, x.as_flat_mut());
        let mut y = [[[0i8; $f]; $ow]; $oh];
        layer.forward(&x, &mut y);
        let range = clamp::<$act>(OUTPUT.zero_point());
        let conv_at = |oy: usize, ox: usize, f: usize| {
            let acc = reference_conv(x.as_flat(), ($h, $w, $c), &weights, ($kh, $kw), ($sh, $sw), ($ph, $pw), (oy, ox, f), bias[f]);
            requantized(acc, $seed, f, range)
        };
        // The references are computed value by value (no second output
        // array: a Cortex-M0 has 16 KiB of RAM).
        $t.check_with($name, y.as_flat(), |i| {
            let (oy, ox, f) = (i / ($ow * $f), i / $f % $ow, i % $f);
            conv_at(oy, ox, f) as i8
        });
        $(
            let pool: QPool2d<$kind, $oh, $ow, $f, $pk, $pk, $ps, $ps, 0, 0, $poh, $pow> = zeroed_bytes();
            let mut fused = [[[0i8; $f]; $pow]; $poh];
            layer.forward_fused(&pool, &x, &mut fused);
            $t.check_with(concat!($name, " + pool"), fused.as_flat(), |i| {
                let (py, px, f) = (i / ($pow * $f), i / $f % $pow, i % $f);
                let mut acc = <$kind as PoolKind>::INT8_START;
                for dy in 0..$pk {
                    for dx in 0..$pk {
                        acc = <$kind as PoolKind>::fold_i32(acc, conv_at(py * $ps + dy, px * $ps + dx, f));
                    }
                }
                if <$kind as PoolKind>::AVERAGE {
                    let n = ($pk * $pk) as i32;
                    (if acc > 0 { (acc + n / 2) / n } else { (acc - n / 2) / n }) as i8
                } else {
                    acc as i8
                }
            });
        )?
        }
        case(&mut $t);
    }};
}

/// One dense case against the reference.
macro_rules! dense_case {
    ($t:ident, $name:literal, $seed:literal, $i:literal -> $o:literal $act:ty) => {{
        #[inline(never)]
        fn case($t: &mut Tally) {
            let mut layer: QDense<$i, $o, $act> = zeroed_bytes();
            let mut weights = [0i8; $o * $i];
            fill_weights($seed, &mut weights);
            let bias: [i32; $o] = core::array::from_fn(|o| bias_of($seed, o));
            let scales: [f32; $o] = core::array::from_fn(|o| weight_scale($seed, o));
            layer.load_tflite(&weights, &bias, &scales, INPUT, OUTPUT).ok();
            let mut x = [0i8; $i];
            fill($seed + 1, &mut x);
            let mut y = [0i8; $o];
            layer.forward(&x, &mut y);
            let range = clamp::<$act>(OUTPUT.zero_point());
            let expected: [i8; $o] = core::array::from_fn(|o| {
                let acc =
                    (0..$i).fold(bias[o], |a, i| a + (x[i] as i32 - INPUT.zero_point()) * weights[o * $i + i] as i32);
                requantized(acc, $seed, o, range) as i8
            });
            $t.check_with($name, &y, |o| expected[o]);
        }
        case(&mut $t);
    }};
}

/// Runs every case and exits QEMU with the result.
pub fn run() -> ! {
    let mut t = Tally { ok: 0, n: 0 };
    // The LeNet's shapes, and the kernels' other paths.
    conv_case!(t, "conv 28x28x1 5x5 F8 (lenet conv1)", 1, H 28 W 28 C 1 F 8 K [5, 5] S [1, 1] P [0, 0] O [24, 24] Relu,
        pool Max [2, 2] [12, 12]);
    conv_case!(t, "conv 12x12x8 5x5 F16 (lenet conv2)", 2, H 12 W 12 C 8 F 16 K [5, 5] S [1, 1] P [0, 0] O [8, 8] Relu,
        pool Max [2, 2] [4, 4]);
    conv_case!(t, "conv 9x7x3 3x3 F5 (tail 1, odd F, 2-pixel block)", 3, H 9 W 7 C 3 F 5 K [3, 3] S [1, 1] P [0, 0] O [7, 5]
        Linear, pool Avg [2, 2] [3, 2]);
    conv_case!(t, "conv 8x8x2 3x3 F4 (tail 2)", 4, H 8 W 8 C 2 F 4 K [3, 3] S [1, 1] P [0, 0] O [6, 6] Linear,
        pool Max [2, 1] [5, 5]);
    conv_case!(t, "conv 8x9x1 3x3 F6 (tail 3, 1-pixel block)", 5, H 8 W 9 C 1 F 6 K [3, 3] S [1, 1] P [0, 0] O [6, 7] Relu);
    conv_case!(t, "conv 10x10x4 3x3 F8 pad 1", 6, H 10 W 10 C 4 F 8 K [3, 3] S [1, 1] P [1, 1] O [10, 10] Relu,
        pool Avg [2, 2] [5, 5]);
    conv_case!(t, "conv 11x11x4 3x3 F4 stride 2 pad 1", 7, H 11 W 11 C 4 F 4 K [3, 3] S [2, 2] P [1, 1] O [6, 6] Linear);
    conv_case!(t, "conv 7x7x16 1x1 F12 (pointwise)", 8, H 7 W 7 C 16 F 12 K [1, 1] S [1, 1] P [0, 0] O [7, 7] Relu);
    conv_case!(t, "conv 9x9x12 3x3 F2 (rows looped)", 9, H 9 W 9 C 12 F 2 K [3, 3] S [1, 1] P [0, 0] O [7, 7] Linear);
    // Offsets past `ldr.w`'s 4,095: the DSP path's Rust block instead of the assembly one.
    conv_case!(t, "conv 4x64x32 3x3 F2 (rows 2,048 bytes apart)", 17, H 4 W 64 C 32 F 2 K [3, 3] S [1, 1] P [0, 0] O [2, 62]
        Relu);
    // Fused with 2x2/2 max pooling: the DSP path's window kernels (single
    // channel with five-tap rows; channels in words, widened window), their
    // shapes' edges, and min pooling, which must not take them.
    conv_case!(t, "conv 9x40x1 3x5 F4 (five-tap window kernel, odd rows)", 18, H 9 W 40 C 1 F 4 K [3, 5] S [1, 1] P [0, 0]
        O [7, 36] Linear, pool Max [2, 2] [3, 18]);
    conv_case!(t, "conv 9x9x4 3x3 F3 (widened window kernel, odd F)", 19, H 9 W 9 C 4 F 3 K [3, 3] S [1, 1] P [0, 0]
        O [7, 7] Relu, pool Max [2, 2] [3, 3]);
    conv_case!(t, "conv 8x8x12 2x3 F2 (min pooling)", 20, H 8 W 8 C 12 F 2 K [2, 3] S [1, 1] P [0, 0] O [7, 6] Linear,
        pool Min [2, 2] [3, 3]);
    conv_case!(t, "conv 6x6x4 2x2 F2 (same: a column and row after, so not the window kernels)", 21, H 6 W 6 C 4 F 2
        K [2, 2] S [1, 1] P [0, 0] O [6, 6] Relu, pool Max [2, 2] [3, 3]);
    conv_case!(t, "conv 7x6x3 2x2 F3 stride 2 same", 10, H 7 W 6 C 3 F 3 K [2, 2] S [2, 2] P [0, 0] O [4, 3] Linear);
    dense_case!(t, "dense 256 -> 13 (lenet fc1's inputs; 64 outputs would not fit a Cortex-M0's stack twice)", 11, 256 -> 13 Relu);
    dense_case!(t, "dense 64 -> 10 (lenet out, before softmax)", 12, 64 -> 10 Linear);
    dense_case!(t, "dense 48 -> 13", 13, 48 -> 13 Relu);
    dense_case!(t, "dense 20 -> 5", 14, 20 -> 5 Linear);
    dense_case!(t, "dense 16 -> 8 (a block of six and one of two)", 22, 16 -> 8 Relu);
    dense_case!(t, "dense 24 -> 3 (one block of three)", 23, 24 -> 3 Linear);
    dense_case!(t, "dense 7 -> 1", 15, 7 -> 1 Linear);
    dense_case!(t, "dense 30 -> 7 (not a multiple of 4)", 16, 30 -> 7 Relu);
    hprintln!("KERNELS-INT8 ok={}/{}", t.ok, t.n);
    debug::exit(if t.ok == t.n { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}
