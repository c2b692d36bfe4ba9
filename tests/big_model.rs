//! A model bigger than the stack it runs on: built, trained, saved and
//! loaded on a thread with a 2 MiB stack. Every model, gradient and
//! optimizer state stays on the heap; one of them on the stack would
//! overflow it (and abort the test binary).
#![cfg(feature = "std")]

use constnet::data::fashion_mnist_bundled;
use constnet::train::Trainer;
use constnet::{persist, Adam, LoadError, Loss, Model, Momentum, Params};

constnet::sequential! {
    /// 1.35 million parameters, 5.4 MB of `f32`: each of the model, its
    /// gradients and Adam's two moments is more than twice the stack.
    struct Big: [28, 28, 1] {
        flat: Flatten,
        fc1: Dense<1700> => Relu,
        out: Dense<10> => Softmax,
    }
}

const STACK: usize = 2 << 20;
const _: () = assert!(Big::<f32>::PARAM_BYTES > 5_000_000 && Big::<f32>::PARAM_BYTES > 2 * STACK);

/// Runs `f` on a thread with a [`STACK`]-byte stack.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(STACK).spawn(f).expect("spawns").join().expect("no panic");
}

#[test]
fn a_model_of_5_mb_trains_saves_and_loads_on_a_2_mib_stack() {
    on_small_stack(|| {
        let data = fashion_mnist_bundled::<f32>().expect("bundled subset");
        let batch = data.train.subset(..32);
        let mut model = Big::<f32>::new_boxed(1);
        let initial = model.flat().to_vec();
        // One step of batch 32 with Adam, then one with momentum.
        Trainer::new(Adam::new_boxed(1e-3), Loss::CrossEntropy)
            .report_every(0)
            .progress(false)
            .fit(&mut *model, &batch)
            .expect("trains");
        Trainer::new(Momentum::new_boxed(1e-2, 0.9), Loss::CrossEntropy)
            .report_every(0)
            .progress(false)
            .fit(&mut *model, &batch)
            .expect("trains");
        assert_ne!(model.flat(), &initial[..], "training changed nothing");

        let blob = persist::to_vec(&*model);
        let loaded: Box<Big> = persist::load_boxed(&blob).expect("loads");
        assert!(loaded.flat().iter().zip(model.flat()).all(|(a, b)| a.to_bits() == b.to_bits()));
        let truncated = persist::load_boxed::<f32, Big>(&blob[..blob.len() - 1]).map(|_| ());
        assert_eq!(truncated, Err(LoadError::Truncated { expected: blob.len(), actual: blob.len() - 1 }));
    });
}
