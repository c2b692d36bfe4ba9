//! PNG pictures of what a network learned: filter and feature-map grids,
//! and training curves.
//!
//! Everything is drawn in memory into a [`Picture`] and encoded with the
//! `png` crate; no fonts are needed (axis numbers and legend labels use a
//! built-in 3×5 pixel font). Functions return a [`PictureError`] instead of
//! panicking on empty or mismatched input.
//!
//! ```no_run
//! use constnet::picture::{self, Curve, PALETTE};
//!
//! # fn main() -> Result<(), picture::PictureError> {
//! // Six 5×5 filters of a first conv layer, laid out [KH][KW][C_in][F].
//! let weights = vec![0.1_f32; 5 * 5 * 1 * 6];
//! picture::write_conv_filters("out/conv1.png", &weights, 5, 5, 1, 6)?;
//!
//! // A 24×24×6 activation, HWC: one tile per channel.
//! let act = vec![0.0_f32; 24 * 24 * 6];
//! picture::write_feature_maps("out/conv1-maps.png", &act, 24, 24, 6)?;
//!
//! let loss = [2.1, 1.2, 0.8, 0.6];
//! let val = [1.9, 1.1, 0.9, 0.8];
//! picture::write_curves(
//!     "out/loss.png",
//!     &[Curve::new("train", &loss, PALETTE[0]), Curve::new("val", &val, PALETTE[1])],
//! )?;
//! # Ok(())
//! # }
//! ```

use core::fmt;
use std::format;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::string::String;
use std::vec;
use std::vec::Vec;

use crate::Float;

/// Pictures larger than this many pixels are refused ([`PictureError::TooLarge`]).
pub const MAX_PIXELS: usize = 1 << 28;

/// Why a picture could not be drawn or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum PictureError {
    /// Writing the file failed.
    Io(io::Error),
    /// The PNG encoder refused the image.
    Png(png::EncodingError),
    /// Nothing to draw: no tiles, a zero dimension, or no finite curve value.
    Empty,
    /// A buffer's length does not match the dimensions given.
    SizeMismatch {
        /// Values the dimensions require.
        expected: usize,
        /// Values given.
        actual: usize,
    },
    /// The picture would exceed [`MAX_PIXELS`] or `u32` dimensions.
    TooLarge {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// An option is out of range (the message says which).
    BadOption(&'static str),
}

impl fmt::Display for PictureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PictureError::Io(e) => write!(f, "I/O error: {e}"),
            PictureError::Png(e) => write!(f, "PNG encoding error: {e}"),
            PictureError::Empty => f.write_str("nothing to draw"),
            PictureError::SizeMismatch { expected, actual } => {
                write!(f, "buffer holds {actual} values, the dimensions need {expected}")
            }
            PictureError::TooLarge { width, height } => {
                write!(f, "picture of {width}x{height} pixels is too large")
            }
            PictureError::BadOption(what) => write!(f, "bad option: {what}"),
        }
    }
}

impl std::error::Error for PictureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PictureError::Io(e) => Some(e),
            PictureError::Png(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for PictureError {
    fn from(e: io::Error) -> Self {
        PictureError::Io(e)
    }
}

impl From<png::EncodingError> for PictureError {
    fn from(e: png::EncodingError) -> Self {
        match e {
            png::EncodingError::IoError(e) => PictureError::Io(e),
            e => PictureError::Png(e),
        }
    }
}

// ---------------------------------------------------------------------------
// Picture
// ---------------------------------------------------------------------------

/// An 8-bit grayscale or RGB image in memory, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    width: u32,
    height: u32,
    rgb: bool,
    data: Vec<u8>,
}

impl fmt::Debug for Picture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Picture")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("rgb", &self.rgb)
            .finish_non_exhaustive()
    }
}

impl Picture {
    fn filled(width: usize, height: usize, rgb: bool, value: u8) -> Result<Self, PictureError> {
        let too_large = PictureError::TooLarge { width, height };
        let Some(pixels) = width.checked_mul(height) else {
            return Err(too_large);
        };
        if width == 0 || height == 0 {
            return Err(PictureError::Empty);
        }
        if pixels > MAX_PIXELS {
            return Err(too_large);
        }
        let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
            (Ok(w), Ok(h)) => (w, h),
            _ => return Err(too_large),
        };
        Ok(Picture { width: w, height: h, rgb, data: vec![value; pixels * if rgb { 3 } else { 1 }] })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Whether pixels are RGB (3 bytes) rather than grayscale (1 byte).
    pub fn is_rgb(&self) -> bool {
        self.rgb
    }

