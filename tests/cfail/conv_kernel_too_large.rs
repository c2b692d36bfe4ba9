// Rule: a convolution kernel must fit in its (padded) input, otherwise the
// output would be empty. Here a 5x5 kernel meets a 4x4 map.

constnet::sequential! {
    pub struct Net: [12, 12, 1] {
        conv1: Conv2d<4, 5> => Relu, // [8, 8, 4]
        pool1: MaxPool2d<2>,         // [4, 4, 4]
        conv2: Conv2d<8, 5> => Relu, // 5x5 on 4x4: empty
    }
}

fn main() {}
