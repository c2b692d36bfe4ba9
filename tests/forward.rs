//! Forward passes against small cases computed by hand, the max/min pooling
//! tie rule of the backward pass, and `sequential!`'s `predict` against the
//! layers chained by hand.

use constnet::pool::{Avg, Max, Min};
use constnet::{
    zeroed, Activate, Backward, Conv2d, Dense, Dropout, EdgePad, Flatten, Layer, Linear, Model, NoBias, Params, Pool2d,
    Relu, Rng, Sigmoid, Softmax, Tanh, TrainContext, Upsample, Workspace, ZeroPad,
};

const CTX: TrainContext = TrainContext { seed: 1, fused: false };

/// A single-channel image from rows of values.
fn img<const H: usize, const W: usize>(x: [[f32; W]; H]) -> [[[f32; 1]; W]; H] {
    x.map(|row| row.map(|v| [v]))
}

/// The single channel of an image as rows.
fn plane<const H: usize, const W: usize>(y: &[[[f32; 1]; W]; H]) -> [[f32; W]; H] {
    y.map(|row| row.map(|[v]| v))
}

/// Weights of a one-input-channel, one-filter kernel.
fn kernel<const KH: usize, const KW: usize>(k: [[f32; KW]; KH]) -> [[[[f32; 1]; 1]; KW]; KH] {
    k.map(|row| row.map(|v| [[v]]))
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "element {i}: got {g}, want {w} (all: {got:?})");
    }
}

const X3: [[f32; 3]; 3] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
const K2: [[f32; 2]; 2] = [[1.0, 2.0], [3.0, 4.0]];

// ---- convolution ----------------------------------------------------------------

#[test]
fn conv_2x2_valid() {
    let mut c: Conv2d<f32, 3, 3, 1, 1, 2, 2, 1, 1, 0, 0, 2, 2> = zeroed();
    c.weight = kernel(K2);
    let mut y = [[[0.0; 1]; 2]; 2];
    c.forward(&img(X3), &mut y);
    // [0][0] = 1*1 + 2*2 + 4*3 + 5*4
    assert_eq!(plane(&y), [[37.0, 47.0], [67.0, 77.0]]);

    // The bias is added to every output.
    c.bias = [0.5];
    c.forward(&img(X3), &mut y);
    assert_eq!(plane(&y), [[37.5, 47.5], [67.5, 77.5]]);
}

#[test]
fn conv_2x2_stride_2() {
    let mut c: Conv2d<f32, 4, 4, 1, 1, 2, 2, 2, 2, 0, 0, 2, 2, Linear, NoBias> = zeroed();
    c.weight = kernel(K2);
    let x: [[f32; 4]; 4] = core::array::from_fn(|i| core::array::from_fn(|j| (4 * i + j + 1) as f32));
    let mut y = [[[0.0; 1]; 2]; 2];
    c.forward(&img(x), &mut y);
    // Windows start at 1, 3, 9, 11: a + 2(a+1) + 3(a+4) + 4(a+5) = 10a + 34.
    assert_eq!(plane(&y), [[44.0, 64.0], [124.0, 144.0]]);
}

#[test]
fn conv_2x2_stride_2x1() {
    let mut c: Conv2d<f32, 4, 3, 1, 1, 2, 2, 2, 1, 0, 0, 2, 2, Linear, NoBias> = zeroed();
    c.weight = kernel(K2);
    let x: [[f32; 3]; 4] = core::array::from_fn(|i| core::array::from_fn(|j| (3 * i + j + 1) as f32));
    let mut y = [[[0.0; 1]; 2]; 2];
    c.forward(&img(x), &mut y);
    // Windows start at 1, 2 (row 0) and 7, 8 (row 2): a + 2(a+1) + 3(a+3) + 4(a+4) = 10a + 27.
    assert_eq!(plane(&y), [[37.0, 47.0], [97.0, 107.0]]);
}

#[test]
fn conv_zero_padding_1() {
    let mut c: Conv2d<f32, 3, 3, 1, 1, 2, 2, 1, 1, 1, 1, 4, 4> = zeroed();
    c.weight = kernel(K2);
    let mut y = [[[0.0; 1]; 4]; 4];
    c.forward(&img(X3), &mut y);
    // Corners see one input each: [0][0] = 1*4, [3][3] = 9*1.
    assert_eq!(
        plane(&y),
        [[4.0, 11.0, 18.0, 9.0], [18.0, 37.0, 47.0, 21.0], [36.0, 67.0, 77.0, 33.0], [14.0, 23.0, 26.0, 9.0]]
    );
}

