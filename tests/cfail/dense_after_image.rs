// Rule: `Dense` reads a vector; after an image layer it needs a `Flatten`.

constnet::sequential! {
    pub struct Net: [8, 8, 1] {
        conv: Conv2d<4, 3> => Relu,
        fc: Dense<10>,
    }
}

fn main() {}
