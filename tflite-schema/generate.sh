#!/bin/sh
# Regenerates src/generated.rs from TFLite's schema (../../shared/tflite/schema.fbs by
# default) with planus-cli 1.3.0 (`cargo install planus-cli --version 1.3.0`).
#
# planus 1.3.0 does not parse `(deprecated)` on an enum value, a union member or a table,
# and the schema marks REDUCE_WINDOW and ReduceWindowOptions so. Those marks are dropped
# first: they say only that nobody should write those, and the bytes on the wire stay the same.
set -eu
cd "$(dirname "$0")"
schema=${1:-../../shared/tflite/schema.fbs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -E 's/^(  REDUCE_WINDOW = 205|  ReduceWindowOptions|table ReduceWindowOptions) \(deprecated\)/\1/' \
    "$schema" > "$tmp/schema.fbs"
planus rust -o "$tmp/generated.rs" "$tmp/schema.fbs"
# The generated comments name the temporary file: name the schema instead.
sed "s|$tmp/schema.fbs|schema.fbs|g; s|File \`schema.fbs|File \`tflite/schema.fbs|g" "$tmp/generated.rs" > src/generated.rs
echo "wrote src/generated.rs ($(wc -l < src/generated.rs) lines)"
