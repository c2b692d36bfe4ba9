#!/usr/bin/env bash
# CI for firmware-example: the trained model runs on an emulated STM32F405
# (QEMU netduinoplus2) and agrees with the host.
#
#   bash tools/firmware-ci.sh
#
# 1. installs qemu-system-arm and gcc when missing (apt-get update only then),
#    the thumbv7em-none-eabihf target and llvm-tools;
# 2. builds the icount QEMU plugin;
# 3. runs tools/firmware-figures.sh (weights used in flash with `view`): exit
#    status 0, and its RESULT line must pass the output gate (agree=<n>/<n>
#    and bit_identical=<n>/<n>, n = 300) and the M4F budgets below;
# 4. runs the `load-into-ram` build (weights copied into RAM with `load_into`):
#    exit status 0 and the output gate;
# 5. checks the plumbing: a firmware built with `induce-failure` must fail,
#    and one built with `perturb-one-ulp` (one weight one ulp off, checksum
#    recomputed: it loads and agrees within tolerance) must fail the
#    bit-identical gate;
# 6. runs the `kernels` binary (firmware-example/src/bin/kernels.rs): the
#    library's f32 Conv2d, fused conv+pool and Dense layers in many shapes
#    (every path of the assembly kernels) against reference loops, bit for bit;
#    requires exit status 0 and KERNELS ok=<n>/<n>;
# 7. runs the LeNet on a Cortex-M0 (firmware-m0 on QEMU's microbit, 16 KiB
#    RAM, soft float) through tools/firmware-m0.sh: the output gate (n = 100)
#    and the M0 budgets below.
#
# Quiet on success: prints the RESULT lines, the gates passed and what caught
# the one-ulp build. On failure, prints what failed and the full log of that
# step, and exits 1.
set -euo pipefail

# --- the gates: every threshold CI holds the firmware to, in one place -----------------
# Measured with tools/firmware-figures.sh and tools/firmware-m0.sh (rustc 1.95,
# QEMU 7.2); the budgets leave the headroom noted.
# Cortex-M4F (firmware-example, STM32F405 on QEMU's netduinoplus2), LeNet f32, weights in flash:
M4F_INFERENCES=300              # agree= and bit_identical= must both be 300/300
M4F_INSTRUCTIONS_MAX=505000     # per inference: 1.5 per MAC of 337,024 (measured 446,903)
M4F_FLASH_MAX=122879            # flash without the test data: below 120 KiB (measured 118,452)
M4F_RAM_MAX=24576               # ram_static + stack_peak: 24 KiB (measured 7,756 + 760 = 8,516)
# Cortex-M0 (firmware-m0, nRF51822 on QEMU's microbit: 16 KiB RAM, soft float):
M0_INFERENCES=100               # agree= and bit_identical= must both be 100/100
M0_INSTRUCTIONS_MAX=60000000    # per inference (measured 59,410,108)
M0_RAM_MAX=12288                # ram_static + stack_peak: 16 KiB less 4 KiB for the rest of a
                                # firmware (measured 7,756 + 804 = 8,560)

root=$(cd "$(dirname "$0")/.." && pwd)
fw=$root/firmware-example
log=$(mktemp)
trap 'rm -f "$log"' EXIT

fail() { # fail MESSAGE: print it, the step's log, and stop
    echo "firmware-ci: FAILED: $1" >&2
    if [ -s "$log" ]; then
        echo "---- log ----" >&2
        cat "$log" >&2
        echo "-------------" >&2
    fi
    exit 1
}

step() { # step NAME COMMAND...: run quietly; on failure show the log and stop
    local name=$1
    shift
    : >"$log"
    "$@" >"$log" 2>&1 || fail "$name (exit status $?)"
}

