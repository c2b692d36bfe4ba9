//! The data the firmware (`firmware-example/`) embeds stays in step with the
//! library, and weight blobs that are wrong in every way the loader knows are
//! refused, on the host.
//!
//! `firmware-example/model/` is written by
//! `cargo run --release --features std --example firmware_data`; the firmware
//! checks its outputs against `host_outputs.bin`. Here the host recomputes
//! those outputs from the committed weights and images, with both ways of
//! using weights ([`constnet::view`] and [`constnet::load_into`]), and they
//! must match bit for bit: if a library change alters the arithmetic, this
//! test says to regenerate the files (and the firmware check stays honest).
#![cfg(feature = "std")]

use std::path::{Path, PathBuf};

use constnet::persist::{self, reseal, saved_len, Aligned, LoadError, HEADER_LEN, TRAILER_LEN};
use constnet::zoo::{Lenet, SmallConvNet};
use constnet::{load_into, view, Model, Tensor};

type Net = Lenet<f32>;
const SAMPLES: usize = 300;
const PIXELS: usize = 28 * 28;
const CLASSES: usize = 10;
const BLOB_LEN: usize = saved_len::<f32, Net>();
const REGENERATE: &str = "regenerate with `cargo run --release --features std --example firmware_data`";

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware-example/model")
}

fn read(name: &str) -> Vec<u8> {
    let path = model_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} ({REGENERATE})", path.display()))
}

/// The committed weight blob in 16-byte-aligned storage (as the firmware's
/// `static W: Aligned<[u8; N]>`), so that `view` can use it in place.
fn aligned_blob() -> Box<Aligned<[u8; BLOB_LEN]>> {
    let bytes = read("lenet.postcard");
    assert_eq!(bytes.len(), BLOB_LEN, "lenet.postcard has the wrong length; {REGENERATE}");
    let mut b = Box::new(Aligned([0u8; BLOB_LEN]));
    b.0.copy_from_slice(&bytes);
    b
}

/// `bytes` copied into aligned storage, then offset by `shift` bytes.
struct Shifted {
    buf: Vec<u128>,
    shift: usize,
    len: usize,
}

impl Shifted {
    fn new(bytes: &[u8], shift: usize) -> Self {
        let mut buf = vec![0u128; (bytes.len() + shift).div_ceil(16)];
        // SAFETY: u128 storage viewed as bytes, within its length.
        let raw = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), buf.len() * 16) };
        raw[shift..shift + bytes.len()].copy_from_slice(bytes);
        Self { buf, shift, len: bytes.len() }
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: as in `new`.
        let raw = unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.buf.len() * 16) };
        &raw[self.shift..self.shift + self.len]
    }
}

/// The library's `Normalize::Scale01` for one pixel (what the firmware's
/// compile-time table holds).
fn scale(p: u8) -> f32 {
    (f64::from(p) / 255.0) as f32
}

fn input(pixels: &[u8]) -> <Net as Model<f32>>::Input {
    let mut x = <<Net as Model<f32>>::Input as Tensor<f32>>::zeroed();
    for (v, &p) in x.as_flat_mut().iter_mut().zip(pixels) {
        *v = scale(p);
    }
    x
}

fn host_outputs() -> Vec<[f32; CLASSES]> {
    let bytes = read("host_outputs.bin");
    assert_eq!(bytes.len(), SAMPLES * CLASSES * 4, "host_outputs.bin: wrong length; {REGENERATE}");
    bytes
        .chunks_exact(CLASSES * 4)
        .map(|o| std::array::from_fn(|k| f32::from_le_bytes(o[4 * k..4 * k + 4].try_into().unwrap())))
        .collect()
}

/// Recomputes every output with `model` and compares bits.
fn check_outputs(model: &Net, how: &str) {
    let images = read("images.bin");
    assert_eq!(images.len(), SAMPLES * PIXELS, "images.bin: wrong length; {REGENERATE}");
    let expected = host_outputs();
    let mut ws = <Net as Model<f32>>::Workspace::new();
    for (i, (pixels, want)) in images.chunks_exact(PIXELS).zip(&expected).enumerate() {
        let got = model.predict(&input(pixels), &mut ws);
        let same = got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "image {i} ({how}): the library now computes {got:?}, host_outputs.bin holds {want:?}; {REGENERATE}"
        );
    }
}

