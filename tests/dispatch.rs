//! Both builds of the inner loops (`constnet::cpu`: portable, and AVX2 with
//! FMA where the CPU has them) give the same bits: inference, and training
//! with every optimizer (forward, backward of convolution, pooling, dense
//! and dropout layers, gradient sums and updates).
//!
//! One test in a file of its own: the choice of build is global, and no
//! other test may switch it while this one compares.
#![cfg(feature = "std")]

use constnet::cpu::{force_portable, kernels, Kernels};
use constnet::data::fashion_mnist_bundled;
use constnet::train::Trainer;
use constnet::zoo::{Lenet, SmallConvNet};
use constnet::{Adam, Loss, Model, Momentum, Optimizer, Sgd, Tensor, Workspace};

/// Trains `M` for an epoch on `images` training images with `optimizer`
/// and returns the weights and the outputs on the first 100 test images.
fn run<M, O>(images: usize, optimizer: O) -> (Vec<f32>, Vec<f32>)
where
    M: Model<f32, Input = [[[f32; 1]; 28]; 28]> + Send + Sync,
    M::Trace: Send,
    O: Optimizer<f32, M> + Send,
{
    let data = fashion_mnist_bundled::<f32>().expect("bundled subset");
    let mut model = M::new_boxed(3);
    Trainer::new(optimizer, Loss::CrossEntropy)
        .batch_size(20)
        .seed(4)
        .threads(2)
        .report_every(0)
        .progress(false)
        .fit(&mut *model, &data.train.subset(..images))
        .expect("trains");
    let mut workspace = Box::<M::Workspace>::default();
    let outputs = (0..100)
        .flat_map(|i| {
            let x = <M::Input as Tensor<f32>>::from_flat(data.test.image(i)).expect("28x28");
            model.predict(x, &mut workspace).as_flat().to_vec()
        })
        .collect();
    (model.flat().to_vec(), outputs)
}

/// Every run, as bits.
fn runs() -> Vec<Vec<u32>> {
    let lenet = [
        run::<Lenet, _>(200, Adam::new_boxed(1e-3)),
        run::<Lenet, _>(200, Momentum::new_boxed(0.01, 0.9)),
        run::<Lenet, _>(200, Sgd { lr: 0.05 }),
        run::<SmallConvNet, _>(100, Adam::new_boxed(1e-3)),
    ];
    lenet.into_iter().flat_map(|(w, y)| [w, y]).map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
}

#[test]
fn portable_and_avx2_builds_give_the_same_bits() {
    let best = kernels();
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        assert_eq!(best, Kernels::Avx2Fma);
    }
    let fast = runs();
    force_portable(true);
    assert_eq!(kernels(), Kernels::Portable);
    let portable = runs();
    force_portable(false);
    assert_eq!(kernels(), best);
    for (i, (a, b)) in fast.iter().zip(&portable).enumerate() {
        assert!(a == b, "run {i}: the builds differ");
    }
    // The batch-1 path of inference, on another model's weights.
    let model = Lenet::<f32>::new_boxed(9);
    let x = [[[0.25f32; 1]; 28]; 28];
    let mut ws = Workspace::new();
    let a = model.predict(&x, &mut ws).map(f32::to_bits);
    force_portable(true);
    let b = model.predict(&x, &mut ws).map(f32::to_bits);
    force_portable(false);
    assert_eq!(a, b);
    // A residual block, its last convolution fused with the add.
    let model = WithBlock::<f32>::new_boxed(10);
    let x: [[[f32; 8]; 8]; 8] = core::array::from_fn(|y| core::array::from_fn(|x| [(y * 8 + x) as f32 / 64.0; 8]));
    let mut ws = Workspace::new();
    let a = model.predict(&x, &mut ws).map(f32::to_bits);
    force_portable(true);
    let b = model.predict(&x, &mut ws).map(f32::to_bits);
    force_portable(false);
    assert_eq!(a, b);
}

constnet::sequential! {
    struct Branch: [8, 8, 8] {
        c1: Conv2d<8, 3, pad = same> => Relu,
        c2: Conv2d<8, 3, pad = same>,
    }
}

constnet::sequential! {
    struct WithBlock: [8, 8, 8] {
        b: Residual<Branch> => Relu,
        flat: Flatten,
        out: Dense<4>,
    }
}