#[test]
fn conv_edge_padding_1() {
    let mut c: Conv2d<f32, 3, 3, 1, 1, 2, 2, 1, 1, 1, 1, 4, 4, Linear, [f32; 1], EdgePad> = zeroed();
    c.weight = kernel(K2);
    let mut y = [[[0.0; 1]; 4]; 4];
    c.forward(&img(X3), &mut y);
    // Border values repeat: [0][0] sees [[1, 1], [1, 1]], [0][3] sees [[3, 3], [3, 3]].
    assert_eq!(
        plane(&y),
        [[10.0, 16.0, 26.0, 30.0], [31.0, 37.0, 47.0, 51.0], [61.0, 67.0, 77.0, 81.0], [70.0, 76.0, 86.0, 90.0]]
    );
}

#[test]
fn conv_edge_padding_2_corner_sees_only_the_corner() {
    let mut c: Conv2d<f32, 3, 3, 1, 1, 2, 2, 1, 1, 2, 2, 6, 6, Linear, [f32; 1], EdgePad> = zeroed();
    c.weight = kernel(K2);
    let mut y = [[[0.0; 1]; 6]; 6];
    c.forward(&img(X3), &mut y);
    let y = plane(&y);
    // Windows entirely in the padding repeat the nearest input: the sum of the kernel (10) times it.
    assert_eq!(y[0][0], 10.0);
    assert_eq!(y[0][5], 30.0);
    assert_eq!(y[5][0], 70.0);
    assert_eq!(y[5][5], 90.0);
    // The middle is the valid convolution.
    assert_eq!([y[2][2], y[2][3], y[3][2], y[3][3]], [37.0, 47.0, 67.0, 77.0]);
}

#[test]
fn conv_two_channels_two_filters_with_bias() {
    let mut c: Conv2d<f32, 3, 2, 2, 2, 2, 2, 1, 1, 0, 0, 2, 1> = zeroed();
    // Per filter and input channel, the 2x2 kernels:
    let k = [
        [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]], // filter 0: channel 0, channel 1
        [[[0.0, 1.0], [-1.0, 0.0]], [[2.0, 0.0], [0.0, -1.0]]], // filter 1
    ];
    c.weight = core::array::from_fn(|ky| {
        core::array::from_fn(|kx| core::array::from_fn(|ch| core::array::from_fn(|f| k[f][ch][ky][kx])))
    });
    c.bias = [0.5, -1.0];
    // Channel 0 rows [1 2] [3 4] [5 6]; channel 1 rows [0 1] [-1 2] [1 -2].
    let x = [[[1.0, 0.0], [2.0, 1.0]], [[3.0, -1.0], [4.0, 2.0]], [[5.0, 1.0], [6.0, -2.0]]];
    let mut y = [[[0.0; 2]; 1]; 2];
    c.forward(&x, &mut y);
    // Filter 0 at row 0: (1 + 4) + (0 + 1 - 1 + 2) + 0.5; filter 1: (2 - 3) + (0 - 2) - 1.
    assert_eq!(y, [[[7.5, -4.0]], [[9.5, -2.0]]]);
}

#[test]
fn conv_same_3x3_keeps_size() {
    let mut c: Conv2d<f32, 3, 3, 1, 1, 3, 3, 1, 1, 1, 1, 3, 3> = zeroed();
    c.weight = kernel([[1.0; 3]; 3]);
    let mut y = [[[0.0; 1]; 3]; 3];
    c.forward(&img(X3), &mut y);
    // Sums of each 3x3 neighbourhood.
    assert_eq!(plane(&y), [[12.0, 21.0, 16.0], [27.0, 45.0, 33.0], [24.0, 39.0, 28.0]]);
}

