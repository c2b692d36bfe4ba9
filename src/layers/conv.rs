//! Two-dimensional convolution over HWC images.

#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
use crate::kernels::arm_fpu as fpu;
use crate::kernels::{add, axpy, axpy_fused, dispatch3, init_fan_in};
use crate::layers::activation::{Activation, Linear};
use crate::layers::bias::BiasTerm;
use crate::layers::window::{block_inside, conv_label, fits_padded, pads_one_more, source, Label, Padding, ZeroPad};
use crate::layers::{fingerprint, str_hash, with_one_more};
use crate::{Backward, Float, Layer, LayerInfo, Params, Rng, TrainContext};
use core::marker::PhantomData;

/// `F` filters of `KH x KW` over a `H x W x C` input, stride `SH, SW`, padding
/// `PH, PW` (zero or edge-replicating, by `P`) before the first row and
/// column and as many after, giving an `OH x OW x F` output, then the
/// activation `A`. In TensorFlow's "same" geometry with an odd total
/// (even kernels, stride 2 over an even input: `OH = ceil(H / SH)`, `PH`
/// the smaller half) the padding after is `PH + 1`, `PW + 1`, as TensorFlow
/// pads; `OH`, `OW` say which.
///
/// The output size is a parameter because stable Rust cannot compute it in a
/// type; [`sequential!`](crate::sequential) computes it for you, and a
/// hand-written wrong `OH`/`OW` fails to build.
///
/// Weights are laid out `[KH][KW][C][F]`, filters last: the inner loops run
/// over `F` contiguous outputs and vectorize.
#[repr(C)]
pub struct Conv2d<
    T,
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
    A = Linear,
    B = [T; F],
    P = ZeroPad,
> {
    /// Filter weights, `[ky][kx][c_in][filter]`.
    pub weight: [[[[T; F]; C]; KW]; KH],
    /// One bias per filter (or [`NoBias`](crate::NoBias)).
    pub bias: B,
    kind: PhantomData<(A, P)>,
}

/// Writes an `impl` (inherent, or of the trait in `<...>`) for `Conv2d` with
/// its sixteen generic parameters, and any more in `[...]`.
macro_rules! conv_impl {
    ($([$($more:tt)*])? $(<$tr:path>)? { $($body:tt)* }) => {
        impl<
                T: Float,
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
                A: Activation,
                B: BiasTerm<T, F>,
                P: Padding,
                $($($more)*)?
            > $($tr for)? Conv2d<T, H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
        {
            $($body)*
        }
    };
}

pub(crate) use conv_impl;

conv_impl! {{
    /// The summary's kind: kernel, stride and padding (`"Conv2d 5x5/1 valid"`,
    /// `"Conv2d 3x3/2 pad 1"`, `"Conv2d 3x3/1 edge 1"`, `"Conv2d 10x4/2 pad 4:5x1"`).
    const LABEL: &'static Label = &conv_label("Conv2d", P::NAME, [KH, KW], [SH, SW], [PH, PW], Self::ONE_MORE);

    /// Whether each axis pads one more after the input than before (TF's "same").
    const ONE_MORE: [bool; 2] = [pads_one_more(H, KH, SH, PH, OH), pads_one_more(W, KW, SW, PW, OW)];

    /// Fails the build when the output size is not the one the geometry gives.
    pub(crate) const SHAPE_OK: () = assert!(
        fits_padded(H, KH, SH, PH, OH) && fits_padded(W, KW, SW, PW, OW) && C > 0 && F > 0,
        "Conv2d: OH/OW do not match (H + 2*PH - KH) / SH + 1 (nor TF's \"same\"), or the kernel does not fit"
    );
}}

// SAFETY: `#[repr(C)]` of a `T` array, a `Params<T>` bias and a ZST marker.
unsafe impl<
        T: Float,
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
        A,
        B: Params<T>,
        P,
    > Params<T> for Conv2d<T, H, W, C, F, KH, KW, SH, SW, PH, PW, OH, OW, A, B, P>
{
}

