//! Checking the firmware's outputs against the host's: the embedded test set
//! (images scaled exactly as the host scales them, labels, the host's
//! outputs), the agreement tally, and the `agree=` line the scripts read.
//!
//! Shared by firmware-example (`mod check;`) and firmware-m0 (a `#[path]`
//! module); the number of images is [`TestSet`]'s parameter `N`, the length
//! of its labels. Uses `crate::measure` (both crates have it at the root).

use cortex_m_semihosting::hprintln;

use core::fmt;

use crate::measure::{self, StackUse};

/// Pixels per image (28 x 28, one channel).
pub const PIXELS: usize = 28 * 28;
/// Outputs per image.
pub const CLASSES: usize = 10;

/// Largest accepted difference between a firmware output and the host's
/// (absolute, on softmax probabilities). Both sides do the same IEEE-754
/// single-precision operations in the same order (hardware or soft-float,
/// both correctly rounded; the library never fuses multiply-adds), and `exp`
/// comes from the `libm` crate on both, so the outputs are expected
/// bit-identical (`bit_identical=`, `max_ulp=`); the tolerance only keeps a
/// last-bit difference from failing the firmware's own check while those
/// figures show it. It also lets a weight one ulp off through, so
/// `tools/firmware-ci.sh` requires `bit_identical=n/n` too.
pub const TOLERANCE: f32 = 1e-5;

/// Pixel `p` scaled to `[0, 1]` exactly as the host's loader does it
/// (`constnet::data::Normalize::Scale01`: `T::of(f64::from(p) / 255.0)`),
/// computed at compile time, so the inputs are bit-identical to the host's.
static SCALE: [f32; 256] = {
    let mut t = [0.0f32; 256];
    let mut p = 0;
    while p < 256 {
        t[p] = (p as f64 / 255.0) as f32;
        p += 1;
    }
    t
};

/// The embedded test set, in flash: `N` images of [`PIXELS`] raw `u8` pixels,
/// their `N` labels, and the host's `N` x [`CLASSES`] `f32` outputs
/// (little-endian), as written by the parent crate's `firmware_data` example.
pub struct TestSet<const N: usize> {
    images: &'static [u8],
    labels: &'static [u8; N],
    host_outputs: &'static [u8],
}

impl<const N: usize> TestSet<N> {
    /// The test set of `N` images; the lengths are checked at compile time
    /// when it initialises a `static`.
    pub const fn new(images: &'static [u8], labels: &'static [u8; N], host_outputs: &'static [u8]) -> Self {
        assert!(images.len() == N * PIXELS, "not PIXELS bytes of image per label");
        assert!(host_outputs.len() == N * CLASSES * 4, "not CLASSES host outputs per label");
        TestSet { images, labels, host_outputs }
    }

    /// Image `i`, scaled to `[0, 1]`, into `x` (the model's input, flat).
    pub fn fill_input(&self, x: &mut [f32], i: usize) {
        let pixels = &self.images[i * PIXELS..(i + 1) * PIXELS];
        for (v, &p) in x.iter_mut().zip(pixels) {
            *v = SCALE[p as usize];
        }
    }

    /// The host's outputs for image `i`.
    fn host_output(&self, i: usize) -> [f32; CLASSES] {
        let bytes = &self.host_outputs[i * CLASSES * 4..(i + 1) * CLASSES * 4];
        core::array::from_fn(|k| {
            f32::from_le_bytes([bytes[4 * k], bytes[4 * k + 1], bytes[4 * k + 2], bytes[4 * k + 3]])
        })
    }
}

/// First index of the largest value (the host example uses the same rule).
fn argmax(y: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in y.iter().enumerate() {
        if v > y[best] {
            best = i;
        }
    }
    best
}

