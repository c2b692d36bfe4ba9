//! The library's `f32` layers on the emulated STM32F405 (QEMU `netduinoplus2`,
//! Cortex-M4F), checked bit for bit against straightforward reference loops
//! written here.
//!
//! On this target `Conv2d` and `Dense` over `f32` run the inline-assembly
//! kernels of the library's `src/fpu.rs`: `window16` (one output pixel x 16
//! filters, taps 8 at a time) when `F % 16 == 0`, `window8x2` (two pixels x 8
//! filters, taps 4 at a time) when `F % 16 == 8`, in rows that need no
//! vertical padding; `affine` (blocks of 16 outputs, skipping ±0 inputs) for
//! dense layers. Border pixels, a last unpaired pixel and other filter counts
//! take the generic Rust loops. The LeNet firmware (`main.rs`) runs only its
//! own two conv and two dense shapes; this one covers the kernels' other
//! paths: a `KW * C` that is not a multiple of the chunk (the `.rept` tail,
//! alone or after whole chunks), `F > 16` and `F > 8` (the weight-row skip),
//! padding, strides, edge padding, no bias, relu, odd output widths, `F` not a
//! multiple of 8 (the generic path, for contrast), convolutions fused with max
//! pooling (`FuseWith::forward_fused`), and dense layers with odd and even
//! input counts, 1 to 64 outputs (full and partial blocks of 16), with and
//! without bias, on inputs holding `0.0`, `-0.0` and negatives.
//!
//! The references sum exactly as the library promises: bias first (`+0.0`
//! without bias), then for a convolution the taps in `(ky, kx, c)` order
//! (taps in zero padding skipped, edge padding repeating the nearest input),
//! for a dense layer the inputs in order, skipping those equal to zero (`±0`);
//! each term `acc += x * w`, a rounded product then a rounded sum, as the
//! host computes it. So every output must match bit for bit, signed zeros
//! included (some biases are `-0.0`, which tells a skipped zero input from an
//! added one).
//!
//! Prints one line per case, `<name>: PASS` or `<name>: FAIL ...` with the
//! first mismatching output (flat index, both values' bits), then the stack
//! peak and finally `KERNELS ok=<k>/<n>`. Exits with status 0 only if every
//! case passes.
//!
//! ```sh
//! cd firmware-example && cargo run --release --bin kernels
//! ```

#![no_std]
#![no_main]

// For the stack peak (`stack_peak_since_paint`) only.
#[allow(dead_code)]
#[path = "../measure.rs"]
mod measure;

use constnet::pool::Max;
use constnet::{
    Activation, BiasTerm, Conv2d, Dense, EdgePad, FuseWith, Layer, Linear, NoBias, Padding, Pool2d, Relu, Rng, Tensor,
};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

// ---------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------

/// A 32-bit hash of `(seed, i)` (murmur3's finalizer).
fn hash(seed: u32, i: usize) -> u32 {
    let mut h = seed.wrapping_mul(0x9e37_79b9) ^ (i as u32).wrapping_mul(0x85eb_ca6b) ^ 0x2545_f491;
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^ (h >> 16)
}

/// A value in `[-2, 2]` with a full mantissa (a division by 1000), so that
/// products round and the summation order shows in the result.
fn value(h: u32) -> f32 {
    ((h >> 4) % 4001) as f32 / 1000.0 - 2.0
}

/// What the inputs hold.
#[derive(Clone, Copy)]
enum Inputs {
    /// One in 8 is `0.0`, one in 8 `-0.0`, the rest in `[-2, 2]`.
    Mixed,
    /// As after a relu: negatives become `0.0` or `-0.0` (about 60% zeros).
    Sparse,
    /// Only `0.0` and `-0.0`: a dense layer must give exactly its bias.
    Zeros,
}

fn fill_inputs(x: &mut [f32], seed: u32, kind: Inputs) {
    for (i, v) in x.iter_mut().enumerate() {
        let h = hash(seed, i);
        *v = match (h % 8, kind) {
            (0, _) => 0.0,
            (1, _) => -0.0,
            (k, Inputs::Zeros) => [0.0, -0.0][k as usize % 2],
            (k, Inputs::Sparse) if value(h) < 0.0 => [0.0, -0.0][k as usize % 2],
            _ => value(h),
        };
    }
}