    /// The raw pixel bytes, row-major, 1 or 3 bytes per pixel.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The pixel at column `x`, row `y` as RGB (gray repeated thrice), or
    /// `None` outside the picture.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = y as usize * self.width as usize + x as usize;
        Some(if self.rgb { [self.data[3 * i], self.data[3 * i + 1], self.data[3 * i + 2]] } else { [self.data[i]; 3] })
    }

    /// Encodes as PNG into `w`.
    pub fn encode_png<W: Write>(&self, w: W) -> Result<(), PictureError> {
        let mut encoder = png::Encoder::new(w, self.width, self.height);
        encoder.set_color(if self.rgb { png::ColorType::Rgb } else { png::ColorType::Grayscale });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.data)?;
        writer.finish()?;
        Ok(())
    }

    /// Encodes as PNG and writes the file at `path` (not creating folders).
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<(), PictureError> {
        let mut bytes = Vec::new();
        self.encode_png(&mut bytes)?;
        fs::write(path, bytes)?;
        Ok(())
    }

    fn set_rgb(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && x < i64::from(self.width) && y < i64::from(self.height) {
            let i = 3 * (y as usize * self.width as usize + x as usize);
            self.data[i..i + 3].copy_from_slice(&c);
        }
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set_rgb(xx, yy, c);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Gray grids
// ---------------------------------------------------------------------------

/// How tile values are mapped to gray levels (black = low, white = high).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum TileRange {
    /// Each tile min-max normalized on its own: every non-constant tile
    /// spans black to white. Shows shapes; hides relative magnitude.
    #[default]
    PerTile,
    /// One min-max range over all tiles: magnitudes are comparable.
    Shared,
    /// A fixed `[min, max]` range; values outside are clamped.
    Fixed {
        /// Value drawn black.
        min: f64,
        /// Value drawn white.
        max: f64,
    },
}

/// Layout and scaling of a tile grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridOptions {
    /// Tiles per row; `None` picks one (near-square grid, or one row per
    /// filter for multi-channel conv filters).
    pub cols: Option<usize>,
    /// Integer upscaling of every value (nearest neighbour); `None` picks
    /// one that makes tiles about 64 pixels wide (at most 16×).
    pub scale: Option<usize>,
    /// How values become gray levels.
    pub range: TileRange,
    /// Gray level of the 1-pixel lines around and between tiles.
    pub separator: u8,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions { cols: None, scale: None, range: TileRange::PerTile, separator: 128 }
    }
}

fn auto_scale(tile_h: usize, tile_w: usize) -> usize {
    (64 / tile_h.max(tile_w)).clamp(1, 16)
}

fn auto_cols(n: usize) -> usize {
    let mut c = 1;
    while c * c < n {
        c += 1;
    }
    c
}

/// Min and max over the finite values, if any.
fn finite_range<'a>(values: impl Iterator<Item = &'a f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, &v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

