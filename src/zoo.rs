//! Reference networks: the two benchmark models of the project and MLPerf
//! Tiny's keyword-spotting model, declared with
//! [`sequential!`](crate::sequential), ready to train or embed; in
//! [`mlperf`], the MLPerf Tiny models imported from their `.tflite` files.

pub mod mlperf;

crate::sequential! {
    /// LeNet-style classifier for 28x28 grayscale images ("M2", 20,522
    /// parameters, 337,024 multiply-accumulates per inference).
    pub struct Lenet: [28, 28, 1] {
        conv1: Conv2d<8, 5> => Relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5> => Relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<64> => Relu,
        out: Dense<10> => Softmax,
    }
}

crate::sequential! {
    /// Two 3x3 convolutions and a wide dense layer for 28x28 grayscale images
    /// ("M1", 74,778 parameters, 264,592 multiply-accumulates per inference).
    pub struct SmallConvNet: [28, 28, 1] {
        conv1: Conv2d<4, 3> => Relu,
        conv2: Conv2d<8, 3> => Relu,
        pool: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<64> => Relu,
        drop: Dropout<0.1>,
        out: Dense<10> => Softmax,
    }
}

crate::sequential! {
    /// LeNet with one sigmoid output: the binary task "class > 4" of the
    /// source material, trained with binary cross-entropy.
    pub struct LenetBinary: [28, 28, 1] {
        conv1: Conv2d<8, 5> => Relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5> => Relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<64> => Relu,
        out: Dense<1> => Sigmoid,
    }
}

crate::sequential! {
    /// Keyword spotting, MLPerf Tiny's reference DS-CNN (`kws_ref_model.tflite`):
    /// 49x10 MFCC features to 12 classes, 22,604 parameters, 2,656,768
    /// multiply-accumulates per inference. A 10x4 convolution at stride 2
    /// with TensorFlow's "same" padding (4 rows before, 5 after), four
    /// depthwise-separable blocks (3x3 depthwise, 1x1 pointwise, relu after
    /// each; batch normalization folded into the convolutions, as in the
    /// published file), global average pooling, dense, softmax.
    ///
    /// Inference runs each depthwise layer fused with the pointwise layer
    /// after it, the block's output written over its input as the rows are
    /// done ([`fuse`](crate::fuse)), so the workspace peak is the input and
    /// conv1's output: 8,490 values (8,490 bytes in int8, 33,960 in f32),
    /// where a block's input and output side by side would take 16,000.
    pub struct DsCnn: [49, 10, 1] {
        conv1: Conv2d<64, [10, 4], stride = 2, pad = same> => Relu, // [25, 5, 64]
        dw1: DepthwiseConv2d<3, pad = same> => Relu,
        pw1: Conv2d<64, 1> => Relu,
        dw2: DepthwiseConv2d<3, pad = same> => Relu,
        pw2: Conv2d<64, 1> => Relu,
        dw3: DepthwiseConv2d<3, pad = same> => Relu,
        pw3: Conv2d<64, 1> => Relu,
        dw4: DepthwiseConv2d<3, pad = same> => Relu,
        pw4: Conv2d<64, 1> => Relu,
        pool: GlobalAvgPool2d, // [1, 1, 64]
        flat: Flatten,
        fc: Dense<12> => Softmax,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Model;

    #[test]
    fn reference_sizes() {
        assert_eq!(Lenet::<f32>::param_count(), 20_522);
        assert_eq!(Lenet::<f32>::PARAM_BYTES, 82_088);
        // Each conv runs fused with its pool: the input and pool1's output.
        assert_eq!(Lenet::<f32>::WORKSPACE_BYTES, (784 + 1152) * 4);
        assert_eq!(SmallConvNet::<f32>::param_count(), 74_778);
        assert_eq!(SmallConvNet::<f32>::WORKSPACE_BYTES, (26 * 26 * 4 + 12 * 12 * 8) * 4);
    }

    #[test]
    fn keyword_spotting_sizes_are_mlperf_tinys() {
        use crate::{Int8, Int8Model};
        // The parameter count of the MLPerf Tiny README and the shapes of its graph.
        assert_eq!(DsCnn::<f32>::param_count(), 22_604);
        let shapes: [[usize; 3]; 4] = [[25, 5, 64], [25, 5, 64], [25, 5, 64], [1, 1, 64]];
        let layers = DsCnn::<f32>::LAYERS;
        for (l, s) in [&layers[0], &layers[1], &layers[8], &layers[9]].iter().zip(shapes) {
            assert_eq!(l.output, &s[..], "{}", l.name);
        }
        assert_eq!(layers[0].info.kind, "Conv2d 10x4/2 pad 4:5x1");
        assert_eq!(layers[11].output, &[12][..]);
        // Each depthwise layer runs fused with its pointwise layer, whose
        // output overwrites the block's input but for one 5x64 row: the
        // peak is the input with conv1's output (490 + 8,000 values), where
        // two 25x5x64 activations side by side would need 16,000.
        assert_eq!(DsCnn::<f32>::WORKSPACE_BYTES, (490 + 8_000) * 4);
        assert_eq!(Int8::<DsCnn>::WORKSPACE_BYTES, 490 + 8_000);
        // int8: 22,016 weight bytes; per output channel (588) an int32 bias
        // and a multiplier and shift (12 bytes); 148 bytes of zero points,
        // scales and the softmax's constants.
        assert_eq!(Int8::<DsCnn>::PARAM_BYTES, 22_016 + 588 * 12 + 148);
    }

    #[test]
    fn staged_input_predicts_like_a_separate_input() {
        let m = Lenet::<f32>::new(3);
        let x: [[[f32; 1]; 28]; 28] = core::array::from_fn(|y| core::array::from_fn(|x| [(y * 28 + x) as f32 / 784.0]));
        let mut ws = crate::Workspace::new();
        let expected = *m.predict(&x, &mut ws);
        let mut staged = crate::Workspace::new();
        *Lenet::staged_input(&mut staged) = x;
        assert_eq!(m.predict_staged(&mut staged).map(f32::to_bits), expected.map(f32::to_bits));
    }
}
