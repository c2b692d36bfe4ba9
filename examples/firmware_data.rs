//! Writes the data the firmware (`firmware-example/`) embeds and checks itself
//! against:
//!
//! | file in `firmware-example/model/` | content |
//! |---|---|
//! | `lenet.postcard`   | the weights, as [`constnet::persist::to_vec`] writes them (header + params + CRC-32) |
//! | `images.bin`       | the first 300 test images of the bundled Fashion-MNIST subset, 784 raw `u8` pixels each |
//! | `labels.bin`       | their 300 labels, one `u8` each |
//! | `host_outputs.bin` | the host's `predict` output for each image, 10 `f32` little-endian each |
//! | `lenet_int8.postcard` | the int8 model of the same weights ([`constnet::quantize`], calibrated on the first 1,000 training images), as [`constnet::persist::to_vec_int8`] writes it |
//! | `host_outputs_int8.bin` | the int8 model's output for each image, 10 `i8` each |
//!
//! ```sh
//! cargo run --release --features std --example firmware_data -- [weights.postcard]
//! ```
//!
//! Weights: the path given, else `out/lenet.postcard` (written by the training
//! example) when it exists, else `Lenet::new(42)` (fixed-seed, untrained).
//!
//! Pixels are stored raw (784 bytes instead of 3,136 per image); both sides
//! scale them to `[0, 1]` with the same operation as the library's loader,
//! `(f64::from(p) / 255.0) as f32`: the firmware uses a 256-entry table
//! computed with exactly that expression at compile time, so its inputs are
//! bit-identical to the host's. This program checks that the raw pixels,
//! scaled so, give exactly the images `constnet::data` loads.

#[cfg(feature = "std")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    run::main()
}

#[cfg(not(feature = "std"))]
fn main() {
    eprintln!("firmware_data needs the `std` feature: cargo run --release --features std --example firmware_data");
    std::process::exit(2);
}

#[cfg(feature = "std")]
mod run {
    use constnet::data::{self, FASHION_MNIST_FILES};
    use constnet::persist;
    use constnet::zoo::Lenet;
    use constnet::{Int8, Int8Model, Model, Tensor};
    use std::path::{Path, PathBuf};

    /// Test images the firmware runs.
    pub const SAMPLES: usize = 300;
    const PIXELS: usize = 28 * 28;
    const CLASSES: usize = 10;
    /// Seed of the stand-in weights when no trained weights exist.
    const SEED: u64 = 42;

    /// The library's `Normalize::Scale01` for one pixel, as the firmware does it.
    fn scale(p: u8) -> f32 {
        (f64::from(p) / 255.0) as f32
    }

    fn argmax_i8(y: &[i8]) -> usize {
        (0..y.len()).fold(0, |best, i| if y[i] > y[best] { i } else { best })
    }

    fn argmax(y: &[f32]) -> usize {
        let mut best = 0;
        for (i, &v) in y.iter().enumerate() {
            if v > y[best] {
                best = i;
            }
        }
        best
    }

    pub fn main() -> Result<(), Box<dyn std::error::Error>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out_dir = root.join("firmware-example/model");

        // --- weights -------------------------------------------------------------
        let arg = std::env::args_os().nth(1).map(PathBuf::from);
        let trained = root.join("out/lenet.postcard");
        let mut model: Box<Lenet<f32>> = Box::new(constnet::zeroed());
        let source = match arg.or_else(|| trained.is_file().then_some(trained)) {
            Some(path) => {
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                persist::load_into(&bytes, &mut *model).map_err(|e| format!("{}: {e}", path.display()))?;
                format!("weights from {}", path.display())
            }
            None => {
                *model = Lenet::new(SEED);
                format!("untrained weights, Lenet::new({SEED}) (no weights path given, no out/lenet.postcard)")
            }
        };
        let blob = persist::to_vec(&*model);
        assert_eq!(blob.len(), persist::saved_len::<f32, Lenet<f32>>());

        // --- the first SAMPLES test images, raw and as the library loads them -----
        let sets = data::fashion_mnist_bundled::<f32>()?;
        let test = sets.test;
        let dir = sets.source.path().to_path_buf();
        let raw = data::read_idx_images(dir.join(FASHION_MNIST_FILES[2]))?;
        let labels = data::read_idx_labels(dir.join(FASHION_MNIST_FILES[3]))?;
        assert!(test.len() >= SAMPLES && raw.count >= SAMPLES, "the test set has fewer than {SAMPLES} images");
        assert_eq!((raw.rows, raw.cols), (28, 28));
        let pixels = &raw.pixels[..SAMPLES * PIXELS];
        let labels = &labels[..SAMPLES];

        // --- host predictions ---------------------------------------------------------
        let mut ws = <Lenet<f32> as Model<f32>>::Workspace::new();
        let mut outputs = Vec::with_capacity(SAMPLES * CLASSES * 4);
        let mut correct = 0;
        for i in 0..SAMPLES {
            let image = test.image(i);
            assert_eq!(test.label(i), labels[i], "label {i} differs between the loader and the raw file");
            // The firmware's inputs: raw pixels scaled as the loader does. Must be
            // bit-identical to what the loader produced.
            let from_raw: Vec<f32> = pixels[i * PIXELS..(i + 1) * PIXELS].iter().map(|&p| scale(p)).collect();
            assert!(
                image.iter().zip(&from_raw).all(|(a, b)| a.to_bits() == b.to_bits()),
                "image {i}: raw pixels / 255 differ from the loader's values"
            );
            let x = <<Lenet<f32> as Model<f32>>::Input as Tensor<f32>>::from_flat(image).expect("28x28x1 image");
            let y = model.predict(x, &mut ws);
            if argmax(y) == usize::from(labels[i]) {
                correct += 1;
            }
            outputs.extend(y.iter().flat_map(|v| v.to_le_bytes()));
        }

        // --- the int8 model and its outputs ---------------------------------------------
        let calibration = (0..sets.train.len().min(1000)).map(|i| sets.train.image(i));
        let int8 = constnet::quantize::quantize(&*model, calibration, &Default::default())?;
        let int8_blob = persist::to_vec_int8(&*int8);
        let mut qws = <Int8<Lenet> as Int8Model>::Workspace::new();
        let mut int8_outputs = Vec::with_capacity(SAMPLES * CLASSES);
        let mut int8_correct = 0;
        for (i, &label) in labels.iter().enumerate() {
            let mut x = [[[0i8; 1]; 28]; 28];
            int8.quantize_input(test.image(i), &mut x);
            let y = int8.predict(&x, &mut qws);
            if argmax_i8(y) == usize::from(label) {
                int8_correct += 1;
            }
            int8_outputs.extend(y.iter().map(|&v| v as u8));
        }

        // --- files ---------------------------------------------------------------------
        std::fs::create_dir_all(&out_dir)?;
        let files: [(&str, &[u8]); 6] = [
            ("lenet.postcard", &blob),
            ("images.bin", pixels),
            ("labels.bin", labels),
            ("host_outputs.bin", &outputs),
            ("lenet_int8.postcard", &int8_blob),
            ("host_outputs_int8.bin", &int8_outputs),
        ];
        for (name, bytes) in files {
            let path = out_dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {} ({} bytes)", path.display(), bytes.len());
        }
        println!("{source}");
        println!(
            "host accuracy on the first {SAMPLES} test images of the bundled subset: {correct}/{SAMPLES} = {:.4}",
            correct as f64 / SAMPLES as f64
        );
        println!("host int8 accuracy on them: {int8_correct}/{SAMPLES} = {:.4}", int8_correct as f64 / SAMPLES as f64);
        Ok(())
    }
}