fn gray(v: f64, lo: f64, hi: f64) -> u8 {
    if v.is_nan() || hi.partial_cmp(&lo) != Some(core::cmp::Ordering::Greater) {
        return 0;
    }
    ((v - lo) / (hi - lo) * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Draws tiles of `tile_h × tile_w` values (row-major) into a grayscale
/// grid, left to right then top to bottom, with a 1-pixel separator line
/// around and between tiles. Unused cells of the last row are left in the
/// separator colour.
///
/// A constant tile (or a constant shared range) is drawn black; NaN is
/// drawn black, infinities as the range's ends.
///
/// Errors: [`PictureError::Empty`] for no tiles or a zero dimension,
/// [`PictureError::SizeMismatch`] for a tile whose length is not
/// `tile_h * tile_w`, [`PictureError::BadOption`] for a zero `cols` or
/// `scale` or an empty or non-finite fixed range,
/// [`PictureError::TooLarge`].
pub fn render_gray_grid<T: Float>(
    tiles: &[&[T]],
    tile_h: usize,
    tile_w: usize,
    options: &GridOptions,
) -> Result<Picture, PictureError> {
    if tiles.is_empty() || tile_h == 0 || tile_w == 0 {
        return Err(PictureError::Empty);
    }
    let per = tile_h.checked_mul(tile_w).ok_or(PictureError::TooLarge { width: tile_w, height: tile_h })?;
    if let Some(t) = tiles.iter().find(|t| t.len() != per) {
        return Err(PictureError::SizeMismatch { expected: per, actual: t.len() });
    }
    let cols = options.cols.unwrap_or_else(|| auto_cols(tiles.len()));
    let scale = options.scale.unwrap_or_else(|| auto_scale(tile_h, tile_w));
    if cols == 0 {
        return Err(PictureError::BadOption("cols must be at least 1"));
    }
    if scale == 0 {
        return Err(PictureError::BadOption("scale must be at least 1"));
    }
    let cols = cols.min(tiles.len());
    let rows = tiles.len().div_ceil(cols);
    // Cells are tile pixels times scale, plus one separator line each and
    // one closing line; overflow means "too large".
    let side = |n: usize, tile: usize| tile.checked_mul(scale)?.checked_add(1)?.checked_mul(n)?.checked_add(1);
    let (Some(width), Some(height)) = (side(cols, tile_w), side(rows, tile_h)) else {
        return Err(PictureError::TooLarge { width: usize::MAX, height: usize::MAX });
    };
    let (cell_w, cell_h) = (tile_w * scale, tile_h * scale);

    let as_f64 = |t: &[T]| -> Vec<f64> { t.iter().map(|v| v.to_f64_lossless()).collect() };
    let shared = match options.range {
        TileRange::PerTile => None,
        TileRange::Shared => {
            let all = tiles.iter().flat_map(|t| t.iter()).map(|v| v.to_f64_lossless());
            let r = all
                .filter(|v| v.is_finite())
                .fold(None, |acc: Option<(f64, f64)>, v| Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v)))));
            Some(r.unwrap_or((0.0, 0.0)))
        }
        TileRange::Fixed { min, max } => {
            if !(min.is_finite() && max.is_finite() && min < max) {
                return Err(PictureError::BadOption("fixed range needs finite min < max"));
            }
            Some((min, max))
        }
    };

    let mut pic = Picture::filled(width, height, false, options.separator)?;
    for (k, tile) in tiles.iter().enumerate() {
        let values = as_f64(tile);
        let (lo, hi) = shared.unwrap_or_else(|| finite_range(values.iter()).unwrap_or((0.0, 0.0)));
        let x0 = 1 + (k % cols) * (cell_w + 1);
        let y0 = 1 + (k / cols) * (cell_h + 1);
        for y in 0..cell_h {
            let row = (y0 + y) * width;
            for x in 0..cell_w {
                let v = values[(y / scale) * tile_w + x / scale];
                pic.data[row + x0 + x] = gray(v, lo, hi);
            }
        }
    }
    Ok(pic)
}

/// Writes [`render_gray_grid`]'s picture as a PNG file at `path`.
pub fn write_gray_grid<T: Float>(
    path: impl AsRef<Path>,
    tiles: &[&[T]],
    tile_h: usize,
    tile_w: usize,
    options: &GridOptions,
) -> Result<(), PictureError> {
    render_gray_grid(tiles, tile_h, tile_w, options)?.write_png(path)
}

/// Writes the filters of a conv layer as a grid of `kh × kw` tiles, one
/// per (filter, input channel), with default [`GridOptions`] (per-tile
/// range, one row per filter when `c_in > 1`).
///
/// `weights` is laid out `[KH][KW][C_in][F]`, filter index fastest: weight
/// `(y, x, c, f)` is at `((y * kw + x) * c_in + c) * filters + f`.
pub fn write_conv_filters<T: Float>(
    path: impl AsRef<Path>,
    weights: &[T],
    kh: usize,
    kw: usize,
    c_in: usize,
    filters: usize,
) -> Result<(), PictureError> {
    write_conv_filters_with(path, weights, kh, kw, c_in, filters, &GridOptions::default())
}

