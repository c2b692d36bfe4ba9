// Rule: a dropout rate must be in [0, 1).

constnet::sequential! {
    pub struct Net: [16] {
        fc: Dense<8> => Relu,
        drop: Dropout<1.5>,
        out: Dense<2>,
    }
}

fn main() {}
