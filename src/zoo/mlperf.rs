//! The four MLPerf Tiny reference models (MLCommons), declared as
//! `cargo run --release --features std --example tflite_import -- FILE`
//! prints them for the published `.tflite` files (copies in
//! `tests/fixtures/mlperf-tiny/`), each under its task's name. Read their
//! weights with `constnet::tflite::read_int8` or `read_f32`; the f32 forms
//! also train.
//!
//! Inference fuses what pays: each depthwise convolution runs with the 1x1
//! convolution after it ([`fuse`](crate::fuse)), a residual block's last
//! convolution with its add, so the workspace peaks stay small (the sizes
//! tests below state them).

crate::sequential! {
    /// Keyword spotting (MLPerf Tiny "KWS", DS-CNN, `kws_ref_model.tflite`):
    /// 49x10 MFCC features to 12 classes, 22,604 parameters, 2,656,768
    /// multiply-accumulates per inference. A 10x4 convolution at stride 2
    /// with TensorFlow's "same" padding (4 rows before, 5 after), four
    /// depthwise-separable blocks (3x3 depthwise, 1x1 pointwise, relu after
    /// each; batch normalization folded into the convolutions), global
    /// average pooling, dense, softmax.
    ///
    /// Inference runs each depthwise layer fused with the pointwise layer
    /// after it, the block's output written over its input as the rows are
    /// done, so the workspace peak is the input and conv1's output: 8,490
    /// values (8,490 bytes in int8, 33,960 in f32), where a block's input
    /// and output side by side would take 16,000.
    pub struct KeywordSpotter: [49, 10, 1] {
        conv1: Conv2d<64, [10, 4], stride = 2, pad = same> => Relu,
        dw1: DepthwiseConv2d<3, pad = same> => Relu,
        conv2: Conv2d<64, 1> => Relu,
        dw2: DepthwiseConv2d<3, pad = same> => Relu,
        conv3: Conv2d<64, 1> => Relu,
        dw3: DepthwiseConv2d<3, pad = same> => Relu,
        conv4: Conv2d<64, 1> => Relu,
        dw4: DepthwiseConv2d<3, pad = same> => Relu,
        conv5: Conv2d<64, 1> => Relu,
        pool1: GlobalAvgPool2d,
        flat: Flatten,
        fc1: Dense<12> => Softmax,
    }
}

crate::sequential! {
    /// Main branch of residual block 1.
    pub struct ImageClassifierBlock1: [32, 32, 16] {
        conv1: Conv2d<16, 3, pad = same> => Relu,
        conv2: Conv2d<16, 3, pad = same>,
    }
}
crate::sequential! {
    /// Main branch of residual block 2.
    pub struct ImageClassifierBlock2: [32, 32, 16] {
        conv1: Conv2d<32, 3, stride = 2, pad = same> => Relu,
        conv2: Conv2d<32, 3, pad = same>,
    }
}
crate::sequential! {
    /// Shortcut of residual block 2.
    pub struct ImageClassifierShortcut2: [32, 32, 16] {
        conv1: Conv2d<32, 1, stride = 2>,
    }
}
crate::sequential! {
    /// Main branch of residual block 3.
    pub struct ImageClassifierBlock3: [16, 16, 32] {
        conv1: Conv2d<64, 3, stride = 2, pad = same> => Relu,
        conv2: Conv2d<64, 3, pad = same>,
    }
}
crate::sequential! {
    /// Shortcut of residual block 3.
    pub struct ImageClassifierShortcut3: [16, 16, 32] {
        conv1: Conv2d<64, 1, stride = 2>,
    }
}
crate::sequential! {
    /// Image classification (MLPerf Tiny "IC", ResNet-8 on CIFAR-10,
    /// `pretrainedResnet_quant.tflite`): 32x32 RGB to 10 classes, 77,706
    /// parameters, 12,501,632 multiply-accumulates. Three residual stacks
    /// of two 3x3 convolutions (the second and third at stride 2, with a
    /// 1x1 stride-2 shortcut), relu after each add, global average pooling,
    /// dense, softmax.
    pub struct ImageClassifier: [32, 32, 3] {
        conv1: Conv2d<16, 3, pad = same> => Relu,
        block1: Residual<ImageClassifierBlock1> => Relu,
        block2: Residual<ImageClassifierBlock2, ImageClassifierShortcut2> => Relu,
        block3: Residual<ImageClassifierBlock3, ImageClassifierShortcut3> => Relu,
        pool1: GlobalAvgPool2d,
        flat: Flatten,
        fc1: Dense<10> => Softmax,
    }
}

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

