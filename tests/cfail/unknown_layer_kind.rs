// Rule: a layer kind the macro does not know is an error that names the
// layer and lists the kinds (here `Conv2D` for `Conv2d`).

constnet::sequential! {
    pub struct Net: [28, 28, 1] {
        conv1: Conv2D<4, 3> => Relu,
        pool1: MaxPool2d<2>,
        flat: Flatten,
        out: Dense<10>,
    }
}

fn main() {}
