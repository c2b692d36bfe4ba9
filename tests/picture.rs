//! Tests of `constnet::picture`: every picture kind is written, decoded back
//! with the `png` crate and checked pixel by pixel where it matters.
#![cfg(feature = "std")]

use std::path::{Path, PathBuf};

use constnet::picture::{self, ChartOptions, Curve, GridOptions, PictureError, TileRange, PALETTE};

/// A fresh, empty directory under the system temp dir, unique per test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-picture-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A decoded 8-bit PNG.
struct Decoded {
    width: u32,
    height: u32,
    channels: usize,
    data: Vec<u8>,
}

impl Decoded {
    fn px(&self, x: u32, y: u32) -> &[u8] {
        let i = (y * self.width + x) as usize * self.channels;
        &self.data[i..i + self.channels]
    }
}

fn decode(path: &Path) -> Decoded {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut data = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut data).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected colour type {other:?}"),
    };
    data.truncate(info.buffer_size());
    Decoded { width: info.width, height: info.height, channels, data }
}

#[test]
fn conv_filters_layout_and_range() {
    let dir = temp_dir("filters");
    let (kh, kw, c_in, filters) = (5, 5, 2, 3);
    let at = |y: usize, x: usize, c: usize, f: usize| ((y * kw + x) * c_in + c) * filters + f;

    // Increasing weights: every tile's max is its bottom-right value.
    let weights: Vec<f32> = (0..kh * kw * c_in * filters).map(|i| i as f32 * 0.01 - 0.5).collect();
    let path = dir.join("ramp.png");
    picture::write_conv_filters(&path, &weights, kh, kw, c_in, filters).unwrap();
    let img = decode(&path);
    // Default: one row per filter, one column per input channel, 12x scale
    // (5 * 12 = 60 px per tile), 1-pixel separators around and between.
    assert_eq!(img.channels, 1);
    assert_eq!((img.width, img.height), (2 * 61 + 1, 3 * 61 + 1));
    assert_eq!(img.px(0, 0), [128]); // separator
    assert_eq!(img.px(61, 30), [128]);
    for f in 0..3u32 {
        for c in 0..2u32 {
            let (x0, y0) = (1 + c * 61, 1 + f * 61);
            assert_eq!(img.px(x0, y0), [0], "tile min is black");
            assert_eq!(img.px(x0 + 59, y0 + 59), [255], "tile max is white");
            assert_eq!(img.px(x0 + 48, y0 + 48), [255], "scaled nearest");
        }
    }

    // One hot weight: only tile (filter 2, channel 1), pixel (y 2, x 3) lights up.
    let mut weights = vec![0.0f64; kh * kw * c_in * filters];
    weights[at(2, 3, 1, 2)] = 1.0;
    let path = dir.join("spot.png");
    picture::write_conv_filters(&path, &weights, kh, kw, c_in, filters).unwrap();
    let img = decode(&path);
    let (x0, y0) = (1 + 61, 1 + 2 * 61);
    let white: Vec<(u32, u32)> = (0..img.height)
        .flat_map(|y| (0..img.width).map(move |x| (x, y)))
        .filter(|&(x, y)| img.px(x, y) == [255])
        .collect();
    assert_eq!(white.len(), 12 * 12);
    assert!(white.contains(&(x0 + 3 * 12, y0 + 2 * 12)));
    assert!(white.contains(&(x0 + 3 * 12 + 11, y0 + 2 * 12 + 11)));

    // Single input channel: a near-square grid; explicit options respected.
    let weights = vec![0.5f32; 3 * 3 * 8];
    let path = dir.join("c1.png");
    let options = GridOptions { scale: Some(2), separator: 40, ..GridOptions::default() };
    picture::write_conv_filters_with(&path, &weights, 3, 3, 1, 8, &options).unwrap();
    let img = decode(&path);
    assert_eq!((img.width, img.height), (3 * 7 + 1, 3 * 7 + 1));
    assert_eq!(img.px(0, 0), [40]);
    assert_eq!(img.px(1, 1), [0], "constant tiles are black");
    assert_eq!(img.px(20, 20), [40], "unused cell keeps the separator");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn feature_maps_one_tile_per_channel() {
    let dir = temp_dir("maps");
    let (h, w, c) = (4, 3, 5);
    let mut act = vec![0.0f32; h * w * c];
    // Channel ch holds value ch at every pixel, except a spike in channel 2.
    for (i, v) in act.iter_mut().enumerate() {
        *v = (i % c) as f32;
    }
    act[(w + 2) * c + 2] = 9.0; // (y 1, x 2, channel 2)
    act[c + 4] = -3.0; // (y 0, x 1, channel 4)
    let path = dir.join("maps.png");
    picture::write_feature_maps(&path, &act, h, w, c).unwrap();
    let img = decode(&path);
    // 5 tiles -> 3 columns, 2 rows; scale 64 / 4 = 16.
    assert_eq!((img.width, img.height), (3 * 49 + 1, 2 * 65 + 1));
    // Tile 2 (row 0, column 2): the spike is white, the rest black.
    let (x0, y0) = (1 + 2 * 49, 1);
    assert_eq!(img.px(x0 + 2 * 16, y0 + 16), [255]);
    assert_eq!(img.px(x0 + 2 * 16 + 15, y0 + 16 + 15), [255]);
    assert_eq!(img.px(x0, y0), [0]);
    // Tile 4 (row 1, column 1): the dip is black, the rest white.
    let (x0, y0) = (1 + 49, 1 + 65);
    assert_eq!(img.px(x0 + 16, y0), [0]);
    assert_eq!(img.px(x0, y0), [255]);
    assert_eq!(img.px(x0 + 47, y0 + 63), [255]);

    // Shared range over all channels: channel 1 (all 1.0) is grey.
    let path = dir.join("shared.png");
    let options = GridOptions { range: TileRange::Shared, ..GridOptions::default() };
    picture::write_feature_maps_with(&path, &act, h, w, c, &options).unwrap();
    let img = decode(&path);
    let expected = ((1.0 + 3.0) / 12.0 * 255.0f64).round() as u8;
    assert_eq!(img.px(1 + 49, 1), [expected]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn gray_grid_ranges() {
    let dir = temp_dir("grid");
    let a = [0.0f64, 1.0, 2.0, 3.0];
    let b = [0.0f64, 0.0, f64::NAN, 6.0];
    let tiles: [&[f64]; 2] = [&a, &b];
    let run = |range: TileRange, name: &str| {
        let path = dir.join(name);
        let options = GridOptions { cols: Some(2), scale: Some(1), range, separator: 77 };
        picture::write_gray_grid(&path, &tiles, 2, 2, &options).unwrap();
        decode(&path)
    };
    // Layout: | a0 a1 | b0 b1 |  over  | a2 a3 | b2 b3 |, 7 x 4 pixels.
    let img = run(TileRange::PerTile, "per-tile.png");
    assert_eq!((img.width, img.height), (7, 4));
    assert_eq!(img.px(0, 0), [77]);
    assert_eq!(img.px(2, 2), [255]); // a3
    assert_eq!(img.px(1, 1), [0]); // a0
    assert_eq!(img.px(2, 1), [85]); // a1 = 1/3
    assert_eq!(img.px(5, 2), [255]); // b3
    assert_eq!(img.px(4, 2), [0]); // b2 = NaN is black

    let img = run(TileRange::Shared, "shared.png");
    assert_eq!(img.px(2, 2), [128]); // a3 = 3 of 0..6
    assert_eq!(img.px(5, 2), [255]);

    let img = run(TileRange::Fixed { min: 1.0, max: 2.0 }, "fixed.png");
    assert_eq!(img.px(1, 1), [0]); // a0 clamped
    assert_eq!(img.px(1, 2), [255]); // a2 = 2
    assert_eq!(img.px(2, 2), [255]); // a3 clamped

    // In memory too.
    let pic = picture::render_gray_grid(&tiles, 2, 2, &GridOptions::default()).unwrap();
    assert!(!pic.is_rgb());
    assert_eq!(pic.data().len() as u32, pic.width() * pic.height());
    assert_eq!(pic.pixel(0, 0), Some([128; 3]));
    assert_eq!(pic.pixel(pic.width(), 0), None);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn curves_chart() {
    let dir = temp_dir("curves");
    let loss = [2.3, 1.1, 0.7, 0.5, 0.45, 0.4];
    let acc = [0.1, 0.6, 0.75, 0.8, 0.82, 0.85];
    let path = dir.join("curves.png");
    picture::write_curves(
        &path,
        &[Curve::new("train loss", &loss, PALETTE[0]), Curve::new("accuracy", &acc, PALETTE[1])],
    )
    .unwrap();
    let img = decode(&path);
    assert_eq!((img.width, img.height, img.channels), (640, 400, 3));
    assert_eq!(img.px(0, 0), [255, 255, 255]);
    assert_eq!(img.px(639, 399), [255, 255, 255]);
    let count =
        |c: [u8; 3]| (0..400).flat_map(|y| (0..640).map(move |x| (x, y))).filter(|&(x, y)| img.px(x, y) == c).count();
    // Both lines (and their legend swatches) are drawn in their colours.
    assert!(count(PALETTE[0]) > 200, "{}", count(PALETTE[0]));
    assert!(count(PALETTE[1]) > 200, "{}", count(PALETTE[1]));
    // Some dark text / axis pixels exist.
    assert!(count([40, 40, 40]) > 50);
    assert!(count([90, 90, 90]) > 500);

    // Custom size, a single point, a gap and a constant series.
    let path = dir.join("small.png");
    let gap = [1.0, f64::NAN, 1.0, 1.0];
    let options = ChartOptions { width: 320, height: 200, first_x: 0.0 };
    picture::write_curves_with(
        &path,
        &[Curve::new("", &[0.5], PALETTE[2]), Curve::new("gap", &gap, PALETTE[3])],
        &options,
    )
    .unwrap();
    let img = decode(&path);
    assert_eq!((img.width, img.height), (320, 200));
    let pic = picture::render_curves(&[Curve::new("x", &[3.0; 50], PALETTE[4])], &ChartOptions::default()).unwrap();
    assert!(pic.is_rgb());
    assert_eq!((pic.width(), pic.height()), (640, 400));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn errors_instead_of_panics() {
    let dir = temp_dir("errors");
    let p = dir.join("x.png");
    let empty: [&[f32]; 0] = [];
    let opts = GridOptions::default();
    assert!(matches!(picture::write_gray_grid(&p, &empty, 2, 2, &opts), Err(PictureError::Empty)));
    let t = [0.0f32; 4];
    assert!(matches!(picture::write_gray_grid(&p, &[&t[..]], 0, 2, &opts), Err(PictureError::Empty)));
    assert!(matches!(
        picture::write_gray_grid(&p, &[&t[..], &t[..3]], 2, 2, &opts),
        Err(PictureError::SizeMismatch { expected: 4, actual: 3 })
    ));
    let zero_scale = GridOptions { scale: Some(0), ..opts };
    assert!(matches!(picture::write_gray_grid(&p, &[&t[..]], 2, 2, &zero_scale), Err(PictureError::BadOption(_))));
    let zero_cols = GridOptions { cols: Some(0), ..opts };
    assert!(matches!(picture::write_gray_grid(&p, &[&t[..]], 2, 2, &zero_cols), Err(PictureError::BadOption(_))));
    let bad_range = GridOptions { range: TileRange::Fixed { min: 1.0, max: 1.0 }, ..opts };
    assert!(matches!(picture::write_gray_grid(&p, &[&t[..]], 2, 2, &bad_range), Err(PictureError::BadOption(_))));
    let huge = GridOptions { scale: Some(usize::MAX / 2), ..opts };
    assert!(matches!(picture::write_gray_grid(&p, &[&t[..]], 2, 2, &huge), Err(PictureError::TooLarge { .. })));

    assert!(matches!(
        picture::write_conv_filters(&p, &[0.0f32; 24], 5, 5, 1, 1),
        Err(PictureError::SizeMismatch { expected: 25, actual: 24 })
    ));
    assert!(matches!(picture::write_conv_filters::<f32>(&p, &[], 5, 5, 0, 1), Err(PictureError::Empty)));
    assert!(matches!(
        picture::write_feature_maps(&p, &[0.0f64; 10], 2, 2, 3),
        Err(PictureError::SizeMismatch { expected: 12, actual: 10 })
    ));
    assert!(matches!(picture::write_feature_maps::<f64>(&p, &[], 0, 2, 3), Err(PictureError::Empty)));

    assert!(matches!(picture::write_curves(&p, &[]), Err(PictureError::Empty)));
    assert!(matches!(picture::write_curves(&p, &[Curve::new("a", &[], PALETTE[0])]), Err(PictureError::Empty)));
    let nan = [f64::NAN, f64::INFINITY];
    assert!(matches!(picture::write_curves(&p, &[Curve::new("a", &nan, PALETTE[0])]), Err(PictureError::Empty)));
    let tiny = ChartOptions { width: 10, height: 10, first_x: 1.0 };
    assert!(matches!(
        picture::write_curves_with(&p, &[Curve::new("a", &[1.0], PALETTE[0])], &tiny),
        Err(PictureError::BadOption(_))
    ));
    let wild = [-1e308, 1e308];
    assert!(matches!(
        picture::write_curves(&p, &[Curve::new("a", &wild, PALETTE[0])]),
        Err(PictureError::BadOption(_))
    ));
    assert!(!p.exists(), "nothing written on error");

    // Writing into a missing folder is an I/O error.
    let e = picture::write_feature_maps(dir.join("no/such/dir.png"), &[1.0f32; 4], 2, 2, 1).unwrap_err();
    assert!(matches!(e, PictureError::Io(_)));
    assert!(std::error::Error::source(&e).is_some());
    assert!(!e.to_string().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