/// The softmax that ends the model must shift by the largest of *all* its
/// inputs. Compiled for x86-64 with `+avx2,+fma` (the AVX2 build of
/// `constnet::cpu`, and every host build when `.cargo/config.toml` set them),
/// rustc 1.95 / LLVM 22 vectorizes the `fold(-inf, f32::max)` over a group of
/// 10 and skips the last two elements when none is NaN (LLVM's loop
/// vectorizer bypassing the scalar epilogue of a maxnum reduction,
/// llvm/llvm-project#209159): a logit of class 8 or 9 far above the others
/// then overflows `exp` and the output is NaN. The firmware (Cortex-M4) is not
/// affected. Checked as this test compiles it (the x86-64 baseline), and in
/// a convolution's softmax over its filters, which runs in the AVX2 build
/// where the CPU has it.
#[test]
fn softmax_shifts_by_the_largest_input_of_every_class() {
    use constnet::{Activation, Softmax};
    constnet::sequential! {
        /// One pixel in, softmax over ten filters.
        struct PixelSoftmax: [1, 1, 1] { c: Conv2d<10, 1> => Softmax }
    }
    let check = |z: &[f32; CLASSES], k: usize, how: &str| {
        assert!(
            z.iter().all(|v| v.is_finite()) && (z[k] - 1.0).abs() < 1e-6,
            "{how}: softmax of 100 at class {k}, 0 elsewhere: {z:?} (the max skipped some inputs)"
        );
    };
    for k in 0..CLASSES {
        let mut z = [0.0f32; CLASSES];
        z[k] = 100.0;
        Softmax::apply(&mut z, CLASSES);
        check(&z, k, "Softmax::apply");
        let mut conv: PixelSoftmax = constnet::zeroed();
        conv.c.weight[0][0][0][k] = 100.0;
        let mut ws = constnet::Workspace::new();
        check(&conv.predict(&[[[1.0]]], &mut ws)[0][0], k, "Conv2d<10, 1> => Softmax");
    }
}

#[test]
fn committed_files_have_the_expected_shape() {
    let blob = read("lenet.postcard");
    assert_eq!(blob.len(), BLOB_LEN);
    assert_eq!(BLOB_LEN, HEADER_LEN + 82_088 + TRAILER_LEN);
    assert_eq!(blob[4], persist::FORMAT_VERSION, "lenet.postcard: format version; {REGENERATE}");
    let (body, trailer) = blob.split_at(BLOB_LEN - TRAILER_LEN);
    assert_eq!(trailer, crc32fast::hash(body).to_le_bytes(), "lenet.postcard: CRC-32 trailer (zlib's)");
    assert_eq!(read("images.bin").len(), SAMPLES * PIXELS);
    let labels = read("labels.bin");
    assert_eq!(labels.len(), SAMPLES);
    assert!(labels.iter().all(|&l| usize::from(l) < CLASSES));
    assert_eq!(read("host_outputs.bin").len(), SAMPLES * CLASSES * 4);
}

#[test]
fn committed_images_and_labels_are_the_bundled_test_set() {
    let sets = constnet::data::fashion_mnist_bundled::<f32>().unwrap();
    let images = read("images.bin");
    let labels = read("labels.bin");
    for i in 0..SAMPLES {
        assert_eq!(sets.test.label(i), labels[i], "label {i}");
        let x = input(&images[i * PIXELS..(i + 1) * PIXELS]);
        let same = x.as_flat().iter().zip(sets.test.image(i)).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "image {i}: raw pixels scaled as the firmware does differ from the loader's values");
    }
}

/// The firmware may scale a pixel either through its table (f64 division,
/// rounded to f32, as the loader) or by an f32 division: both give the same
/// bits for every byte.
#[test]
fn pixel_scaling_in_f32_equals_the_loaders_f64_scaling() {
    for p in 0..=255u8 {
        assert_eq!(scale(p).to_bits(), (f32::from(p) / 255.0).to_bits(), "pixel {p}");
    }
}

#[test]
fn view_reproduces_the_committed_host_outputs_bit_for_bit() {
    let blob = aligned_blob();
    let model = view::<f32, Net>(&blob.0).expect("the committed weights load");
    check_outputs(model, "view");
}

#[test]
fn load_into_reproduces_the_committed_host_outputs_bit_for_bit() {
    let blob = read("lenet.postcard");
    let mut model: Box<Net> = Box::new(constnet::zeroed());
    load_into(&blob, &mut *model).expect("the committed weights load");
    check_outputs(&model, "load_into");
    // And saving it again gives the same bytes.
    assert_eq!(persist::to_vec(&*model), blob);
}

