// Rule: a depthwise convolution needs an image input [H, W, C].

constnet::sequential! {
    pub struct Net: [8, 8, 3] {
        flat: Flatten,
        dw: DepthwiseConv2d<3>,
    }
}

fn main() {}
