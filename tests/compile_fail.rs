//! Shapes that do not fit must not compile. Each case in `tests/cfail/` is a
//! small program; its expected compiler output is the `.stderr` next to it
//! (regenerate with `TRYBUILD=overwrite cargo test --test compile_fail`, then
//! read every diff). trybuild strips machine paths (`$DIR`, `$WORKSPACE`,
//! `$RUST`) and the line numbers of files outside the case, so the `.stderr`
//! files hold no absolute path; an edit to the quoted lines of `src/` (or a
//! new rustc) can still change them.
//!
//! Rule covered by each case (all but one are reported by `cargo check`
//! already, so also in the editor):
//! - `dense_mismatch`: `Dense<I, O>` with an explicit input size must match
//!   what the layer before yields (`fc` declares 1350, the flatten yields 1352).
//! - `conv_kernel_too_large`: a conv kernel must fit its padded input
//!   (5x5 over 4x4 would give an empty output).
//! - `pool_window_too_large`: a pooling window must fit its input (5x5 over 4x4).
//! - `predict_wrong_input_shape`: `predict` takes exactly the model's input
//!   array (`[[[f32; 1]; 32]; 32]` given to a `[28, 28, 1]` model): a type error.
//! - `depthwise_kernel_too_large`: a depthwise kernel must fit its padded
//!   input (5x5 over 4x4).
//! - `depthwise_multiplier_zero`: a depthwise convolution's `multiplier` is
//!   at least 1.
//! - `dropout_rate`: a dropout rate must be in `[0, 1)` (`Dropout<1.5>`).
//! - `one_layer_shape`: a layer that does not fit is reported once, although
//!   its size is used by several types (its own, the trace's, the
//!   workspace's): the `.stderr` holds one error.
//! - `residual_branches_differ`: a residual block's main branch and its
//!   shortcut must meet in one shape (`[2, 2, 4]` against `[4, 4, 4]`);
//!   the error names both.
//! - `residual_identity_shape`: without a shortcut, the main branch must
//!   yield the block's input shape (`[4, 4, 3]` against `[4, 4, 2]`).
//! - `dense_after_image`: `Dense` needs a vector input; after a conv, a
//!   `Flatten` must come first (the macro's `compile_error!`).
//! - `depthwise_after_vector`: a depthwise convolution needs an image input
//!   (the same rule as every window layer's).
//! - `unknown_layer_kind`: a kind the macro does not know (`Conv2D`) names
//!   the layer and lists the kinds.
//! - `unknown_option`: an option the kind does not take (`padding`) names
//!   the layer and lists the kind's options.
//! - `too_many_layers`: a model has at most 100 layers; the 101st says so.
//! - `hand_written_conv_wrong_output`: a hand-written `Conv2d` must state
//!   `OH/OW = (H + 2*PH - KH) / SH + 1` (25 given, 24 right). Checked by an
//!   inline const at monomorphization: only `cargo build` reports it.
//! - `hand_written_depthwise_wrong_output`: a hand-written `DepthwiseConv2d`
//!   must state `OC = C * M` (3 given for 3 channels with multiplier 2).
//! - `hand_written_chain_mismatch`: layers chain only when the next `Input`
//!   is the previous `Output` (`[f32; 1352]` into `Dense<f32, 1350, 10>`),
//!   by hand and through a `B: Layer<Input = A::Output>` bound: type errors.
//!
//! Pass cases:
//! - `pass_lenet`: a full LeNet via `sequential!`, `init`, `predict`.
//! - `pass_hand_written`: the correct hand-written conv, flatten and dense.
//!
//! The pass cases are not only a sanity check: trybuild runs `cargo check`
//! unless the suite has at least one pass case, and then `cargo build`. Only a
//! build reports `hand_written_conv_wrong_output` (rust-lang/rust#99682,
//! trybuild #225, #258): without the pass cases that case "compiles".

#[test]
fn shapes() {
    let t = trybuild::TestCases::new();
    t.pass("tests/cfail/pass_*.rs");

    // Errors from the const fns of `constnet::shape` that `sequential!`
    // evaluates once per layer (in its geometry or its type): reported at
    // `cargo check`, naming the layer and sizes.
    t.compile_fail("tests/cfail/dense_mismatch.rs");
    t.compile_fail("tests/cfail/conv_kernel_too_large.rs");
    t.compile_fail("tests/cfail/pool_window_too_large.rs");
    t.compile_fail("tests/cfail/depthwise_kernel_too_large.rs");
    t.compile_fail("tests/cfail/depthwise_multiplier_zero.rs");
    t.compile_fail("tests/cfail/dropout_rate.rs");
    t.compile_fail("tests/cfail/one_layer_shape.rs");
    t.compile_fail("tests/cfail/residual_branches_differ.rs");
    t.compile_fail("tests/cfail/residual_identity_shape.rs");

    // The macro's own errors (`compile_error!`), naming the layer.
    t.compile_fail("tests/cfail/dense_after_image.rs");
    t.compile_fail("tests/cfail/depthwise_after_vector.rs");
    t.compile_fail("tests/cfail/unknown_layer_kind.rs");
    t.compile_fail("tests/cfail/unknown_option.rs");
    t.compile_fail("tests/cfail/too_many_layers.rs");

    t.compile_fail("tests/cfail/predict_wrong_input_shape.rs");
    t.compile_fail("tests/cfail/hand_written_conv_wrong_output.rs");
    t.compile_fail("tests/cfail/hand_written_depthwise_wrong_output.rs");
    t.compile_fail("tests/cfail/hand_written_chain_mismatch.rs");
}
