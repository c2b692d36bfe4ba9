#!/usr/bin/env bash
# The int8 LeNet on both emulated chips: builds and runs firmware-example's
# `int8` binary (STM32F405, Cortex-M4F) and firmware-m0's (nRF51822,
# Cortex-M0) through tools/firmware-figures.sh, checks each against its
# budgets and prints one line per chip:
#
#   RESULT-INT8    agree=<k>/<n> bit_identical=<k>/<n> ram_static=<B> stack_peak=<B> flash_no_data=<B> instructions_per_inference=<n> elf=<path>
#   RESULT-INT8-M0 (the same fields)
#
# Budgets (issue 9): RAM (static + stack peak) <= 3 KiB, flash without the
# embedded test data <= 40 KiB, instructions per inference <= 400,000 on the
# Cortex-M4F and <= 2,000,000 on the Cortex-M0; every output bit-identical to
# the host's. A missed budget is reported and makes the script exit 1 when
# INT8_ENFORCE_BUDGETS=1 (CI gates on bit-identical outputs always).
#
# Estimated cycles: bash ../shared/tools/qemu-cycles/run.sh <elf of the M4F line>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

chip() { # chip TAG CRATE TARGET MACHINE INSTRUCTION_BUDGET
    local tag=$1 crate=$2 target=$3 machine=$4 budget=$5
    if ! FIRMWARE_CRATE=$crate FIRMWARE_BIN=int8 FIRMWARE_TARGET=$target QEMU_MACHINE=$machine \
        RESULT_TAG=$tag bash "$root/tools/firmware-figures.sh" >"$log" 2>&1; then
        cat "$log" >&2
        echo "firmware-int8: $tag: the firmware failed" >&2
        exit 1
    fi
    local line
    line=$(grep "^$tag " "$log" | tail -n 1)
    field() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
    local agree bits ram stack flash instr elf
    agree=$(field agree); bits=$(field bit_identical); ram=$(field ram_static); stack=$(field stack_peak)
    flash=$(field flash_without_test_data); instr=$(field instructions_per_inference); elf=$(field elf)
    if [ "${bits%/*}" != "${bits#*/}" ]; then
        cat "$log" >&2
        echo "firmware-int8: $tag: outputs not bit-identical to the host's: $bits" >&2
        exit 1
    fi
    local missed=""
    [ $(( ram + stack )) -le 3072 ] || missed+=" ram=$(( ram + stack ))>3072"
    [ "$flash" -le 40960 ] || missed+=" flash_no_data=$flash>40960"
    [ "$instr" -le "$budget" ] || missed+=" instructions=$instr>$budget"
    if [ -n "$missed" ]; then
        echo "firmware-int8: $tag: budget missed:$missed" >&2
        if [ "${INT8_ENFORCE_BUDGETS:-0}" = 1 ]; then status=1; fi
    fi
    echo "$tag agree=$agree bit_identical=$bits ram_static=$ram stack_peak=$stack flash_no_data=$flash instructions_per_inference=$instr elf=$elf"
}

chip RESULT-INT8 firmware-example thumbv7em-none-eabihf netduinoplus2 400000
chip RESULT-INT8-M0 firmware-m0 thumbv6m-none-eabi microbit 2000000
exit $status
