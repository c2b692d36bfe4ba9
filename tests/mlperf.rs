//! The four MLPerf Tiny reference models (`zoo::mlperf`) read from the
//! published `.tflite` files, against TensorFlow Lite Micro's outputs on the
//! fixture inputs (tools/tflm-fixtures/make_mlperf_fixtures.py): int8 bit for
//! bit, f32 within a relative 1e-5 of the case's largest output. The zoo's
//! declarations are what the importer prints. `cargo test --features std
//! --test mlperf -- --nocapture` prints the f32 differences.

use constnet::tflite;
use constnet::zoo::mlperf::{AnomalyDetector, ImageClassifier, KeywordSpotter, PersonDetector};
use constnet::{Int8, Int8Model, Model, QuantizeModel, Tensor};
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

/// `M`'s int8 model read from `file`, run on every case of `fixture`:
/// TFLM's outputs, bit for bit.
fn int8_is_tflm_s<M: QuantizeModel>(file: &str, fixture_name: &str, cases: usize) {
    let fx = fixture(fixture_name);
    let model = tflite::read_int8::<M>(&read(file)).unwrap();
    // The input quantization is the file's own.
    let q = &fx["input_quantization"];
    assert_eq!(model.input_params().scale(), q["scale"].as_f64().unwrap() as f32);
    assert_eq!(model.input_params().zero_point() as i64, q["zero_point"].as_i64().unwrap());
    let mut ws = Box::<<Int8<M> as Int8Model>::Workspace>::default();
    let all = fx["cases"].as_array().unwrap();
    assert_eq!(all.len(), cases);
    for (i, case) in all.iter().enumerate() {
        let input = numbers(&case["input"], |x| x.as_i64().map(|v| v as i8));
        let expected = numbers(&case["output"], |x| x.as_i64().map(|v| v as i8));
        Int8::<M>::staged_input(&mut ws).as_flat_mut().copy_from_slice(&input);
        assert_eq!(model.predict_staged(&mut ws).as_flat(), &expected[..], "{file} case {i}");
    }
}

/// `M` read from the f32 `file`: TFLM's f32 outputs within a relative
/// 1e-5 of each case's largest output (sums in another order round
/// differently, most where they cancel). Returns the largest difference.
fn f32_is_near_tflm_s<M: QuantizeModel>(file: &str, fixture_name: &str) -> f32 {
    let fx = fixture(fixture_name);
    let model = tflite::read_f32::<M>(&read(file)).unwrap();
    let mut ws = Box::<<M as Model<f32>>::Workspace>::default();
    let mut worst = 0f32;
    for (i, case) in fx["cases"].as_array().unwrap().iter().enumerate() {
        let input = numbers(&case["input"], |x| x.as_f64().map(|v| v as f32));
        let expected = numbers(&case["output"], |x| x.as_f64().map(|v| v as f32));
        M::staged_input(&mut ws).as_flat_mut().copy_from_slice(&input);
        let y = model.predict_staged(&mut ws).as_flat();
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (k, (&a, &b)) in y.iter().zip(&expected).enumerate() {
            let rel = (a - b).abs() / scale;
            assert!(rel <= 1e-5, "{file} case {i} output {k}: {a} against TFLM's {b} (relative {rel:e})");
            worst = worst.max(rel);
        }
    }
    println!("{file}: largest relative difference from TFLM {worst:e}");
    worst
}