#[test]
fn conv_fused_relu_and_softmax() {
    let mut c: Conv2d<f32, 3, 3, 1, 1, 2, 2, 1, 1, 0, 0, 2, 2, Relu> = zeroed();
    c.weight = kernel(K2);
    c.bias = [-50.0];
    let mut y = [[[0.0; 1]; 2]; 2];
    c.forward(&img(X3), &mut y);
    assert_eq!(plane(&y), [[0.0, 0.0], [17.0, 27.0]]);

    // Softmax runs over the filters of each pixel: filters x and x + ln 3 give 1/4, 3/4.
    let mut s: Conv2d<f64, 1, 2, 1, 2, 1, 1, 1, 1, 0, 0, 1, 2, Softmax> = zeroed();
    s.weight = [[[[1.0, 1.0]]]];
    s.bias = [0.0, 3f64.ln()];
    let mut y = [[[0.0; 2]; 2]; 1];
    s.forward(&[[[0.0], [100.0]]], &mut y);
    assert_close(y.as_flattened().as_flattened(), &[0.25, 0.75, 0.25, 0.75], 1e-12);
}

/// Direct convolution by the definition, for comparison on inputs too big
/// to work by hand.
#[allow(clippy::too_many_arguments)]
fn reference_conv<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
>(
    x: &[[[f64; C]; W]; H],
    weight: &[[[[f64; F]; C]; KW]; KH],
    bias: [f64; F],
    (sh, sw): (usize, usize),
    (ph, pw): (usize, usize),
    edge: bool,
) -> [[[f64; F]; OW]; OH] {
    // Input index of output `o`, window offset `k`, or None in zero padding.
    let at = |o: usize, k: usize, s: usize, p: usize, len: usize| {
        let i = (o * s + k) as isize - p as isize;
        if (0..len as isize).contains(&i) {
            Some(i as usize)
        } else {
            edge.then(|| i.clamp(0, len as isize - 1) as usize)
        }
    };
    let mut y = [[bias; OW]; OH];
    for (oy, row) in y.iter_mut().enumerate() {
        for (ox, out) in row.iter_mut().enumerate() {
            for (ky, w_row) in weight.iter().enumerate() {
                for (kx, w_tap) in w_row.iter().enumerate() {
                    let (Some(iy), Some(ix)) = (at(oy, ky, sh, ph, H), at(ox, kx, sw, pw, W)) else { continue };
                    for (&xc, wc) in x[iy][ix].iter().zip(w_tap) {
                        for (o, &w) in out.iter_mut().zip(wc) {
                            *o += xc * w;
                        }
                    }
                }
            }
        }
    }
    y
}

/// A wide convolution (so that both the blocked and the per-pixel paths run)
/// against [`reference_conv`]: `H, W, C, F, [KH, KW], [SH, SW], [PH, PW], padding`.
macro_rules! conv_reference_case {
    ($name:ident, $h:literal, $w:literal, $c:literal, $f:literal, [$kh:literal, $kw:literal], [$sh:literal, $sw:literal],
     [$ph:literal, $pw:literal], $pad:ident) => {
        #[test]
        fn $name() {
            const OH: usize = ($h + 2 * $ph - $kh) / $sh + 1;
            const OW: usize = ($w + 2 * $pw - $kw) / $sw + 1;
            let mut c: Conv2d<f64, $h, $w, $c, $f, $kh, $kw, $sh, $sw, $ph, $pw, OH, OW, Linear, [f64; $f], $pad> =
                zeroed();
            let mut rng = Rng::new($h * 100 + $w);
            c.flat_mut().iter_mut().for_each(|p| *p = rng.uniform(1.0));
            let x: [[[f64; $c]; $w]; $h] =
                core::array::from_fn(|_| core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(1.0))));
            let want: [[[f64; $f]; OW]; OH] =
                reference_conv(&x, &c.weight, c.bias, ($sh, $sw), ($ph, $pw), stringify!($pad) == "EdgePad");
            let mut y = [[[0.0; $f]; OW]; OH];
            c.forward(&x, &mut y);
            assert_close(y.as_flattened().as_flattened(), want.as_flattened().as_flattened(), 1e-12);
            // The training forward pass gives the same.
            c.forward_train(&x, &mut y, &CTX);
            assert_close(y.as_flattened().as_flattened(), want.as_flattened().as_flattened(), 1e-12);
        }
    };
}