conv_impl! {<Layer<T>> {
    type Input = [[[T; C]; W]; H];
    type Output = [[[T; F]; OW]; OH];
    const INFO: LayerInfo = LayerInfo {
        kind: Self::LABEL.as_str(),
        activation: A::NAME,
        bias: B::ENABLED,
        window: [KH, KW],
    };
    const FINGERPRINT: u64 = with_one_more(fingerprint(&[
        str_hash("Conv2d"),
        H as u64,
        W as u64,
        C as u64,
        F as u64,
        KH as u64,
        KW as u64,
        SH as u64,
        SW as u64,
        PH as u64,
        PW as u64,
        str_hash(A::NAME),
        B::ENABLED as u64,
        P::EDGE as u64,
    ]), Self::ONE_MORE);

    fn init(&mut self, rng: &mut Rng) {
        init_fan_in(self.weight.as_flattened_mut().as_flattened_mut().as_flattened_mut(), KH * KW * C, A::INIT_GAIN, rng);
        if let Some(b) = self.bias.values_mut() {
            *b = [T::zero(); F];
        }
    }

    fn forward(&self, x: &Self::Input, y: &mut Self::Output) {
        self.convolve(x, y, true);
    }
}}

conv_impl! {{
    /// The convolution, then the activation when `activate`.
    fn convolve(&self, x: &[[[T; C]; W]; H], y: &mut [[[T; F]; OW]; OH], activate: bool) {
        let () = Self::SHAPE_OK;
        dispatch3(
            self,
            x,
            y,
            #[inline(always)]
            |conv, x, y| {
                for (oy, row) in y.iter_mut().enumerate() {
                    conv.row(
                        x,
                        oy,
                        #[inline(always)]
                        |ox, f0, v| {
                            if activate && A::ELEMENTWISE {
                                A::apply(v, F);
                            }
                            row[ox][f0..f0 + v.len()].copy_from_slice(v);
                        },
                    );
                    if activate && !A::ELEMENTWISE {
                        row.iter_mut().for_each(|out| A::apply(out, F));
                    }
                }
            },
        );
    }

    /// Output row `oy` before the activation, handed to `emit(ox, f0, v)` in
    /// pieces: `v` holds filters `f0 .. f0 + v.len()` of output pixel `ox`.
    /// For each filter, the pixels of the row arrive left to right.
    ///
    /// Every output sums bias, then taps in `(ky, kx, c)` order whatever the
    /// blocking, so all targets give bit-identical results.
    #[inline(always)]
    pub(crate) fn row(&self, x: &[[[T; C]; W]; H], oy: usize, emit: impl FnMut(usize, usize, &mut [T])) {
        #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
        let Some(emit) = self.row_fpu(x, oy, emit) else { return };
        // Scalar FPU with 32 registers (Cortex-M4F): 8 pixels x 2 filters
        // keeps 16 accumulators, the 12 inputs of a row and 2 weights live.
        #[cfg(target_arch = "arm")]
        self.row_blocked::<8, 2>(x, oy, emit);
        // SIMD hosts: the accumulators are F-wide vectors.
        #[cfg(not(target_arch = "arm"))]
        self.row_blocked::<4, F>(x, oy, emit);
    }

    /// [`Self::row`] with the assembly kernels, when `T` is `f32`, `F` a
    /// multiple of 8 and the row's windows need no vertical padding:
    /// [`fpu::window16`] (one pixel, 16 filters at a time) when 16 divides
    /// `F`, else [`fpu::window8x2`] (two pixels, 8 filters); border pixels go
    /// through [`Self::pixel`]. Otherwise does nothing and hands `emit` back.
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    #[inline(always)]
    fn row_fpu<E: FnMut(usize, usize, &mut [T])>(&self, x: &[[[T; C]; W]; H], oy: usize, mut emit: E) -> Option<E> {
        let (Some(xf), Some(wf)) = (
            fpu::same::<_, [[[f32; C]; W]; H]>(x),
            fpu::same::<_, [[[[f32; F]; C]; KW]; KH]>(&self.weight),
        ) else {
            return Some(emit);
        };
        if !F.is_multiple_of(8) || oy * SH < PH || oy * SH - PH + KH > H {
            return Some(emit);
        }
        let bias = self.bias.values().copied().unwrap_or([T::zero(); F]);
        let Some(bias_f) = fpu::same::<_, [f32; F]>(&bias) else { return Some(emit) };
        let (x_flat, w_flat) = (xf.as_flattened().as_flattened(), wf.as_flattened().as_flattened().as_flattened());
        let inside = |ox: usize| ox * SW >= PW && ox * SW - PW + KW <= W;
        let start = |ox: usize| ((oy * SH - PH) * W + ox * SW - PW) * C;
        let mut ox = 0;
        while ox < OW {
            if F.is_multiple_of(16) && inside(ox) {
                for f0 in (0..F).step_by(16) {
                    let mut acc: [f32; 16] = core::array::from_fn(|f| bias_f[f0 + f]);
                    fpu::window16::<KH, KW, C, W, F>(&mut acc, &x_flat[start(ox)..], w_flat, f0);
                    if let Some(acc) = fpu::same_mut::<_, [T; 16]>(&mut acc) {
                        emit(ox, f0, acc);
                    }
                }
                ox += 1;
            } else if ox + 1 < OW && inside(ox) && inside(ox + 1) {
                for f0 in (0..F).step_by(8) {
                    let mut acc: [f32; 16] = core::array::from_fn(|f| bias_f[f0 + f % 8]);
                    fpu::window8x2::<KH, KW, C, W, F, SW>(&mut acc, &x_flat[start(ox)..], w_flat, f0);
                    if let Some(acc) = fpu::same_mut::<_, [T; 16]>(&mut acc) {
                        let (a, b) = acc.split_at_mut(8);
                        emit(ox, f0, a);
                        emit(ox + 1, f0, b);
                    }
                }
                ox += 2;
            } else {
                emit(ox, 0, &mut self.pixel(x, oy, ox, &bias));
                ox += 1;
            }
        }
        None
    }

    /// [`Self::row`] with `PB` pixels by `FB` filters per block where the
    /// windows need no padding, one pixel at a time elsewhere.
    #[inline(always)]
    fn row_blocked<const PB: usize, const FB: usize>(
        &self,
        x: &[[[T; C]; W]; H],
        oy: usize,
        mut emit: impl FnMut(usize, usize, &mut [T]),
    ) {
        let bias = self.bias.values().copied().unwrap_or([T::zero(); F]);
        let mut ox = 0;
        while ox < OW {
            if ox + PB <= OW && block_inside(ox, PB, KW, SW, PW, W) && F.is_multiple_of(FB) {
                self.block::<PB, FB>(x, oy, ox, &bias, &mut emit);
                ox += PB;
            } else {
                emit(ox, 0, &mut self.pixel(x, oy, ox, &bias));
                ox += 1;
            }
        }
    }

    /// One output pixel, any padding: the path for image borders.
    #[inline(always)]
    fn pixel(&self, x: &[[[T; C]; W]; H], oy: usize, ox: usize, bias: &[T; F]) -> [T; F] {
        let mut acc = *bias;
        for (ky, w_row) in self.weight.iter().enumerate() {
            let Some(iy) = source(oy, ky, SH, PH, H, P::EDGE) else { continue };
            for (kx, w_tap) in w_row.iter().enumerate() {
                let Some(ix) = source(ox, kx, SW, PW, W, P::EDGE) else { continue };
                for (&xc, wc) in x[iy][ix].iter().zip(w_tap) {
                    axpy(&mut acc, xc, wc);
                }
            }
        }
        acc
    }

    /// Outputs `ox0 .. ox0 + PB` of row `oy`, whose windows need no padding,
    /// `FB` filters at a time: `PB * FB` accumulators in registers, each
    /// weight loaded once for `PB` pixels and each input once for `FB`
    /// filters. With `kx` innermost, the inputs of one row and channel are
    /// loaded once for all `KW` taps.
    #[inline(always)]
    fn block<const PB: usize, const FB: usize>(
        &self,
        x: &[[[T; C]; W]; H],
        oy: usize,
        ox0: usize,
        bias: &[T; F],
        emit: &mut impl FnMut(usize, usize, &mut [T]),
    ) {
        for f0 in (0..F).step_by(FB) {
            let b: [T; FB] = bias[f0..f0 + FB].try_into().unwrap();
            let mut acc = [b; PB];
            for (ky, w_row) in self.weight.iter().enumerate() {
                let Some(iy) = source(oy, ky, SH, PH, H, P::EDGE) else { continue };
                // The block's inputs for this tap row, checked once.
                let xs = &x[iy][ox0 * SW - PW..][..(PB - 1) * SW + KW];
                for (kx, w_tap) in w_row.iter().enumerate() {
                    for (c, w_c) in w_tap.iter().enumerate() {
                        let w: &[T; FB] = w_c[f0..f0 + FB].try_into().unwrap();
                        for (p, a) in acc.iter_mut().enumerate() {
                            axpy(a, xs[kx + p * SW][c], w);
                        }
                    }
                }
            }
            for (p, a) in acc.iter_mut().enumerate() {
                emit(ox0 + p, f0, a);
            }
        }
    }
}}

