#!/usr/bin/env python3
"""Fixtures for the MLPerf Tiny reference models, from TensorFlow Lite Micro.

This is separate from make_fixtures.py. It converts nothing and trains nothing.
It runs TFLM's own interpreter (tflite_micro.runtime, its reference kernels)
on the published .tflite files that are copied into tests/fixtures/mlperf-tiny/
and writes, per model and file:

  tests/fixtures/mlperf-tiny/<model>_int8.json: 8 (VWW: 4) seeded int8 inputs (uniform
      over -128..127) and TFLM's int8 outputs for them;
  tests/fixtures/mlperf-tiny/<model>_f32.json: the same inputs dequantized with
      the int8 file's input quantization, (q - zero_point) * scale, in float32,
      run through the f32 file, with TFLM's f32 outputs.

The published keyword-spotting "float32" file is a hybrid: its five CONV_2D
filters are int8 (one scale each), which TFLM does not run. Its f32 fixture
comes from that file with those filters dequantized, q * scale in float32,
the weights constnet's reader gives the f32 model of the same file.

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

# model name -> (int8 file, f32 file, seed, cases); visual wake words has
# fewer cases, its inputs being 27,648 values each.
MODELS = {
    "ad": ("ad01_int8.tflite", "ad01_fp32.tflite", 1001, 8),
    "kws": ("kws_ref_model.tflite", "kws_ref_model_float32.tflite", 1002, 8),
    "ic": ("pretrainedResnet_quant.tflite", "pretrainedResnet.tflite", 1003, 8),
    "vww": ("vww_96_int8.tflite", "vww_96_float.tflite", 1004, 4),
}


def dequantized(model_bytes):
    """The model with every int8 constant tensor (a hybrid model's weights)
    turned into float32, q * scale (per channel along the quantized axis)."""
    from tensorflow.lite.tools import flatbuffer_utils as fu
    model = fu.convert_bytearray_to_object(bytearray(model_bytes))
    changed = 0
    for t in model.subgraphs[0].tensors:
        buf = model.buffers[t.buffer]
        if t.type != 9 or buf.data is None or len(buf.data) == 0:  # 9: INT8
            continue
        q = np.frombuffer(bytes(bytearray(buf.data)), dtype=np.int8).reshape(t.shape)
        scale = np.array(t.quantization.scale, dtype=np.float32)
        if np.any(np.array(t.quantization.zeroPoint) != 0):
            raise AssertionError(f"{t.name}: zero point")
        shape = [1] * q.ndim
        if scale.size > 1:
            shape[t.quantization.quantizedDimension] = scale.size
        w = (q.astype(np.float32) * scale.reshape(shape)).astype(np.float32)
        buf.data = np.frombuffer(w.tobytes(), dtype=np.uint8)
        t.type = 0  # FLOAT32
        t.quantization = None
        changed += 1
    if changed:
        print(f"  dequantized {changed} int8 weight tensors of a hybrid model")
    return bytes(fu.convert_object_to_bytearray(model))


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


def build(name, int8_file, f32_file, seed, cases):
    int8_bytes = (DIR / int8_file).read_bytes()
    f32_bytes = dequantized((DIR / f32_file).read_bytes())
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
    for _ in range(cases):
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
    print(f"{name}: input {shape}, scale {float(scale)!r}, zero point {zero_point}; {cases} cases each "
          f"for {int8_file} and {f32_file}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=sorted(MODELS), help="only these models")
    args = ap.parse_args()
    for name, (int8_file, f32_file, seed, cases) in MODELS.items():
        if args.only and name not in args.only:
            continue
        build(name, int8_file, f32_file, seed, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
