#!/usr/bin/env bash
# tools/firmware-figures.sh for firmware-m0: builds it (release, target
# thumbv6m-none-eabi), runs it on QEMU's microbit (nRF51822: Cortex-M0, no
# FPU, 256 KiB flash, 16 KiB RAM) with the icount plugin, and prints the
# firmware's output, the plugin's summary, the flash and RAM breakdown, the
# RAM budget, and one final line:
#
#   RESULT-M0 agree=<k>/<n> bit_identical=<k>/<n> acc=<f> ram_static=<bytes> stack_peak=<bytes> flash=<bytes> flash_without_test_data=<bytes> instructions_per_inference=<n>
#
# The figures mean what they mean in tools/firmware-figures.sh (same script:
# the firmware's agree= line, llvm-size -A, the QEMU plugin with -icount
# shift=0, markers 0 -> 255 around the first inference).
#
# Usage: tools/firmware-m0.sh [extra cargo build args, e.g. --features induce-failure]
# Exits non-zero if the firmware fails (a disagreement, a panic, a timeout), a
# figure is missing, or static RAM + stack peak exceeds the 16 KiB of RAM.
# Installs only what tools/firmware-ci.sh does (qemu-system-arm, gcc,
# llvm-tools, when missing) plus the thumbv6m-none-eabi target.
set -euo pipefail

FIRMWARE_CRATE=firmware-m0 \
FIRMWARE_TARGET=thumbv6m-none-eabi \
QEMU_MACHINE=microbit \
RESULT_TAG=RESULT-M0 \
RAM_BUDGET=16384 \
FLASH_SIZE=262144 \
    exec bash "$(dirname "$0")/firmware-figures.sh" "$@"
