// Rule: a depthwise convolution's depth multiplier is at least 1 (it has
// C * multiplier output channels).

constnet::sequential! {
    pub struct Net: [8, 8, 3] {
        dw: DepthwiseConv2d<3, multiplier = 0, pad = same>,
    }
}

fn main() {}