/// [`write_conv_filters`] with explicit [`GridOptions`]. Tiles are ordered
/// filter by filter, input channels of one filter adjacent.
pub fn write_conv_filters_with<T: Float>(
    path: impl AsRef<Path>,
    weights: &[T],
    kh: usize,
    kw: usize,
    c_in: usize,
    filters: usize,
    options: &GridOptions,
) -> Result<(), PictureError> {
    if [kh, kw, c_in, filters].contains(&0) {
        return Err(PictureError::Empty);
    }
    let expected = [kh, kw, c_in, filters].iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).unwrap_or(usize::MAX);
    if weights.len() != expected {
        return Err(PictureError::SizeMismatch { expected, actual: weights.len() });
    }
    let mut tiles: Vec<Vec<T>> = Vec::with_capacity(filters * c_in);
    for f in 0..filters {
        for c in 0..c_in {
            tiles.push((0..kh * kw).map(|yx| weights[(yx * c_in + c) * filters + f]).collect());
        }
    }
    let refs: Vec<&[T]> = tiles.iter().map(|t| &t[..]).collect();
    let mut options = *options;
    if options.cols.is_none() && c_in > 1 {
        options.cols = Some(c_in);
    }
    write_gray_grid(path, &refs, kh, kw, &options)
}

/// Writes an activation `[H][W][C]` (HWC, channel fastest) as a grid of
/// `h × w` tiles, one per channel, with default [`GridOptions`].
pub fn write_feature_maps<T: Float>(
    path: impl AsRef<Path>,
    act: &[T],
    h: usize,
    w: usize,
    c: usize,
) -> Result<(), PictureError> {
    write_feature_maps_with(path, act, h, w, c, &GridOptions::default())
}

/// [`write_feature_maps`] with explicit [`GridOptions`].
pub fn write_feature_maps_with<T: Float>(
    path: impl AsRef<Path>,
    act: &[T],
    h: usize,
    w: usize,
    c: usize,
    options: &GridOptions,
) -> Result<(), PictureError> {
    if [h, w, c].contains(&0) {
        return Err(PictureError::Empty);
    }
    let expected = h.checked_mul(w).and_then(|n| n.checked_mul(c)).unwrap_or(usize::MAX);
    if act.len() != expected {
        return Err(PictureError::SizeMismatch { expected, actual: act.len() });
    }
    let tiles: Vec<Vec<T>> = (0..c).map(|ch| act.iter().skip(ch).step_by(c).copied().collect()).collect();
    let refs: Vec<&[T]> = tiles.iter().map(|t| &t[..]).collect();
    write_gray_grid(path, &refs, h, w, options)
}

// ---------------------------------------------------------------------------
// Curves
// ---------------------------------------------------------------------------

/// Distinct line colours (Tableau 10), for [`Curve::color`].
pub const PALETTE: [[u8; 3]; 8] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];

/// One line of a chart: `values[i]` is plotted at x = `first_x + i`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Curve<'a> {
    /// Legend text (drawn in capitals; empty = no legend entry).
    pub label: &'a str,
    /// The y values; non-finite ones leave a gap.
    pub values: &'a [f64],
    /// Line colour, RGB.
    pub color: [u8; 3],
}

impl<'a> Curve<'a> {
    /// A curve with the given label, values and colour.
    pub fn new(label: &'a str, values: &'a [f64], color: [u8; 3]) -> Self {
        Curve { label, values, color }
    }
}

/// Size and x axis of a chart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChartOptions {
    /// Width in pixels (at least 160).
    pub width: u32,
    /// Height in pixels (at least 100).
    pub height: u32,
    /// The x value of each curve's first point (1 for "epoch 1").
    pub first_x: f64,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions { width: 640, height: 400, first_x: 1.0 }
    }
}

/// A "nice" step (1, 2 or 5 times a power of ten) near `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Tick values from `lo` to `hi` by `step`, with labels.
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<(f64, String)> {
    let decimals = (-(step.log10() + 1e-9).floor()).clamp(0.0, 6.0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            (v, format!("{:.*}", decimals, if k == 0 { 0.0 } else { v }))
        })
        .collect()
}

const TEXT: [u8; 3] = [40, 40, 40];
const GRID: [u8; 3] = [228, 228, 228];
const AXIS: [u8; 3] = [90, 90, 90];
const FONT_SCALE: i64 = 2;

