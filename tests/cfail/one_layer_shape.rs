// Rule: a layer that does not fit is one error, however many types use its
// size (its own type, the model's output and trace, the workspace). Here the
// only layer, a 5x5 kernel over a 4x4 input.

constnet::sequential! {
    pub struct Net: [4, 4, 1] {
        conv: Conv2d<8, 5> => Relu,
    }
}

fn main() {}
