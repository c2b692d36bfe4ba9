// Rule: a pooling window must fit in its input. Here a 5x5 window meets a
// 4x4 map.

constnet::sequential! {
    pub struct Net: [6, 6, 1] {
        conv: Conv2d<4, 3> => Relu, // [4, 4, 4]
        pool: MaxPool2d<5>,         // 5x5 on 4x4: empty
    }
}

fn main() {}
