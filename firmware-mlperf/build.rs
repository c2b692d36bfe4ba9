//! Puts `memory.x` on the linker search path, and writes what the firmware
//! embeds into `OUT_DIR`, for each model from its published `.tflite` file
//! (copies in `../tests/fixtures/mlperf-tiny/`) and its TFLM fixture inputs:
//!
//! - `<model>_int8.postcard`: the int8 model, read with
//!   `constnet::tflite::read_int8` (TFLite's own quantization parameters);
//! - `<model>_inputs.bin`: the int8 inputs of `<model>_int8.json`, one after
//!   the other;
//! - `<model>_host_outputs.bin`: the host's int8 outputs for them
//!   (`tests/mlperf.rs` checks they are TFLM's).

use constnet::tflite;
use constnet::zoo::mlperf::{AnomalyDetector, ImageClassifier, KeywordSpotter, PersonDetector};
use constnet::{Int8Model, QuantizeModel, Tensor};
use std::{env, fs, path::Path, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    for path in ["memory.x", "build.rs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    embed::<AnomalyDetector>("ad", "ad01_int8.tflite", &out);
    embed::<KeywordSpotter>("kws", "kws_ref_model.tflite", &out);
    embed::<ImageClassifier>("ic", "pretrainedResnet_quant.tflite", &out);
    embed::<PersonDetector>("vww", "vww_96_int8.tflite", &out);
}

/// Writes model `name`'s blob, inputs and host outputs into `out`.
fn embed<M: QuantizeModel>(name: &str, tflite_name: &str, out: &Path) {
    let fixtures = Path::new("../tests/fixtures/mlperf-tiny");
    let tflite_file = fixtures.join(tflite_name);
    let cases_file = fixtures.join(format!("{name}_int8.json"));
    for path in [&tflite_file, &cases_file] {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let model = tflite::read_int8::<M>(&fs::read(&tflite_file).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", tflite_file.display()));
    fs::write(out.join(format!("{name}_int8.postcard")), constnet::persist::to_vec_int8(&*model)).unwrap();

    let cases: serde_json::Value = serde_json::from_slice(&fs::read(&cases_file).unwrap()).unwrap();
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    let mut ws = Box::new(<M::Int8 as Int8Model>::Workspace::default());
    for case in cases["cases"].as_array().unwrap() {
        let x: Vec<i8> = case["input"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i8).collect();
        let staged = <M::Int8 as Int8Model>::staged_input(&mut ws).as_flat_mut();
        assert_eq!(x.len(), staged.len(), "{}: input length", cases_file.display());
        staged.copy_from_slice(&x);
        inputs.extend(x.iter().map(|&v| v as u8));
        outputs.extend(model.predict_staged(&mut ws).as_flat().iter().map(|&v| v as u8));
    }
    fs::write(out.join(format!("{name}_inputs.bin")), inputs).unwrap();
    fs::write(out.join(format!("{name}_host_outputs.bin")), outputs).unwrap();
}
