#!/usr/bin/env bash
# Builds firmware-example (release), runs it on QEMU (netduinoplus2, STM32F405)
# with the icount plugin, and prints the firmware's output, the plugin's
# per-segment instruction counts, and one final line:
#
#   RESULT agree=<k>/<n> acc=<f> ram_static=<bytes> stack_peak=<bytes> flash=<bytes> instructions_per_inference=<n>
#
#   agree, acc, stack_peak   printed by the firmware
#   ram_static               .data + .bss + .uninit (llvm-size)
#   flash                    .vector_table + .text + .rodata + .data (+ .gnu.sgstubs) (llvm-size)
#   instructions_per_inference  executed instructions from the first constnet_mark(0)
#                            to the next constnet_mark(255) (QEMU plugin, -icount shift=0)
#
# Usage: tools/firmware-figures.sh [extra cargo build args, e.g. --features induce-failure]
# Exits non-zero if the firmware fails (exit status != 0, timeout) or a figure is missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fw=$root/firmware-example
tools=$root/tools
target=thumbv7em-none-eabihf

die() { echo "firmware-figures: $*" >&2; exit 1; }

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
(cd "$fw" && cargo build --release --quiet "$@") || die "firmware build failed"
target_dir=$(cd "$fw" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
             sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
elf=$target_dir/$target/release/firmware-example
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
[ -f "$work/icount.txt" ] && cat "$work/icount.txt"
if [ "$status" = 124 ]; then die "firmware timed out"; fi
[ "$status" = 0 ] || die "firmware exited with status $status"

# --- figures ----------------------------------------------------------------------
line=$(grep 'agree=' "$work/firmware.txt" | tail -n 1) || die "firmware printed no agree= line"
field() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
agree=$(field agree); acc=$(field acc); stack_peak=$(field stack_peak)

sizes=$("$llvm_bin/llvm-size" -A "$elf")
section() { printf '%s\n' "$sizes" | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }
flash=$(( $(section .vector_table) + $(section .text) + $(section .rodata) + $(section .data) + $(section .gnu.sgstubs) ))
ram_static=$(( $(section .data) + $(section .bss) + $(section .uninit) ))

instructions=$(sed -n 's/^icount: inference [0-9]* -> [0-9]*: \([0-9]*\) instructions$/\1/p' "$work/icount.txt" 2>/dev/null | head -n 1)

for v in agree acc stack_peak instructions; do
    [ -n "${!v}" ] || die "missing figure: $v"
done
[ "$flash" -gt 0 ] || die "flash size is 0"

echo "RESULT agree=$agree acc=$acc ram_static=$ram_static stack_peak=$stack_peak flash=$flash instructions_per_inference=$instructions"
