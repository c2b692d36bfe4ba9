// Rule: a model has at most 100 layers (the macro numbers them, and stays
// within the compiler's default recursion limit); the 101st is an error that
// says so.

constnet::sequential! {
    pub struct Net: [8] {
        a0: Relu, a1: Relu, a2: Relu, a3: Relu, a4: Relu, a5: Relu, a6: Relu, a7: Relu, a8: Relu, a9: Relu,
        a10: Relu, a11: Relu, a12: Relu, a13: Relu, a14: Relu, a15: Relu, a16: Relu, a17: Relu, a18: Relu, a19: Relu,
        a20: Relu, a21: Relu, a22: Relu, a23: Relu, a24: Relu, a25: Relu, a26: Relu, a27: Relu, a28: Relu, a29: Relu,
        a30: Relu, a31: Relu, a32: Relu, a33: Relu, a34: Relu, a35: Relu, a36: Relu, a37: Relu, a38: Relu, a39: Relu,
        a40: Relu, a41: Relu, a42: Relu, a43: Relu, a44: Relu, a45: Relu, a46: Relu, a47: Relu, a48: Relu, a49: Relu,
        a50: Relu, a51: Relu, a52: Relu, a53: Relu, a54: Relu, a55: Relu, a56: Relu, a57: Relu, a58: Relu, a59: Relu,
        a60: Relu, a61: Relu, a62: Relu, a63: Relu, a64: Relu, a65: Relu, a66: Relu, a67: Relu, a68: Relu, a69: Relu,
        a70: Relu, a71: Relu, a72: Relu, a73: Relu, a74: Relu, a75: Relu, a76: Relu, a77: Relu, a78: Relu, a79: Relu,
        a80: Relu, a81: Relu, a82: Relu, a83: Relu, a84: Relu, a85: Relu, a86: Relu, a87: Relu, a88: Relu, a89: Relu,
        a90: Relu, a91: Relu, a92: Relu, a93: Relu, a94: Relu, a95: Relu, a96: Relu, a97: Relu, a98: Relu, a99: Relu,
        a100: Relu,
    }
}

fn main() {}