/// Biases: one in 6 is `-0.0`, one in 6 `0.0`, the rest in `[-2, 2]`.
fn fill_bias(b: &mut [f32], seed: u32) {
    for (i, v) in b.iter_mut().enumerate() {
        let h = hash(seed ^ 0xb1a5, i);
        *v = match h % 6 {
            0 => -0.0,
            1 => 0.0,
            _ => value(h),
        };
    }
}

/// A NaN that no layer computes here: outputs are set to it before each run,
/// so an output the code under test leaves unwritten shows as a mismatch.
const UNWRITTEN: f32 = f32::from_bits(0x7fc0_dead);

// ---------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------

/// The activation, written out here (not the library's).
trait RefActivation: Activation {
    fn act(v: f32) -> f32;
}

impl RefActivation for Linear {
    fn act(v: f32) -> f32 {
        v
    }
}

impl RefActivation for Relu {
    /// `max(v, 0)`, with `-0.0` (and NaN) giving `+0.0`.
    fn act(v: f32) -> f32 {
        if v > 0.0 {
            v
        } else {
            0.0
        }
    }
}

/// A layer under test, with its reference.
trait Case: Layer<f32> {
    /// Overwrites the bias (the library initializes it to zero) with
    /// [`fill_bias`] values; nothing without bias.
    fn set_bias(&mut self, seed: u32);
    /// The layer's output, computed the plain way.
    fn reference(&self, x: &Self::Input, y: &mut Self::Output);
}

/// Input position of output `o`, window offset `k`: `None` in zero padding.
fn source(o: usize, k: usize, stride: usize, pad: usize, len: usize, edge: bool) -> Option<usize> {
    let i = (o * stride + k) as isize - pad as isize;
    if (0..len as isize).contains(&i) {
        Some(i as usize)
    } else if edge {
        Some(i.clamp(0, len as isize - 1) as usize)
    } else {
        None
    }
}

impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const F: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PH: usize,
        const PW: usize,
        const OH: usize,
        const OW: usize,
        A: RefActivation,
        B: BiasTerm<f32, F>,
        P: Padding,
    > Case for Conv2d<f32, H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
{
    fn set_bias(&mut self, seed: u32) {
        if let Some(b) = self.bias.values_mut() {
            fill_bias(b, seed);
        }
    }

    #[allow(clippy::needless_range_loop)] // the indices say the order
    fn reference(&self, x: &[[[f32; C]; W]; H], y: &mut [[[f32; F]; OW]; OH]) {
        for oy in 0..OH {
            for ox in 0..OW {
                for f in 0..F {
                    let mut acc = self.bias.values().map_or(0.0, |b| b[f]);
                    for ky in 0..KH {
                        let Some(iy) = source(oy, ky, SH, PH, H, P::EDGE) else { continue };
                        for kx in 0..KW {
                            let Some(ix) = source(ox, kx, SW, PW, W, P::EDGE) else { continue };
                            for c in 0..C {
                                acc += x[iy][ix][c] * self.weight[ky][kx][c][f];
                            }
                        }
                    }
                    y[oy][ox][f] = A::act(acc);
                }
            }
        }
    }
}

impl<const I: usize, const O: usize, A: RefActivation, B: BiasTerm<f32, O>> Case for Dense<f32, I, O, A, B> {
    fn set_bias(&mut self, seed: u32) {
        if let Some(b) = self.bias.values_mut() {
            fill_bias(b, seed);
        }
    }

    #[allow(clippy::needless_range_loop)] // the indices say the order
    fn reference(&self, x: &[f32; I], y: &mut [f32; O]) {
        for o in 0..O {
            let mut acc = self.bias.values().map_or(0.0, |b| b[o]);
            for i in 0..I {
                if x[i] != 0.0 {
                    acc += x[i] * self.weight[i][o];
                }
            }
            y[o] = A::act(acc);
        }
    }
}

