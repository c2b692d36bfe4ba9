#!/usr/bin/env bash
# CI for firmware-example: the trained model runs on an emulated STM32F405
# (QEMU netduinoplus2) and agrees with the host.
#
#   bash tools/firmware-ci.sh
#
# 1. installs qemu-system-arm and gcc when missing (apt-get update only then),
#    the thumbv7em-none-eabihf target and llvm-tools;
# 2. builds the icount QEMU plugin;
# 3. runs tools/firmware-figures.sh (weights used in flash with `view`) and
#    requires exit status 0 and agree=<n>/<n> with n = 300 on its RESULT line;
# 4. runs the `load-into-ram` build (weights copied into RAM with `load_into`),
#    which must also exit 0 with every inference agreeing;
# 5. checks the plumbing: a firmware built with `induce-failure` must fail;
# 6. runs the `kernels` binary (firmware-example/src/bin/kernels.rs): the
#    library's f32 Conv2d, fused conv+pool and Dense layers in many shapes
#    (every path of the assembly kernels) against reference loops, bit for bit;
#    requires exit status 0 and KERNELS ok=<n>/<n>;
# 7. runs the LeNet on a Cortex-M0 (firmware-m0 on QEMU's microbit, 16 KiB
#    RAM, soft float) through tools/firmware-m0.sh: every inference must agree.
#
# Quiet on success: prints only the RESULT line. On failure, prints what
# failed and the full log of that step, and exits 1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fw=$root/firmware-example
expected_n=300
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

# --- 1. weights in flash (view): figures, and every inference must agree -----------------
step "tools/firmware-figures.sh (view, weights in flash)" bash "$root/tools/firmware-figures.sh"
result=$(grep '^RESULT ' "$log" | tail -n 1) || fail "tools/firmware-figures.sh printed no RESULT line"
agree=$(printf '%s\n' "$result" | tr ' ' '\n' | sed -n 's/^agree=//p')
k=${agree%/*}
n=${agree#*/}
[ -n "$k" ] && [ "$k" = "$n" ] || fail "the firmware disagrees with the host: agree=$agree"
[ "$n" = "$expected_n" ] || fail "the firmware ran $n inferences, expected $expected_n"

# --- 2. weights loaded into RAM (load_into) ----------------------------------------------
step "firmware with load-into-ram (weights in RAM)" \
    bash -c "cd '$fw' && cargo run --release --quiet --features load-into-ram"
grep -q "^agree=$expected_n/$expected_n " "$log" || fail "load-into-ram: not every inference agrees"

# --- 3. plumbing: a failing firmware must be noticed ---------------------------------------
: >"$log"
if (cd "$fw" && cargo run --release --quiet --features induce-failure) >"$log" 2>&1; then
    fail "a firmware built with induce-failure exited 0: failures would go unnoticed"
fi

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
m0_agree=$(printf '%s\n' "$m0" | tr ' ' '\n' | sed -n 's/^agree=//p')
[ -n "${m0_agree%/*}" ] && [ "${m0_agree%/*}" = "${m0_agree#*/}" ] || fail "Cortex-M0 disagrees with the host: agree=$m0_agree"

# Rebuild the default firmware so the ELF left behind is the measured one.
step "rebuild the default firmware" bash -c "cd '$fw' && cargo build --release --quiet"

echo "$result"
echo "$m0"
