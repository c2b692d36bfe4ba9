// Rule: a depthwise kernel must fit in its (padded) input, as a
// convolution's. Here a 5x5 kernel meets a 4x4 map.

constnet::sequential! {
    pub struct Net: [8, 8, 3] {
        pool: MaxPool2d<2>,                   // [4, 4, 3]
        dw: DepthwiseConv2d<5> => Relu,       // 5x5 on 4x4: empty
    }
}

fn main() {}