/// Max pooling written out: each window's elements in row-major order,
/// `a = if v > a { v } else { a }`.
trait RefPool: Layer<f32> + Default {
    fn reference(x: &Self::Input, y: &mut Self::Output);
}

impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const OH: usize,
        const OW: usize,
    > RefPool for Pool2d<Max, H, W, C, KH, KW, SH, SW, OH, OW>
{
    #[allow(clippy::needless_range_loop)] // the indices say the order
    fn reference(x: &[[[f32; C]; W]; H], y: &mut [[[f32; C]; OW]; OH]) {
        for oy in 0..OH {
            for ox in 0..OW {
                for c in 0..C {
                    let mut a = x[oy * SH][ox * SW][c];
                    for ky in 0..KH {
                        for kx in 0..KW {
                            let v = x[oy * SH + ky][ox * SW + kx][c];
                            a = if v > a { v } else { a };
                        }
                    }
                    y[oy][ox][c] = a;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Running and reporting
// ---------------------------------------------------------------------------

/// The first output that differs in its bits: (flat index, got, expected).
fn first_mismatch(got: &[f32], want: &[f32]) -> Option<(usize, u32, u32)> {
    got.iter().zip(want).position(|(a, b)| a.to_bits() != b.to_bits()).map(|i| (i, got[i].to_bits(), want[i].to_bits()))
}

/// Cases run and passed.
#[derive(Default)]
struct Tally {
    ok: u32,
    n: u32,
}

impl Tally {
    #[inline(never)]
    fn record(&mut self, name: &str, what: &str, got: &[f32], want: &[f32]) {
        self.n += 1;
        let mismatches = got.iter().zip(want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        match first_mismatch(got, want) {
            None if got.len() == want.len() => {
                self.ok += 1;
                hprintln!("{}{}: PASS ({} outputs)", name, what, got.len());
            }
            None => hprintln!("{}{}: FAIL: {} outputs, expected {}", name, what, got.len(), want.len()),
            Some((i, g, w)) => hprintln!(
                "{}{}: FAIL at output {} of {}: got {:#010x} expected {:#010x} ({} outputs differ)",
                name,
                what,
                i,
                got.len(),
                g,
                w,
                mismatches
            ),
        }
    }
}

/// A layer `L` with weights drawn from `seed` and a [`fill_bias`] bias, run
/// with `Layer::forward` on inputs of `kind`, against its reference.
#[inline(never)]
fn run<L: Case>(t: &mut Tally, name: &str, seed: u32, kind: Inputs) {
    let mut layer: L = constnet::zeroed();
    layer.init(&mut Rng::new(u64::from(seed)));
    layer.set_bias(seed);
    let mut x = L::Input::zeroed();
    fill_inputs(x.as_flat_mut(), seed, kind);
    let mut y = L::Output::zeroed();
    let mut want = L::Output::zeroed();
    y.as_flat_mut().fill(UNWRITTEN);
    want.as_flat_mut().fill(UNWRITTEN);
    layer.forward(&x, &mut y);
    layer.reference(&x, &mut want);
    t.record(name, "", y.as_flat(), want.as_flat());
}

/// A convolution `L` fused with the max pooling `N`: `forward_fused` against
/// `L::forward` then `N::forward`, and that against the references.
#[inline(never)]
fn run_fused<L, N>(t: &mut Tally, name: &str, seed: u32)
where
    L: Case + FuseWith<f32, N>,
    N: RefPool<Input = L::Output>,
{
    let mut conv: L = constnet::zeroed();
    conv.init(&mut Rng::new(u64::from(seed)));
    conv.set_bias(seed);
    let pool = N::default();
    let mut x = L::Input::zeroed();
    fill_inputs(x.as_flat_mut(), seed, Inputs::Mixed);
    let mut mid = L::Output::zeroed();
    let mut fused = N::Output::zeroed();
    let mut two_step = N::Output::zeroed();
    let mut want = N::Output::zeroed();
    fused.as_flat_mut().fill(UNWRITTEN);
    two_step.as_flat_mut().fill(UNWRITTEN);
    want.as_flat_mut().fill(UNWRITTEN);

    conv.forward_fused(&pool, &x, &mut fused);
    mid.as_flat_mut().fill(UNWRITTEN);
    conv.forward(&x, &mut mid);
    pool.forward(&mid, &mut two_step);
    t.record(name, " [forward_fused vs forward, forward]", fused.as_flat(), two_step.as_flat());

    mid.as_flat_mut().fill(UNWRITTEN);
    conv.reference(&x, &mut mid);
    N::reference(&mid, &mut want);
    t.record(name, " [forward, forward vs references]", two_step.as_flat(), want.as_flat());
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

/// `Conv2d<f32, H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>`.
#[inline(never)]
fn conv_cases(t: &mut Tally) {
    use Inputs::{Mixed, Sparse};
    // ---- F % 16 == 0: `window16`, one pixel x 16 filters, taps 8 at a time.
    // KW*C = 9: one chunk of 8 taps and a tail of 1.
    run::<Conv2d<f32, 8, 8, 3, 16, 3, 3, 1, 1, 0, 0, 6, 6, Linear>>(t, "conv 8x8x3 k3 f16 (kw*c=9: 8+1)", 1, Mixed);
    // KW*C = 3: the tail only.
    run::<Conv2d<f32, 10, 10, 1, 16, 3, 3, 1, 1, 0, 0, 8, 8, Relu>>(
        t,
        "conv 10x10x1 k3 f16 relu (kw*c=3: tail only)",
        2,
        Mixed,
    );
    // KW*C = 1: one tap per row.
    run::<Conv2d<f32, 5, 5, 1, 16, 1, 1, 1, 1, 0, 0, 5, 5, Linear>>(t, "conv 5x5x1 k1 f16 (kw*c=1)", 3, Mixed);
    // F = 32: two groups of 16, the weight-row skip.
    run::<Conv2d<f32, 8, 8, 3, 32, 3, 3, 1, 1, 0, 0, 6, 6, Linear>>(t, "conv 8x8x3 k3 f32 (F>16 skip; 8+1)", 4, Mixed);
    // LeNet conv2: KW*C = 40, five chunks, no tail.
    run::<Conv2d<f32, 12, 12, 8, 16, 5, 5, 1, 1, 0, 0, 8, 8, Relu>>(
        t,
        "conv 12x12x8 k5 f16 relu (LeNet conv2; 40)",
        5,
        Mixed,
    );
    // KW*C = 15: a chunk and a tail of 7, no bias, relu.
    run::<Conv2d<f32, 7, 7, 5, 16, 3, 3, 1, 1, 0, 0, 5, 5, Relu, NoBias>>(
        t,
        "conv 7x7x5 k3 f16 relu nobias (8+7)",
        6,
        Mixed,
    );
    // KW*C = 48: six chunks.
    run::<Conv2d<f32, 5, 5, 16, 16, 3, 3, 1, 1, 0, 0, 3, 3, Linear>>(t, "conv 5x5x16 k3 f16 (kw*c=48)", 7, Mixed);
    // 1x1 over 16 channels, F = 48: two chunks, three filter groups.
    run::<Conv2d<f32, 4, 4, 16, 48, 1, 1, 1, 1, 0, 0, 4, 4, Linear>>(t, "conv 4x4x16 k1 f48 (3 groups)", 8, Mixed);
    // Padding 1: border rows and border pixels take the generic path.
    run::<Conv2d<f32, 8, 8, 3, 16, 3, 3, 1, 1, 1, 1, 8, 8, Relu>>(t, "conv 8x8x3 k3 f16 pad1 relu", 9, Mixed);
    run::<Conv2d<f32, 6, 6, 8, 32, 3, 3, 1, 1, 1, 1, 6, 6, Linear>>(t, "conv 6x6x8 k3 f32 pad1 (kw*c=24)", 10, Mixed);
    // Stride 2.
    run::<Conv2d<f32, 9, 9, 4, 16, 3, 3, 2, 2, 0, 0, 4, 4, Linear, NoBias>>(
        t,
        "conv 9x9x4 k3 f16 stride2 nobias (8+4)",
        11,
        Mixed,
    );
    run::<Conv2d<f32, 9, 9, 2, 32, 3, 3, 2, 2, 1, 1, 5, 5, Relu>>(
        t,
        "conv 9x9x2 k3 f32 stride2 pad1 relu (tail 6)",
        12,
        Mixed,
    );
    // Non-square kernel, different strides and paddings per axis.
    run::<Conv2d<f32, 8, 10, 2, 16, 2, 5, 1, 2, 0, 2, 7, 5, Linear>>(
        t,
        "conv 8x10x2 k2x5 f16 stride1x2 pad0x2",
        13,
        Mixed,
    );
    // Edge padding.
    run::<Conv2d<f32, 6, 6, 3, 16, 3, 3, 1, 1, 1, 1, 6, 6, Linear, [f32; 16], EdgePad>>(
        t,
        "conv 6x6x3 k3 f16 edgepad1",
        14,
        Mixed,
    );
    // Sparse inputs (many ±0) through the kernel, which does not skip them.
    run::<Conv2d<f32, 7, 7, 5, 16, 3, 3, 1, 1, 0, 0, 5, 5, Linear>>(t, "conv 7x7x5 k3 f16 sparse inputs", 15, Sparse);

    // ---- F % 16 == 8: `window8x2`, two pixels x 8 filters, taps 4 at a time;
    // a last unpaired pixel of a row takes the generic path.
    // LeNet conv1's KW*C = 5 (4+1), on a smaller image.
    run::<Conv2d<f32, 12, 12, 1, 8, 5, 5, 1, 1, 0, 0, 8, 8, Relu>>(
        t,
        "conv 12x12x1 k5 f8 relu (kw*c=5: 4+1)",
        16,
        Mixed,
    );
    run::<Conv2d<f32, 8, 8, 3, 8, 3, 3, 1, 1, 0, 0, 6, 6, Linear>>(t, "conv 8x8x3 k3 f8 (9: 4+4+1)", 17, Mixed);
    // OW = 7: three pairs and one pixel alone.
    run::<Conv2d<f32, 9, 9, 3, 8, 3, 3, 1, 1, 0, 0, 7, 7, Linear>>(t, "conv 9x9x3 k3 f8 (OW=7 odd)", 18, Mixed);
    run::<Conv2d<f32, 10, 10, 1, 8, 3, 3, 1, 1, 0, 0, 8, 8, Relu>>(
        t,
        "conv 10x10x1 k3 f8 relu (kw*c=3: tail only)",
        19,
        Mixed,
    );
    run::<Conv2d<f32, 6, 6, 4, 8, 1, 1, 1, 1, 0, 0, 6, 6, Linear>>(
        t,
        "conv 6x6x4 k1 f8 (kw*c=4: one chunk)",
        20,
        Mixed,
    );
    run::<Conv2d<f32, 5, 5, 6, 8, 3, 3, 1, 1, 0, 0, 3, 3, Linear>>(t, "conv 5x5x6 k3 f8 (18: 4x4+2, OW=3)", 21, Mixed);
    run::<Conv2d<f32, 7, 7, 5, 8, 3, 3, 1, 1, 0, 0, 5, 5, Relu, NoBias>>(
        t,
        "conv 7x7x5 k3 f8 relu nobias (15: 3x4+3)",
        22,
        Mixed,
    );
    // F = 24: three groups of 8, the weight-row skip.
    run::<Conv2d<f32, 8, 8, 3, 24, 3, 3, 1, 1, 0, 0, 6, 6, Relu>>(t, "conv 8x8x3 k3 f24 relu (F>8 skip)", 23, Mixed);
    // Padding 1: border pixels alone, pairs starting at odd ox.
    run::<Conv2d<f32, 8, 8, 3, 8, 3, 3, 1, 1, 1, 1, 8, 8, Relu, NoBias>>(
        t,
        "conv 8x8x3 k3 f8 pad1 relu nobias",
        24,
        Mixed,
    );
    // Stride 2: the second pixel's window SW*C inputs on.
    run::<Conv2d<f32, 9, 9, 2, 8, 3, 3, 2, 2, 0, 0, 4, 4, Linear>>(t, "conv 9x9x2 k3 f8 stride2 (6: 4+2)", 25, Mixed);
    run::<Conv2d<f32, 11, 11, 3, 24, 3, 3, 2, 2, 1, 1, 6, 6, Linear>>(t, "conv 11x11x3 k3 f24 stride2 pad1", 26, Mixed);
    run::<Conv2d<f32, 8, 10, 2, 8, 2, 5, 1, 2, 0, 2, 7, 5, Linear>>(
        t,
        "conv 8x10x2 k2x5 f8 stride1x2 pad0x2",
        27,
        Mixed,
    );
    run::<Conv2d<f32, 6, 6, 3, 24, 3, 3, 1, 1, 1, 1, 6, 6, Linear, [f32; 24], EdgePad>>(
        t,
        "conv 6x6x3 k3 f24 edgepad1",
        28,
        Mixed,
    );
    run::<Conv2d<f32, 7, 7, 7, 8, 3, 3, 1, 1, 0, 0, 5, 5, Linear>>(
        t,
        "conv 7x7x7 k3 f8 sparse inputs (21: 5x4+1)",
        29,
        Sparse,
    );

    // ---- F not a multiple of 8: the generic Rust path, for contrast.
    run::<Conv2d<f32, 8, 8, 3, 4, 3, 3, 1, 1, 0, 0, 6, 6, Linear>>(t, "conv 8x8x3 k3 f4 (generic path)", 30, Mixed);
    run::<Conv2d<f32, 8, 8, 3, 12, 3, 3, 1, 1, 1, 1, 8, 8, Relu, NoBias>>(
        t,
        "conv 8x8x3 k3 f12 pad1 relu nobias (generic path)",
        31,
        Mixed,
    );
    run::<Conv2d<f32, 9, 9, 2, 6, 3, 3, 2, 2, 1, 1, 5, 5, Linear>>(
        t,
        "conv 9x9x2 k3 f6 stride2 pad1 (generic path)",
        32,
        Mixed,
    );
}

/// Conv fused with `Pool2d<Max, H, W, C, KH, KW, SH, SW, OH, OW>`.
#[inline(never)]
fn fused_cases(t: &mut Tally) {
    run_fused::<Conv2d<f32, 28, 28, 1, 8, 5, 5, 1, 1, 0, 0, 24, 24, Relu>, Pool2d<Max, 24, 24, 8, 2, 2, 2, 2, 12, 12>>(
        t,
        "fused conv 28x28x1 k5 f8 relu + maxpool 2/2 (LeNet conv1+pool1)",
        51,
    );
    run_fused::<Conv2d<f32, 12, 12, 8, 16, 5, 5, 1, 1, 0, 0, 8, 8, Relu>, Pool2d<Max, 8, 8, 16, 2, 2, 2, 2, 4, 4>>(
        t,
        "fused conv 12x12x8 k5 f16 relu + maxpool 2/2 (LeNet conv2+pool2)",
        52,
    );
    run_fused::<Conv2d<f32, 8, 8, 3, 32, 3, 3, 1, 1, 1, 1, 8, 8, Relu>, Pool2d<Max, 8, 8, 32, 2, 2, 2, 2, 4, 4>>(
        t,
        "fused conv 8x8x3 k3 f32 pad1 relu + maxpool 2/2",
        53,
    );
    // Conv output 7x7: the pooling drops the last row and column.
    run_fused::<Conv2d<f32, 9, 9, 3, 16, 3, 3, 1, 1, 0, 0, 7, 7, Linear>, Pool2d<Max, 7, 7, 16, 2, 2, 2, 2, 3, 3>>(
        t,
        "fused conv 9x9x3 k3 f16 + maxpool 2/2 (7x7 -> 3x3)",
        54,
    );
    // Overlapping windows.
    run_fused::<Conv2d<f32, 9, 9, 5, 16, 3, 3, 1, 1, 0, 0, 7, 7, Relu, NoBias>, Pool2d<Max, 7, 7, 16, 3, 3, 2, 2, 3, 3>>(
        t,
        "fused conv 9x9x5 k3 f16 relu nobias + maxpool 3/2",
        55,
    );
    // Pixel pairs (1, 2), (3, 4), (5, 6) straddle the pooling windows.
    run_fused::<Conv2d<f32, 8, 8, 3, 8, 3, 3, 1, 1, 1, 1, 8, 8, Relu>, Pool2d<Max, 8, 8, 8, 2, 2, 2, 2, 4, 4>>(
        t,
        "fused conv 8x8x3 k3 f8 pad1 relu + maxpool 2/2",
        56,
    );
    run_fused::<Conv2d<f32, 9, 9, 3, 24, 3, 3, 1, 1, 0, 0, 7, 7, Linear>, Pool2d<Max, 7, 7, 24, 3, 3, 2, 2, 3, 3>>(
        t,
        "fused conv 9x9x3 k3 f24 + maxpool 3/2",
        57,
    );
    run_fused::<Conv2d<f32, 8, 8, 3, 4, 3, 3, 1, 1, 0, 0, 6, 6, Relu>, Pool2d<Max, 6, 6, 4, 2, 2, 2, 2, 3, 3>>(
        t,
        "fused conv 8x8x3 k3 f4 relu + maxpool 2/2 (generic path)",
        58,
    );
}

/// `Dense<f32, I, O, A, B>`.
#[inline(never)]
fn dense_cases(t: &mut Tally) {
    use Inputs::{Mixed, Sparse, Zeros};
    run::<Dense<f32, 1, 1>>(t, "dense 1->1", 31, Mixed);
    run::<Dense<f32, 3, 1, Relu>>(t, "dense 3->1 relu", 32, Mixed);
    run::<Dense<f32, 2, 33>>(t, "dense 2->33", 33, Mixed);
    run::<Dense<f32, 7, 10>>(t, "dense 7->10", 34, Mixed);
    run::<Dense<f32, 8, 15>>(t, "dense 8->15", 35, Mixed);
    run::<Dense<f32, 9, 16, Relu>>(t, "dense 9->16 relu", 36, Mixed);
    run::<Dense<f32, 16, 17, Linear, NoBias>>(t, "dense 16->17 nobias", 37, Mixed);
    run::<Dense<f32, 33, 33>>(t, "dense 33->33", 38, Sparse);
    run::<Dense<f32, 40, 64, Relu>>(t, "dense 40->64 relu", 39, Sparse);
    run::<Dense<f32, 37, 64, Linear, NoBias>>(t, "dense 37->64 nobias", 40, Mixed);
    run::<Dense<f32, 64, 10>>(t, "dense 64->10 (LeNet out)", 41, Sparse);
    run::<Dense<f32, 101, 17>>(t, "dense 101->17", 42, Mixed);
    run::<Dense<f32, 1, 17, Linear, NoBias>>(t, "dense 1->17 nobias", 43, Mixed);
    // Only ±0 inputs: every row skipped, the outputs are the bias (±0 kept).
    run::<Dense<f32, 12, 33>>(t, "dense 12->33 zero inputs", 44, Zeros);
    run::<Dense<f32, 11, 17, Linear, NoBias>>(t, "dense 11->17 nobias zero inputs", 45, Zeros);
}

#[entry]
fn main() -> ! {
    let mut t = Tally::default();
    conv_cases(&mut t);
    fused_cases(&mut t);
    dense_cases(&mut t);
    hprintln!("stack_peak={} static_ram={}", measure::stack_peak_since_paint(), measure::static_ram());
    hprintln!("KERNELS ok={}/{}", t.ok, t.n);
    debug::exit(if t.ok == t.n && t.n > 0 { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}
