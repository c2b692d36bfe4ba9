//! Architecture fingerprints are part of the saved-weights format: firmware
//! checks the blob's fingerprint against its model's, so a change to how
//! `sequential!` builds a model must leave every existing model's value as it
//! was. Pinned here for the reference networks and for models that use every
//! layer kind and option (values recorded before the macro's rewrite for
//! issue 11).

use constnet::zoo::{Lenet, LenetBinary, SmallConvNet};
use constnet::{Model, Params};

constnet::sequential! {
    /// Every layer kind, with every option, in both image and vector stages.
    struct Every: [12, 12, 2] {
        c1: Conv2d<3, 3, pad = same> => Relu,
        c2: Conv2d<4, [3, 2], stride = [1, 2], edge = 1, bias = false> => Tanh,
        p1: MaxPool2d<2>,
        up: Upsample<[2, 1]>,
        c3: Conv2d<2, 3, stride = 2, pad = valid>,
        avg: AvgPool2d<[2, 1], stride = 1>,
        minp: MinPool2d<[2, 1], stride = 1>,
        drop: Dropout<0.25>,
        sig: Sigmoid,
        flat: Flatten,
        fc: Dense<8> => Sigmoid,
        fc2: Dense<8, 5, bias = false> => Linear,
        act: Relu,
        out: Dense<3> => Softmax,
    }
}

constnet::sequential! {
    /// A vector input.
    struct Vector: [16] {
        fc: Dense<8> => Relu,
        drop: Dropout<0.1>,
        out: Dense<8, 2>,
        soft: Softmax,
    }
}

#[test]
fn reference_networks_keep_their_fingerprints() {
    assert_eq!(<Lenet<f32> as Model<f32>>::FINGERPRINT, 0xa566_a7d8_930d_96cb);
    assert_eq!(<Lenet<f64> as Model<f64>>::FINGERPRINT, 0x5f3e_85be_9982_6c19);
    assert_eq!(<SmallConvNet<f32> as Model<f32>>::FINGERPRINT, 0x3983_e0d3_1494_4721);
    assert_eq!(<LenetBinary<f32> as Model<f32>>::FINGERPRINT, 0x5968_b14c_e11c_8673);
}

#[test]
fn every_layer_kind_and_option_keeps_its_fingerprint_and_sizes() {
    assert_eq!(<Every<f32> as Model<f32>>::FINGERPRINT, 0xb068_e96f_6642_9bcf);
    assert_eq!(<Every<f64> as Model<f64>>::FINGERPRINT, 0xd5b8_90fd_365a_58f5);
    assert_eq!(<Every<f32> as Model<f32>>::WORKSPACE_BYTES, 2880);
    assert_eq!(<Every<f32> as Params<f32>>::LEN, 317);
    assert_eq!(<Vector<f32> as Model<f32>>::FINGERPRINT, 0x10b7_eaa9_9e4f_e8eb);
    assert_eq!(<Vector<f32> as Model<f32>>::WORKSPACE_BYTES, 96);
    assert_eq!(<Vector<f32> as Params<f32>>::LEN, 154);
}
