// Rule: an option the layer's kind does not take is an error that names the
// layer and lists the kind's options (here `padding` for `pad`).

constnet::sequential! {
    pub struct Net: [28, 28, 1] {
        conv1: Conv2d<4, 3, stride = 1, padding = same> => Relu,
        pool1: MaxPool2d<2>,
        flat: Flatten,
        out: Dense<10>,
    }
}

fn main() {}
