// Rule: `Dense<I, O>` with an explicit input size must match the length the
// layer before it yields (here 13 * 13 * 8 = 1352, not 1350).

constnet::sequential! {
    pub struct Net: [28, 28, 1] {
        conv: Conv2d<8, 3> => Relu, // [26, 26, 8]
        pool: MaxPool2d<2>,         // [13, 13, 8]
        flat: Flatten,              // [1352]
        fc: Dense<1350, 10>,
    }
}

fn main() {}