/// Draws a line chart of `series` (e.g. loss and accuracy per epoch):
/// white background, light grid, axes with numbered ticks, anti-aliased
/// lines (with dots when there are at most 40 points), and a legend of
/// colour swatches placed in the emptiest corner. The y range covers the
/// finite data with a margin, rounded out to nice tick values.
///
/// Errors: [`PictureError::Empty`] when there are no finite values at all,
/// [`PictureError::BadOption`] for a size below 160×100, a non-finite
/// `first_x` or a value range too large to plot.
pub fn render_curves(series: &[Curve<'_>], options: &ChartOptions) -> Result<Picture, PictureError> {
    if options.width < 160 || options.height < 100 {
        return Err(PictureError::BadOption("chart must be at least 160x100 pixels"));
    }
    if !options.first_x.is_finite() {
        return Err(PictureError::BadOption("first_x must be finite"));
    }
    let (y_lo, y_hi) = finite_range(series.iter().flat_map(|c| c.values.iter())).ok_or(PictureError::Empty)?;
    let n = series.iter().map(|c| c.values.len()).max().unwrap_or(0);

    // Y range: data plus a margin, snapped out to tick multiples.
    let span = y_hi - y_lo;
    let pad = if span > 0.0 {
        span * 0.05
    } else if y_hi != 0.0 {
        y_hi.abs() * 0.1
    } else {
        1.0
    };
    let y_step = nice_step((span + 2.0 * pad) / 5.0);
    let lo = ((y_lo - pad) / y_step).floor() * y_step;
    let hi = ((y_hi + pad) / y_step).ceil() * y_step;
    if !(y_step.is_finite() && y_step > 0.0 && lo.is_finite() && hi.is_finite() && hi > lo) {
        return Err(PictureError::BadOption("curve values out of plottable range"));
    }
    let y_ticks = ticks(lo, hi, y_step);

    // X range: one unit per point.
    let (x_lo, x_hi) = if n > 1 {
        (options.first_x, options.first_x + (n - 1) as f64)
    } else {
        (options.first_x - 1.0, options.first_x + 1.0)
    };
    if !(x_hi - x_lo).is_finite() || x_hi - x_lo <= 0.0 {
        return Err(PictureError::BadOption("first_x too large to count points"));
    }
    let x_step = nice_step((x_hi - x_lo) / 8.0).max(1.0);
    let x_ticks = ticks(x_lo, x_hi, x_step);

    let (w, h) = (i64::from(options.width), i64::from(options.height));
    let label_w = y_ticks.iter().map(|(_, s)| text_width(s)).max().unwrap_or(0);
    let (left, right, top, bottom) = (label_w + 14, w - 16, 14, h - 30);
    if right - left < 40 || bottom - top < 40 {
        return Err(PictureError::BadOption("chart too small for its labels"));
    }
    let px = |x: f64| left as f64 + (x - x_lo) / (x_hi - x_lo) * (right - left) as f64;
    let py = |y: f64| bottom as f64 - (y - lo) / (hi - lo) * (bottom - top) as f64;

    let mut pic = Picture::filled(w as usize, h as usize, true, 255)?;
    for (v, s) in &y_ticks {
        let y = py(*v).round() as i64;
        pic.fill_rect(left, y, right - left + 1, 1, GRID);
        pic.fill_rect(left - 4, y, 4, 1, AXIS);
        draw_text(&mut pic, left - 6 - text_width(s), y - 5, s, TEXT);
    }
    for (v, s) in &x_ticks {
        let x = px(*v).round() as i64;
        pic.fill_rect(x, top, 1, bottom - top, GRID);
        pic.fill_rect(x, bottom, 1, 5, AXIS);
        draw_text(&mut pic, x - text_width(s) / 2, bottom + 8, s, TEXT);
    }
    pic.fill_rect(left, top, 1, bottom - top + 1, AXIS);
    pic.fill_rect(left, bottom, right - left + 1, 1, AXIS);

    // Lines: per curve, a coverage mask composited once (no dark joints).
    let mut used = vec![false; (w * h) as usize];
    let mut cover = vec![0f32; (w * h) as usize];
    for curve in series {
        cover.iter_mut().for_each(|c| *c = 0.0);
        let points: Vec<Option<(f64, f64)>> = curve
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| v.is_finite().then(|| (px(options.first_x + i as f64), py(v))))
            .collect();
        let dots = curve.values.len() <= 40;
        for (i, p) in points.iter().enumerate() {
            let Some(a) = *p else { continue };
            match points.get(i + 1).copied().flatten() {
                Some(b) => stroke(&mut cover, w, h, a, b, 1.0),
                None => stroke(&mut cover, w, h, a, a, 1.5),
            }
            if dots {
                stroke(&mut cover, w, h, a, a, 2.5);
            }
        }
        for (i, &c) in cover.iter().enumerate() {
            if c > 0.0 {
                let px = &mut pic.data[3 * i..3 * i + 3];
                for (d, &s) in px.iter_mut().zip(&curve.color) {
                    *d = (f32::from(*d) * (1.0 - c) + f32::from(s) * c).round() as u8;
                }
                used[i] |= c > 0.25;
            }
        }
    }

    draw_legend(&mut pic, series, &used, (left, right, top, bottom));
    Ok(pic)
}