conv_reference_case!(conv_wide_same_3x3, 5, 13, 3, 5, [3, 3], [1, 1], [1, 1], ZeroPad);
conv_reference_case!(conv_wide_edge_3x2_stride_1x2, 4, 20, 2, 4, [3, 2], [1, 2], [1, 1], EdgePad);
conv_reference_case!(conv_wide_5x5_stride_2_pad_2, 7, 17, 2, 3, [5, 5], [2, 2], [2, 2], ZeroPad);
conv_reference_case!(conv_wide_1x3_valid, 3, 9, 1, 2, [1, 3], [1, 1], [0, 0], ZeroPad);
conv_reference_case!(conv_wide_edge_5x5_pad_2, 6, 16, 3, 4, [5, 5], [1, 1], [2, 2], EdgePad);
conv_reference_case!(conv_wide_2x2_stride_3_pad_1, 7, 16, 2, 3, [2, 2], [3, 3], [1, 1], ZeroPad);
conv_reference_case!(conv_wide_edge_3x3_pad_3, 3, 12, 1, 2, [3, 3], [1, 1], [3, 3], EdgePad);

// ---- pooling ----------------------------------------------------------------------

/// A 4x4 image with two channels: the values below, and their negation.
fn pool_input() -> [[[f32; 2]; 4]; 4] {
    let x: [[f32; 4]; 4] = [[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 6.0], [7.0, 0.0, 1.0, 2.0], [9.0, 3.0, 4.0, 5.0]];
    x.map(|row| row.map(|v| [v, -v]))
}

#[test]
fn pool_2x2_stride_2() {
    let x = pool_input();
    let mut y = [[[0.0; 2]; 2]; 2];
    Pool2d::<Max, 4, 4, 2, 2, 2, 2, 2, 2, 2>::default().forward(&x, &mut y);
    assert_eq!(y, [[[5.0, -1.0], [8.0, 0.0]], [[9.0, 0.0], [5.0, -1.0]]]);
    Pool2d::<Min, 4, 4, 2, 2, 2, 2, 2, 2, 2>::default().forward(&x, &mut y);
    assert_eq!(y, [[[1.0, -5.0], [0.0, -8.0]], [[0.0, -9.0], [1.0, -5.0]]]);
    Pool2d::<Avg, 4, 4, 2, 2, 2, 2, 2, 2, 2>::default().forward(&x, &mut y);
    // Window sums 13, 16, 19, 12.
    assert_eq!(y, [[[3.25, -3.25], [4.0, -4.0]], [[4.75, -4.75], [3.0, -3.0]]]);
}

#[test]
fn pool_2x2_stride_1_overlapping() {
    let x = img(X3);
    let mut y = [[[0.0; 1]; 2]; 2];
    Pool2d::<Max, 3, 3, 1, 2, 2, 1, 1, 2, 2>::default().forward(&x, &mut y);
    assert_eq!(plane(&y), [[5.0, 6.0], [8.0, 9.0]]);
    Pool2d::<Min, 3, 3, 1, 2, 2, 1, 1, 2, 2>::default().forward(&x, &mut y);
    assert_eq!(plane(&y), [[1.0, 2.0], [4.0, 5.0]]);
    Pool2d::<Avg, 3, 3, 1, 2, 2, 1, 1, 2, 2>::default().forward(&x, &mut y);
    assert_eq!(plane(&y), [[3.0, 4.0], [6.0, 7.0]]);
}

#[test]
fn pool_non_square_window_and_ragged_edge() {
    // 2x3 windows at stride (2, 3) on 5x7: the last row and column are never read.
    let x: [[f32; 7]; 5] = core::array::from_fn(|i| core::array::from_fn(|j| (7 * i + j) as f32));
    let mut y = [[[0.0; 1]; 2]; 2];
    Pool2d::<Max, 5, 7, 1, 2, 3, 2, 3, 2, 2>::default().forward(&img(x), &mut y);
    assert_eq!(plane(&y), [[9.0, 12.0], [23.0, 26.0]]);
    Pool2d::<Avg, 5, 7, 1, 2, 3, 2, 3, 2, 2>::default().forward(&img(x), &mut y);
    let got: Vec<f64> = plane(&y).as_flattened().iter().map(|&v| f64::from(v)).collect();
    assert_close(&got, &[4.5, 7.5, 18.5, 21.5], 1e-5);
}

/// Runs a pooling layer's backward with the given output gradient.
fn pool_grad<K: constnet::PoolKind, const H: usize, const W: usize, const OH: usize, const OW: usize>(
    x: [[f32; W]; H],
    dy: [[f32; OW]; OH],
) -> [[f32; W]; H]
where
    Pool2d<K, H, W, 1, 2, 2, 2, 2, OH, OW>: Backward<f32, Input = [[[f32; 1]; W]; H], Output = [[[f32; 1]; OW]; OH]>,
{
    let pool = Pool2d::<K, H, W, 1, 2, 2, 2, 2, OH, OW>::default();
    let x = img(x);
    let mut y = img([[0.0; OW]; OH]);
    pool.forward_train(&x, &mut y, &CTX);
    let mut dx = img([[f32::NAN; W]; H]);
    pool.backward(&x, &y, &mut img(dy), Some(&mut dx), &mut Default::default(), &CTX);
    plane(&dx)
}