field() { # field LINE NAME: the value of NAME=... on LINE
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# The gates. Each prints why it fails and returns 1, or returns 0.
all_of() { # all_of NAME LINE N: NAME=N/N on LINE
    local v
    v=$(field "$2" "$1")
    [ "$v" = "$3/$3" ] || { echo "$1=${v:-missing}, required $3/$3"; return 1; }
}
agree_gate() { all_of agree "$1" "$2"; }                # agree_gate LINE N: within tolerance, same argmax
bit_identical_gate() { all_of bit_identical "$1" "$2"; } # bit_identical_gate LINE N: every output's bits
at_most() { # at_most WHAT VALUE MAX
    [ -n "$2" ] && [ "$2" -le "$3" ] || { echo "$1 ${2:-missing} > $3"; return 1; }
}
gate() { # gate WHAT GATE ARGS...: run a gate, stop CI if it fails
    local why
    why=$("${@:2}") || fail "$1: $why"
}

# --- tools ----------------------------------------------------------------------------
sudo_=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo_=sudo; fi
need_apt=()
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)
command -v timeout >/dev/null || need_apt+=(coreutils)
if [ ${#need_apt[@]} -gt 0 ]; then
    step "apt-get install ${need_apt[*]}" bash -c "$sudo_ apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends ${need_apt[*]}"
fi
if ! rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
    step "rustup target add thumbv7em-none-eabihf" rustup target add thumbv7em-none-eabihf
fi
llvm_bin=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin
if [ ! -x "$llvm_bin/llvm-size" ]; then
    step "rustup component add llvm-tools" rustup component add llvm-tools
fi

# --- the plugin -------------------------------------------------------------------------
step "build the icount QEMU plugin" bash "$root/tools/icount/build.sh"

# --- 1. weights in flash (view): figures, outputs and budgets ------------------------------
step "tools/firmware-figures.sh (view, weights in flash)" bash "$root/tools/firmware-figures.sh"
result=$(grep '^RESULT ' "$log" | tail -n 1) || fail "tools/firmware-figures.sh printed no RESULT line"
gate "M4F (view)" agree_gate "$result" "$M4F_INFERENCES"
gate "M4F (view): outputs not bit-identical to the host's" bit_identical_gate "$result" "$M4F_INFERENCES"
m4f_instructions=$(field "$result" instructions_per_inference)
m4f_flash=$(field "$result" flash_without_test_data)
m4f_ram=$(( $(field "$result" ram_static) + $(field "$result" stack_peak) ))
gate "M4F budget" at_most "instructions per inference" "$m4f_instructions" "$M4F_INSTRUCTIONS_MAX"
gate "M4F budget" at_most "flash without test data" "$m4f_flash" "$M4F_FLASH_MAX"
gate "M4F budget" at_most "RAM (static + stack peak)" "$m4f_ram" "$M4F_RAM_MAX"

# --- 2. weights loaded into RAM (load_into) ----------------------------------------------
step "firmware with load-into-ram (weights in RAM)" \
    bash -c "cd '$fw' && cargo run --release --quiet --features load-into-ram"
line=$(grep '^agree=' "$log" | tail -n 1) || fail "load-into-ram: no agree= line"
gate "M4F (load-into-ram)" agree_gate "$line" "$M4F_INFERENCES"
gate "M4F (load-into-ram): outputs not bit-identical to the host's" bit_identical_gate "$line" "$M4F_INFERENCES"

# --- 3. plumbing: a failing firmware, and a one-ulp drift, must be noticed ------------------
: >"$log"
if (cd "$fw" && cargo run --release --quiet --features induce-failure) >"$log" 2>&1; then
    fail "a firmware built with induce-failure exited 0: failures would go unnoticed"
fi
# One weight one ulp off, checksum fixed up: it loads, runs and agrees within the
# tolerance; only the bit-identical gate catches it, and it must.
step "firmware with perturb-one-ulp (must load and run)" \
    bash -c "cd '$fw' && cargo run --release --quiet --features perturb-one-ulp"
line=$(grep '^agree=' "$log" | tail -n 1) || fail "perturb-one-ulp: no agree= line"
gate "perturb-one-ulp (a one-ulp drift should stay within the tolerance)" agree_gate "$line" "$M4F_INFERENCES"
if caught=$(bit_identical_gate "$line" "$M4F_INFERENCES"); then
    fail "perturb-one-ulp passed the bit-identical gate: a one-ulp change to the weights would go unnoticed"
fi
perturbed="perturb-one-ulp caught by the bit-identical gate: $caught (agree=$(field "$line" agree) max_ulp=$(field "$line" max_ulp))"

# --- 4. the kernels check: every layer shape bit-identical to its reference ----------------
step "kernels check (src/bin/kernels.rs)" \
    bash -c "cd '$fw' && cargo run --release --quiet --bin kernels"
kernels=$(grep '^KERNELS ok=' "$log" | tail -n 1) || fail "kernels: no KERNELS line"
kernels=${kernels#KERNELS ok=}
[ -n "${kernels%/*}" ] && [ "${kernels%/*}" = "${kernels#*/}" ] && [ "${kernels#*/}" != 0 ] ||
    fail "kernels: not every case passes: KERNELS ok=$kernels"

# --- 5. Cortex-M0 (microbit): the same model and check without an FPU ------------------------
step "tools/firmware-m0.sh (Cortex-M0, microbit)" bash "$root/tools/firmware-m0.sh"
m0=$(grep '^RESULT-M0 ' "$log" | tail -n 1) || fail "tools/firmware-m0.sh printed no RESULT-M0 line"
gate "Cortex-M0" agree_gate "$m0" "$M0_INFERENCES"
gate "Cortex-M0: outputs not bit-identical to the host's" bit_identical_gate "$m0" "$M0_INFERENCES"
m0_instructions=$(field "$m0" instructions_per_inference)
m0_ram=$(( $(field "$m0" ram_static) + $(field "$m0" stack_peak) ))
gate "Cortex-M0 budget" at_most "instructions per inference" "$m0_instructions" "$M0_INSTRUCTIONS_MAX"
gate "Cortex-M0 budget" at_most "RAM (static + stack peak)" "$m0_ram" "$M0_RAM_MAX"

# Rebuild the default firmware so the ELF left behind is the measured one.
step "rebuild the default firmware" bash -c "cd '$fw' && cargo build --release --quiet"

echo "$result"
echo "$m0"
echo "gates: M4F $M4F_INFERENCES/$M4F_INFERENCES bit-identical (view and load_into), $m4f_instructions <= $M4F_INSTRUCTIONS_MAX instructions, flash without test data $m4f_flash <= $M4F_FLASH_MAX, RAM $m4f_ram <= $M4F_RAM_MAX; M0 $M0_INFERENCES/$M0_INFERENCES bit-identical, $m0_instructions <= $M0_INSTRUCTIONS_MAX instructions, RAM $m0_ram <= $M0_RAM_MAX"
echo "$perturbed"
