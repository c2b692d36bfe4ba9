//! MLPerf Tiny's anomaly detector (`zoo::mlperf::AnomalyDetector`) read from
//! the published `.tflite` files, against TensorFlow Lite Micro's outputs on
//! the fixture inputs (tools/tflm-fixtures/make_mlperf_fixtures.py): int8 bit
//! for bit, f32 within a relative 1e-5 of the largest output.

use constnet::tflite;
use constnet::zoo::mlperf::AnomalyDetector;
use constnet::{Int8Model, Model, Workspace};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mlperf-tiny");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}")).unwrap()
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap()
}

fn numbers<T>(v: &Value, f: impl Fn(&Value) -> Option<T>) -> Vec<T> {
    v.as_array().unwrap().iter().map(|x| f(x).unwrap()).collect()
}

#[test]
fn int8_outputs_are_tflm_s_bit_for_bit() {
    let fx = fixture("ad_int8.json");
    let model = tflite::read_int8::<AnomalyDetector>(&read("ad01_int8.tflite")).unwrap();
    // The input quantization is the file's own.
    let q = &fx["input_quantization"];
    assert_eq!(model.input_params().scale(), q["scale"].as_f64().unwrap() as f32);
    assert_eq!(model.input_params().zero_point() as i64, q["zero_point"].as_i64().unwrap());
    let mut ws = Box::new(Workspace::new());
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for (i, case) in cases.iter().enumerate() {
        let input = numbers(&case["input"], |x| x.as_i64().map(|v| v as i8));
        let expected = numbers(&case["output"], |x| x.as_i64().map(|v| v as i8));
        let x: [i8; 640] = input.try_into().unwrap();
        assert_eq!(&model.predict(&x, &mut ws)[..], &expected[..], "case {i}");
    }
}

#[test]
fn f32_outputs_within_1e_5_of_tflm_s() {
    let fx = fixture("ad_f32.json");
    let model = tflite::read_f32::<AnomalyDetector>(&read("ad01_fp32.tflite")).unwrap();
    let mut ws = Box::new(Workspace::new());
    let mut worst = 0f32;
    for (i, case) in fx["cases"].as_array().unwrap().iter().enumerate() {
        let input = numbers(&case["input"], |x| x.as_f64().map(|v| v as f32));
        let expected = numbers(&case["output"], |x| x.as_f64().map(|v| v as f32));
        let x: [f32; 640] = input.try_into().unwrap();
        let y = model.predict(&x, &mut ws);
        // Relative to the case's largest output: sums of 128 to 640 products
        // in another order differ by rounding, most where they cancel.
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (k, (&a, &b)) in y.iter().zip(&expected).enumerate() {
            let rel = (a - b).abs() / scale;
            assert!(rel <= 1e-5, "case {i} output {k}: {a} against TFLM's {b} (relative {rel:e})");
            worst = worst.max(rel);
        }
    }
    println!("largest relative difference from TFLM: {worst:e}");
}

/// The declaration in the zoo is the one the importer prints for both files.
#[test]
fn zoo_declaration_is_what_the_importer_prints() {
    let zoo = include_str!("../src/zoo/mlperf.rs");
    for file in ["ad01_int8.tflite", "ad01_fp32.tflite"] {
        let graph = tflite::Graph::parse(&read(file)).unwrap();
        let text = tflite::declaration(&graph, "AnomalyDetector", "doc").unwrap();
        let layers: String = text.lines().filter(|l| l.starts_with("        ")).map(|l| format!("{l}\n")).collect();
        assert!(layers.lines().count() == 10 && zoo.contains(&layers), "{file}:\n{text}");
        assert!(text.contains("pub struct AnomalyDetector: [640] {"));
    }
}

#[test]
fn sizes() {
    use constnet::Int8;
    assert_eq!(AnomalyDetector::<f32>::param_count(), 265_864);
    // The most that lives at once: the input and fc1's output, or fc9's and fc10's.
    assert_eq!(Int8::<AnomalyDetector>::WORKSPACE_BYTES, 640 + 128);
}