#[test]
fn max_pool_tie_sends_the_gradient_to_the_first_element() {
    // Left window: all four tie; right window: (0, 1) and (1, 0) of it tie at 3.
    let dx = pool_grad::<Max, 2, 4, 1, 2>([[2.0, 2.0, 1.0, 3.0], [2.0, 2.0, 3.0, 0.0]], [[1.0, 10.0]]);
    assert_eq!(dx, [[1.0, 0.0, 0.0, 10.0], [0.0, 0.0, 0.0, 0.0]]);
}

#[test]
fn min_pool_tie_sends_the_gradient_to_the_first_element() {
    let dx = pool_grad::<Min, 2, 4, 1, 2>([[5.0, 1.0, 4.0, 4.0], [1.0, 1.0, 4.0, 4.0]], [[1.0, 10.0]]);
    assert_eq!(dx, [[0.0, 1.0, 10.0, 0.0], [0.0, 0.0, 0.0, 0.0]]);
}

#[test]
fn avg_pool_spreads_the_gradient() {
    let dx = pool_grad::<Avg, 2, 4, 1, 2>([[5.0, 1.0, 4.0, 4.0], [1.0, 1.0, 4.0, 4.0]], [[4.0, -8.0]]);
    assert_eq!(dx, [[1.0, 1.0, -2.0, -2.0], [1.0, 1.0, -2.0, -2.0]]);
}

#[test]
fn overlapping_max_pool_accumulates_the_gradient() {
    // The centre is the maximum of all four windows.
    let pool = Pool2d::<Max, 3, 3, 1, 2, 2, 1, 1, 2, 2>::default();
    let x = img([[1.0, 2.0, 3.0], [4.0, 9.0, 5.0], [6.0, 7.0, 8.0]]);
    let mut y = img([[0.0; 2]; 2]);
    pool.forward_train(&x, &mut y, &CTX);
    assert_eq!(plane(&y), [[9.0; 2]; 2]);
    let mut dx = img([[0.0; 3]; 3]);
    pool.backward(&x, &y, &mut img([[1.0, 2.0], [3.0, 4.0]]), Some(&mut dx), &mut Default::default(), &CTX);
    assert_eq!(plane(&dx), [[0.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 0.0]]);
}

// ---- dense ------------------------------------------------------------------------

#[test]
fn dense_3_to_2() {
    let mut d: Dense<f32, 3, 2> = zeroed();
    d.weight = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]; // [input][output]
    let x = [1.0, -1.0, 2.0];
    let mut y = [0.0; 2];
    d.forward(&x, &mut y);
    // y0 = 1*1 - 1*3 + 2*5, y1 = 1*2 - 1*4 + 2*6
    assert_eq!(y, [8.0, 10.0]);
    d.bias = [0.5, -1.0];
    d.forward(&x, &mut y);
    assert_eq!(y, [8.5, 9.0]);

    let mut n: Dense<f32, 3, 2, Linear, NoBias> = zeroed();
    assert_eq!(<Dense<f32, 3, 2, Linear, NoBias> as Params<f32>>::LEN, 6);
    n.weight = d.weight;
    n.forward(&x, &mut y);
    assert_eq!(y, [8.0, 10.0]);
}

#[test]
fn dense_fused_activations() {
    let mut d: Dense<f32, 2, 2, Relu> = zeroed();
    d.weight = [[1.0, -1.0], [2.0, -2.0]];
    let mut y = [0.0; 2];
    d.forward(&[1.0, 1.0], &mut y);
    assert_eq!(y, [3.0, 0.0]);

    let mut t: Dense<f64, 1, 2, Tanh> = zeroed();
    t.weight = [[1.0, -0.5]];
    let mut y = [0.0; 2];
    t.forward(&[1.0], &mut y);
    assert_close(&y, &[0.761_594_155_955_764_9, -0.462_117_157_260_009_8], 1e-12);
}

// ---- activations ------------------------------------------------------------------

