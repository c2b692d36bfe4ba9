//! The MLPerf Tiny reference models (MLCommons), declared from what
//! `cargo run --release --features std --example tflite_import -- FILE`
//! prints for the published `.tflite` files (copies in
//! `tests/fixtures/mlperf-tiny/`). Read their weights with
//! `constnet::tflite::read_int8` or `read_f32`.

crate::sequential! {
    /// Anomaly detection (MLPerf Tiny "AD", `ad01`): a fully connected
    /// autoencoder over 5 frames of 128 log-mel bands, reconstructing its
    /// input (264,192 multiply-accumulates, 265,864 parameters).
    pub struct AnomalyDetector: [640] {
        fc1: Dense<128> => Relu,
        fc2: Dense<128> => Relu,
        fc3: Dense<128> => Relu,
        fc4: Dense<128> => Relu,
        fc5: Dense<8> => Relu,
        fc6: Dense<128> => Relu,
        fc7: Dense<128> => Relu,
        fc8: Dense<128> => Relu,
        fc9: Dense<128> => Relu,
        fc10: Dense<640>,
    }
}
