//! Puts `memory.x` on the linker search path, and writes what the firmware
//! embeds into `OUT_DIR`, from the published `.tflite` files (copies in
//! `../tests/fixtures/mlperf-tiny/`) and the TFLM fixture inputs:
//!
//! - `ad_int8.postcard`: the anomaly detector's int8 model, read with
//!   `constnet::tflite::read_int8` (TFLite's own quantization parameters);
//! - `ad_inputs.bin`: the 8 int8 inputs of `ad_int8.json`, 640 bytes each;
//! - `ad_host_outputs.bin`: the host's int8 outputs for them, 640 bytes each
//!   (`tests/mlperf_ad.rs` checks they are TFLM's).

use constnet::tflite;
use constnet::zoo::mlperf::AnomalyDetector;
use constnet::{Int8Model, Workspace};
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    let fixtures = PathBuf::from("../tests/fixtures/mlperf-tiny");
    let tflite_file = fixtures.join("ad01_int8.tflite");
    let cases_file = fixtures.join("ad_int8.json");
    for path in ["memory.x", "build.rs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    for path in [&tflite_file, &cases_file] {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let model = tflite::read_int8::<AnomalyDetector>(&fs::read(&tflite_file).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", tflite_file.display()));
    fs::write(out.join("ad_int8.postcard"), constnet::persist::to_vec_int8(&*model)).unwrap();

    let cases: serde_json::Value = serde_json::from_slice(&fs::read(&cases_file).unwrap()).unwrap();
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    let mut ws = Box::new(Workspace::new());
    for case in cases["cases"].as_array().unwrap() {
        let x: Vec<i8> = case["input"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i8).collect();
        let x: [i8; 640] = x.try_into().unwrap();
        inputs.extend(x.iter().map(|&v| v as u8));
        outputs.extend(model.predict(&x, &mut ws).iter().map(|&v| v as u8));
    }
    assert_eq!(inputs.len(), 8 * 640, "{}: expected 8 inputs", cases_file.display());
    fs::write(out.join("ad_inputs.bin"), inputs).unwrap();
    fs::write(out.join("ad_host_outputs.bin"), outputs).unwrap();
}
