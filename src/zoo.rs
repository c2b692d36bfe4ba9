//! Reference networks: the two benchmark models of the project, declared with
//! [`sequential!`](crate::sequential), ready to train or embed; in
//! [`mlperf`], the four MLPerf Tiny models, declared from their `.tflite` files.

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
