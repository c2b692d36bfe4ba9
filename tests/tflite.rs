//! The TFLite reader: malformed, truncated and mutated files are errors,
//! never panics; a file that does not match a declared model is an error
//! naming the op index, the op, the layer and both shapes or options; the
//! LeNet read from its file equals the one filled field by field.

use constnet::tflite::schema as fb;
use constnet::tflite::{self, Graph, TfliteError};
use constnet::zoo::{mlperf::AnomalyDetector, Lenet};
use constnet::{Int8, Int8Model, Rng, Workspace};
use fb::planus::ReadAsRoot;

/// The error of a read that must fail.
fn failure<T>(result: Result<T, TfliteError>) -> TfliteError {
    match result {
        Ok(_) => panic!("read a file that should not read"),
        Err(e) => e,
    }
}

fn file(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every `.tflite` file in the repository: the MLPerf Tiny models and the TFLM fixtures.
fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for dir in ["mlperf-tiny", "tflm"] {
        let full = format!("{}/tests/fixtures/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(&full)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tflite"))
            .collect();
        names.sort();
        for n in names {
            let path = format!("{dir}/{n}");
            files.push((path.clone(), file(&path)));
        }
    }
    assert!(files.len() >= 20);
    files
}

/// Everything the reader does with a file: parse, declare, read into the
/// zoo's models (each result compared, so nothing is optimized away).
fn read_everything(bytes: &[u8]) -> Result<String, TfliteError> {
    let graph = Graph::parse(bytes)?;
    let declared = tflite::declaration(&graph, "M", "doc").unwrap_or_else(|e| e.to_string());
    let lenet = tflite::load_int8::<Lenet>(&graph).map(|_| ()).map_err(|e| e.to_string());
    let ad = tflite::load_int8::<AnomalyDetector>(&graph).map(|_| ()).map_err(|e| e.to_string());
    let ad32 = tflite::load_f32::<AnomalyDetector>(&graph).map(|_| ()).map_err(|e| e.to_string());
    Ok(format!("{} ops\n{declared}\n{lenet:?} {ad:?} {ad32:?}", graph.nodes.len()))
}

#[test]
fn every_file_parses() {
    for (name, bytes) in all_files() {
        let graph = Graph::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!graph.nodes.is_empty(), "{name}");
    }
}

#[test]
fn truncated_files_are_errors() {
    for (name, bytes) in all_files() {
        let full = read_everything(&bytes).unwrap();
        let n = bytes.len();
        // Every length up to 256, then 200 more spread over the file, and the last bytes.
        let lengths = (0..256.min(n)).chain((1..200).map(|k| k * n / 200)).chain(n.saturating_sub(16)..n);
        for len in lengths {
            // Cutting only trailing padding may leave the same file.
            if let Ok(what) = read_everything(&bytes[..len]) {
                assert_eq!(what, full, "{name} cut to {len} bytes reads as another model");
            }
        }
        assert!(Graph::parse(&bytes[..n / 2]).is_err(), "{name} cut in half");
    }
}

#[test]
fn mutated_files_never_panic() {
    let mut rng = Rng::new(2026);
    let mut errors = 0;
    let mut total = 0;
    for (name, bytes) in all_files() {
        // Small files get many mutations; the large ones fewer (each parse copies the weights).
        let rounds = if bytes.len() > 200_000 { 40 } else { 150 };
        for round in 0..rounds {
            let mut m = bytes.clone();
            // Mostly in the first kilobytes, where the tables and offsets are.
            for _ in 0..1 + rng.below(8) {
                let at = if rng.below(4) == 0 { rng.below(m.len()) } else { rng.below(m.len().min(4096)) };
                m[at] = match rng.below(3) {
                    0 => m[at] ^ (1 << rng.below(8)),
                    1 => rng.below(256) as u8,
                    _ => 0xff,
                };
            }
            let result = std::panic::catch_unwind(|| read_everything(&m).is_err());
            assert!(result.is_ok(), "{name}: mutation round {round} panicked");
            errors += usize::from(result.unwrap());
            total += 1;
        }
    }
    // The mutations do reach the checks.
    assert!(errors > total / 10, "{errors} of {total} mutated files were errors");
}

#[test]
fn not_a_tflite_file() {
    let err = Graph::parse(b"definitely not a flatbuffer").unwrap_err();
    assert!(matches!(err, TfliteError::Malformed { .. }), "{err}");
    let err = Graph::parse(&[]).unwrap_err();
    assert!(err.to_string().contains("TFL3"), "{err}");
}

