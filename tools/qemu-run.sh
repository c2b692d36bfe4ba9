#!/usr/bin/env bash
# Runs a Cortex-M firmware ELF on QEMU: machine QEMU_MACHINE, default
# netduinoplus2 (STM32F405, Cortex-M4F); firmware-m0 uses microbit (nRF51822,
# Cortex-M0, 256 KiB flash at 0x0, 16 KiB RAM at 0x20000000).
#   usage: tools/qemu-run.sh <firmware.elf> [extra qemu arguments...]
# It is the cargo runner of firmware-example and firmware-m0 (`cargo run
# --release`; firmware-m0/.cargo/config.toml sets QEMU_MACHINE=microbit);
# extra arguments (e.g. `-icount shift=0 -plugin ...`) go to QEMU. Semihosting
# output goes to stdout/stderr; the exit status is the firmware's `debug::exit`
# status (0/1), 124 on timeout (QEMU_TIMEOUT seconds, default 120).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 <firmware.elf> [qemu args...]" >&2
    exit 2
fi
elf=$1
shift
exec timeout "${QEMU_TIMEOUT:-120}" qemu-system-arm \
    -machine "${QEMU_MACHINE:-netduinoplus2}" -display none -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    "$@" -kernel "$elf"