conv_impl! {<Backward<T>> {
    fn forward_train(&self, x: &Self::Input, y: &mut Self::Output, ctx: &TrainContext) {
        self.convolve(x, y, !ctx.fused);
    }

    fn backward(
        &self,
        x: &Self::Input,
        y: &Self::Output,
        dy: &mut Self::Output,
        dx: Option<&mut Self::Input>,
        grads: &mut Self,
        ctx: &TrainContext,
    ) {
        let fused = ctx.fused;
        dispatch3(
            y,
            &mut *dy,
            &mut grads.bias,
            #[inline(always)]
            move |y, dy, bias| {
                if !fused {
                    A::backward(y.as_flattened().as_flattened(), dy.as_flattened_mut().as_flattened_mut(), F);
                }
                if let Some(db) = bias.values_mut() {
                    for g in dy.as_flattened() {
                        add(db, g);
                    }
                }
            },
        );
        self.weight_gradient(x, dy, &mut grads.weight);
        if let Some(dx) = dx {
            self.input_gradient(dy, dx);
        }
    }
}}

/// Accumulators a gradient loop may keep in registers, in values: twelve
/// 256-bit vectors of `f32`, of the sixteen AVX2 has.
const ACCUMULATED: usize = 96;

conv_impl! {{
    /// `dW[ky][kx][c][f] += Σ_pixels x[iy][ix][c] * dy[oy][ox][f]` (fused
    /// multiply-adds): by tap rows for narrow layers
    /// ([`Self::weight_gradient_rows`]), by blocks of taps for wider ones
    /// ([`Self::weight_gradient_taps`]), else for each tap and input
    /// channel, `PB` independent accumulators over all pixels, eight for a
    /// filter block of one vector, so that enough multiply-adds are in
    /// flight.
    #[inline(never)]
    fn weight_gradient(&self, x: &[[[T; C]; W]; H], dy: &[[[T; F]; OW]; OH], gw: &mut [[[[T; F]; C]; KW]; KH]) {
        dispatch3(
            x,
            dy,
            gw,
            #[inline(always)]
            |x, dy, gw| {
                if 2 * Self::ROW_GRADIENT <= ACCUMULATED {
                    Self::weight_gradient_rows::<2>(x, dy, gw);
                } else if Self::ROW_GRADIENT <= ACCUMULATED {
                    Self::weight_gradient_rows::<1>(x, dy, gw);
                } else if F <= 8 && KW * C >= 12 {
                    Self::weight_gradient_taps::<12>(x, dy, gw);
                } else if F <= 16 && KW * C >= 6 {
                    Self::weight_gradient_taps::<6>(x, dy, gw);
                } else if F <= 8 {
                    Self::weight_gradient_blocked::<8>(x, dy, gw);
                } else {
                    Self::weight_gradient_blocked::<4>(x, dy, gw);
                }
            },
        );
    }

    /// Values of the weight gradient of one tap row (`KW * C * F`).
    const ROW_GRADIENT: usize = KW * C * F;

    /// The weight gradient of narrow layers, whose tap rows' gradients fit
    /// in registers (`KB` rows of at most [`ACCUMULATED`] values): each
    /// pixel's output gradient is loaded once and multiplied by the
    /// `KB * KW * C` inputs of its window rows, one accumulator per weight
    /// over all pixels. Rows beyond a multiple of `KB` go one at a time.
    #[inline(always)]
    fn weight_gradient_rows<const KB: usize>(
        x: &[[[T; C]; W]; H],
        dy: &[[[T; F]; OW]; OH],
        gw: &mut [[[[T; F]; C]; KW]; KH],
    ) {
        let mut ky0 = 0;
        while ky0 < KH {
            if ky0 + KB > KH {
                Self::weight_gradient_rows_at::<1>(x, dy, gw, ky0);
                ky0 += 1;
            } else {
                Self::weight_gradient_rows_at::<KB>(x, dy, gw, ky0);
                ky0 += KB;
            }
        }
    }

    /// The weight gradient `TB` taps at a time (`TB <= KW * C`, and `TB`
    /// filter rows of `F` fit in registers): a block of consecutive `(kx,
    /// c)` of one tap row, whose inputs are contiguous, as in
    /// [`Self::weight_gradient_rows`]. The last block of a row ends with
    /// the row and overlaps the one before; its overlap is not added twice.
    #[inline(always)]
    fn weight_gradient_taps<const TB: usize>(
        x: &[[[T; C]; W]; H],
        dy: &[[[T; F]; OW]; OH],
        gw: &mut [[[[T; F]; C]; KW]; KH],
    ) {
        for (ky, gw_row) in gw.iter_mut().enumerate() {
            let gw_row = gw_row.as_flattened_mut();
            let mut done = 0;
            while done < KW * C {
                let t0 = done.min(KW * C - TB);
                let mut acc = [[T::zero(); F]; TB];
                for (oy, g_row) in dy.iter().enumerate() {
                    let Some(iy) = source(oy, ky, SH, PH, H, P::EDGE) else { continue };
                    let row = &x[iy];
                    for (ox, g) in g_row.iter().enumerate() {
                        if block_inside(ox, 1, KW, SW, PW, W) {
                            let xs = &row[ox * SW - PW..][..KW].as_flattened()[t0..t0 + TB];
                            for (a, &xv) in acc.iter_mut().zip(xs) {
                                axpy_fused(a, xv, g);
                            }
                        } else {
                            for (j, a) in acc.iter_mut().enumerate() {
                                let (kx, c) = ((t0 + j) / C, (t0 + j) % C);
                                if let Some(ix) = source(ox, kx, SW, PW, W, P::EDGE) {
                                    axpy_fused(a, row[ix][c], g);
                                }
                            }
                        }
                    }
                }
                for (g, a) in gw_row[done..t0 + TB].iter_mut().zip(&acc[done - t0..]) {
                    add(g, a);
                }
                done = t0 + TB;
            }
        }
    }

    /// Tap rows `ky0 .. ky0 + KB` of [`Self::weight_gradient_rows`].
    #[inline(always)]
    fn weight_gradient_rows_at<const KB: usize>(
        x: &[[[T; C]; W]; H],
        dy: &[[[T; F]; OW]; OH],
        gw: &mut [[[[T; F]; C]; KW]; KH],
        ky0: usize,
    ) {
        let mut acc = [[[[T::zero(); F]; C]; KW]; KB];
        for (oy, g_row) in dy.iter().enumerate() {
            let rows: [Option<&[[T; C]; W]>; KB] =
                core::array::from_fn(|r| source(oy, ky0 + r, SH, PH, H, P::EDGE).map(|iy| &x[iy]));
            for (ox, g) in g_row.iter().enumerate() {
                if block_inside(ox, 1, KW, SW, PW, W) {
                    let ix0 = ox * SW - PW;
                    for (a, row) in acc.iter_mut().zip(&rows) {
                        let Some(row) = row else { continue };
                        for (a, &xv) in a.as_flattened_mut().iter_mut().zip(row[ix0..][..KW].as_flattened()) {
                            axpy_fused(a, xv, g);
                        }
                    }
                } else {
                    for (a, row) in acc.iter_mut().zip(&rows) {
                        let Some(row) = row else { continue };
                        for (kx, a) in a.iter_mut().enumerate() {
                            let Some(ix) = source(ox, kx, SW, PW, W, P::EDGE) else { continue };
                            for (a, &xv) in a.iter_mut().zip(&row[ix]) {
                                axpy_fused(a, xv, g);
                            }
                        }
                    }
                }
            }
        }
        for (gw_row, a) in gw[ky0..].iter_mut().zip(&acc) {
            add(gw_row.as_flattened_mut().as_flattened_mut(), a.as_flattened().as_flattened());
        }
    }

    #[inline(always)]
    fn weight_gradient_blocked<const PB: usize>(
        x: &[[[T; C]; W]; H],
        dy: &[[[T; F]; OW]; OH],
        gw: &mut [[[[T; F]; C]; KW]; KH],
    ) {
        for (ky, gw_row) in gw.iter_mut().enumerate() {
            for (kx, gw_tap) in gw_row.iter_mut().enumerate() {
                for (c, gw_c) in gw_tap.iter_mut().enumerate() {
                    let mut acc = [[T::zero(); F]; PB];
                    for (oy, g_row) in dy.iter().enumerate() {
                        let Some(iy) = source(oy, ky, SH, PH, H, P::EDGE) else { continue };
                        for ox0 in (0..OW).step_by(PB) {
                            if ox0 + PB <= OW && block_inside(ox0, PB, KW, SW, PW, W) {
                                let ix0 = ox0 * SW + kx - PW;
                                for (p, a) in acc.iter_mut().enumerate() {
                                    axpy_fused(a, x[iy][ix0 + p * SW][c], &g_row[ox0 + p]);
                                }
                            } else {
                                for (ox, g) in g_row.iter().enumerate().skip(ox0).take(PB) {
                                    if let Some(ix) = source(ox, kx, SW, PW, W, P::EDGE) {
                                        axpy_fused(&mut acc[0], x[iy][ix][c], g);
                                    }
                                }
                            }
                        }
                    }
                    for a in &acc {
                        add(gw_c, a);
                    }
                }
            }
        }
    }

    /// `dx[iy][ix][c] = Σ dy[oy][ox][f] * W[ky][kx][c][f]` (fused
    /// multiply-adds). Weights are transposed to `[KH][F][KW][C]` first, so
    /// that for one filter a tap row's weights are contiguous; for `PB`
    /// pixels and one tap row, `PB` accumulators of `KW * C` values sum
    /// over the filters, each gradient broadcast once for the `KW` taps,
    /// and are then added into `dx`.
    #[inline(never)]
    fn input_gradient(&self, dy: &[[[T; F]; OW]; OH], dx: &mut [[[T; C]; W]; H]) {
        dispatch3(
            &self.weight,
            dy,
            dx,
            #[inline(always)]
            |weight, dy, dx| {
                if C * KW <= 16 {
                    Self::input_gradient_blocked::<4>(weight, dy, dx);
                } else {
                    Self::input_gradient_blocked::<2>(weight, dy, dx);
                }
            },
        );
    }

    #[inline(always)]
    fn input_gradient_blocked<const PB: usize>(
        weight: &[[[[T; F]; C]; KW]; KH],
        dy: &[[[T; F]; OW]; OH],
        dx: &mut [[[T; C]; W]; H],
    ) {
        let mut wt = [[[[T::zero(); C]; KW]; F]; KH];
        for (t_row, w_row) in wt.iter_mut().zip(weight) {
            for (kx, w_tap) in w_row.iter().enumerate() {
                for (c, wc) in w_tap.iter().enumerate() {
                    for (t_f, &w) in t_row.iter_mut().zip(wc) {
                        t_f[kx][c] = w;
                    }
                }
            }
        }
        *dx = [[[T::zero(); C]; W]; H];
        for (oy, g_row) in dy.iter().enumerate() {
            for (ky, t_row) in wt.iter().enumerate() {
                let Some(iy) = source(oy, ky, SH, PH, H, P::EDGE) else { continue };
                let mut ox0 = 0;
                while ox0 < OW {
                    if ox0 + PB <= OW && block_inside(ox0, PB, KW, SW, PW, W) {
                        // One accumulator per pixel over its whole tap row
                        // (`KW * C` contiguous values, like the weights and
                        // the inputs it lands on): full-width vectors even
                        // where `C` is narrower than one.
                        let mut acc = [[[T::zero(); C]; KW]; PB];
                        for (f, t_f) in t_row.iter().enumerate() {
                            for (p, a) in acc.iter_mut().enumerate() {
                                axpy_fused(a.as_flattened_mut(), g_row[ox0 + p][f], t_f.as_flattened());
                            }
                        }
                        let ix0 = ox0 * SW - PW;
                        for (p, a) in acc.iter().enumerate() {
                            add(dx[iy][ix0 + p * SW..][..KW].as_flattened_mut(), a.as_flattened());
                        }
                        ox0 += PB;
                    } else {
                        for (kx, _) in weight[ky].iter().enumerate() {
                            let Some(ix) = source(ox0, kx, SW, PW, W, P::EDGE) else { continue };
                            for (&g, t_f) in g_row[ox0].iter().zip(t_row) {
                                axpy_fused(&mut dx[iy][ix], g, &t_f[kx]);
                            }
                        }
                        ox0 += 1;
                    }
                }
            }
        }
    }
}}
