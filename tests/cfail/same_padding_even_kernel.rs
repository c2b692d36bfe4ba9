// Rule: "same" padding needs an odd kernel (an even one would pad lopsidedly).

constnet::sequential! {
    pub struct Net: [8, 8, 1] {
        conv: Conv2d<4, 4, pad = same>,
    }
}

fn main() {}
