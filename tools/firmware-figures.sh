#!/usr/bin/env bash
# Builds firmware-example (release), runs it on QEMU (netduinoplus2, STM32F405)
# with the icount plugin, and prints the firmware's output, the plugin's
# per-pair instruction summary, a per-layer instruction table (from the
# firmware's layer-by-layer pass, whose markers it names on its `layers:`
# line; left out if there is none), the flash and RAM breakdown by symbol, and
# one final line:
#
#   RESULT agree=<k>/<n> bit_identical=<k>/<n> acc=<f> ram_static=<bytes> stack_peak=<bytes> flash=<bytes> flash_without_test_data=<bytes> instructions_per_inference=<n>
#
#   agree, bit_identical, acc, stack_peak   printed by the firmware
#   ram_static               .data + .bss + .uninit (llvm-size)
#   flash                    .vector_table + .text + .rodata + .data (+ .gnu.sgstubs) (llvm-size)
#   flash_without_test_data  flash minus the symbols IMAGES, LABELS, HOST_OUTPUTS (llvm-nm -S):
#                            code, constants and weights, what a device running the model needs
#   instructions_per_inference  executed instructions from the first constnet_mark(0)
#                            to the next constnet_mark(255) (QEMU plugin, -icount shift=0)
#
# The budgets (instructions, flash, RAM, bit-identical outputs) are gated by
# tools/firmware-ci.sh, which states them in one place; this script checks only
# that the firmware succeeded, that every inference agrees and RAM_BUDGET.
#
# Usage: tools/firmware-figures.sh [extra cargo build args, e.g. --features induce-failure]
# Exits non-zero if the firmware fails (exit status != 0, timeout), not every
# inference agrees, a figure is missing, or static RAM + stack peak exceeds
# RAM_BUDGET.
#
# Another firmware crate of this repository (tools/firmware-m0.sh sets these):
#   FIRMWARE_CRATE   crate directory and binary name   (default firmware-example)
#   FIRMWARE_BIN     binary of that crate              (default: the crate's name)
#   FIRMWARE_TARGET  its build target                  (default thumbv7em-none-eabihf)
#   QEMU_MACHINE     machine for tools/qemu-run.sh     (default netduinoplus2)
#   RESULT_TAG       first word of the final line      (default RESULT)
#   RAM_BUDGET       bytes of RAM: check static + stack peak against it (default: no check)
#   FLASH_SIZE       bytes of flash, shown on the flash: line (default: not shown)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
crate=${FIRMWARE_CRATE:-firmware-example}
bin=${FIRMWARE_BIN:-$crate}
fw=$root/$crate
tools=$root/tools
target=${FIRMWARE_TARGET:-thumbv7em-none-eabihf}
result_tag=${RESULT_TAG:-RESULT}
ram_budget=${RAM_BUDGET:-}
flash_size=${FLASH_SIZE:-}

die() { echo "firmware-figures${FIRMWARE_CRATE:+ ($crate)}: $*" >&2; exit 1; }

# --- tools, installed only when missing, quietly ---------------------------------
sudo_=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo_=sudo; fi
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then $sudo_ apt-get update -qq >/dev/null; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v qemu-system-arm >/dev/null || apt_install qemu-system-arm
command -v gcc >/dev/null || apt_install gcc libc6-dev
command -v timeout >/dev/null || apt_install coreutils
rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target" >/dev/null 2>&1
llvm_bin=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin
[ -x "$llvm_bin/llvm-size" ] || rustup component add llvm-tools >/dev/null 2>&1
[ -x "$llvm_bin/llvm-size" ] || die "llvm-size not found in $llvm_bin"

plugin=$(bash "$tools/icount/build.sh")