#[test]
fn truncated_blobs_are_refused() {
    let blob = aligned_blob();
    let mut model: Box<Net> = Box::new(constnet::zeroed());
    for len in [0, 1, 4, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 4, BLOB_LEN - 4, BLOB_LEN - 1] {
        let bytes = &blob.0[..len];
        let want = LoadError::Truncated { expected: BLOB_LEN, actual: len };
        assert_eq!(view::<f32, Net>(bytes).err(), Some(want), "view, {len} bytes");
        assert_eq!(load_into(bytes, &mut *model), Err(want), "load_into, {len} bytes");
    }
}

#[test]
fn a_blob_with_trailing_bytes_is_refused() {
    let mut bytes = read("lenet.postcard");
    bytes.extend_from_slice(&[0; 4]);
    let want = LoadError::TrailingBytes { expected: BLOB_LEN, actual: BLOB_LEN + 4 };
    let shifted = Shifted::new(&bytes, 0);
    assert_eq!(view::<f32, Net>(shifted.bytes()).err(), Some(want));
    let mut model: Box<Net> = Box::new(constnet::zeroed());
    assert_eq!(load_into(&bytes, &mut *model), Err(want));
}

#[test]
fn weights_of_another_architecture_are_refused() {
    let lenet_fp = <Net as Model<f32>>::FINGERPRINT;
    let small_fp = <SmallConvNet<f32> as Model<f32>>::FINGERPRINT;
    assert_ne!(lenet_fp, small_fp);

    // A real SmallConvNet blob offered to a Lenet (and the other way round).
    let small: Box<SmallConvNet<f32>> = Box::new(SmallConvNet::new(7));
    let small_blob = Shifted::new(&persist::to_vec(&*small), 0);
    let want = LoadError::WrongArchitecture { expected: lenet_fp, found: small_fp };
    assert_eq!(view::<f32, Net>(small_blob.bytes()).err(), Some(want));
    let mut model: Box<Net> = Box::new(constnet::zeroed());
    assert_eq!(load_into(small_blob.bytes(), &mut *model), Err(want));

    let blob = aligned_blob();
    let want = LoadError::WrongArchitecture { expected: small_fp, found: lenet_fp };
    assert_eq!(view::<f32, SmallConvNet<f32>>(&blob.0).err(), Some(want));

    // The Lenet blob with one bit of the header's fingerprint flipped is
    // corrupted; with the checksum recomputed, it claims another architecture.
    let mut bytes = blob.0.to_vec();
    bytes[8] ^= 1;
    let shifted = Shifted::new(&bytes, 0);
    assert!(matches!(view::<f32, Net>(shifted.bytes()), Err(LoadError::ChecksumMismatch { .. })));
    assert!(matches!(load_into(&bytes, &mut *model), Err(LoadError::ChecksumMismatch { .. })));
    reseal(&mut bytes);
    let found = lenet_fp ^ 1;
    let want = LoadError::WrongArchitecture { expected: lenet_fp, found };
    let shifted = Shifted::new(&bytes, 0);
    assert_eq!(view::<f32, Net>(shifted.bytes()).err(), Some(want));
    assert_eq!(load_into(&bytes, &mut *model), Err(want));

    // f64 weights of the same layers: the scalar size is checked first.
    let wide: Box<Lenet<f64>> = Box::new(Lenet::new(1));
    let wide_blob = persist::to_vec(&*wide);
    let want = LoadError::ScalarMismatch { expected: 4, found: 8 };
    assert_eq!(load_into(&wide_blob, &mut *model), Err(want));
}

#[test]
fn garbage_is_refused() {
    let mut model: Box<Net> = Box::new(constnet::zeroed());
    let images = read("images.bin");
    let garbage = Shifted::new(&images[..BLOB_LEN], 0);
    assert_eq!(view::<f32, Net>(garbage.bytes()).err(), Some(LoadError::BadMagic));
    assert_eq!(load_into(garbage.bytes(), &mut *model), Err(LoadError::BadMagic));
    // Text, and the right magic with a wrong version.
    let text = b"this is not a constnet weight blob, it is just some text.".repeat(2000);
    assert_eq!(load_into(&text[..BLOB_LEN], &mut *model), Err(LoadError::BadMagic));
    let mut bytes = read("lenet.postcard");
    bytes[4] = 9;
    assert_eq!(load_into(&bytes, &mut *model), Err(LoadError::UnsupportedVersion { found: 9, expected: 2 }));
}