/// The zoo declares `name` as the importer prints it for `files` (the
/// branch models of residual blocks included).
fn zoo_declares_what_the_importer_prints(name: &str, files: &[&str]) {
    let zoo = include_str!("../src/zoo/mlperf.rs");
    for file in files {
        let graph = tflite::Graph::parse(&read(file)).unwrap();
        let text = tflite::declaration(&graph, name, "doc").unwrap();
        // Every model of the printed text, without its doc line, is in the zoo.
        for model in text.split("constnet::sequential! {").skip(1) {
            let body: String =
                model.lines().filter(|l| !l.trim_start().starts_with("///")).map(|l| format!("{l}\n")).collect();
            let (head, layers) = body.split_once("{\n").unwrap();
            let head = head.trim().replace('\n', " ");
            assert!(zoo.contains(&head), "{file}: `{head}` is not in zoo/mlperf.rs");
            let layers = layers.trim_end().trim_end_matches('}').trim_end().trim_end_matches('}');
            assert!(zoo.contains(layers.trim_end()), "{file}: the layers of `{head}` differ:\n{text}");
        }
    }
}

#[test]
fn keyword_spotting() {
    int8_is_tflm_s::<KeywordSpotter>("kws_ref_model.tflite", "kws_int8.json", 8);
    f32_is_near_tflm_s::<KeywordSpotter>("kws_ref_model_float32.tflite", "kws_f32.json");
    zoo_declares_what_the_importer_prints("KeywordSpotter", &["kws_ref_model.tflite", "kws_ref_model_float32.tflite"]);
}

#[test]
fn image_classification() {
    int8_is_tflm_s::<ImageClassifier>("pretrainedResnet_quant.tflite", "ic_int8.json", 8);
    f32_is_near_tflm_s::<ImageClassifier>("pretrainedResnet.tflite", "ic_f32.json");
    zoo_declares_what_the_importer_prints(
        "ImageClassifier",
        &["pretrainedResnet_quant.tflite", "pretrainedResnet.tflite"],
    );
}

#[test]
fn anomaly_detection() {
    int8_is_tflm_s::<AnomalyDetector>("ad01_int8.tflite", "ad_int8.json", 8);
    f32_is_near_tflm_s::<AnomalyDetector>("ad01_fp32.tflite", "ad_f32.json");
    zoo_declares_what_the_importer_prints("AnomalyDetector", &["ad01_int8.tflite", "ad01_fp32.tflite"]);
    // The most that lives at once: the input and fc1's output, or fc9's and fc10's.
    assert_eq!(Int8::<AnomalyDetector>::WORKSPACE_BYTES, 640 + 128);
}

#[test]
fn visual_wake_words() {
    int8_is_tflm_s::<PersonDetector>("vww_96_int8.tflite", "vww_int8.json", 4);
    f32_is_near_tflm_s::<PersonDetector>("vww_96_float.tflite", "vww_f32.json");
    zoo_declares_what_the_importer_prints("PersonDetector", &["vww_96_int8.tflite", "vww_96_float.tflite"]);
}

/// The autoencoder's f32 form trains with the trainer: reconstructing 64
/// made-up spectra (smooth bumps) for a few epochs, the loss falls.
#[test]
fn anomaly_detector_trains_on_made_up_data() {
    use constnet::data::ValueDataset;
    use constnet::train::Trainer;
    use constnet::{Adam, Loss};
    let n = 64;
    let mut rng = constnet::Rng::new(5);
    let inputs: Vec<f32> = (0..n)
        .flat_map(|_| {
            let (centre, width) = (rng.next_f64() as f32 * 128.0, 4.0 + rng.next_f64() as f32 * 12.0);
            (0..640).map(move |i| (-(((i % 128) as f32 - centre) / width).powi(2)).exp())
        })
        .collect();
    let data = ValueDataset::with_values(inputs.clone(), inputs, (1, 640, 1), 640).unwrap();
    let mut model = AnomalyDetector::<f32>::new_boxed(3);
    let history = Trainer::new(Adam::new_boxed(1e-3), Loss::MeanSquaredError)
        .epochs(4)
        .batch_size(8)
        .seed(4)
        .report_every(0)
        .progress(false)
        .fit_values(&mut *model, &data)
        .unwrap();
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
    println!("anomaly detector f32 reconstruction loss per epoch: {losses:?}");
    assert!(losses[3] < losses[0] * 0.8, "training loss must fall: {losses:?}");
}
