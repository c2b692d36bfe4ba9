// Rule: without a shortcut branch, the main branch must yield the block's
// own input shape: here [4, 4, 3] against the input's [4, 4, 2].

constnet::sequential! {
    pub struct Widen: [4, 4, 2] {
        c: Conv2d<3, 3, pad = same>, // [4, 4, 3]
    }
}

constnet::sequential! {
    pub struct Net: [4, 4, 2] {
        block: Residual<Widen> => Relu,
        flat: Flatten,
        out: Dense<3>,
    }
}

fn main() {}