/// Writes [`render_curves`]'s picture, 640×400 with x starting at 1, as a
/// PNG file at `path`.
pub fn write_curves(path: impl AsRef<Path>, series: &[Curve<'_>]) -> Result<(), PictureError> {
    write_curves_with(path, series, &ChartOptions::default())
}

/// [`write_curves`] with explicit [`ChartOptions`].
pub fn write_curves_with(
    path: impl AsRef<Path>,
    series: &[Curve<'_>],
    options: &ChartOptions,
) -> Result<(), PictureError> {
    render_curves(series, options)?.write_png(path)
}

/// Adds an anti-aliased stroke of half-width `r` from `a` to `b` (pixel
/// centres at +0.5) to the coverage mask, keeping the maximum.
fn stroke(cover: &mut [f32], w: i64, h: i64, a: (f64, f64), b: (f64, f64), r: f64) {
    let (x0, x1) = (a.0.min(b.0) - r - 1.0, a.0.max(b.0) + r + 1.0);
    let (y0, y1) = (a.1.min(b.1) - r - 1.0, a.1.max(b.1) + r + 1.0);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for y in (y0.floor().max(0.0) as i64)..=(y1.ceil().min((h - 1) as f64) as i64) {
        for x in (x0.floor().max(0.0) as i64)..=(x1.ceil().min((w - 1) as f64) as i64) {
            let (cx, cy) = (x as f64 + 0.5 - a.0, y as f64 + 0.5 - a.1);
            let t = if len2 > 0.0 { ((cx * dx + cy * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let d = ((cx - t * dx).powi(2) + (cy - t * dy).powi(2)).sqrt();
            let c = (r + 0.5 - d).clamp(0.0, 1.0) as f32;
            let i = (y * w + x) as usize;
            if c > cover[i] {
                cover[i] = c;
            }
        }
    }
}

fn draw_legend(pic: &mut Picture, series: &[Curve<'_>], used: &[bool], plot: (i64, i64, i64, i64)) {
    let entries: Vec<&Curve<'_>> = series.iter().filter(|c| !c.label.is_empty()).collect();
    if entries.is_empty() {
        return;
    }
    let (left, right, top, bottom) = plot;
    let text_w = entries.iter().map(|c| text_width(c.label)).max().unwrap_or(0);
    let (bw, bh) = (text_w + 36, entries.len() as i64 * 14 + 8);
    let w = i64::from(pic.width);
    // Candidate corners, preferred first; pick the one covering least line.
    let corners = [
        (right - bw - 8, top + 8),
        (right - bw - 8, bottom - bh - 8),
        (left + 8, top + 8),
        (left + 8, bottom - bh - 8),
    ];
    let overlap = |&(x, y): &(i64, i64)| {
        (y.max(0)..(y + bh).min(i64::from(pic.height)))
            .flat_map(|yy| (x.max(0)..(x + bw).min(w)).map(move |xx| (yy * w + xx) as usize))
            .filter(|&i| used[i])
            .count()
    };
    let (x, y) =
        corners.iter().enumerate().min_by_key(|(k, c)| (overlap(c), *k)).map(|(_, c)| *c).unwrap_or(corners[0]);
    pic.fill_rect(x, y, bw, bh, [170, 170, 170]);
    pic.fill_rect(x + 1, y + 1, bw - 2, bh - 2, [255, 255, 255]);
    for (k, c) in entries.iter().enumerate() {
        let ty = y + 5 + k as i64 * 14;
        pic.fill_rect(x + 6, ty + 3, 18, 4, c.color);
        draw_text(pic, x + 30, ty, c.label, TEXT);
    }
}

// ---------------------------------------------------------------------------
// 3×5 font
// ---------------------------------------------------------------------------

/// Width in pixels of `s` drawn by [`draw_text`].
fn text_width(s: &str) -> i64 {
    let n = s.chars().count() as i64;
    if n == 0 {
        0
    } else {
        n * 4 * FONT_SCALE - FONT_SCALE
    }
}

/// Draws `s` with its top-left corner at `(x, y)`; letters in capitals,
/// unknown characters as `?`.
fn draw_text(pic: &mut Picture, x: i64, y: i64, s: &str, color: [u8; 3]) {
    for (k, ch) in s.chars().enumerate() {
        let bits = glyph(ch.to_ascii_uppercase());
        let gx = x + k as i64 * 4 * FONT_SCALE;
        for row in 0..5 {
            for col in 0..3 {
                if bits >> (14 - (row * 3 + col)) & 1 == 1 {
                    pic.fill_rect(gx + col * FONT_SCALE, y + row * FONT_SCALE, FONT_SCALE, FONT_SCALE, color);
                }
            }
        }
    }
}

/// Packs five 3-bit rows (top first, leftmost pixel in the high bit).
const fn g(r: [u16; 5]) -> u16 {
    r[0] << 12 | r[1] << 9 | r[2] << 6 | r[3] << 3 | r[4]
}

fn glyph(c: char) -> u16 {
    match c {
        ' ' => 0,
        '0' => g([7, 5, 5, 5, 7]),
        '1' => g([2, 6, 2, 2, 7]),
        '2' => g([7, 1, 7, 4, 7]),
        '3' => g([7, 1, 7, 1, 7]),
        '4' => g([5, 5, 7, 1, 1]),
        '5' => g([7, 4, 7, 1, 7]),
        '6' => g([7, 4, 7, 5, 7]),
        '7' => g([7, 1, 1, 2, 2]),
        '8' => g([7, 5, 7, 5, 7]),
        '9' => g([7, 5, 7, 1, 7]),
        '.' => g([0, 0, 0, 0, 2]),
        ',' => g([0, 0, 0, 2, 4]),
        ':' => g([0, 2, 0, 2, 0]),
        '-' => g([0, 0, 7, 0, 0]),
        '+' => g([0, 2, 7, 2, 0]),
        '_' => g([0, 0, 0, 0, 7]),
        '=' => g([0, 7, 0, 7, 0]),
        '%' => g([5, 1, 2, 4, 5]),
        '/' => g([1, 1, 2, 4, 4]),
        '(' => g([2, 4, 4, 4, 2]),
        ')' => g([2, 1, 1, 1, 2]),
        '[' => g([6, 4, 4, 4, 6]),
        ']' => g([3, 1, 1, 1, 3]),
        'A' => g([2, 5, 7, 5, 5]),
        'B' => g([6, 5, 6, 5, 6]),
        'C' => g([3, 4, 4, 4, 3]),
        'D' => g([6, 5, 5, 5, 6]),
        'E' => g([7, 4, 6, 4, 7]),
        'F' => g([7, 4, 6, 4, 4]),
        'G' => g([3, 4, 5, 5, 3]),
        'H' => g([5, 5, 7, 5, 5]),
        'I' => g([7, 2, 2, 2, 7]),
        'J' => g([1, 1, 1, 5, 2]),
        'K' => g([5, 5, 6, 5, 5]),
        'L' => g([4, 4, 4, 4, 7]),
        'M' => g([5, 7, 7, 5, 5]),
        'N' => g([6, 5, 5, 5, 5]),
        'O' => g([2, 5, 5, 5, 2]),
        'P' => g([6, 5, 6, 4, 4]),
        'Q' => g([2, 5, 5, 6, 3]),
        'R' => g([6, 5, 6, 5, 5]),
        'S' => g([3, 4, 2, 1, 6]),
        'T' => g([7, 2, 2, 2, 2]),
        'U' => g([5, 5, 5, 5, 7]),
        'V' => g([5, 5, 5, 5, 2]),
        'W' => g([5, 5, 7, 7, 5]),
        'X' => g([5, 5, 2, 5, 5]),
        'Y' => g([5, 5, 2, 2, 2]),
        'Z' => g([7, 1, 2, 4, 7]),
        _ => g([7, 1, 2, 0, 2]),
    }
}
