//! A residual branch that starts with a depthwise convolution and the 1x1
//! convolution after it (run as one step over its input): the block's input
//! is copied in first, so it stays live for the add.

use constnet::{Layer, Model, Workspace};

constnet::sequential! {
    pub struct Sep: [6, 6, 4] {
        dw: DepthwiseConv2d<3, pad = same> => Relu,
        pw: Conv2d<4, 1> => Relu,
        last: Conv2d<4, 3, pad = same>,
    }
}

constnet::sequential! {
    pub struct Net: [6, 6, 4] {
        block: Residual<Sep> => Relu,
        flat: Flatten,
        out: Dense<3>,
    }
}

#[test]
fn separable_branch_keeps_the_block_input() {
    let m = Net::<f32>::new(3);
    let x: [[[f32; 4]; 6]; 6] = core::array::from_fn(|y| {
        core::array::from_fn(|x| core::array::from_fn(|c| ((y * 24 + x * 4 + c) % 7) as f32 * 0.3 - 0.9))
    });
    let (mut a, mut b, mut c) = ([[[0f32; 4]; 6]; 6], [[[0f32; 4]; 6]; 6], [[[0f32; 4]; 6]; 6]);
    m.block.main.dw.forward(&x, &mut a);
    m.block.main.pw.forward(&a, &mut b);
    m.block.main.last.forward(&b, &mut c);
    let mut y = [0f32; 144];
    for (i, v) in y.iter_mut().enumerate() {
        *v = (c.as_flattened().as_flattened()[i] + x.as_flattened().as_flattened()[i]).max(0.0);
    }
    let mut want = [0f32; 3];
    m.out.forward(&y, &mut want);
    let mut ws = Workspace::new();
    assert_eq!(m.predict(&x, &mut ws), &want);
    println!("workspace {} B", Net::<f32>::WORKSPACE_BYTES);
}