crate::sequential! {
    /// Visual wake words (MLPerf Tiny "VWW", MobileNetV1 with width 0.25,
    /// `vww_96_int8.tflite`): a 96x96 RGB image to person / no person,
    /// 210,850 parameters, 7,489,664 multiply-accumulates. A 3x3 stride-2
    /// convolution, thirteen depthwise-separable blocks (four of them at
    /// stride 2), global average pooling, dense, softmax.
    pub struct PersonDetector: [96, 96, 3] {
        conv1: Conv2d<8, 3, stride = 2, pad = same> => Relu,
        dw1: DepthwiseConv2d<3, pad = same> => Relu,
        conv2: Conv2d<16, 1> => Relu,
        dw2: DepthwiseConv2d<3, stride = 2, pad = same> => Relu,
        conv3: Conv2d<32, 1> => Relu,
        dw3: DepthwiseConv2d<3, pad = same> => Relu,
        conv4: Conv2d<32, 1> => Relu,
        dw4: DepthwiseConv2d<3, stride = 2, pad = same> => Relu,
        conv5: Conv2d<64, 1> => Relu,
        dw5: DepthwiseConv2d<3, pad = same> => Relu,
        conv6: Conv2d<64, 1> => Relu,
        dw6: DepthwiseConv2d<3, stride = 2, pad = same> => Relu,
        conv7: Conv2d<128, 1> => Relu,
        dw7: DepthwiseConv2d<3, pad = same> => Relu,
        conv8: Conv2d<128, 1> => Relu,
        dw8: DepthwiseConv2d<3, pad = same> => Relu,
        conv9: Conv2d<128, 1> => Relu,
        dw9: DepthwiseConv2d<3, pad = same> => Relu,
        conv10: Conv2d<128, 1> => Relu,
        dw10: DepthwiseConv2d<3, pad = same> => Relu,
        conv11: Conv2d<128, 1> => Relu,
        dw11: DepthwiseConv2d<3, pad = same> => Relu,
        conv12: Conv2d<128, 1> => Relu,
        dw12: DepthwiseConv2d<3, stride = 2, pad = same> => Relu,
        conv13: Conv2d<256, 1> => Relu,
        dw13: DepthwiseConv2d<3, pad = same> => Relu,
        conv14: Conv2d<256, 1> => Relu,
        pool1: GlobalAvgPool2d,
        flat: Flatten,
        fc1: Dense<2> => Softmax,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Int8, Int8Model, Model};

    #[test]
    fn keyword_spotting_sizes_are_mlperf_tinys() {
        // The parameter count of the MLPerf Tiny README and the shapes of its graph.
        assert_eq!(KeywordSpotter::<f32>::param_count(), 22_604);
        let shapes: [[usize; 3]; 4] = [[25, 5, 64], [25, 5, 64], [25, 5, 64], [1, 1, 64]];
        let layers = KeywordSpotter::<f32>::LAYERS;
        for (l, s) in [&layers[0], &layers[1], &layers[8], &layers[9]].iter().zip(shapes) {
            assert_eq!(l.output, &s[..], "{}", l.name);
        }
        assert_eq!(layers[0].info.kind, "Conv2d 10x4/2 pad 4:5x1");
        assert_eq!(layers[11].output, &[12][..]);
        // Each depthwise layer runs fused with its pointwise layer, whose
        // output overwrites the block's input but for one 5x64 row: the
        // peak is the input with conv1's output (490 + 8,000 values), where
        // two 25x5x64 activations side by side would need 16,000.
        assert_eq!(KeywordSpotter::<f32>::WORKSPACE_BYTES, (490 + 8_000) * 4);
        assert_eq!(Int8::<KeywordSpotter>::WORKSPACE_BYTES, 490 + 8_000);
        // int8: 22,016 weight bytes; per output channel (588) an int32 bias
        // and a multiplier and shift (12 bytes); 148 bytes of zero points,
        // scales and the softmax's constants.
        assert_eq!(Int8::<KeywordSpotter>::PARAM_BYTES, 22_016 + 588 * 12 + 148);
    }

    #[test]
    fn parameter_counts_are_mlperf_tinys() {
        assert_eq!(ImageClassifier::<f32>::param_count(), 77_706);
        assert_eq!(AnomalyDetector::<f32>::param_count(), 265_864);
        assert_eq!(PersonDetector::<f32>::param_count(), 210_850);
    }
}