fn activate<A: constnet::Activation, const N: usize>(x: [f64; N]) -> [f64; N] {
    let mut y = [0.0; N];
    Activate::<A, [f64; N]>::default().forward(&x, &mut y);
    // In place gives the same.
    let mut z = x;
    Activate::<A, [f64; N]>::default().forward_in_place(&mut z);
    assert_eq!(y.map(f64::to_bits), z.map(f64::to_bits));
    y
}

#[test]
fn relu_values() {
    assert_eq!(activate::<Relu, 5>([-2.0, -0.0, 0.0, 0.5, 3.0]), [0.0, 0.0, 0.0, 0.5, 3.0]);
    assert_eq!(activate::<Linear, 3>([-2.0, 0.0, 3.5]), [-2.0, 0.0, 3.5]);
}

#[test]
fn sigmoid_values() {
    let y = activate::<Sigmoid, 3>([0.0, 2.0, -2.0]);
    assert_close(&y, &[0.5, 0.880_797_077_977_882_3, 0.119_202_922_022_117_6], 1e-12);
    // Saturates without overflow or NaN.
    assert_eq!(activate::<Sigmoid, 2>([-1000.0, 1000.0]), [0.0, 1.0]);
    let mut y32 = [0.0f32; 2];
    Activate::<Sigmoid, [f32; 2]>::default().forward(&[-1000.0, 1000.0], &mut y32);
    assert_eq!(y32, [0.0, 1.0]);
}

#[test]
fn tanh_values() {
    let y = activate::<Tanh, 4>([0.0, 1.0, -0.5, 1000.0]);
    assert_close(&y, &[0.0, 0.761_594_155_955_764_9, -0.462_117_157_260_009_8, 1.0], 1e-12);
}

#[test]
fn softmax_values() {
    let y = activate::<Softmax, 3>([1.0, 2.0, 3.0]);
    assert_close(&y, &[0.0900, 0.2447, 0.6652], 5e-5);
    assert_close(&y, &[0.090_030_573_170_380_46, 0.244_728_471_054_797_64, 0.665_240_955_774_821_9], 1e-12);
    // Max-shifted: no overflow.
    assert_eq!(activate::<Softmax, 2>([1000.0, 1000.0]), [0.5, 0.5]);
    assert_close(&activate::<Softmax, 2>([1000.0, 0.0]), &[1.0, 0.0], 1e-300);
    let mut y32 = [0.0f32; 2];
    Activate::<Softmax, [f32; 2]>::default().forward(&[1000.0, 1000.0], &mut y32);
    assert_eq!(y32, [0.5, 0.5]);
}

#[test]
fn softmax_on_an_image_normalizes_each_pixel() {
    let x = [[[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]];
    let mut y = [[[0.0; 3]; 2]; 1];
    Activate::<Softmax, [[[f64; 3]; 2]; 1]>::default().forward(&x, &mut y);
    assert_close(&y[0][0], &[0.090_030_573_170_380_46, 0.244_728_471_054_797_64, 0.665_240_955_774_821_9], 1e-12);
    assert_close(&y[0][1], &[1.0 / 3.0; 3], 1e-15);
}

// ---- reshaping layers ---------------------------------------------------------------

#[test]
fn flatten_is_hwc_order() {
    let x: [[[f32; 2]; 3]; 2] =
        core::array::from_fn(|h| core::array::from_fn(|w| core::array::from_fn(|c| (100 * h + 10 * w + c) as f32)));
    let mut y = [0.0; 12];
    Flatten::<2, 3, 2, 12>::default().forward(&x, &mut y);
    assert_eq!(y, [0.0, 1.0, 10.0, 11.0, 20.0, 21.0, 100.0, 101.0, 110.0, 111.0, 120.0, 121.0]);
}

#[test]
fn upsample_nearest_2x2() {
    let mut y = [[[0.0; 1]; 4]; 4];
    Upsample::<2, 2, 1, 2, 2, 4, 4>::default().forward(&img([[1.0, 2.0], [3.0, 4.0]]), &mut y);
    assert_eq!(plane(&y), [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0], [3.0, 3.0, 4.0, 4.0]]);
}

#[test]
fn upsample_nearest_2x1_keeps_channels() {
    let x = [[[1.0, -1.0], [2.0, -2.0]], [[3.0, -3.0], [4.0, -4.0]]];
    let mut y = [[[0.0; 2]; 2]; 4];
    Upsample::<2, 2, 2, 2, 1, 4, 2>::default().forward(&x, &mut y);
    assert_eq!(y, [x[0], x[0], x[1], x[1]]);
}

