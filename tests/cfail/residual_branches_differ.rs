// Rule: a residual block's two branches must meet in the same shape. Here
// the main branch halves the image ([2, 2, 4]) but the shortcut keeps it
// ([4, 4, 4]).

constnet::sequential! {
    pub struct Main: [4, 4, 2] {
        c1: Conv2d<4, 3, stride = 2, pad = 1> => Relu, // [2, 2, 4]
    }
}

constnet::sequential! {
    pub struct Shortcut: [4, 4, 2] {
        p: Conv2d<4, 1>, // [4, 4, 4]: stride 2 forgotten
    }
}

constnet::sequential! {
    pub struct Net: [4, 4, 2] {
        block: Residual<Main, Shortcut> => Relu,
        flat: Flatten,
        out: Dense<3>,
    }
}

fn main() {}
