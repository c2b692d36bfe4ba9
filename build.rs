//! Tells the code which instruction set extensions the target has, where
//! stable Rust's `cfg(target_feature)` does not say: `constnet_dsp` for Arm
//! targets with the DSP extension (ARMv7E-M: Cortex-M4, M7; SMLAD, SXTB16),
//! which the int8 kernels use.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(constnet_dsp)");
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") {
        println!("cargo:rustc-cfg=constnet_dsp");
    }
}
