//! Tests of `constnet::data`: IDX and CIFAR-10 loading, normalization,
//! dataset handling, every error case, and the bundled Fashion-MNIST subset.
#![cfg(feature = "std")]

use std::io::Write;
use std::path::{Path, PathBuf};

use constnet::data::{self, DataError, Dataset, Normalize, Source, ValueDataset};

/// A fresh, empty directory under the system temp dir, unique per test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Three 2×3 images with distinct pixels, labels 0, 9, 5.
fn small_idx() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..18).map(|i| (i * 15) as u8).collect();
    (idx(data::IDX_IMAGES_MAGIC, &[3, 2, 3], &pixels), idx(data::IDX_LABELS_MAGIC, &[3], &[0, 9, 5]))
}

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

#[test]
fn idx_raw_and_gzip_detected_by_content() {
    let dir = temp_dir("idx");
    let (images, labels) = small_idx();
    // Misleading names: detection must look at the bytes, not the extension.
    let raw_x = write(&dir, "raw-images.gz", &images);
    let raw_y = write(&dir, "raw-labels.gz", &labels);
    let gz_x = write(&dir, "gz-images.idx", &gz(&images));
    let gz_y = write(&dir, "gz-labels.idx", &gz(&labels));

    let raw = data::read_idx_images(&raw_x).unwrap();
    assert_eq!((raw.count, raw.rows, raw.cols), (3, 2, 3));
    assert_eq!(raw.pixels[17], 255);
    assert_eq!(data::read_idx_labels(&gz_y).unwrap(), vec![0, 9, 5]);

    let a: Dataset<f32> = data::load_idx(&raw_x, &raw_y).unwrap();
    let b: Dataset<f32> = data::load_idx(&gz_x, &gz_y).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 3);
    assert!(!a.is_empty());
    assert_eq!(a.shape(), (2, 3, 1));
    assert_eq!((a.height(), a.width(), a.channels()), (2, 3, 1));
    assert_eq!(a.classes(), 10);
    assert_eq!(a.image_len(), 6);
    assert_eq!(a.labels(), &[0, 9, 5]);
    assert_eq!(a.label(1), 9);
    // Image 1 holds raw pixels 6..12, times 15, scaled by 1/255.
    let expected: Vec<f32> = (6..12).map(|i| (i * 15) as f32 / 255.0).collect();
    assert_eq!(a.image(1), &expected[..]);
    assert_eq!(a.image(2)[5], 1.0);
    assert_eq!(a.images().len(), 18);

    // Same bytes parsed from memory, and as f64.
    let d: Dataset<f64> = data::load_idx(&gz_x, &gz_y).unwrap();
    assert_close(d.image(0)[1], 15.0 / 255.0);
    assert_eq!(data::parse_idx_images(&gz(&images)).unwrap(), raw);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn per_image_normalization() {
    let dir = temp_dir("norm");
    let (images, labels) = small_idx();
    let x = write(&dir, "x", &images);
    let y = write(&dir, "y", &labels);
    let d: Dataset<f64> = data::load_idx_with(&x, &y, Normalize::PerImage).unwrap();
    for (image, _) in d.iter() {
        let n = image.len() as f64;
        let mean = image.iter().sum::<f64>() / n;
        let var = image.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        assert_close(mean, 0.0);
        assert_close(var, 1.0);
    }

    // Exact values.
    let v: Vec<f64> = Normalize::PerImage.apply(&[0, 255, 0, 255]);
    assert_eq!(v, vec![-1.0, 1.0, -1.0, 1.0]);
    let v: Vec<f32> = Normalize::Scale01.apply(&[0, 51, 255]);
    assert_eq!(v, vec![0.0, 0.2, 1.0]);
    // A constant image: no division by zero.
    let v: Vec<f64> = Normalize::PerImage.apply(&[7, 7, 7, 7]);
    assert_eq!(v, vec![0.0; 4]);
    // Nearly constant: std (0.433) is below 1/sqrt(4) = 0.5, which is used.
    let v: Vec<f64> = Normalize::PerImage.apply(&[0, 0, 0, 1]);
    for (a, b) in v.iter().zip([-0.5, -0.5, -0.5, 1.5]) {
        assert_close(*a, b);
    }
    assert_eq!(Normalize::default(), Normalize::Scale01);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn one_hot() {
    assert_eq!(data::one_hot::<f32, 3>(0), Some([1.0, 0.0, 0.0]));
    assert_eq!(data::one_hot::<f64, 10>(9).unwrap()[9], 1.0);
    assert_eq!(data::one_hot::<f64, 10>(9).unwrap().iter().sum::<f64>(), 1.0);
    assert_eq!(data::one_hot::<f32, 10>(10), None);
    assert_eq!(data::one_hot::<f32, 0>(0), None);
}

/// One CIFAR-10 record: all zero but red (1, 2) = 200, green (31, 0) = 100,
/// blue (0, 31) = 50.
fn cifar_record(label: u8) -> Vec<u8> {
    let mut r = vec![0u8; data::CIFAR10_RECORD];
    r[0] = label;
    r[1 + 32 + 2] = 200;
    r[1 + 1024 + 31 * 32] = 100;
    r[1 + 2048 + 31] = 50;
    r
}

#[test]
fn cifar10_planes_become_hwc() {
    let dir = temp_dir("cifar");
    let b1 = write(&dir, "data_batch_1.bin", &cifar_record(3));
    let mut second = cifar_record(9);
    second.extend(cifar_record(0));
    let b2 = write(&dir, "data_batch_2.bin", &gz(&second));

    let d: Dataset<f32> = data::load_cifar10(&[&b1, &b2]).unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d.shape(), (32, 32, 3));
    assert_eq!(d.labels(), &[3, 9, 0]);
    let at = |y: usize, x: usize, c: usize| (y * 32 + x) * 3 + c;
    for i in 0..3 {
        let image = d.image(i);
        assert_eq!(image[at(1, 2, 0)], 200.0 / 255.0);
        assert_eq!(image[at(31, 0, 1)], 100.0 / 255.0);
        assert_eq!(image[at(0, 31, 2)], 50.0 / 255.0);
        // The other channels of those pixels stay zero.
        assert_eq!(image[at(1, 2, 1)], 0.0);
        assert_eq!(image[at(31, 0, 0)], 0.0);
        assert_eq!(image[at(0, 31, 0)], 0.0);
        let nonzero = image.iter().filter(|&&v| v != 0.0).count();
        assert_eq!(nonzero, 3);
    }

    let p: Dataset<f64> = data::parse_cifar10(&cifar_record(1), Normalize::PerImage).unwrap();
    let mean = p.image(0).iter().sum::<f64>() / 3072.0;
    assert_close(mean, 0.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn idx_errors() {
    let dir = temp_dir("idx-errors");
    let (images, labels) = small_idx();
    let x = write(&dir, "x", &images);
    let y = write(&dir, "y", &labels);

    // Truncated body: the header promises 16 + 18 bytes.
    let p = write(&dir, "short", &images[..30]);
    let e = data::read_idx_images(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::Truncated { expected: 34, actual: 30 }), "{e:?}");
    assert_eq!(e.path(), Some(p.as_path()));
    assert!(e.to_string().contains("34") && e.to_string().contains("30"));
    // Truncated inside a gzip stream is still reported after decompression.
    let p = write(&dir, "short.gz", &gz(&images[..30]));
    let e = data::read_idx_images(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::Truncated { expected: 34, actual: 30 }));
    // Truncated header, truncated magic.
    let p = write(&dir, "header", &images[..10]);
    let e = data::read_idx_images(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::Truncated { expected: 16, actual: 10 }));
    let p = write(&dir, "tiny", &[0, 0]);
    let e = data::read_idx_labels(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::Truncated { expected: 4, actual: 2 }));
    // A huge count in the header is refused before anything is read
    // (tests/data_limits.rs checks the memory).
    let p = write(&dir, "huge", &idx(data::IDX_IMAGES_MAGIC, &[u32::MAX, u32::MAX, 28], &[1]));
    let e = data::read_idx_images(&p).unwrap_err();
    let declared = u64::MAX; // 2^32 * 2^32 * 28 saturates
    assert!(
        matches!(e.inner(), DataError::TooLarge { declared: Some(d), limit: data::MAX_FILE_BYTES } if *d == declared)
    );
    assert!(e.to_string().contains("1073741824"), "{e}");

    // Trailing bytes.
    let mut long = labels.clone();
    long.push(1);
    let p = write(&dir, "long", &long);
    let e = data::read_idx_labels(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::TrailingData { expected: 11 }));
    assert!(e.to_string().contains("past the 11 bytes"), "{e}");
    // The same inside a gzip stream, and after a second gzip member.
    let p = write(&dir, "long.gz", &gz(&long));
    let e = data::read_idx_labels(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::TrailingData { expected: 11 }));
    let mut two_members = gz(&labels);
    two_members.extend(gz(&[1]));
    let p = write(&dir, "two-members.gz", &two_members);
    let e = data::read_idx_labels(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::TrailingData { expected: 11 }));
    // A file split across gzip members is one stream.
    let mut split = gz(&labels[..5]);
    split.extend(gz(&labels[5..]));
    let p = write(&dir, "split.gz", &split);
    assert_eq!(data::read_idx_labels(&p).unwrap(), vec![0, 9, 5]);

    // Bad magic: labels where images are expected, and garbage.
    let e = data::read_idx_images(&y).unwrap_err();
    assert!(matches!(e.inner(), DataError::BadMagic { expected: 0x0803, found: 0x0801 }));
    assert!(e.to_string().contains("0x00000801"));
    let p = write(&dir, "text", b"hello world, not an idx file");
    let e = data::read_idx_labels(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::BadMagic { expected: 0x0801, .. }));

    // Count mismatch, blamed on the image file, naming the label file.
    let p = write(&dir, "two-labels", &idx(data::IDX_LABELS_MAGIC, &[2], &[1, 2]));
    let e = data::load_idx::<f32>(&x, &p).unwrap_err();
    assert!(matches!(e.inner(), DataError::CountMismatch { images: 3, labels: 2, labels_file } if labels_file == &p));
    assert_eq!(e.path(), Some(x.as_path()));
    assert_eq!(e.to_string(), format!("{}: 3 images, but {} holds 2 labels", x.display(), p.display()));

    // Label out of range.
    let p = write(&dir, "bad-label", &idx(data::IDX_LABELS_MAGIC, &[3], &[1, 10, 2]));
    let e = data::load_idx::<f32>(&x, &p).unwrap_err();
    assert!(matches!(e.inner(), DataError::LabelOutOfRange { index: 1, label: 10, classes: 10 }));
    assert_eq!(e.path(), Some(p.as_path()));

    // Empty: no images; zero-sized images.
    let p = write(&dir, "empty", &idx(data::IDX_IMAGES_MAGIC, &[0, 28, 28], &[]));
    let e = data::read_idx_images(&p).unwrap_err();
    assert!(matches!(e.inner(), DataError::Empty));
    let p = write(&dir, "flat", &idx(data::IDX_IMAGES_MAGIC, &[5, 0, 28], &[]));
    assert!(matches!(data::read_idx_images(&p).unwrap_err().inner(), DataError::Empty));
    let p = write(&dir, "empty-labels", &idx(data::IDX_LABELS_MAGIC, &[0], &[]));
    assert!(matches!(data::read_idx_labels(&p).unwrap_err().inner(), DataError::Empty));

    // Missing file; corrupt gzip.
    let missing = dir.join("missing");
    let e = data::read_idx_images(&missing).unwrap_err();
    match e.inner() {
        DataError::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&e).is_some());
    assert!(e.to_string().contains("missing"));
    let p = write(&dir, "corrupt.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6]);
    assert!(matches!(data::read_idx_images(&p).unwrap_err().inner(), DataError::Io(_)));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cifar10_errors() {
    let dir = temp_dir("cifar-errors");
    let mut odd = cifar_record(1);
    odd.push(0);
    let p = write(&dir, "odd.bin", &odd);
    let e = data::load_cifar10::<f32, _>(&[&p]).unwrap_err();
    assert!(matches!(e.inner(), DataError::PartialRecord { len: 3074, record: 3073 }), "{e:?}");
    assert_eq!(e.path(), Some(p.as_path()));
    assert!(e.to_string().contains("3074"));

    let mut bad = cifar_record(2);
    bad.extend(cifar_record(10));
    let p = write(&dir, "bad.bin", &bad);
    let e = data::load_cifar10::<f32, _>(&[&p]).unwrap_err();
    assert!(matches!(e.inner(), DataError::LabelOutOfRange { index: 1, label: 10, classes: 10 }));

    let p = write(&dir, "empty.bin", &[]);
    let e = data::load_cifar10::<f32, _>(&[&p]).unwrap_err();
    assert!(matches!(e.inner(), DataError::Empty));
    assert_eq!(e.path(), Some(p.as_path()));
    // An empty file among good ones is still an error.
    let good = write(&dir, "good.bin", &cifar_record(4));
    let e = data::load_cifar10::<f32, _>(&[&good, &p]).unwrap_err();
    assert_eq!(e.path(), Some(p.as_path()));
    let none: [&Path; 0] = [];
    assert!(matches!(data::load_cifar10::<f32, _>(&none), Err(DataError::Empty)));
    assert!(matches!(
        data::parse_cifar10::<f32>(&[1, 2, 3], Normalize::Scale01),
        Err(DataError::PartialRecord { len: 3, .. })
    ));
    let e = data::load_cifar10::<f32, _>(&[dir.join("nope.bin")]).unwrap_err();
    assert!(matches!(e.inner(), DataError::Io(_)));
    let _ = std::fs::remove_dir_all(dir);
}

/// Every error about a file names it: in `path()` and in the message.
#[test]
fn every_file_error_names_the_file() {
    let dir = temp_dir("names");
    let (images, labels) = small_idx();
    let x = write(&dir, "x", &images);
    let y = write(&dir, "y", &labels);
    let mut long = labels.clone();
    long.push(0);
    let bad_label = {
        let mut r = cifar_record(0);
        r[0] = 10;
        r
    };
    let case = |name: &str, bytes: &[u8]| write(&dir, name, bytes);
    let idx_cases: Vec<(PathBuf, DataError)> = [
        ("truncated", images[..20].to_vec()),
        ("header", images[..6].to_vec()),
        ("magic", labels.clone()),
        ("trailing", {
            let mut v = images.clone();
            v.push(0);
            v
        }),
        ("too-large", idx(data::IDX_IMAGES_MAGIC, &[u32::MAX, 28, 28], &[])),
        ("empty", idx(data::IDX_IMAGES_MAGIC, &[0, 28, 28], &[])),
        ("corrupt.gz", vec![0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6]),
    ]
    .into_iter()
    .map(|(name, bytes)| {
        let p = case(name, &bytes);
        let e = data::read_idx_images(&p).unwrap_err();
        (p, e)
    })
    .collect();
    let missing = dir.join("missing");
    let two = case("two-labels", &idx(data::IDX_LABELS_MAGIC, &[2], &[1, 2]));
    let label_10 = case("label-10", &idx(data::IDX_LABELS_MAGIC, &[3], &[1, 10, 2]));
    let trailing_labels = case("trailing-labels.gz", &gz(&long));
    let cifar_empty = case("empty.bin", &[]);
    let cifar_partial = case("partial.bin", &[1, 2, 3]);
    let cifar_label = case("label.bin", &bad_label);
    let mut cases = idx_cases;
    cases.extend([
        (missing.clone(), data::read_idx_images(&missing).unwrap_err()),
        (missing.clone(), data::read_idx_labels(&missing).unwrap_err()),
        (missing.clone(), data::load_idx::<f32>(&missing, &y).unwrap_err()),
        (missing.clone(), data::load_idx::<f32>(&x, &missing).unwrap_err()),
        (x.clone(), data::load_idx::<f32>(&x, &two).unwrap_err()),
        (label_10.clone(), data::load_idx::<f32>(&x, &label_10).unwrap_err()),
        (trailing_labels.clone(), data::load_idx::<f32>(&x, &trailing_labels).unwrap_err()),
        (missing.clone(), data::load_cifar10::<f32, _>(&[&missing]).unwrap_err()),
        (cifar_empty.clone(), data::load_cifar10::<f32, _>(&[&cifar_empty]).unwrap_err()),
        (cifar_partial.clone(), data::load_cifar10::<f32, _>(&[&cifar_partial]).unwrap_err()),
        (cifar_label.clone(), data::load_cifar10::<f32, _>(&[&cifar_label]).unwrap_err()),
        (missing.clone(), data::read_maybe_gz(&missing, 10).unwrap_err()),
        (x.clone(), data::read_maybe_gz(&x, 10).unwrap_err()),
    ]);
    for (path, e) in &cases {
        assert_eq!(e.path(), Some(path.as_path()), "{e:?}");
        let shown = path.display().to_string();
        assert!(e.to_string().starts_with(&format!("{shown}: ")), "{e}");
        assert_eq!(e.to_string().matches(&shown).count(), 1, "named once: {e}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn toy(n: usize) -> Dataset<f32> {
    let images: Vec<f32> = (0..n * 2).map(|i| i as f32).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    Dataset::new(images, labels, (1, 2, 1), 3).unwrap()
}

#[test]
fn dataset_handling() {
    let d = toy(10);
    assert_eq!(d.class_counts(), vec![4, 3, 3]);
    assert_eq!(d.get(3), Some((&[6.0, 7.0][..], 0)));
    assert_eq!(d.get(10), None);
    assert_eq!(d.iter().len(), 10);
    assert_eq!(d.iter().nth(9), Some((&[18.0, 19.0][..], 0)));

    let s = d.subset(2..5);
    assert_eq!(s.len(), 3);
    assert_eq!(s.image(0), &[4.0, 5.0]);
    assert_eq!(s.labels(), &[2, 0, 1]);
    assert_eq!(d.subset(8..100).len(), 2);
    assert_eq!(d.subset(..).len(), 10);
    assert!(d.subset(20..).is_empty());

    let picked = d.select(&[9, 0, 9]).unwrap();
    assert_eq!(picked.images(), &[18.0, 19.0, 0.0, 1.0, 18.0, 19.0]);
    assert!(d.select(&[10]).is_none());

    let (a, b) = d.clone().split(7);
    assert_eq!((a.len(), b.len()), (7, 3));
    assert_eq!(b.image(0), &[14.0, 15.0]);
    assert_eq!(b.shape(), d.shape());
    let (a, b) = d.clone().split(99);
    assert_eq!((a.len(), b.len()), (10, 0));

    let (train, val) = d.clone().split_validation(0.25);
    assert_eq!((train.len(), val.len()), (7, 3)); // round(2.5) = 3
    let (train, val) = d.clone().split_validation(0.2);
    assert_eq!((train.len(), val.len()), (8, 2));
    assert_eq!(val.label(0), d.label(8));
    let (train, val) = d.clone().split_validation(f64::NAN);
    assert_eq!((train.len(), val.len()), (10, 0));
    let (train, val) = d.split_validation(7.0);
    assert_eq!((train.len(), val.len()), (0, 10));

    // Constructor checks.
    assert!(matches!(
        Dataset::<f32>::new(vec![0.0; 5], vec![0, 1], (1, 2, 1), 3),
        Err(DataError::SizeMismatch { expected: 4, actual: 5 })
    ));
    assert!(matches!(
        Dataset::<f32>::new(vec![0.0; 4], vec![0, 3], (1, 2, 1), 3),
        Err(DataError::LabelOutOfRange { index: 1, label: 3, classes: 3 })
    ));
    assert!(matches!(Dataset::<f32>::new(vec![], vec![], (0, 2, 1), 3), Err(DataError::Empty)));
    assert!(Dataset::<f32>::new(vec![], vec![], (1, 2, 1), 3).unwrap().is_empty());
    let u = Dataset::<f32>::from_u8(&[0, 255, 51, 0], vec![1, 0], (1, 2, 1), 2, Normalize::Scale01).unwrap();
    assert_eq!(u.images(), &[0.0, 1.0, 0.2, 0.0]);
    assert!(format!("{u:?}").contains("len: 2"));
}

#[test]
fn value_dataset_handling() {
    // Four 1x2 images, targets of 3 values: image i is (2i, 2i + 1), its
    // target (10i, 10i + 1, 10i + 2).
    let images: Vec<f32> = (0..8).map(|i| i as f32).collect();
    let targets: Vec<f32> =
        (0..4).flat_map(|i| [10.0 * i as f32, 10.0 * i as f32 + 1.0, 10.0 * i as f32 + 2.0]).collect();
    let d = ValueDataset::with_values(images, targets, (1, 2, 1), 3).unwrap();
    assert_eq!((d.len(), d.shape(), d.image_len(), d.target_len()), (4, (1, 2, 1), 2, 3));
    assert_eq!(d.image(2), &[4.0, 5.0]);
    assert_eq!(d.target(2), &[20.0, 21.0, 22.0]);
    assert_eq!(d.targets().len(), 12);
    assert!(format!("{d:?}").contains("len: 4") && format!("{d:?}").contains("Values { len: 3"));

    let s = d.subset(1..3);
    assert_eq!((s.images(), s.targets()), (&[2.0, 3.0, 4.0, 5.0][..], &[10.0, 11.0, 12.0, 20.0, 21.0, 22.0][..]));
    let picked = d.select(&[3, 0]).unwrap();
    assert_eq!(picked.target(0), &[30.0, 31.0, 32.0]);
    assert_eq!(picked.image(1), &[0.0, 1.0]);
    assert!(d.select(&[4]).is_none());
    assert!(d.select(&[usize::MAX]).is_none());
    let (train, val) = d.clone().split_validation(0.25);
    assert_eq!((train.len(), val.len()), (3, 1));
    assert_eq!((val.image(0), val.target(0)), (&[6.0, 7.0][..], &[30.0, 31.0, 32.0][..]));
    let (a, b) = d.split(9);
    assert_eq!((a.len(), b.len(), b.target_len()), (4, 0, 3));

    // Constructor checks.
    let e = ValueDataset::<f32>::with_values(vec![0.0; 4], vec![0.0; 5], (1, 2, 1), 3).unwrap_err();
    assert!(matches!(e, DataError::PartialTarget { values: 5, target_len: 3 }), "{e:?}");
    assert_eq!(e.to_string(), "5 target values are not a whole number of 3-value targets");
    let e = ValueDataset::<f32>::with_values(vec![0.0; 5], vec![0.0; 6], (1, 2, 1), 3).unwrap_err();
    assert!(matches!(e, DataError::SizeMismatch { expected: 4, actual: 5 }), "{e:?}");
    let e = ValueDataset::<f32>::with_values(vec![], vec![], (1, 2, 1), 0).unwrap_err();
    assert!(matches!(e, DataError::Empty));
    assert!(ValueDataset::<f32>::with_values(vec![], vec![], (1, 2, 1), 1).unwrap().is_empty());
}

#[test]
fn bundled_fashion_mnist_subset() {
    let fm = data::fashion_mnist_bundled::<f32>().unwrap();
    assert!(matches!(fm.source, Source::Bundled(_)));
    assert!(fm.source.to_string().contains("bundled"));
    assert_eq!(fm.source.path(), Path::new(data::BUNDLED_FASHION_MNIST_DIR));
    assert_eq!(fm.train.len(), 6000);
    assert_eq!(fm.test.len(), 1000);
    for d in [&fm.train, &fm.test] {
        assert_eq!(d.shape(), (28, 28, 1));
        assert_eq!(d.classes(), 10);
        assert!(d.labels().iter().all(|&l| l < 10));
        assert!(d.images().iter().all(|&p| (0.0..=1.0).contains(&p)));
        assert_eq!(d.images().iter().copied().fold(f32::MIN, f32::max), 1.0);
        assert_eq!(d.images().iter().copied().fold(f32::MAX, f32::min), 0.0);
        // Images are not blank: mean ink of Fashion-MNIST is about 0.29.
        let mean = d.images().iter().sum::<f32>() / d.images().len() as f32;
        assert!((0.2..0.4).contains(&mean), "{mean}");
    }
    // As documented in data/fashion-mnist-subset/README.md.
    assert_eq!(fm.train.class_counts(), vec![560, 643, 608, 612, 584, 594, 590, 617, 590, 602]);
    assert_eq!(fm.test.class_counts(), vec![107, 105, 111, 93, 115, 87, 97, 95, 95, 95]);
    // The first training image of Fashion-MNIST is an ankle boot.
    assert_eq!(fm.train.label(0), 9);

    // The explicit-directory path reads the same files.
    let dir = Path::new(data::BUNDLED_FASHION_MNIST_DIR);
    let again = data::fashion_mnist::<f32>(Some(dir)).unwrap();
    assert_eq!(again.source, Source::Dir(dir.to_path_buf()));
    assert_eq!(again.test, fm.test);

    let e = data::fashion_mnist::<f32>(Some(Path::new("/nonexistent/constnet"))).unwrap_err();
    assert!(matches!(e.inner(), DataError::Io(_)));
    assert!(e.path().is_some());
}
