//! Pictures of a model (feature `std`): its learned conv filters and every
//! layer's output for one input.

use crate::host::picture::{write_conv_filters, write_feature_maps, PictureError};
use crate::{Float, Model};
use std::format;
use std::path::{Path, PathBuf};
use std::vec::Vec;

/// Writes, into `dir`, `filters_<layer>.png` for every convolution and
/// `maps_<index>_<layer>.png` for every layer's output on input `x` (vectors
/// as one row of tiles). Outputs come from the training-mode forward pass
/// with seed 0, so a dropout layer shows its mask. Returns the files written.
pub fn write_model_pictures<T: Float, M: Model<T>>(
    model: &M,
    x: &M::Input,
    dir: impl AsRef<Path>,
) -> Result<Vec<PathBuf>, PictureError> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(PictureError::from)?;
    let mut written = Vec::new();
    let mut offset = 0;
    for l in M::LAYERS {
        if l.info.kind.starts_with("Conv2d") {
            let (c_in, filters) = (l.input[2], l.output[2]);
            let [kh, kw] = l.info.window;
            let weights = &model.flat()[offset..offset + kh * kw * c_in * filters];
            let path = dir.join(format!("filters_{}.png", l.name));
            write_conv_filters(&path, weights, kh, kw, c_in, filters)?;
            written.push(path);
        }
        offset += l.params;
    }
    let mut trace = M::new_trace();
    model.forward_train(x, &mut trace, 0, false);
    for (i, l) in M::LAYERS.iter().enumerate() {
        let out = M::layer_output(&trace, i);
        let (h, w, c) = match *l.output {
            [h, w, c] => (h, w, c),
            _ => (1, out.len(), 1),
        };
        let path = dir.join(format!("maps_{i}_{}.png", l.name));
        write_feature_maps(&path, out, h, w, c)?;
        written.push(path);
    }
    Ok(written)
}