constnet::sequential! {
    /// The LeNet with conv1's kernel 3 instead of 5.
    pub struct WrongKernel: [28, 28, 1] {
        conv1: Conv2d<8, 3> => Relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5> => Relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<64> => Relu,
        out: Dense<10> => Softmax,
    }
}

constnet::sequential! {
    /// The LeNet with 32 units in fc1 instead of 64.
    pub struct WrongWidth: [28, 28, 1] {
        conv1: Conv2d<8, 5> => Relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5> => Relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<32> => Relu,
        out: Dense<10> => Softmax,
    }
}

constnet::sequential! {
    /// The LeNet without its last layer.
    pub struct Short: [28, 28, 1] {
        conv1: Conv2d<8, 5> => Relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5> => Relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<64> => Relu,
    }
}

constnet::sequential! {
    /// The LeNet with relu where the file has none, and a sigmoid layer.
    pub struct WrongActivation: [28, 28, 1] {
        conv1: Conv2d<8, 5>,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5> => Relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<64> => Sigmoid,
        out: Dense<10> => Softmax,
    }
}

#[test]
fn a_wrong_declaration_names_the_op_the_layer_and_both_sides() {
    let lenet = file("tflm/lenet.tflite");
    let err = failure(tflite::read_int8::<WrongKernel>(&lenet));
    let text = err.to_string();
    assert!(
        matches!(err, TfliteError::Mismatch { index: 0, op: "CONV_2D", layer: "conv1", what: "options", .. }),
        "{text}"
    );
    assert!(text.contains("kernel: [5, 5]") && text.contains("kernel: [3, 3]"), "{text}");

    let err = failure(tflite::read_int8::<WrongWidth>(&lenet));
    assert_eq!(
        err.to_string(),
        "op 5 FULLY_CONNECTED (layer `fc1`): output shape differs: the file has [64], the declaration [32]"
    );

    let err = failure(tflite::read_int8::<WrongActivation>(&lenet));
    assert!(matches!(err, TfliteError::Mismatch { index: 0, layer: "conv1", what: "options", .. }), "{err}");
    assert!(err.to_string().contains("activation: Relu") && err.to_string().contains("activation: None"), "{err}");

    let err = failure(tflite::read_int8::<Short>(&lenet));
    assert_eq!(err, TfliteError::ExtraOp { index: 6, op: "FULLY_CONNECTED" });
    // And the other way round: the LeNet against the autoencoder's file.
    let err = failure(tflite::read_int8::<Lenet>(&file("mlperf-tiny/ad01_int8.tflite")));
    assert!(matches!(err, TfliteError::Mismatch { index: 0, what: "op", layer: "conv1", .. }), "{err}");
    // The f32 reader checks the same way, and an int8 file is not f32.
    let err = failure(tflite::read_f32::<Lenet>(&file("mlperf-tiny/ad01_fp32.tflite")));
    assert!(matches!(err, TfliteError::Mismatch { index: 0, what: "op", layer: "conv1", .. }), "{err}");
    let err = failure(tflite::read_f32::<Lenet>(&lenet));
    assert!(matches!(err, TfliteError::UnsupportedType { index: 0, expected: "FLOAT32 activations", .. }), "{err}");
}

#[test]
fn a_layer_without_a_tflite_form_is_named() {
    constnet::sequential! {
        /// Min pooling has no TFLite op.
        pub struct MinPool: [28, 28, 1] {
            conv1: Conv2d<8, 5> => Relu,
            pool1: MinPool2d<2>,
            conv2: Conv2d<16, 5> => Relu,
            pool2: MaxPool2d<2>,
            flat: Flatten,
            fc1: Dense<64> => Relu,
            out: Dense<10> => Softmax,
        }
    }
    let err = failure(tflite::read_int8::<MinPool>(&file("tflm/lenet.tflite")));
    assert_eq!(err, TfliteError::NoTfliteForm { layer: "pool1" });
}

/// The LeNet read from its file predicts what TFLM computed, as the model
/// filled field by field does (tests/int8_tflm.rs).
#[test]
fn lenet_from_its_file_is_tflm_s() {
    let q: Box<Int8<Lenet>> = tflite::read_int8::<Lenet>(&file("tflm/lenet.tflite")).unwrap();
    let fx: serde_json::Value = serde_json::from_slice(&file("tflm/lenet.json")).unwrap();
    let mut ws = Box::new(Workspace::new());
    let ints = |v: &serde_json::Value| -> Vec<i8> {
        v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap() as i8).collect()
    };
    for case in fx["cases"].as_array().unwrap() {
        let x: [[[i8; 1]; 28]; 28] = *constnet::Tensor::from_flat(&ints(&case["input"])).unwrap();
        assert_eq!(&q.predict(&x, &mut ws)[..], &ints(&case["output"])[..]);
    }
    // The blob round-trips through the int8 persistence.
    let blob = constnet::persist::to_vec_int8(&*q);
    let back: &Int8<Lenet> = constnet::persist::view_int8(&blob).unwrap();
    assert_eq!(back.output_params(), q.output_params());
}

