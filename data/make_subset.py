#!/usr/bin/env python3
"""Cut the bundled Fashion-MNIST subset out of the full dataset.

Standard library only. Run by hand from the repository root; CI never runs it:

    python3 data/make_subset.py /usr/share/datasets/fashion-mnist data/fashion-mnist-subset

Keeps the first 6000 training and the first 1000 test examples (indices
0..6000 and 0..1000, in file order), written in the same gzip-compressed IDX
format and file names as the original. The gzip header carries no file name
and mtime 0, so the output is byte-for-byte reproducible.
"""

import gzip
import os
import struct
import sys

# (file stem, number of examples kept)
SPLITS = [("train", 6000), ("t10k", 1000)]


def read_idx(path, expected_magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic != expected_magic:
        sys.exit(f"{path}: magic {magic:#010x}, expected {expected_magic:#010x}")
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    body = data[4 + 4 * rank :]
    per_item = 1
    for d in dims[1:]:
        per_item *= d
    if len(body) != dims[0] * per_item:
        sys.exit(f"{path}: body is {len(body)} bytes, header says {dims[0] * per_item}")
    return dims, body, per_item


def write_idx(path, magic, dims, body):
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * len(dims), *dims)
    with open(path, "wb") as raw:
        # filename="" and mtime=0: no name or timestamp in the gzip header.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(header + body)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for stem, keep in SPLITS:
        name = f"{stem}-images-idx3-ubyte.gz"
        dims, body, per = read_idx(os.path.join(src, name), 0x00000803)
        if keep > dims[0]:
            sys.exit(f"{name}: only {dims[0]} images")
        write_idx(os.path.join(dst, name), 0x00000803, (keep,) + tuple(dims[1:]), body[: keep * per])

        name = f"{stem}-labels-idx1-ubyte.gz"
        dims, body, _ = read_idx(os.path.join(src, name), 0x00000801)
        labels = body[:keep]
        write_idx(os.path.join(dst, name), 0x00000801, (keep,), labels)
        counts = [labels.count(c) for c in range(10)]
        print(f"{stem}: kept {keep} of {dims[0]}; per class {counts}")


if __name__ == "__main__":
    main()
