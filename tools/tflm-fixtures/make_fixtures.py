#!/usr/bin/env python3
"""Generate int8 reference fixtures from TensorFlow Lite Micro's kernels.

For every case below this script

1. builds a tiny Keras f32 model with fixed seeds (the LeNet is trained for
   one epoch on the bundled Fashion-MNIST subset),
2. converts it with tf.lite.TFLiteConverter to a full-integer int8 model
   (int8 input and output, TFLITE_BUILTINS_INT8 only),
3. checks that the converted graph is the one the case intends,
4. runs TFLM's own interpreter (tflite_micro.runtime) on fixed int8 inputs,
5. writes tests/fixtures/tflm/<name>.tflite and tests/fixtures/tflm/<name>.json.

Every quantization parameter, constant tensor and op option in the JSON is
read from the converted flatbuffer itself, parsed with the schema module that
ships with tflite-micro. The expected outputs come from TFLM's interpreter
only; tf.lite.Interpreter is used solely by the optional --compare-host
diagnostic, which never influences the written files.

Usage (from anywhere):  python make_fixtures.py [--compare-host] [--only NAME ...]
"""

import argparse
import contextlib
import gzip
import io
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import (  # noqa: E402
    schema_py_generated as fb,
)

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "fixtures" / "tflm"
FASHION = REPO / "data" / "fashion-mnist-subset"

# Single-threaded, deterministic TF so that training and calibration give the
# same bytes on every run.
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()

layers = tf.keras.layers

# --------------------------------------------------------------------------
# flatbuffer helpers
# --------------------------------------------------------------------------


def _enum_names(cls):
    return {v: k for k, v in vars(cls).items() if not k.startswith("_")}


OP_NAMES = _enum_names(fb.BuiltinOperator)
PADDING = _enum_names(fb.Padding)
ACTIVATION = _enum_names(fb.ActivationFunctionType)
TYPE_NAMES = _enum_names(fb.TensorType)


def f32(x):
    """A float32 value as the Python float that round-trips exactly."""
    return float(np.float32(x))


class Graph:
    """The single subgraph of a converted .tflite model."""

    def __init__(self, model_bytes):
        self.model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(model_bytes, 0))
        if len(self.model.subgraphs) != 1:
            raise ValueError("expected exactly one subgraph")
        self.sg = self.model.subgraphs[0]

    def tensor(self, i):
        return self.sg.tensors[i]

    def op_name(self, op):
        code = self.model.operatorCodes[op.opcodeIndex]
        return OP_NAMES[tflm.get_builtin_code_from_operator_code(code)]

    def shape(self, i):
        return [int(d) for d in self.tensor(i).shape]

    def quant(self, i):
        q = self.tensor(i).quantization
        if q is None or q.scale is None or q.zeroPoint is None:
            raise ValueError(f"tensor {i} is not quantized")
        return q

    def activation(self, i, dtype="INT8"):
        """shape/scale/zero_point of a per-tensor quantized activation."""
        t = self.tensor(i)
        if TYPE_NAMES[t.type] != dtype:
            raise ValueError(f"tensor {i} ({t.name}) is {TYPE_NAMES[t.type]}, not {dtype}")
        if t.buffer and self.buffer_bytes(i) is not None:
            raise ValueError(f"activation tensor {i} is a constant")
        q = self.quant(i)
        if len(q.scale) != 1 or len(q.zeroPoint) != 1:
            raise ValueError(f"activation tensor {i} is not per-tensor quantized")
        return {
            "shape": self.shape(i),
            "scale": f32(q.scale[0]),
            "zero_point": int(q.zeroPoint[0]),
        }

    def buffer_bytes(self, i):
        buf = self.model.buffers[self.tensor(i).buffer]
        if buf.offset:
            raise ValueError("offset buffers are not supported")
        if buf.data is None or len(buf.data) == 0:
            return None
        return np.asarray(buf.data, dtype=np.uint8).tobytes()

    def constant(self, i, dtype, np_dtype):
        t = self.tensor(i)
        if TYPE_NAMES[t.type] != dtype:
            raise ValueError(f"constant {i} ({t.name}) is {TYPE_NAMES[t.type]}, not {dtype}")
        raw = self.buffer_bytes(i)
        if raw is None:
            raise ValueError(f"tensor {i} has no constant data")
        data = np.frombuffer(raw, dtype=np.dtype(np_dtype).newbyteorder("<"))
        shape = self.shape(i)
        if data.size != int(np.prod(shape)):
            raise ValueError(f"constant {i}: {data.size} values for shape {shape}")
        return shape, data

    def weights(self, i):
        shape, data = self.constant(i, "INT8", np.int8)
        q = self.quant(i)
        return {
            "shape": shape,
            "data": [int(v) for v in data],
            "scales": [f32(s) for s in q.scale],
            "zero_points": [int(z) for z in q.zeroPoint],
            "quantized_dimension": int(q.quantizedDimension),
        }

    def bias(self, i):
        shape, data = self.constant(i, "INT32", np.int32)
        q = self.quant(i)
        if any(int(z) != 0 for z in q.zeroPoint):
            raise ValueError("bias with a non-zero zero point")
        return {
            "shape": shape,
            "data": [int(v) for v in data],
            "scales": [f32(s) for s in q.scale],
        }


