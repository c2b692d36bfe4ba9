//! Shapes that do not fit must not compile. Each case in `tests/cfail/` is a
//! small program; its expected compiler output is the `.stderr` next to it
//! (regenerate with `TRYBUILD=overwrite cargo test --test compile_fail`, then
//! read every diff). trybuild strips machine paths (`$DIR`, `$WORKSPACE`,
//! `$RUST`) and the line numbers of files outside the case, so the `.stderr`
//! files hold no absolute path; an edit to the quoted lines of `src/` (or a
//! new rustc) can still change them.
//!
//! Shape rule covered by each case (all but one are reported by `cargo check`
//! already, so also in the editor):
//! - `dense_mismatch`: `Dense<I, O>` with an explicit input size must match
//!   what the layer before yields (`fc` declares 1350, the flatten yields 1352).
//! - `conv_kernel_too_large`: a conv kernel must fit its padded input
//!   (5x5 over 4x4 would give an empty output).
//! - `pool_window_too_large`: a pooling window must fit its input (5x5 over 4x4).
//! - `predict_wrong_input_shape`: `predict` takes exactly the model's input
//!   array (`[[[f32; 1]; 32]; 32]` given to a `[28, 28, 1]` model): a type error.
//! - `same_padding_even_kernel`: `pad = same` needs an odd kernel (`Conv2d<4, 4>`).
//! - `dropout_rate`: a dropout rate must be in `[0, 1)` (`Dropout<1.5>`).
//! - `dense_after_image`: `Dense` needs a vector input; after a conv, a
//!   `Flatten` must come first (the macro's `compile_error!`).
//! - `hand_written_conv_wrong_output`: a hand-written `Conv2d` must state
//!   `OH/OW = (H + 2*PH - KH) / SH + 1` (25 given, 24 right). Checked by an
//!   inline const at monomorphization: only `cargo build` reports it.
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

    // Errors from the const fns of `constnet::shape` that `sequential!` puts
    // in its types: reported at `cargo check`, naming the layer and sizes.
    t.compile_fail("tests/cfail/dense_mismatch.rs");
    t.compile_fail("tests/cfail/conv_kernel_too_large.rs");
    t.compile_fail("tests/cfail/pool_window_too_large.rs");
    t.compile_fail("tests/cfail/same_padding_even_kernel.rs");
    t.compile_fail("tests/cfail/dropout_rate.rs");

    t.compile_fail("tests/cfail/dense_after_image.rs");
    t.compile_fail("tests/cfail/predict_wrong_input_shape.rs");
    t.compile_fail("tests/cfail/hand_written_conv_wrong_output.rs");
    t.compile_fail("tests/cfail/hand_written_chain_mismatch.rs");
}