/// Distance in units in the last place between two finite f32 of the same sign
/// (otherwise a large number).
fn ulps(a: f32, b: f32) -> u32 {
    let (a, b) = (a.to_bits() as i32, b.to_bits() as i32);
    if (a < 0) != (b < 0) {
        return if (a & 0x7fff_ffff) == 0 && (b & 0x7fff_ffff) == 0 { 0 } else { u32::MAX };
    }
    a.abs_diff(b)
}

/// The tally over the test set. An inference *agrees* when its argmax equals
/// the host's and each of its outputs is within [`TOLERANCE`] of the host's.
#[derive(Default)]
pub struct Eval {
    pub agree: u32,
    disagree: u32,
    correct: u32,
    host_correct: u32,
    identical: u32,
    max_ulp: u32,
    max_abs: f32,
}

impl Eval {
    /// Counts output `y` of image `i` of `data`; prints the first 5
    /// disagreements.
    pub fn add<const N: usize>(&mut self, data: &TestSet<N>, i: usize, y: &[f32; CLASSES]) {
        let host = data.host_output(i);
        let label = data.labels[i] as usize;
        let mut close = true;
        let mut same = true;
        for (&a, &b) in y.iter().zip(&host) {
            let d = (a - b).abs();
            close &= d <= TOLERANCE; // false for NaN
            same &= a.to_bits() == b.to_bits();
            self.max_ulp = self.max_ulp.max(ulps(a, b));
            self.max_abs = if d > self.max_abs || d.is_nan() { d } else { self.max_abs };
        }
        let top = argmax(y);
        let host_top = argmax(&host);
        if close && top == host_top {
            self.agree += 1;
        } else {
            self.disagree += 1;
            if self.disagree <= 5 {
                hprintln!("image {}: DISAGREES (argmax {} vs host {}, within tolerance: {})", i, top, host_top, close);
            }
        }
        self.identical += same as u32;
        self.correct += (top == label) as u32;
        self.host_correct += (host_top == label) as u32;
    }

    /// Whether every image of `data` agreed (call after adding them all).
    pub fn all_agree<const N: usize>(&self, _data: &TestSet<N>) -> bool {
        self.agree == N as u32
    }

    /// Prints the line the scripts read:
    ///
    /// ```text
    /// agree=<k>/<n> acc=<x.xxxx> stack_peak=<bytes> stack_inference=<bytes> static_ram_rt=<bytes> bit_identical=<k>/<n> max_ulp=<n> max_abs_diff_e9=<n> host_acc=<x.xxxx>
    /// ```
    ///
    /// Kept out of line so that the formatting machinery's stack frame is not
    /// part of `main`'s frame, and so not counted in the measured stack peak.
    #[inline(never)]
    pub fn report<const N: usize>(&self, _data: &TestSet<N>, stack: StackUse) {
        hprintln!(
            "agree={}/{} acc={} stack_peak={} stack_inference={} static_ram_rt={} bit_identical={}/{} max_ulp={} max_abs_diff_e9={} host_acc={}",
            self.agree,
            N,
            Fixed4(self.correct as f32 / N as f32),
            stack.peak,
            stack.measured,
            measure::static_ram(),
            self.identical,
            N,
            self.max_ulp,
            // |diff| <= 1 here, so this fits a u32 (saturating otherwise).
            (self.max_abs * 1e9) as u32,
            Fixed4(self.host_correct as f32 / N as f32),
        );
    }
}

/// Formats a non-negative `f32` with 4 decimals using integer arithmetic only
/// (f32 `Display` would add ~14 KB of flash). Negative values print as `-`
/// followed by the magnitude; values beyond ~429496 saturate.
pub struct Fixed4(pub f32);

impl fmt::Display for Fixed4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (neg, x) = if self.0 < 0.0 { (true, -self.0) } else { (false, self.0) };
        // `as u32` saturates and maps NaN to 0.
        let v = (x * 10_000.0 + 0.5) as u32;
        let sign = if neg && v != 0 { "-" } else { "" };
        write!(f, "{}{}.{:04}", sign, v / 10_000, v % 10_000)
    }
}