def describe_ops(g):
    """The ops of the graph, in execution order, as JSON objects."""
    ops = []
    for op in g.sg.operators:
        name = g.op_name(op)
        o = op.builtinOptions
        ins = [int(i) for i in op.inputs]
        outs = [int(i) for i in op.outputs]
        if len(outs) != 1:
            raise ValueError(f"{name}: expected one output")
        io = {"input": g.activation(ins[0]), "output": g.activation(outs[0])}
        if name == "CONV_2D":
            d = {
                "op": name,
                "stride": [o.strideH, o.strideW],
                "dilation": [o.dilationHFactor, o.dilationWFactor],
                "padding": PADDING[o.padding],
                "activation": ACTIVATION[o.fusedActivationFunction],
                **io,
                "weights": g.weights(ins[1]),
                "bias": g.bias(ins[2]),
            }
            if o.quantizedBiasType != 0:
                raise ValueError("CONV_2D with a non-default quantized bias type")
        elif name == "DEPTHWISE_CONV_2D":
            d = {
                "op": name,
                "stride": [o.strideH, o.strideW],
                "dilation": [o.dilationHFactor, o.dilationWFactor],
                "padding": PADDING[o.padding],
                "activation": ACTIVATION[o.fusedActivationFunction],
                "depth_multiplier": o.depthMultiplier,
                **io,
                "weights": g.weights(ins[1]),
                "bias": g.bias(ins[2]),
            }
        elif name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            d = {
                "op": name,
                "filter": [o.filterHeight, o.filterWidth],
                "stride": [o.strideH, o.strideW],
                "padding": PADDING[o.padding],
                "activation": ACTIVATION[o.fusedActivationFunction],
                **io,
            }
        elif name == "FULLY_CONNECTED":
            if o.weightsFormat != fb.FullyConnectedOptionsWeightsFormat.DEFAULT:
                raise ValueError("FULLY_CONNECTED with shuffled weights")
            if o.asymmetricQuantizeInputs:
                raise ValueError("FULLY_CONNECTED with asymmetric_quantize_inputs")
            if len(ins) < 3 or ins[2] < 0:
                raise ValueError("FULLY_CONNECTED without bias")
            d = {
                "op": name,
                "activation": ACTIVATION[o.fusedActivationFunction],
                "keep_num_dims": bool(o.keepNumDims),
                **io,
                "weights": g.weights(ins[1]),
                "bias": g.bias(ins[2]),
            }
        elif name == "SOFTMAX":
            d = {"op": name, "beta": f32(o.beta), **io}
        elif name == "RESHAPE":
            d = {"op": name, **io}
        else:
            raise ValueError(f"unexpected op {name} in the converted graph")
        ops.append(d)
    return ops


# --------------------------------------------------------------------------
# conversion and TFLM execution
# --------------------------------------------------------------------------


def convert(model, representative, disable_dense_per_channel=False):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if disable_dense_per_channel:
        if not hasattr(conv, "_experimental_disable_per_channel_quantization_for_dense_layers"):
            raise RuntimeError("this TF has no switch for per-tensor dense quantization")
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints its export summary
        return bytes(conv.convert())


def run_tflm(model_bytes, x):
    """One inference with TFLM's interpreter (fresh interpreter per call)."""
    interp = tflm.Interpreter.from_bytes(model_bytes)
    interp.set_input(x, 0)
    interp.invoke()
    y = np.array(interp.get_output(0))
    if y.dtype != np.int8:
        raise ValueError(f"TFLM output dtype {y.dtype}")
    return y


HOST_RESOLVERS = ("AUTO", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "BUILTIN_REF")


def run_host(model_bytes, x, resolver):
    """TFLite's host interpreter; only for the --compare-host diagnostic.

    AUTO is its default (optimized kernels + XNNPACK delegate),
    BUILTIN_WITHOUT_DEFAULT_DELEGATES the optimized kernels alone, BUILTIN_REF its
    reference kernels.
    """
    interp = tf.lite.Interpreter(
        model_content=model_bytes,
        experimental_op_resolver_type=getattr(tf.lite.experimental.OpResolverType, resolver),
    )
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def random_inputs(shape, n, seed):
    """n int8 tensors: all -128, all 127, then n-2 uniform over -128..127."""
    rng = np.random.default_rng(seed)
    xs = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
    for _ in range(n - 2):
        xs.append(rng.integers(-128, 128, size=shape, dtype=np.int16).astype(np.int8))
    return xs


def uniform_representative(shape, lo, hi, seed, n=64):
    def gen():
        rng = np.random.default_rng(seed)
        for _ in range(n):
            yield [rng.uniform(lo, hi, size=shape).astype(np.float32)]

    return gen


