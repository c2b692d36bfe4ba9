#!/usr/bin/env bash
# Builds the icount QEMU plugin: tools/icount/libicount.so (prints its path).
# No glib and no QEMU headers needed (qemu-plugin-min.h declares the API).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
so=$here/libicount.so
if [ ! -f "$so" ] || [ "$here/icount.c" -nt "$so" ] || [ "$here/qemu-plugin-min.h" -nt "$so" ]; then
    gcc -shared -fPIC -O2 -Wall -Wextra -fvisibility=hidden -o "$so" "$here/icount.c"
fi
echo "$so"
