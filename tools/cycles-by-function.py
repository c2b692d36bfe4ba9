#!/usr/bin/env python3
"""Where a firmware's estimated cycles go, by function.

Usage: python3 tools/cycles-by-function.py ELF DUMP [N]

DUMP is the `dump.txt` that ../shared/tools/qemu-cycles/run.sh writes into
$OUT (every static instruction of the first 0 -> 255 span, with its
executions and nominal cycles). Prints the N (default 12) functions of ELF
with the most cycles: cycles, share, executed instructions, name (inlined
code counts for the function it was inlined into). Run by hand, e.g.

    OUT=/tmp/kws bash ../shared/tools/qemu-cycles/run.sh firmware-mlperf/target/thumbv7em-none-eabihf/release/kws
    python3 tools/cycles-by-function.py firmware-mlperf/target/thumbv7em-none-eabihf/release/kws /tmp/kws/dump.txt
"""
import bisect
import re
import subprocess
import sys


def main():
    elf, dump = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    sysroot = subprocess.check_output(["rustc", "--print", "sysroot"], text=True).strip()
    host = re.search(r"host: (\S+)", subprocess.check_output(["rustc", "-vV"], text=True)).group(1)
    nm = f"{sysroot}/lib/rustlib/{host}/bin/llvm-nm"
    symbols = []
    for line in subprocess.check_output([nm, "-S", "--demangle", elf], text=True).splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in "tT":
            symbols.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    symbols.sort()
    starts = [s[0] for s in symbols]
    totals, cycles_all = {}, 0
    for line in open(dump):
        if line.startswith("#"):
            continue
        f = line.split("|")
        addr, executed, cycles = int(f[0], 16), int(f[4]) + int(f[5]), int(f[11])
        i = bisect.bisect_right(starts, addr) - 1
        name = "?"
        if i >= 0 and addr < symbols[i][0] + max(symbols[i][1], 1):
            name = re.sub(r"::h[0-9a-f]{16}$", "", symbols[i][2])
        t = totals.setdefault(name, [0, 0])
        t[0] += executed
        t[1] += cycles
        cycles_all += cycles
    for name, (executed, cycles) in sorted(totals.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"{cycles:>11} {100 * cycles / cycles_all:5.1f}% {executed:>11}  {name[:140]}")


if __name__ == "__main__":
    main()