# --------------------------------------------------------------------------
# Fashion-MNIST subset
# --------------------------------------------------------------------------


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def fashion(split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(FASHION / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(FASHION / f"{prefix}-labels-idx1-ubyte.gz")
    return images, labels


def to_float(images_u8):
    return (images_u8.astype(np.float32) / np.float32(255.0))[..., None]


def quantize_images(images_u8, scale, zero_point):
    """u8 pixels -> int8 model input: clamp(round(p/255/scale) + zp), ties to even."""
    x = images_u8.astype(np.float64) / 255.0 / float(np.float32(scale))
    q = np.round(x) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)[..., None]


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------


def inits(kernel="kernel_initializer"):
    """Explicitly seeded initializers: Glorot-uniform kernel, U(-0.3, 0.3) bias.

    Called while building a case, after the per-case seeding, so the seeds (and
    hence the weights) depend only on the case. Non-zero biases exercise the
    bias path of the kernels.
    """
    k, b = (int(v) for v in np.random.randint(0, 2**31 - 1, size=2))
    return dict(
        **{kernel: tf.keras.initializers.GlorotUniform(seed=k)},
        bias_initializer=tf.keras.initializers.RandomUniform(-0.3, 0.3, seed=b),
    )


def seq(name, input_shape, *ls):
    return tf.keras.Sequential(
        [tf.keras.Input(input_shape, batch_size=1, name="input"), *ls], name=name
    )


class Case:
    def __init__(self, name, description, input_shape, make, expect, rep=(-1.0, 1.0),
                 n=12, dense_per_tensor=False):
        self.name = name
        self.description = description
        self.input_shape = tuple(input_shape)
        self.make = make  # (name) -> keras model
        self.expect = expect  # [(op, {field: value})] checked against the graph
        self.rep = rep
        self.n = n
        self.dense_per_tensor = dense_per_tensor


def conv(f, k, s=1, pad="valid", act=None, name="conv"):
    return layers.Conv2D(f, k, strides=s, padding=pad, activation=act, name=name, **inits())


def dwconv(k, m, s=1, pad="valid", act=None, name="dwconv"):
    return layers.DepthwiseConv2D(k, strides=s, padding=pad, depth_multiplier=m,
                                  activation=act, name=name,
                                  **inits("depthwise_initializer"))


def dense(u, act=None, name="dense"):
    return layers.Dense(u, activation=act, name=name, **inits())


CASES = [
    Case("conv_3x3_s1_valid_relu",
         "8x8x1 -> CONV_2D 4 filters 3x3, stride 1, VALID, fused RELU",
         (8, 8, 1), lambda n: seq(n, (8, 8, 1), conv(4, 3, 1, "valid", "relu")),
         [("CONV_2D", dict(stride=[1, 1], padding="VALID", activation="RELU"))],
         rep=(-1.0, 1.0)),
    Case("conv_3x3_s2_same_none",
         "9x9x3 -> CONV_2D 8 filters 3x3, stride 2, SAME, no activation",
         (9, 9, 3), lambda n: seq(n, (9, 9, 3), conv(8, 3, 2, "same")),
         [("CONV_2D", dict(stride=[2, 2], padding="SAME", activation="NONE"))],
         rep=(-0.5, 1.5)),
    Case("conv_5x5_s1_same_relu",
         "8x8x2 -> CONV_2D 16 filters 5x5, stride 1, SAME, fused RELU",
         (8, 8, 2), lambda n: seq(n, (8, 8, 2), conv(16, 5, 1, "same", "relu")),
         [("CONV_2D", dict(stride=[1, 1], padding="SAME", activation="RELU"))],
         rep=(-2.0, 1.0)),
    Case("conv_1x1_s1_relu",
         "6x6x8 -> CONV_2D 12 filters 1x1, stride 1, VALID, fused RELU",
         (6, 6, 8), lambda n: seq(n, (6, 6, 8), conv(12, 1, 1, "valid", "relu")),
         [("CONV_2D", dict(stride=[1, 1], padding="VALID", activation="RELU"))],
         rep=(0.0, 1.0)),
    Case("conv_2x2_s2_same",
         "7x7x3 -> CONV_2D 5 filters 2x2, stride 2, SAME (total padding 1: 0 before, 1 after), "
         "no activation",
         (7, 7, 3), lambda n: seq(n, (7, 7, 3), conv(5, 2, 2, "same")),
         [("CONV_2D", dict(stride=[2, 2], padding="SAME", activation="NONE"))],
         rep=(-1.0, 3.0)),
    Case("conv_3x1_s21_valid",
         "9x6x2 -> CONV_2D 3 filters 3x1 (KHxKW), stride (2,1), VALID, no activation",
         (9, 6, 2), lambda n: seq(n, (9, 6, 2), conv(3, (3, 1), (2, 1), "valid")),
         [("CONV_2D", dict(stride=[2, 1], padding="VALID", activation="NONE"))],
         rep=(-1.0, 1.0)),
    Case("depthwise_3x3_s1_same_relu",
         "8x8x4 -> DEPTHWISE_CONV_2D 3x3, depth multiplier 2, stride 1, SAME, fused RELU",
         (8, 8, 4), lambda n: seq(n, (8, 8, 4), dwconv(3, 2, 1, "same", "relu")),
         [("DEPTHWISE_CONV_2D", dict(stride=[1, 1], padding="SAME", activation="RELU"))],
         rep=(-1.0, 2.0)),
    Case("depthwise_3x3_s2_valid",
         "9x9x3 -> DEPTHWISE_CONV_2D 3x3, depth multiplier 1, stride 2, VALID, no activation",
         (9, 9, 3), lambda n: seq(n, (9, 9, 3), dwconv(3, 1, 2, "valid")),
         [("DEPTHWISE_CONV_2D", dict(stride=[2, 2], padding="VALID", activation="NONE"))],
         rep=(-1.5, 0.5)),
    Case("maxpool_2x2_s2",
         "8x8x4 -> MAX_POOL_2D 2x2, stride 2, VALID",
         (8, 8, 4), lambda n: seq(n, (8, 8, 4), layers.MaxPooling2D(2, 2, "valid", name="pool")),
         [("MAX_POOL_2D", dict(filter=[2, 2], stride=[2, 2], padding="VALID", activation="NONE"))],
         rep=(-1.0, 3.0)),
    Case("maxpool_3x3_s2_same",
         "9x9x3 -> MAX_POOL_2D 3x3, stride 2, SAME",
         (9, 9, 3), lambda n: seq(n, (9, 9, 3), layers.MaxPooling2D(3, 2, "same", name="pool")),
         [("MAX_POOL_2D", dict(filter=[3, 3], stride=[2, 2], padding="SAME", activation="NONE"))],
         rep=(-2.0, 1.0)),
    Case("avgpool_2x2_s2",
         "8x8x4 -> AVERAGE_POOL_2D 2x2, stride 2, VALID",
         (8, 8, 4),
         lambda n: seq(n, (8, 8, 4), layers.AveragePooling2D(2, 2, "valid", name="pool")),
         [("AVERAGE_POOL_2D",
           dict(filter=[2, 2], stride=[2, 2], padding="VALID", activation="NONE"))],
         rep=(-1.0, 3.0)),
    Case("avgpool_3x3_s1_same",
         "7x7x2 -> AVERAGE_POOL_2D 3x3, stride 1, SAME (divides by the in-bounds count)",
         (7, 7, 2),
         lambda n: seq(n, (7, 7, 2), layers.AveragePooling2D(3, 1, "same", name="pool")),
         [("AVERAGE_POOL_2D",
           dict(filter=[3, 3], stride=[1, 1], padding="SAME", activation="NONE"))],
         rep=(-0.5, 2.0)),
    Case("avgpool_global",
         "5x5x8 -> AVERAGE_POOL_2D 5x5 over the whole map, VALID -> 1x1x8",
         (5, 5, 8),
         lambda n: seq(n, (5, 5, 8), layers.AveragePooling2D(5, 1, "valid", name="pool")),
         [("AVERAGE_POOL_2D",
           dict(filter=[5, 5], stride=[1, 1], padding="VALID", activation="NONE"))],
         rep=(-1.0, 1.0)),
    Case("dense_per_channel_relu",
         "48 -> FULLY_CONNECTED 10, fused RELU, converter's default weight quantization",
         (48,), lambda n: seq(n, (48,), dense(10, "relu")),
         [("FULLY_CONNECTED", dict(activation="RELU", keep_num_dims=False))],
         rep=(-1.0, 1.0)),
    Case("dense_per_tensor",
         "48 -> FULLY_CONNECTED 7, no activation, per-channel dense quantization disabled",
         (48,), lambda n: seq(n, (48,), dense(7)),
         [("FULLY_CONNECTED", dict(activation="NONE", keep_num_dims=False))],
         rep=(-0.5, 1.5), dense_per_tensor=True),
    Case("softmax",
         "10 -> SOFTMAX (beta 1) over an int8 input",
         (10,), lambda n: seq(n, (10,), layers.Softmax(name="softmax")),
         [("SOFTMAX", dict(beta=1.0))],
         rep=(-4.0, 4.0)),
    Case("dense_softmax",
         "32 -> FULLY_CONNECTED 10 (no activation) -> SOFTMAX",
         (32,), lambda n: seq(n, (32,), dense(10), layers.Softmax(name="softmax")),
         [("FULLY_CONNECTED", dict(activation="NONE", keep_num_dims=False)),
          ("SOFTMAX", dict(beta=1.0))],
         rep=(-1.0, 1.0)),
]

LENET_EXPECT = [
    ("CONV_2D", dict(stride=[1, 1], padding="VALID", activation="RELU")),
    ("MAX_POOL_2D", dict(filter=[2, 2], stride=[2, 2], padding="VALID", activation="NONE")),
    ("CONV_2D", dict(stride=[1, 1], padding="VALID", activation="RELU")),
    ("MAX_POOL_2D", dict(filter=[2, 2], stride=[2, 2], padding="VALID", activation="NONE")),
    ("RESHAPE", dict()),
    ("FULLY_CONNECTED", dict(activation="RELU", keep_num_dims=False)),
    ("FULLY_CONNECTED", dict(activation="NONE", keep_num_dims=False)),
    ("SOFTMAX", dict(beta=1.0)),
]


def lenet(batch_size):
    return tf.keras.Sequential(
        [
            tf.keras.Input((28, 28, 1), batch_size=batch_size, name="input"),
            layers.Conv2D(8, 5, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(16, 5, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="fc1"),
            layers.Dense(10, activation="softmax", name="fc2"),
        ],
        name="lenet",
    )


# --------------------------------------------------------------------------
# checks and output
# --------------------------------------------------------------------------


def check_graph(name, g, ops, expect):
    all_ops = [g.op_name(op) for op in g.sg.operators]
    for bad in ("QUANTIZE", "DEQUANTIZE"):
        if bad in all_ops:
            raise AssertionError(f"{name}: graph contains {bad}: {all_ops}")
    got = [o["op"] for o in ops]
    want = [e[0] for e in expect]
    if got != want:
        raise AssertionError(f"{name}: ops {got}, expected {want}")
    for o, (_, fields) in zip(ops, expect):
        for k, v in fields.items():
            if o[k] != v:
                raise AssertionError(f"{name}: {o['op']}.{k} = {o[k]!r}, expected {v!r}")
        if o["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D") and o["dilation"] != [1, 1]:
            raise AssertionError(f"{name}: dilation {o['dilation']}")
    if len(g.sg.inputs) != 1 or len(g.sg.outputs) != 1:
        raise AssertionError(f"{name}: expected one input and one output")
    # The ops must form a chain from the model input to the model output.
    prev = int(g.sg.inputs[0])
    for op in g.sg.operators:
        if int(op.inputs[0]) != prev:
            raise AssertionError(f"{name}: ops do not form a chain")
        prev = int(op.outputs[0])
    if prev != int(g.sg.outputs[0]):
        raise AssertionError(f"{name}: last op does not produce the model output")


def to_json(obj, indent=0):
    """JSON with nested objects indented and lists of numbers on one line."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad}  {json.dumps(k)}: {to_json(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ", ".join(json.dumps(v) for v in obj) + "]"
        items = [pad + "  " + to_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(obj, float):
        if not np.isfinite(obj):
            raise ValueError("non-finite float")
        return repr(obj)
    return json.dumps(obj)


def emit(name, description, model_bytes, expect, inputs, compare_host, extra_case_fields=None):
    g = Graph(model_bytes)
    ops = describe_ops(g)
    check_graph(name, g, ops, expect)
    gin = g.activation(int(g.sg.inputs[0]))
    gout = g.activation(int(g.sg.outputs[0]))

    cases = []
    host_diff = {r: 0 for r in HOST_RESOLVERS}
    host_max = {r: 0 for r in HOST_RESOLVERS}
    total = 0
    for k, x in enumerate(inputs):
        x = np.ascontiguousarray(x.reshape(gin["shape"]).astype(np.int8))
        y = run_tflm(model_bytes, x)
        if list(y.shape) != gout["shape"]:
            raise AssertionError(f"{name}: TFLM output shape {list(y.shape)}")
        # TFLM must be deterministic: a second run gives the same bytes.
        if not np.array_equal(y, run_tflm(model_bytes, x)):
            raise AssertionError(f"{name}: TFLM is not deterministic")
        c = {"input": [int(v) for v in x.ravel()], "output": [int(v) for v in y.ravel()]}
        if extra_case_fields:
            c.update(extra_case_fields[k])
        cases.append(c)
        if compare_host:
            total += y.size
            for r in HOST_RESOLVERS:
                h = run_host(model_bytes, x, r).astype(np.int32)
                d = np.abs(h - y.astype(np.int32))
                host_diff[r] += int(np.count_nonzero(d))
                host_max[r] = max(host_max[r], int(d.max()))

    doc = {
        "name": name,
        "description": description,
        "input": gin,
        "output": gout,
        "ops": ops,
        "cases": cases,
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / f"{name}.tflite").write_bytes(model_bytes)
    (OUT_DIR / f"{name}.json").write_text(to_json(doc) + "\n")

    summary = []
    for o in ops:
        s = o["op"]
        if "activation" in o:
            s += f"({o['activation']})"
        if "weights" in o:
            nsc = len(o["weights"]["scales"])
            s += f"[w {o['weights']['shape']} {'per-channel' if nsc > 1 else 'per-tensor'}" \
                 f" qdim {o['weights']['quantized_dimension']}]"
        summary.append(s)
    print(f"{name}: {len(model_bytes)} B tflite, {len(cases)} cases")
    print(f"  in  {gin}\n  out {gout}\n  ops " + " -> ".join(summary))
    if compare_host:
        for r in HOST_RESOLVERS:
            print(f"  host tf.lite.Interpreter ({r}) vs TFLM: {host_diff[r]}/{total} outputs "
                  f"differ, max |diff| {host_max[r]}")
    return doc


def build_case(case, compare_host):
    tf.keras.backend.clear_session()
    seed = sum(case.name.encode()) * 7919 % 100003  # fixed per case, independent of order
    tf.keras.utils.set_random_seed(seed)
    model = case.make(case.name)
    batch_shape = (1,) + case.input_shape
    rep = uniform_representative(batch_shape, case.rep[0], case.rep[1], seed + 1)
    model_bytes = convert(model, rep, disable_dense_per_channel=case.dense_per_tensor)
    inputs = random_inputs(batch_shape, case.n, seed + 2)
    return emit(case.name, case.description, model_bytes, case.expect, inputs, compare_host)


def build_lenet(compare_host):
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(20240901)
    train_x_u8, train_y = fashion("train")
    test_x_u8, test_y = fashion("test")
    train_x = to_float(train_x_u8)

    model = lenet(None)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_x, train_y.astype(np.int32), batch_size=32, epochs=1, shuffle=True,
              verbose=0)
    infer = lenet(1)
    infer.set_weights(model.get_weights())
    test_x = to_float(test_x_u8)
    float_acc = float(np.mean(np.argmax(model.predict(test_x, verbose=0), 1) == test_y))

    def rep():
        for i in range(500):
            yield [train_x[i : i + 1]]

    model_bytes = convert(infer, rep)
    g = Graph(model_bytes)
    gin = g.activation(int(g.sg.inputs[0]))
    n = 16
    inputs = quantize_images(test_x_u8[:n], gin["scale"], gin["zero_point"])
    labels = [{"label": int(v)} for v in test_y[:n]]
    desc = ("LeNet on Fashion-MNIST 28x28x1 (1 epoch on the bundled subset); inputs are the "
            "first 16 bundled test images, int8 = round(pixel/255/scale) + zero_point; "
            "label is the true class")
    doc = emit("lenet", desc, model_bytes, LENET_EXPECT, list(inputs), compare_host, labels)

    correct = 0
    all_q = quantize_images(test_x_u8, gin["scale"], gin["zero_point"])
    for i in range(len(all_q)):
        interp = tflm.Interpreter.from_bytes(model_bytes)
        interp.set_input(all_q[i : i + 1], 0)
        interp.invoke()
        correct += int(np.argmax(interp.get_output(0)) == test_y[i])
    hits16 = sum(int(np.argmax(c["output"]) == c["label"]) for c in doc["cases"])
    print(f"  float test accuracy {float_acc:.3f}; TFLM int8 test accuracy "
          f"{correct / len(all_q):.3f} (1000 images); {hits16}/16 on the fixture cases")


# --------------------------------------------------------------------------
# issue 10: depthwise, TF's asymmetric "same", global average pooling
# --------------------------------------------------------------------------
# Self-contained: its own case list, builder and f32 references. Each case
# writes the usual int8 pair and also <name>.f32.json: the Keras weights (as
# Keras stores them: conv [KH][KW][C][F], depthwise [KH][KW][C][M], dense
# [in][out]), f32 inputs and the outputs of TFLM's interpreter on the
# unquantized f32 conversion of the same model.


def separable_mini(name):
    """A DS-CNN in miniature: KWS's first layer (10x4, stride 2, TF same over
    49x10: 4 rows before, 5 after), one depthwise-separable block, global
    average pooling, dense, softmax."""
    return seq(name, (49, 10, 1),
               conv(16, (10, 4), 2, "same", "relu", name="conv1"),
               dwconv(3, 1, 1, "same", "relu", name="dw1"),
               conv(16, 1, 1, "valid", "relu", name="pw1"),
               layers.AveragePooling2D((25, 5), name="pool"),
               layers.Flatten(name="flat"),
               dense(12, name="fc"),
               layers.Softmax(name="softmax"))


SEPARABLE_CASES = [
    Case("conv_10x4_s2_same_kws",
         "49x10x1 -> CONV_2D 8 filters 10x4, stride 2, SAME (rows 4 before, 5 after; "
         "columns 1 and 1), fused RELU -> 25x5x8: KWS's first layer",
         (49, 10, 1), lambda n: seq(n, (49, 10, 1), conv(8, (10, 4), 2, "same", "relu")),
         [("CONV_2D", dict(stride=[2, 2], padding="SAME", activation="RELU"))],
         rep=(-1.0, 1.0), n=8),
    Case("depthwise_3x3_s2_same_even",
         "8x8x4 -> DEPTHWISE_CONV_2D 3x3, depth multiplier 1, stride 2, SAME over an even map "
         "(0 before, 1 after), fused RELU -> 4x4x4",
         (8, 8, 4), lambda n: seq(n, (8, 8, 4), dwconv(3, 1, 2, "same", "relu")),
         [("DEPTHWISE_CONV_2D", dict(stride=[2, 2], padding="SAME", activation="RELU"))],
         rep=(-1.0, 2.0)),
    Case("depthwise_3x3_s2_same_even_m2",
         "10x6x3 -> DEPTHWISE_CONV_2D 3x3, depth multiplier 2, stride 2, SAME over an even map "
         "(0 before, 1 after), no activation -> 5x3x6",
         (10, 6, 3), lambda n: seq(n, (10, 6, 3), dwconv(3, 2, 2, "same")),
         [("DEPTHWISE_CONV_2D", dict(stride=[2, 2], padding="SAME", activation="NONE"))],
         rep=(-1.5, 1.0)),
    Case("avgpool_global_25x5",
         "25x5x16 -> AVERAGE_POOL_2D 25x5 over the whole map -> 1x1x16 (KWS's pooling: 125 "
         "values a window)",
         (25, 5, 16),
         lambda n: seq(n, (25, 5, 16), layers.AveragePooling2D((25, 5), name="pool")),
         [("AVERAGE_POOL_2D",
           dict(filter=[25, 5], stride=[25, 5], padding="VALID", activation="NONE"))],
         rep=(-1.0, 3.0)),
    Case("separable_mini",
         "49x10x1 -> CONV_2D 16 10x4/2 SAME RELU -> DEPTHWISE_CONV_2D 3x3 SAME RELU -> CONV_2D 16 "
         "1x1 RELU -> AVERAGE_POOL_2D 25x5 -> FULLY_CONNECTED 12 -> SOFTMAX (a DS-CNN in "
         "miniature; the converter folds Keras's Flatten into the FULLY_CONNECTED)",
         (49, 10, 1), separable_mini,
         [("CONV_2D", dict(stride=[2, 2], padding="SAME", activation="RELU")),
          ("DEPTHWISE_CONV_2D", dict(stride=[1, 1], padding="SAME", activation="RELU")),
          ("CONV_2D", dict(stride=[1, 1], padding="VALID", activation="RELU")),
          ("AVERAGE_POOL_2D",
           dict(filter=[25, 5], stride=[25, 5], padding="VALID", activation="NONE")),
          ("FULLY_CONNECTED", dict(activation="NONE", keep_num_dims=False)),
          ("SOFTMAX", dict(beta=1.0))],
         rep=(-1.0, 1.0), n=8),
]


def convert_f32(model):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(conv.convert())


def run_tflm_f32(model_bytes, x):
    # f32 activations need a larger arena than the interpreter's default.
    interp = tflm.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    interp.set_input(x, 0)
    interp.invoke()
    y = np.array(interp.get_output(0))
    if y.dtype != np.float32:
        raise ValueError(f"TFLM f32 output dtype {y.dtype}")
    return y


def keras_weights(model):
    """Every weighted layer's arrays, flat, in Keras's layout."""
    out = []
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        kernel, bias = ws
        out.append({
            "name": layer.name,
            "kernel": {"shape": list(kernel.shape), "data": [f32(v) for v in kernel.ravel()]},
            "bias": [f32(v) for v in bias.ravel()],
        })
    return out


def build_separable_case(case, compare_host):
    """The int8 fixture of `case` (as build_case), then its f32 reference."""
    tf.keras.backend.clear_session()
    seed = sum(case.name.encode()) * 7919 % 100003
    tf.keras.utils.set_random_seed(seed)
    model = case.make(case.name)
    batch_shape = (1,) + case.input_shape
    rep = uniform_representative(batch_shape, case.rep[0], case.rep[1], seed + 1)
    model_bytes = convert(model, rep)
    inputs = random_inputs(batch_shape, case.n, seed + 2)
    emit(case.name, case.description, model_bytes, case.expect, inputs, compare_host)

    f32_bytes = convert_f32(model)
    rng = np.random.default_rng(seed + 3)
    cases = []
    for _ in range(4):
        x = rng.uniform(case.rep[0], case.rep[1], size=batch_shape).astype(np.float32)
        y = run_tflm_f32(f32_bytes, x)
        cases.append({"input": [f32(v) for v in x.ravel()], "output": [f32(v) for v in y.ravel()]})
    doc = {
        "name": case.name,
        "description": case.description + "; f32: TFLM's interpreter on the unquantized model",
        "layers": keras_weights(model),
        "cases": cases,
    }
    (OUT_DIR / f"{case.name}.f32.json").write_text(to_json(doc) + "\n")
    print(f"  f32: {len(f32_bytes)} B tflite, {len(cases)} cases")


def build_separable(only, compare_host):
    for case in SEPARABLE_CASES:
        if not only or case.name in only:
            build_separable_case(case, compare_host)


# --------------------------------------------------------------------------
# residual blocks: ADD (issue 10)
#
# Self-contained: Keras functional models with one residual block, their own
# graph description (the ops do not form a chain), their own checks and
# output. Each op is labelled with its role in the block by the graph's
# connectivity: "stem" reads the model input, "add" is the ADD, "main" the
# longer path from the stem's output to the ADD, "shortcut" the other one
# (empty: the ADD reads the stem's output itself).
# --------------------------------------------------------------------------


def residual_identity(name):
    """8x8x3 -> stem conv 8 -> conv 8 relu -> conv 8 -> add(stem) -> relu."""
    x = tf.keras.Input((8, 8, 3), batch_size=1, name="input")
    stem = conv(8, 3, 1, "same", "relu", name="stem")(x)
    y = conv(8, 3, 1, "same", "relu", name="main1")(stem)
    y = conv(8, 3, 1, "same", None, name="main2")(y)
    y = layers.Add(name="add")([y, stem])
    y = layers.Activation("relu", name="add_relu")(y)
    return tf.keras.Model(x, y, name=name)


def residual_input(name):
    """8x8x4 -> conv 4 relu -> conv 4 -> add(input) -> relu: the block reads the model input."""
    x = tf.keras.Input((8, 8, 4), batch_size=1, name="input")
    y = conv(4, 3, 1, "same", "relu", name="main1")(x)
    y = conv(4, 3, 1, "same", None, name="main2")(y)
    y = layers.Add(name="add")([y, x])
    y = layers.Activation("relu", name="add_relu")(y)
    return tf.keras.Model(x, y, name=name)


def residual_shortcut(name):
    """9x9x4 -> stem conv 8 -> conv 16 s2 relu -> conv 16; shortcut conv 16 1x1 s2; add; relu.

    9x9 so that TF's "same" pads the stride-2 3x3 convolution one row and
    column on each side, as a symmetric `pad = 1` does.
    """
    x = tf.keras.Input((9, 9, 4), batch_size=1, name="input")
    stem = conv(8, 3, 1, "same", "relu", name="stem")(x)
    y = conv(16, 3, 2, "same", "relu", name="main1")(stem)
    y = conv(16, 3, 1, "same", None, name="main2")(y)
    s = conv(16, 1, 2, "valid", None, name="shortcut")(stem)
    y = layers.Add(name="add")([y, s])
    y = layers.Activation("relu", name="add_relu")(y)
    return tf.keras.Model(x, y, name=name)


# name -> (description, builder, representative range, roles expected:
# number of main and shortcut convolutions, whether a stem comes first)
RESIDUAL_CASES = {
    "residual_identity": (
        "8x8x3 -> CONV_2D 8 3x3 SAME RELU (stem) -> CONV_2D 8 3x3 SAME RELU -> CONV_2D 8 3x3 SAME "
        "-> ADD(stem) fused RELU",
        residual_identity, (-1.0, 1.0), (2, 0, True)),
    "residual_input": (
        "8x8x4 -> CONV_2D 4 3x3 SAME RELU -> CONV_2D 4 3x3 SAME -> ADD(the model input) fused RELU",
        residual_input, (-1.0, 1.0), (2, 0, False)),
    "residual_shortcut": (
        "9x9x4 -> CONV_2D 8 3x3 SAME RELU (stem) -> CONV_2D 16 3x3 s2 SAME RELU -> CONV_2D 16 3x3 "
        "SAME; shortcut CONV_2D 16 1x1 s2 VALID from the stem; ADD fused RELU",
        residual_shortcut, (-1.0, 2.0), (2, 1, True)),
}


def describe_residual(name, g, has_stem):
    """The block's ops by role, each as describe_ops describes it, plus the
    ADD's inputs and output quantization. Without a stem the block reads
    the model input."""
    ops = list(g.sg.operators)
    producer = {int(op.outputs[0]): k for k, op in enumerate(ops)}
    described = describe_ops_of(g, ops)
    graph_in = int(g.sg.inputs[0])
    adds = [k for k, op in enumerate(ops) if g.op_name(op) == "ADD"]
    if len(adds) != 1:
        raise AssertionError(f"{name}: expected one ADD, got {adds}")
    add = adds[0]
    stem = None
    if has_stem:
        stems = [k for k, op in enumerate(ops) if int(op.inputs[0]) == graph_in and k != add]
        if len(stems) != 1:
            raise AssertionError(f"{name}: expected one stem, got {stems}")
        stem = stems[0]
    stem_out = int(ops[stem].outputs[0]) if has_stem else graph_in

    def path(t):
        """The ops from the stem's output to tensor t, in execution order."""
        p = []
        while t != stem_out:
            k = producer[t]
            if g.op_name(ops[k]) != "CONV_2D":
                raise AssertionError(f"{name}: a branch holds {g.op_name(ops[k])}")
            p.append(k)
            t = int(ops[k].inputs[0])
        return p[::-1]

    add_in = [int(i) for i in ops[add].inputs]
    paths = [path(t) for t in add_in]
    main_index = 0 if len(paths[0]) >= len(paths[1]) else 1
    o = ops[add].builtinOptions
    add_desc = {
        "op": "ADD",
        "activation": ACTIVATION[o.fusedActivationFunction],
        "main_is_input": main_index + 1,
        "input1": g.activation(add_in[0]),
        "input2": g.activation(add_in[1]),
        "output": g.activation(int(ops[add].outputs[0])),
    }
    if add_desc["input1"]["shape"] != add_desc["input2"]["shape"]:
        raise AssertionError(f"{name}: ADD with broadcasting")
    if int(ops[add].outputs[0]) != int(g.sg.outputs[0]):
        raise AssertionError(f"{name}: the ADD is not the last op")
    return {
        "stem": described[stem] if has_stem else None,
        "main": [described[k] for k in paths[main_index]],
        "shortcut": [described[k] for k in paths[1 - main_index]],
        "add": add_desc,
    }


def describe_ops_of(g, ops):
    """describe_ops for conv ops, the ADD left to describe_residual."""
    out = []
    for op in ops:
        if g.op_name(op) == "ADD":
            out.append(None)
            continue
        o = op.builtinOptions
        ins = [int(i) for i in op.inputs]
        if g.op_name(op) != "CONV_2D":
            raise AssertionError(f"unexpected op {g.op_name(op)} in a residual case")
        d = {
            "op": "CONV_2D",
            "stride": [o.strideH, o.strideW],
            "dilation": [o.dilationHFactor, o.dilationWFactor],
            "padding": PADDING[o.padding],
            "activation": ACTIVATION[o.fusedActivationFunction],
            "input": g.activation(ins[0]),
            "output": g.activation(int(op.outputs[0])),
            "weights": g.weights(ins[1]),
            "bias": g.bias(ins[2]),
        }
        if d["dilation"] != [1, 1]:
            raise AssertionError("dilated CONV_2D")
        out.append(d)
    return out


def build_residual_case(name, compare_host):
    description, make, rep_range, (n_main, n_short, has_stem) = RESIDUAL_CASES[name]
    tf.keras.backend.clear_session()
    seed = sum(name.encode()) * 7919 % 100003
    tf.keras.utils.set_random_seed(seed)
    model = make(name)
    input_shape = tuple(model.inputs[0].shape)
    rep = uniform_representative(input_shape, rep_range[0], rep_range[1], seed + 1)
    model_bytes = convert(model, rep)
    g = Graph(model_bytes)
    all_ops = [g.op_name(op) for op in g.sg.operators]
    for bad in ("QUANTIZE", "DEQUANTIZE"):
        if bad in all_ops:
            raise AssertionError(f"{name}: graph contains {bad}: {all_ops}")
    block = describe_residual(name, g, has_stem)
    if (len(block["main"]), len(block["shortcut"])) != (n_main, n_short):
        raise AssertionError(f"{name}: branches of {len(block['main'])} and {len(block['shortcut'])} ops")
    if block["add"]["activation"] != "RELU":
        raise AssertionError(f"{name}: the ADD's activation is {block['add']['activation']}")
    gin = g.activation(int(g.sg.inputs[0]))
    gout = g.activation(int(g.sg.outputs[0]))
    cases = []
    host_diff, total = {r: 0 for r in HOST_RESOLVERS}, 0
    for x in random_inputs(input_shape, 12, seed + 2):
        x = np.ascontiguousarray(x.astype(np.int8))
        y = run_tflm(model_bytes, x)
        if not np.array_equal(y, run_tflm(model_bytes, x)):
            raise AssertionError(f"{name}: TFLM is not deterministic")
        cases.append({"input": [int(v) for v in x.ravel()], "output": [int(v) for v in y.ravel()]})
        if compare_host:
            total += y.size
            for r in HOST_RESOLVERS:
                h = run_host(model_bytes, x, r).astype(np.int32)
                host_diff[r] += int(np.count_nonzero(h - y.astype(np.int32)))
    doc = {"name": name, "description": description, "input": gin, "output": gout,
           "block": block, "cases": cases}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / f"{name}.tflite").write_bytes(model_bytes)
    (OUT_DIR / f"{name}.json").write_text(to_json(doc) + "\n")
    print(f"{name}: {len(model_bytes)} B tflite, {len(cases)} cases, ops {' '.join(all_ops)}")
    print(f"  add {block['add']['input1']} + {block['add']['input2']} -> {block['add']['output']}")
    if compare_host:
        for r in HOST_RESOLVERS:
            print(f"  host tf.lite.Interpreter ({r}) vs TFLM: {host_diff[r]}/{total} outputs differ")


