#!/usr/bin/env python3
"""Fixtures for the MLPerf Tiny reference models, from TensorFlow Lite Micro.

This is separate from make_fixtures.py. It converts nothing and trains nothing.
It runs TFLM's own interpreter (tflite_micro.runtime, its reference kernels)
on the published .tflite files that are copied into tests/fixtures/mlperf-tiny/
and writes, per model and file:

  tests/fixtures/mlperf-tiny/<model>_int8.json: 8 seeded int8 inputs (uniform
      over -128..127) and TFLM's int8 outputs for them;
  tests/fixtures/mlperf-tiny/<model>_f32.json: the same inputs dequantized with
      the int8 file's input quantization, (q - zero_point) * scale, in float32,
      run through the f32 file, with TFLM's f32 outputs.

Floats are written as the shortest decimal that reads back (through a double,
as serde_json reads it) as the same float32. TFLM is run twice per input, and
the script fails if the two results differ.

Usage (from anywhere):  python make_mlperf_fixtures.py [--only ad ...]
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DIR = REPO / "tests" / "fixtures" / "mlperf-tiny"

# model name -> (int8 file, f32 file, seed)
MODELS = {
    "ad": ("ad01_int8.tflite", "ad01_fp32.tflite", 1001),
}
CASES = 8


def run(model_bytes, x):
    """One inference with a fresh TFLM interpreter; checked deterministic."""
    outs = []
    for _ in range(2):
        interp = tflm.Interpreter.from_bytes(model_bytes)
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)))
    if not np.array_equal(outs[0], outs[1]):
        raise AssertionError("TFLM is not deterministic")
    return outs[0]


def f32_text(v):
    s = str(np.float32(v))
    if np.float32(float(s)) != np.float32(v):
        raise AssertionError(f"{s} does not round-trip")
    return s


def write(path, doc):
    def num_list(xs):
        return "[" + ", ".join(xs) + "]"

    lines = ["{", f'  "model": {json.dumps(doc["model"])},', f'  "shape": {json.dumps(doc["shape"])},']
    if "input_quantization" in doc:
        lines.append(f'  "input_quantization": {json.dumps(doc["input_quantization"])},')
    lines.append('  "cases": [')
    cases = []
    for c in doc["cases"]:
        cases.append('    {"input": ' + num_list(c["input"]) + ',\n     "output": ' + num_list(c["output"]) + "}")
    lines.append(",\n".join(cases))
    lines.append("  ]")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def build(name, int8_file, f32_file, seed):
    int8_bytes = (DIR / int8_file).read_bytes()
    f32_bytes = (DIR / f32_file).read_bytes()
    probe = tflm.Interpreter.from_bytes(int8_bytes)
    details = probe.get_input_details(0)
    shape = [int(v) for v in details["shape"]]
    if details["dtype"] != np.int8:
        raise AssertionError(f"{int8_file}: input dtype {details['dtype']}")
    (scale,), (zero_point,) = details["quantization_parameters"]["scales"], \
        details["quantization_parameters"]["zero_points"]
    scale, zero_point = np.float32(scale), int(zero_point)

    rng = np.random.default_rng(seed)
    int8_cases, f32_cases = [], []
    for _ in range(CASES):
        q = rng.integers(-128, 128, size=shape, dtype=np.int16).astype(np.int8)
        y = run(int8_bytes, q)
        if y.dtype != np.int8:
            raise AssertionError(f"{int8_file}: output dtype {y.dtype}")
        int8_cases.append({"input": [str(int(v)) for v in q.ravel()],
                           "output": [str(int(v)) for v in y.ravel()]})
        x = ((q.astype(np.float32) - np.float32(zero_point)) * scale).astype(np.float32)
        yf = run(f32_bytes, x)
        if yf.dtype != np.float32:
            raise AssertionError(f"{f32_file}: output dtype {yf.dtype}")
        f32_cases.append({"input": [f32_text(v) for v in x.ravel()],
                          "output": [f32_text(v) for v in yf.ravel()]})
    quant = {"scale": float(scale), "zero_point": zero_point}
    write(DIR / f"{name}_int8.json",
          {"model": int8_file, "shape": shape, "input_quantization": quant, "cases": int8_cases})
    write(DIR / f"{name}_f32.json", {"model": f32_file, "shape": shape, "cases": f32_cases})
    print(f"{name}: input {shape}, scale {float(scale)!r}, zero point {zero_point}; {CASES} cases each "
          f"for {int8_file} and {f32_file}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=sorted(MODELS), help="only these models")
    args = ap.parse_args()
    for name, (int8_file, f32_file, seed) in MODELS.items():
        if args.only and name not in args.only:
            continue
        build(name, int8_file, f32_file, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
