// Rule: `predict` takes exactly the model's input array; a 32x32 image given
// to a 28x28 model is a type error.

use constnet::Model;

constnet::sequential! {
    pub struct Net: [28, 28, 1] {
        conv: Conv2d<2, 5> => Relu,
        pool: MaxPool2d<4>,
        flat: Flatten,
        out: Dense<10> => Softmax,
    }
}

fn main() {
    let model = Net::<f32>::new(1);
    let image = [[[0.0f32; 1]; 32]; 32];
    let mut workspace = constnet::Workspace::new();
    let _ = model.predict(&image, &mut workspace);
}