def add_pairs(name, ranges, act):
    """Two 256x256x1 inputs -> ADD (fused `act`): every pair of int8 values."""
    a = tf.keras.Input((256, 256, 1), batch_size=1, name="a")
    b = tf.keras.Input((256, 256, 1), batch_size=1, name="b")
    y = layers.Add(name="add")([a, b])
    if act:
        y = layers.Activation(act, name="add_relu")(y)
    return tf.keras.Model([a, b], y, name=name)


# name -> (description, (range of input a, range of input b), activation)
ADD_PAIR_CASES = {
    "add_pairs_relu": ("every pair of int8 values through ADD (fused RELU), input scales about 3:1",
                       ((-1.0, 2.0), (-0.3, 0.5)), "relu"),
    "add_pairs_none": ("every pair of int8 values through ADD (no activation), input scales about 1:1.7",
                       ((-2.0, 1.5), (-4.0, 2.0)), None),
}


def build_add_pairs_case(name):
    """ADD on its own, on all 65,536 pairs (input 1 = row - 128, input 2 =
    column - 128): the fixed-point rescaling of both inputs, exhaustively."""
    description, (ra, rb), act = ADD_PAIR_CASES[name]
    tf.keras.backend.clear_session()
    seed = sum(name.encode()) * 7919 % 100003
    tf.keras.utils.set_random_seed(seed)
    model = add_pairs(name, (ra, rb), act)

    def rep():
        rng = np.random.default_rng(seed + 1)
        for _ in range(32):
            yield [rng.uniform(*ra, size=(1, 256, 256, 1)).astype(np.float32),
                   rng.uniform(*rb, size=(1, 256, 256, 1)).astype(np.float32)]

    model_bytes = convert(model, rep)
    g = Graph(model_bytes)
    ops = list(g.sg.operators)
    if [g.op_name(op) for op in ops] != ["ADD"]:
        raise AssertionError(f"{name}: ops {[g.op_name(op) for op in ops]}")
    add_in = [int(i) for i in ops[0].inputs]
    graph_in = [int(i) for i in g.sg.inputs]
    if sorted(add_in) != sorted(graph_in):
        raise AssertionError(f"{name}: the ADD does not read the model inputs")
    o = ops[0].builtinOptions
    want_act = "RELU" if act else "NONE"
    if ACTIVATION[o.fusedActivationFunction] != want_act:
        raise AssertionError(f"{name}: activation {ACTIVATION[o.fusedActivationFunction]}")
    rows = (np.arange(256) - 128).astype(np.int8)
    grids = [np.broadcast_to(rows[:, None], (256, 256)), np.broadcast_to(rows[None, :], (256, 256))]
    # Three 64 KiB tensors: more than the default arena (ten times the model).
    interp = tflm.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    for k, t in enumerate(add_in):  # ADD input k reads graph input graph_in.index(t)
        interp.set_input(np.ascontiguousarray(grids[k].reshape(1, 256, 256, 1)), graph_in.index(t))
    interp.invoke()
    y = np.array(interp.get_output(0))
    doc = {
        "name": name,
        "description": description + "; output[i * 256 + j] = ADD(i - 128, j - 128)",
        "add": {
            "op": "ADD",
            "activation": want_act,
            "input1": g.activation(add_in[0]),
            "input2": g.activation(add_in[1]),
            "output": g.activation(int(ops[0].outputs[0])),
        },
        "output": [int(v) for v in y.ravel()],
    }
    (OUT_DIR / f"{name}.tflite").write_bytes(model_bytes)
    (OUT_DIR / f"{name}.json").write_text(to_json(doc) + "\n")
    print(f"{name}: {doc['add']['input1']} + {doc['add']['input2']} -> {doc['add']['output']}")


def build_residual_cases(only, compare_host):
    for name in RESIDUAL_CASES:
        if not only or name in only:
            build_residual_case(name, compare_host)
    for name in ADD_PAIR_CASES:
        if not only or name in only:
            build_add_pairs_case(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare-host", action="store_true",
                    help="also print how TFLite's host interpreter differs (diagnostic only)")
    ap.add_argument("--only", nargs="*", help="generate only these cases")
    args = ap.parse_args()
    known = {c.name for c in CASES} | {"lenet"} | {c.name for c in SEPARABLE_CASES}
    known |= set(RESIDUAL_CASES) | set(ADD_PAIR_CASES)
    unknown = sorted(set(args.only or []) - known)
    if unknown:
        ap.error(f"unknown cases {unknown}; known: {sorted(known)}")
    print(f"tensorflow {tf.__version__}, numpy {np.__version__}")
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        build_case(case, args.compare_host)
    if not args.only or "lenet" in args.only:
        build_lenet(args.compare_host)
    build_separable(args.only, args.compare_host)
    build_residual_cases(args.only, args.compare_host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
