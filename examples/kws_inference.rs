//! MLPerf Tiny's keyword-spotting model (`zoo::DsCnn`, random weights) at
//! inference, run as `sequential!` runs it (each depthwise layer fused with
//! the pointwise layer after it) or layer by layer with every activation in
//! a buffer of its own, to count what the fusion saves:
//!
//! ```sh
//! cargo build --release --features std --example kws_inference
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/kws_inference int8 fused 11
//! ```
//!
//! The instructions of 11 runs less those of 1, over 10, are one inference.
//! Prints the workspace and the last output's checksum (the same for both
//! ways, bit for bit).

use constnet::zoo::DsCnn;
use constnet::{quantize, Int8, Int8Model, Model, Rng, Tensor, Workspace};
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(how), Some(runs)) = (args.first(), args.get(1), args.get(2).and_then(|n| n.parse().ok()))
    else {
        eprintln!("usage: kws_inference int8|f32 fused|layers RUNS");
        std::process::exit(2);
    };
    let fused = how == "fused";
    let model = DsCnn::<f32>::new_boxed(1);
    let mut rng = Rng::new(2);
    let x: Vec<f32> = (0..490).map(|_| rng.uniform(1.0) as f32).collect();
    let image: &[[[f32; 1]; 10]; 49] = Tensor::from_flat(&x).unwrap();
    let checksum: i64 = match kind.as_str() {
        "f32" => {
            let mut ws = Box::new(Workspace::new());
            let mut trace = DsCnn::<f32>::new_trace();
            let mut out = [0f32; 12];
            for _ in 0..runs {
                out = if fused {
                    *model.predict(black_box(image), &mut ws)
                } else {
                    model.forward_trace(black_box(image), &mut trace, false);
                    *DsCnn::<f32>::output(&trace)
                };
            }
            println!("workspace {} bytes (fused)", DsCnn::<f32>::WORKSPACE_BYTES);
            out.iter().map(|v| v.to_bits() as i64).sum()
        }
        "int8" => {
            let q = quantize::quantize(&*model, [&x[..]], &Default::default()).unwrap();
            let mut qx = [[[0i8; 1]; 10]; 49];
            q.quantize_input(&x, &mut qx);
            let mut ws = Box::new(Workspace::new());
            let mut out = [0i8; 12];
            for _ in 0..runs {
                out = if fused { *q.predict(black_box(&qx), &mut ws) } else { layer_by_layer(&q, black_box(&qx)) };
            }
            println!("workspace {} bytes (fused)", Int8::<DsCnn>::WORKSPACE_BYTES);
            out.iter().map(|&v| v as i64).sum()
        }
        _ => {
            eprintln!("kind is int8 or f32");
            std::process::exit(2);
        }
    };
    println!("{kind} {how} runs={runs} checksum={checksum}");
}

/// Every int8 layer on its own, each activation in a buffer of its own.
fn layer_by_layer(q: &Int8<DsCnn>, x: &[[[i8; 1]; 10]; 49]) -> [i8; 12] {
    use constnet::layers::int8::Int8Layer;
    let (mut a, mut b) = (Box::new([[[0i8; 64]; 5]; 25]), Box::new([[[0i8; 64]; 5]; 25]));
    q.conv1.forward(x, &mut a);
    let blocks = [(&q.dw1, &q.pw1), (&q.dw2, &q.pw2), (&q.dw3, &q.pw3), (&q.dw4, &q.pw4)];
    for (dw, pw) in blocks {
        dw.forward(&a, &mut b);
        pw.forward(&b, &mut a);
    }
    let (mut pooled, mut flat, mut y) = ([[[0i8; 64]; 1]; 1], [0i8; 64], [0i8; 12]);
    q.pool.forward(&a, &mut pooled);
    q.flat.forward(&pooled, &mut flat);
    q.fc.forward(&flat, &mut y);
    y
}