#[test]
fn dropout_inference_is_identity() {
    let d = Dropout::<[[[f32; 2]; 2]; 2], 500>::default();
    let x = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]];
    let mut y = [[[0.0; 2]; 2]; 2];
    d.forward(&x, &mut y);
    assert_eq!(y, x);
    let mut z = x;
    d.forward_in_place(z.as_flattened_mut().as_flattened_mut());
    assert_eq!(z, x);
}

// ---- sequential! predict ----------------------------------------------------------

constnet::sequential! {
    /// One of each layer kind, with in-place and buffered layers alternating.
    struct Net: [6, 6, 2] {
        conv: Conv2d<3, 3, pad = same> => Relu,
        pool: MaxPool2d<2>,
        up: Upsample<2>,
        conv2: Conv2d<4, [3, 2], stride = [1, 2], edge = 1> => Tanh,
        avg: AvgPool2d<2>,
        minpool: MinPool2d<[2, 1], stride = 1>,
        flat: Flatten,
        drop: Dropout<0.5>,
        fc: Dense<8> => Sigmoid,
        act: Relu,
        out: Dense<3, bias = false>,
        soft: Softmax,
    }
}

/// The layers of `Net` run one after another with `Layer::forward`.
fn chain(m: &Net, x: &[[[f32; 2]; 6]; 6]) -> [f32; 3] {
    let mut a = [[[0.0; 3]; 6]; 6];
    m.conv.forward(x, &mut a);
    let mut b = [[[0.0; 3]; 3]; 3];
    m.pool.forward(&a, &mut b);
    let mut c = [[[0.0; 3]; 6]; 6];
    m.up.forward(&b, &mut c);
    let mut d = [[[0.0; 4]; 4]; 6];
    m.conv2.forward(&c, &mut d);
    let mut e = [[[0.0; 4]; 2]; 3];
    m.avg.forward(&d, &mut e);
    let mut f = [[[0.0; 4]; 2]; 2];
    m.minpool.forward(&e, &mut f);
    let mut g = [0.0; 16];
    m.flat.forward(&f, &mut g);
    let mut h = [0.0; 16];
    m.drop.forward(&g, &mut h);
    let mut i = [0.0; 8];
    m.fc.forward(&h, &mut i);
    let mut j = [0.0; 8];
    m.act.forward(&i, &mut j);
    let mut k = [0.0; 3];
    m.out.forward(&j, &mut k);
    let mut l = [0.0; 3];
    m.soft.forward(&k, &mut l);
    l
}

#[test]
fn predict_equals_the_layers_chained_by_hand() {
    let mut m = Net::new(5);
    let mut rng = Rng::new(9);
    m.flat_mut().iter_mut().for_each(|p| *p += rng.uniform(0.2) as f32); // nonzero biases
    let input = |seed| {
        let mut rng = Rng::new(seed);
        let x: [[[f32; 2]; 6]; 6] =
            core::array::from_fn(|_| core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(1.0) as f32)));
        x
    };
    let mut ws = Workspace::new();
    for seed in [1, 2, 1] {
        let x = input(seed);
        let want = chain(&m, &x);
        let got = *m.predict(&x, &mut ws);
        assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits), "seed {seed}: {got:?} != {want:?}");
        assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // Not a constant: the two inputs give different outputs.
    let first = *m.predict(&input(1), &mut ws);
    assert_ne!(first, *m.predict(&input(2), &mut ws));
}

#[test]
fn predict_with_zero_padding_and_no_bias() {
    constnet::sequential! {
        struct Tiny: [3, 3, 1] {
            conv: Conv2d<1, 2, pad = 1, bias = false>,
            flat: Flatten,
        }
    }
    let mut m: Tiny = zeroed();
    m.conv.weight = kernel(K2);
    let mut ws = Workspace::new();
    let y = m.predict(&img(X3), &mut ws);
    assert_eq!(y, &[4.0, 11.0, 18.0, 9.0, 18.0, 37.0, 47.0, 21.0, 36.0, 67.0, 77.0, 33.0, 14.0, 23.0, 26.0, 9.0]);
    let _: &Conv2d<f32, 3, 3, 1, 1, 2, 2, 1, 1, 1, 1, 4, 4, Linear, NoBias, ZeroPad> = &m.conv;
}