/// The LeNet file decoded, changed by `edit`, and written again.
fn edited(edit: impl FnOnce(&mut fb::Model)) -> Vec<u8> {
    let bytes = file("tflm/lenet.tflite");
    let mut model = fb::Model::try_from(fb::ModelRef::read_as_root(&bytes).unwrap()).unwrap();
    edit(&mut model);
    // planus 1.3.0 writes a file identifier before the root offset, not
    // after it: write none, then put TFLite's at bytes 4..8 (offsets after
    // the root's are relative to each other, so only the root's moves).
    let mut out = fb::planus::Builder::new().finish(&model, None).to_vec();
    let root = u32::from_le_bytes(out[..4].try_into().unwrap()) + 4;
    out.splice(..4, root.to_le_bytes().into_iter().chain(*b"TFL3"));
    out
}

fn subgraph(m: &mut fb::Model) -> &mut fb::SubGraph {
    &mut m.subgraphs.as_mut().unwrap()[0]
}

#[test]
fn unsupported_ops_options_and_types_are_named() {
    // The re-written file reads as the original.
    if let Err(e) = tflite::read_int8::<Lenet>(&edited(|_| {})) {
        panic!("{e}");
    }

    // An op constnet does not read (op 0's code changed to MUL).
    let bytes = edited(|m| {
        let at = subgraph_op_code(m, 0);
        let code = &mut m.operator_codes.as_mut().unwrap()[at];
        code.builtin_code = fb::BuiltinOperator::Mul;
        code.deprecated_builtin_code = fb::BuiltinOperator::Mul as i8;
    });
    let err = Graph::parse(&bytes).unwrap_err();
    assert!(matches!(&err, TfliteError::UnsupportedOp { index: 0, name } if name.contains("Mul")), "{err}");

    // Dilation.
    let bytes = edited(|m| {
        if let Some(fb::BuiltinOptions::Conv2DOptions(o)) =
            &mut subgraph(m).operators.as_mut().unwrap()[2].builtin_options
        {
            o.dilation_h_factor = 2;
        }
    });
    let err = Graph::parse(&bytes).unwrap_err();
    assert_eq!(err.to_string(), "op 2 CONV_2D: not supported: dilation");

    // Two subgraphs.
    let bytes = edited(|m| {
        let again = m.subgraphs.as_ref().unwrap()[0].clone();
        m.subgraphs.as_mut().unwrap().push(again);
    });
    assert!(matches!(Graph::parse(&bytes).unwrap_err(), TfliteError::Unsupported { index: None, .. }));

    // An activation of another type.
    let bytes = edited(|m| {
        let input = subgraph(m).inputs.as_ref().unwrap()[0] as usize;
        subgraph(m).tensors.as_mut().unwrap()[input].type_ = fb::TensorType::Uint8;
    });
    let err = failure(tflite::read_int8::<Lenet>(&bytes));
    assert!(matches!(&err, TfliteError::UnsupportedType { index: 0, found, .. } if found == "UINT8"), "{err}");

    // A tensor index out of range.
    let bytes = edited(|m| subgraph(m).operators.as_mut().unwrap()[3].inputs = Some(vec![9999]));
    assert!(matches!(Graph::parse(&bytes).unwrap_err(), TfliteError::Malformed { .. }));

    // Weights shorter than their shape.
    let bytes = edited(|m| {
        let w = subgraph(m).operators.as_ref().unwrap()[5].inputs.as_ref().unwrap()[1] as usize;
        let buffer = subgraph(m).tensors.as_ref().unwrap()[w].buffer as usize;
        m.buffers.as_mut().unwrap()[buffer].data.as_mut().unwrap().pop();
    });
    let err = failure(tflite::read_int8::<Lenet>(&bytes));
    assert!(matches!(&err, TfliteError::Malformed { what } if what.contains("op 5")), "{err}");
}

fn subgraph_op_code(m: &fb::Model, op: usize) -> usize {
    m.subgraphs.as_ref().unwrap()[0].operators.as_ref().unwrap()[op].opcode_index as usize
}