/// The committed blob as format version 1 wrote it (no trailer, 1 at byte
/// 4): refused with an error naming both versions.
#[test]
fn the_version_1_blob_is_refused() {
    let mut v1 = read("lenet.postcard");
    v1.truncate(BLOB_LEN - TRAILER_LEN);
    v1[4] = 1;
    let want = LoadError::UnsupportedVersion { found: 1, expected: 2 };
    let shifted = Shifted::new(&v1, 0);
    assert_eq!(view::<f32, Net>(shifted.bytes()).err(), Some(want));
    let mut model: Box<Net> = Box::new(constnet::zeroed());
    assert_eq!(load_into(&v1, &mut *model), Err(want));
}

/// Flipped bits of the committed blob: every bit of the header and the
/// trailer and one bit in every 41st byte of the weights (2,003 in the
/// weights, 2,163 in all; `tests/persist.rs` flips every bit of a small
/// model's blob). None loads, through either function, and `load_into`
/// leaves the model untouched.
#[test]
fn flipped_bits_of_the_committed_blob_are_refused() {
    let good = aligned_blob();
    let mut bytes = aligned_blob();
    let weights = HEADER_LEN..BLOB_LEN - TRAILER_LEN;
    let mut model: Box<Net> = Box::new(Lenet::new(3));
    let before = constnet::Params::<f32>::flat(&*model).to_vec();
    let mut flips = 0;
    let header_and_trailer =
        (0..HEADER_LEN).chain(weights.end..BLOB_LEN).flat_map(|at| (0..8).map(move |bit| (at, bit)));
    let in_weights = weights.clone().step_by(41).map(|at| (at, at % 8));
    for (at, bit) in header_and_trailer.chain(in_weights) {
        bytes.0[at] ^= 1 << bit;
        let e = view::<f32, Net>(&bytes.0).err();
        assert!(e.is_some(), "view loaded the blob with bit {bit} of byte {at} flipped");
        assert_eq!(load_into(&bytes.0, &mut *model).err(), e, "bit {bit} of byte {at}");
        if at >= 6 {
            assert!(matches!(e, Some(LoadError::ChecksumMismatch { .. })), "bit {bit} of byte {at}: {e:?}");
        }
        bytes.0[at] = good.0[at];
        flips += 1;
    }
    assert_eq!(flips, 8 * (HEADER_LEN + TRAILER_LEN) + 2_003);
    assert!(constnet::Params::<f32>::flat(&*model) == &before[..], "load_into changed the model");
}

#[test]
fn a_non_finite_weight_is_refused_and_load_into_leaves_the_model_untouched() {
    let good = read("lenet.postcard");
    let n = <Net as constnet::Params<f32>>::LEN;
    for (index, bad) in [(0, f32::NAN), (1234, f32::INFINITY), (n - 1, f32::NEG_INFINITY)] {
        let mut bytes = good.clone();
        let at = HEADER_LEN + 4 * index;
        bytes[at..at + 4].copy_from_slice(&bad.to_le_bytes());
        reseal(&mut bytes); // else the checksum refuses it first
        let want = LoadError::NonFinite { index };
        let shifted = Shifted::new(&bytes, 0);
        assert_eq!(view::<f32, Net>(shifted.bytes()).err(), Some(want), "view, weight {index} = {bad}");
        let mut model: Box<Net> = Box::new(Lenet::new(3));
        let before = constnet::Params::<f32>::flat(&*model).to_vec();
        assert_eq!(load_into(&bytes, &mut *model), Err(want), "load_into, weight {index} = {bad}");
        assert!(
            constnet::Params::<f32>::flat(&*model) == &before[..],
            "load_into must leave the model untouched after an error"
        );
    }
}

#[test]
fn a_misaligned_view_is_refused() {
    let bytes = read("lenet.postcard");
    for shift in [1, 2, 3, 5] {
        let shifted = Shifted::new(&bytes, shift);
        assert_eq!(view::<f32, Net>(shifted.bytes()).err(), Some(LoadError::Misaligned), "offset {shift}");
        // load_into copies, so alignment does not matter to it.
        let mut model: Box<Net> = Box::new(constnet::zeroed());
        assert_eq!(load_into(shifted.bytes(), &mut *model), Ok(()), "load_into at offset {shift}");
    }
    // Aligned to 4 but not to 16 is enough for f32 weights.
    let shifted = Shifted::new(&bytes, 4);
    assert!(view::<f32, Net>(shifted.bytes()).is_ok());
}
