//! Prints the `sequential!` declaration of a model matching a `.tflite` file,
//! and writes its weight blob when the file is one of `constnet::zoo`'s
//! models (int8 with TFLite's own quantization, or f32).
//!
//! ```sh
//! cargo run --release --features std --example tflite_import -- model.tflite [out.postcard]
//! ```
//!
//! Writing the blob of any other model needs its declared type, so it happens
//! in your own host program: paste the printed declaration, then
//! `constnet::tflite::read_int8::<YourModel>(&bytes)` and
//! `constnet::persist::to_vec_int8` (or `read_f32` and `persist::to_vec`),
//! as `blob` below does.

use constnet::tflite::{self, DType, Graph, TfliteError};
use constnet::zoo::{mlperf::AnomalyDetector, Lenet};
use constnet::QuantizeModel;
use std::process::ExitCode;

/// Reads the blob of one declared model from a graph, int8 or f32.
type ReadBlob = fn(&Graph, bool) -> Result<Vec<u8>, TfliteError>;

/// The blob of `M` read from the file: int8 or f32 as the file is.
fn blob<M: QuantizeModel>(graph: &Graph, int8: bool) -> Result<Vec<u8>, TfliteError> {
    Ok(if int8 {
        constnet::persist::to_vec_int8(&*tflite::load_int8::<M>(graph)?)
    } else {
        constnet::persist::to_vec(&*tflite::load_f32::<M>(graph)?)
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: tflite_import model.tflite [out.postcard]");
        return ExitCode::FAILURE;
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let graph = match Graph::parse(&bytes) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let int8 = graph.inputs.first().is_some_and(|&t| graph.tensor(t).dtype == DType::I8);
    let name = std::path::Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    let doc =
        format!("Imported from `{name}.tflite` ({} ops, {}).", graph.nodes.len(), if int8 { "int8" } else { "f32" });
    match tflite::declaration(&graph, "Imported", &doc) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    // The zoo's declarations this file may be.
    let known: [(&str, ReadBlob); 2] =
        [("zoo::Lenet", blob::<Lenet>), ("zoo::mlperf::AnomalyDetector", blob::<AnomalyDetector>)];
    let Some((model, blob)) = known.iter().find_map(|(model, read)| Some((model, read(&graph, int8).ok()?))) else {
        eprintln!(
            "no blob written: the file is none of the zoo's models; declare it and read it with constnet::tflite"
        );
        return ExitCode::SUCCESS;
    };
    let out = args.get(1).cloned().unwrap_or_else(|| format!("{name}.postcard"));
    if let Err(e) = std::fs::write(&out, &blob) {
        eprintln!("{out}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("wrote {out}: {} bytes, {} weights of {model}", blob.len(), if int8 { "int8" } else { "f32" });
    ExitCode::SUCCESS
}