# --- build ---------------------------------------------------------------------
(cd "$fw" && cargo build --release --quiet --bin "$bin" "$@") || die "firmware build failed"
target_dir=$(cd "$fw" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
             sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
elf=$target_dir/$target/release/$bin
[ -f "$elf" ] || die "no ELF at $elf"

# --- run under QEMU with the instruction counter -------------------------------------
read -r mark_addr mark_size < <("$llvm_bin/llvm-nm" -S "$elf" |
    awk '$NF == "constnet_mark" { print "0x" $1, "0x" $2; exit }') || true
[ -n "${mark_addr:-}" ] || die "symbol constnet_mark not found in $elf"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
set +e
"$tools/qemu-run.sh" "$elf" -icount shift=0 \
    -plugin "$plugin,mark=$mark_addr,size=$mark_size,start=0,end=255,out=$work/icount.txt" \
    2>&1 | tee "$work/firmware.txt"
status=${PIPESTATUS[0]}
set -e
# The plugin's summary (the first 200 consecutive pairs are left out; set
# FIRMWARE_ICOUNT_FULL=1 to see them).
if [ -f "$work/icount.txt" ]; then
    if [ -n "${FIRMWARE_ICOUNT_FULL:-}" ]; then cat "$work/icount.txt"; else grep -v '^icount: [0-9]* -> ' "$work/icount.txt"; fi
fi
if [ "$status" = 124 ]; then die "firmware timed out"; fi
[ "$status" = 0 ] || die "firmware exited with status $status"

# --- figures ----------------------------------------------------------------------
line=$(grep 'agree=' "$work/firmware.txt" | tail -n 1) || die "firmware printed no agree= line"
field() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
agree=$(field agree); bit_identical=$(field bit_identical); acc=$(field acc); stack_peak=$(field stack_peak)

sizes=$("$llvm_bin/llvm-size" -A "$elf")
section() { printf '%s\n' "$sizes" | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }
flash=$(( $(section .vector_table) + $(section .text) + $(section .rodata) + $(section .data) + $(section .gnu.sgstubs) ))
ram_static=$(( $(section .data) + $(section .bss) + $(section .uninit) ))

instructions=$(sed -n 's/^icount: inference [0-9]* -> [0-9]*: \([0-9]*\) instructions$/\1/p' "$work/icount.txt" 2>/dev/null | head -n 1)

# --- per-layer table: spans (k-1 -> k) of the layer-by-layer pass ---------------------
layers=$(grep '^layers: ' "$work/firmware.txt" | tail -n 1 || true)
if [ -n "$layers" ]; then
    echo "per-step instructions (one inference, one step at a time: a conv and its pool are one step; each count includes one marker call, ~10):"
    printf '%s\n' "$layers" | tr ' ' '\n' | sed -n 's/^\([0-9]*\)=\([^:]*\):\([0-9]*\)$/\1 \2 \3/p' |
    awk -v file="$work/icount.txt" '
        BEGIN {
            while ((getline line < file) > 0) {
                # icount: pair A -> B: count=1 first=N ...
                if (split(line, f, " ") >= 6 && f[2] == "pair") {
                    sub(":", "", f[5]); sub("first=", "", f[7]);
                    first[f[3] "-" f[5]] = f[7]
                }
            }
            printf "  %-12s %12s %9s %9s\n", "layer", "instructions", "MACs", "instr/MAC"
        }
        {
            key = ($1 - 1) "-" $1; n = first[key]
            if (n == "") { printf "  %-12s %12s\n", $2, "?"; next }
            total += n; macs += $3
            if ($3 > 0) printf "  %-12s %12d %9d %9.2f\n", $2, n, $3, n / $3
            else        printf "  %-12s %12d %9s %9s\n", $2, n, "-", "-"
        }
        END { if (macs > 0) printf "  %-12s %12d %9d %9.2f\n", "sum", total, macs, total / macs }'
fi
over=$(sed -n 's/^icount: pair 1 -> 2: count=\([0-9]*\) first=[0-9]* min=\([0-9]*\) max=\([0-9]*\) sum=\([0-9]*\)$/\1 \2 \3 \4/p' "$work/icount.txt" 2>/dev/null | head -n 1)
if [ -n "$over" ]; then
    read -r n_inf min_inf max_inf sum_inf <<<"$over"
    echo "predict over the $n_inf test images (marks 1 -> 2): min=$min_inf max=$max_inf mean=$(( sum_inf / n_inf )) instructions"
fi
load=$(sed -n 's/^icount: pair 3 -> 4: count=1 first=\([0-9]*\) .*$/\1/p' "$work/icount.txt" 2>/dev/null | head -n 1)
if [ -n "$load" ]; then
    echo "check of the embedded blob (marks 3 -> 4: view, or load_into with its copy; header, CRC-32 and finiteness in one pass): $load instructions"
fi

# --- flash and RAM by symbol ------------------------------------------------------------
symbols=$("$llvm_bin/llvm-nm" -S -C --radix=d "$elf")
sym_size() { # total size of symbols <crate>::NAME::h... (e.g. firmware_example::WEIGHTS::h...)
    printf '%s\n' "$symbols" | awk -v n="${bin//-/_}::$1::" 'index($0, n) { s += $2 } END { print s + 0 }'
}
weights=$(sym_size WEIGHTS)
test_data=$(( $(sym_size IMAGES) + $(sym_size LABELS) + $(sym_size HOST_OUTPUTS) ))
flash_without_test_data=$(( flash - test_data ))
echo "flash: total=$flash${flash_size:+ of $flash_size} = weights $weights + test data $test_data (images, labels, host outputs) + code and constants $(( flash - weights - test_data )); without the test data: $flash_without_test_data"
workspace=$(sym_size WORKSPACE); input=$(sym_size INPUT); model=$(sym_size MODEL)
# cortex-m-semihosting's statics in RAM (its stdout handle, HSTDOUT).
semihosting=$(printf '%s\n' "$symbols" | awk '$3 ~ /^[bBdD]$/ && index($4, "cortex_m_semihosting::") == 1 { s += $2 } END { print s + 0 }')
echo "ram: static=$ram_static (workspace $workspace, input image $input, model $model, semihosting $semihosting, other $(( ram_static - workspace - input - model - semihosting ))) + stack_peak ${stack_peak:-?} = $(( ram_static + ${stack_peak:-0} )) bytes"

for v in agree bit_identical acc stack_peak instructions; do
    [ -n "${!v}" ] || die "missing figure: $v"
done
[ "$flash" -gt 0 ] || die "flash size is 0"

k=${agree%/*}
n=${agree#*/}
[ -n "$k" ] && [ "$k" = "$n" ] || die "the firmware disagrees with the host: agree=$agree"
if [ -n "$ram_budget" ]; then
    ram_total=$(( ram_static + stack_peak ))
    kib=""
    if [ $(( ram_budget % 1024 )) = 0 ]; then kib=" ($(( ram_budget / 1024 )) KiB)"; fi
    if [ "$ram_total" -le "$ram_budget" ]; then
        echo "ram budget: static $ram_static + stack_peak $stack_peak = $ram_total <= $ram_budget$kib: ok, $(( ram_budget - ram_total )) bytes free"
    else
        die "ram budget: static $ram_static + stack_peak $stack_peak = $ram_total > $ram_budget$kib"
    fi
fi

echo "$result_tag agree=$agree bit_identical=$bit_identical acc=$acc ram_static=$ram_static stack_peak=$stack_peak flash=$flash flash_without_test_data=$flash_without_test_data instructions_per_inference=$instructions elf=$elf"
