#!/usr/bin/env python3
"""check_onnx_import.py — onnxruntime as the oracle for tools/onnx2tessera:
small ONNX graphs built with onnx.helper (one per supported op, awkward sizes
1, 7, 17, 129, some with a symbolic batch dim), plus whole transformer models
(benchmarks/onnx_export.py's exports of examples/bert and examples/gpt, and a
hand-built BERT-style block with the Shape → Gather → Concat → Reshape code
PyTorch exports hold), each run by onnxruntime and, converted, by `tessera run`
on the same inputs. Outputs must agree: f32 |ort − tessera| <= atol + rtol·|ort|
(ref 1e-5 + 1e-4·|ort|; cpu 1e-4 + 1e-3·|ort|), integers and bools exactly.
Refusals (an unsupported op, a malformed file, bad usage) are checked too.

    check_onnx_import.py --tessera PATH --workdir DIR [--target ref|cpu]... [-k SUBSTRING] [-v]

The last line is `onnx import oracle: N passed, M failed`; exit 1 on a failure.
"""
import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import numpy as np  # noqa: E402
import stio  # noqa: E402

try:
    import onnx  # noqa: E402
    import onnxruntime as ort  # noqa: E402
    from onnx import TensorProto as T, helper, numpy_helper  # noqa: E402
except ImportError as e:
    print(f"FAIL: {e}: this oracle needs onnx and onnxruntime; run scripts/setup.sh")
    print("onnx import oracle: 0 passed, 1 failed")
    sys.exit(1)

CONVERTER = os.path.join(ROOT, "tools", "onnx2tessera")
TOL = {"ref": (1e-4, 1e-5), "cpu": (1e-3, 1e-4)}  # f32 (rtol, atol)
TOL16 = {"f16": (1e-2, 1e-2), "bf16": (5e-2, 5e-2)}
ELEM = {np.dtype(np.float32): T.FLOAT, np.dtype(np.float16): T.FLOAT16,
        np.dtype(np.int64): T.INT64, np.dtype(np.int32): T.INT32, np.dtype(np.bool_): T.BOOL}
TS_DTYPE = {T.FLOAT: "f32", T.FLOAT16: "f16", T.INT64: "i64", T.INT32: "i32", T.BOOL: "bool"}
rng = np.random.default_rng(7)


def rand(*shape, lo=-2.0, hi=2.0, positive=False):
    a = rng.uniform(lo, hi, shape)
    if positive:
        a = np.abs(a) + 0.25
    else:  # non-zero data: keep values away from 0
        a = np.where(np.abs(a) < 0.05, 0.05, a)
    return a.astype(np.float32)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def ints(name, values):
    return init(name, np.array(values, dtype=np.int64))


def model(nodes, inputs, outputs, inits=(), opset=17):
    """inputs: [(name, array, shape with symbols or None)]; outputs: [(name, elem)]."""
    vin = [helper.make_tensor_value_info(n, ELEM[a.dtype], shape if shape else list(a.shape))
           for n, a, shape in inputs]
    vout = [helper.make_tensor_value_info(n, e, None) for n, e in outputs]
    g = helper.make_graph(nodes, "case", vin, vout, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset <= 17 else 9 if opset <= 19 else 10 if opset <= 21 else 13
    return m, {n: a for n, a, _ in inputs}


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, name=f"{op.lower()}_0", **attrs)


F = T.FLOAT


def unary(op, x, opset=17, **attrs):
    return model([node(op, ["x"], ["y"], **attrs)], [("x", x, ["batch"] + list(x.shape[1:]))],
                 [("y", F)], opset=opset)


def binary(op, a, b, b_init=False, elem=F):
    if b_init:
        return model([node(op, ["a", "b"], ["y"])], [("a", a, ["batch"] + list(a.shape[1:]))],
                     [("y", elem)], [init("b", b)])
    return model([node(op, ["a", "b"], ["y"])], [("a", a, None), ("b", b, None)], [("y", elem)])


def cases():
    """(name, (model, feeds)) for every op and pattern."""
    c = []
    add = lambda name, m: c.append((name, m))  # noqa: E731
    # -- matrix products
    add("MatMul-sym", model([node("MatMul", ["x", "w"], ["y"])],
                            [("x", rand(3, 7, 17), ["batch", 7, 17])], [("y", F)],
                            [init("w", rand(17, 129))]))
    add("MatMul-batched", binary("MatMul", rand(2, 3, 7, 17), rand(3, 17, 1)))
    add("MatMul-1d", binary("MatMul", rand(17), rand(2, 17, 7)))
    add("Gemm-transB-alpha-beta", model(
        [node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=0.5, beta=2.0)],
        [("a", rand(7, 17), ["batch", 17])], [("y", F)],
        [init("b", rand(129, 17)), init("c", rand(129))]))
    add("Gemm-transA-attr", model([node("Gemm", ["a", "b"], ["y"], transA=1)],
                                  [("a", rand(17, 7), None), ("b", rand(17, 1), None)], [("y", F)]))
    # -- element-wise
    for op in ("Add", "Sub", "Mul", "Div"):
        add(f"{op}-bcast", binary(op, rand(3, 7, 17), rand(17), b_init=True))
        add(f"{op}-runtime", binary(op, rand(1, 7, 1), rand(17, 1, 129)))
    add("Add-i64", binary("Add", rng.integers(-9, 9, (7, 17)), rng.integers(-9, 9, (17,)),
                          elem=T.INT64))
    add("Div-i64", binary("Div", rng.integers(-90, 90, (7,)), rng.integers(1, 9, (7,)) *
                          rng.choice([-1, 1], 7), elem=T.INT64))
    add("Pow-const2", binary("Pow", rand(3, 7, 17), np.float32(2.0), b_init=True))
    add("Pow-runtime", binary("Pow", rand(7, 17, positive=True), rand(17)))
    add("Pow-int-exponent", binary("Pow", rand(3, 17), np.int64(3), b_init=True))
    for op, kw in (("Sqrt", {"positive": True}), ("Reciprocal", {}), ("Neg", {}), ("Exp", {}),
                   ("Log", {"positive": True}), ("Tanh", {}), ("Erf", {}), ("Relu", {}),
                   ("Sigmoid", {}), ("Abs", {})):
        add(op, unary(op, rand(3, 7, 17, **kw)))
    add("Gelu", unary("Gelu", rand(3, 129), opset=20))
    add("Gelu-tanh", unary("Gelu", rand(3, 129), opset=20, approximate="tanh"))
    add("Max", binary("Max", rand(7, 17), rand(17)))
    add("Min", binary("Min", rand(7, 17), rand(17)))
    # -- softmax, norms, reductions
    add("Softmax", unary("Softmax", rand(3, 7, 129)))
    add("Softmax-axis1", unary("Softmax", rand(3, 7, 17), axis=1))
    add("LayerNormalization", model(
        [node("LayerNormalization", ["x", "s", "b"], ["y"], epsilon=1e-5)],
        [("x", rand(3, 7, 129), ["batch", "seq", 129])], [("y", F)],
        [init("s", rand(129)), init("b", rand(129))]))
    add("LayerNormalization-axis-2", model(
        [node("LayerNormalization", ["x", "s"], ["y"], axis=-2)],
        [("x", rand(3, 7, 17), ["batch", 7, 17])], [("y", F)], [init("s", rand(7, 17))]))
    add("SimplifiedLayerNormalization", model(
        [node("SimplifiedLayerNormalization", ["x", "s"], ["y"], epsilon=1e-6, axis=-1)],
        [("x", rand(3, 7, 129), ["batch", 7, 129])], [("y", F)], [init("s", rand(129))]))
    add("ReduceMean-attr", unary("ReduceMean", rand(3, 7, 17), axes=[-1]))
    add("ReduceMean-input18", model([node("ReduceMean", ["x", "ax"], ["y"], keepdims=0)],
                                    [("x", rand(3, 7, 17), None)], [("y", F)],
                                    [ints("ax", [0, 2])], opset=18))
    add("ReduceSum", model([node("ReduceSum", ["x", "ax"], ["y"], keepdims=0)],
                           [("x", rand(3, 7, 17), ["batch", 7, 17])], [("y", F)],
                           [ints("ax", [1])]))
    add("ReduceSum-all", model([node("ReduceSum", ["x"], ["y"])],
                               [("x", rand(7, 17), None)], [("y", F)]))
    add("ReduceMax", unary("ReduceMax", rand(3, 7, 129), axes=[1], keepdims=0))
    # -- gather and layout
    add("Gather-embedding", model([node("Gather", ["w", "i"], ["y"])],
                                  [("i", rng.integers(-17, 17, (3, 7)), ["batch", 7])], [("y", F)],
                                  [init("w", rand(17, 129))]))
    add("Gather-axis1-scalar", model([node("Gather", ["x", "i"], ["y"], axis=1)],
                                     [("x", rand(3, 7, 17), None)], [("y", F)],
                                     [init("i", np.int64(-2))]))
    add("Reshape-0-minus1", model([node("Reshape", ["x", "s"], ["y"])],
                                  [("x", rand(3, 7, 17), ["batch", 7, 17])], [("y", F)],
                                  [ints("s", [0, -1])]))
    add("Transpose", unary("Transpose", rand(3, 7, 17), perm=[2, 0, 1]))
    add("Transpose-default", unary("Transpose", rand(3, 7, 17)))
    add("Unsqueeze", model([node("Unsqueeze", ["x", "ax"], ["y"])],
                           [("x", rand(3, 7), ["batch", 7])], [("y", F)], [ints("ax", [1, -1])]))
    add("Squeeze", model([node("Squeeze", ["x", "ax"], ["y"])],
                         [("x", rand(3, 1, 7, 1), ["batch", 1, 7, 1])], [("y", F)],
                         [ints("ax", [-1])]))
    add("Squeeze-all", model([node("Squeeze", ["x"], ["y"])], [("x", rand(1, 17, 1), None)],
                             [("y", F)]))
    add("Concat", model([node("Concat", ["a", "b", "c"], ["y"], axis=1)],
                        [("a", rand(3, 7, 17), ["batch", 7, 17]),
                         ("b", rand(3, 1, 17), ["batch", 1, 17])], [("y", F)],
                        [init("c", rand(3, 17, 17))]))
    add("Slice", model([node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
                       [("x", rand(3, 17, 129), ["batch", 17, 129])], [("y", F)],
                       [ints("st", [1, -1]), ints("en", [9223372036854775807, -100]),
                        ints("ax", [1, 2]), ints("sp", [3, -7])]))
    add("Slice-noaxes", model([node("Slice", ["x", "st", "en"], ["y"])],
                              [("x", rand(7, 17), None)], [("y", F)],
                              [ints("st", [2, 0]), ints("en", [5, -1])]))
    add("Split-sizes", model([node("Split", ["x", "s"], ["y0", "y1", "y2"], axis=-1)],
                             [("x", rand(3, 7, 17), ["batch", 7, 17])],
                             [("y0", F), ("y1", F), ("y2", F)], [ints("s", [1, 7, 9])]))
    add("Split-num-outputs", model([node("Split", ["x"], ["y0", "y1"], axis=1, num_outputs=2)],
                                   [("x", rand(3, 7), None)], [("y0", F), ("y1", F)], opset=18))
    add("Flatten", unary("Flatten", rand(3, 7, 17), axis=2))
    add("Flatten-negative-axis", unary("Flatten", rand(3, 7, 17), axis=-3))
    add("Identity-output", unary("Identity", rand(3, 7)))
    add("Dropout", unary("Dropout", rand(3, 7)))
    # -- casts, comparisons, constants, shape code
    add("Cast-f32-i32", model([node("Cast", ["x"], ["y"], to=T.INT32)],
                              [("x", rand(7, 17) * 10, None)], [("y", T.INT32)]))
    add("Cast-i64-f32", model([node("Cast", ["x"], ["y"], to=T.FLOAT)],
                              [("x", rng.integers(-99, 99, (17,)), None)], [("y", F)]))
    add("Cast-f16", model([node("Cast", ["x"], ["h"], to=T.FLOAT16),
                           node("Cast", ["h"], ["y"], to=T.FLOAT)],
                          [("x", rand(7, 17), None)], [("y", F)]))
    c[-1][1][0].graph.node[1].name = "cast_1"
    a = rng.integers(0, 3, (7, 17))
    add("Equal-i64", binary("Equal", a, rng.integers(0, 3, (17,)), elem=T.BOOL))
    add("Equal-f32", binary("Equal", rand(7, 17).round(0), rand(17).round(0), elem=T.BOOL))
    add("Where-Equal", model([node("Equal", ["i", "z"], ["c"]), node("Where", ["c", "a", "b"], ["y"])],
                             [("i", a, None), ("a", rand(7, 17), None)], [("y", F)],
                             [ints("z", [1]), init("b", np.float32(-1e4))]))
    add("Expand", model([node("Expand", ["x", "s"], ["y"])],
                        [("x", rand(3, 1, 17), ["batch", 1, 17])], [("y", F)],
                        [ints("s", [7, 1, 1, 1])]))
    add("Constant", model([helper.make_node("Constant", [], ["c"], value=init("v", rand(17))),
                           helper.make_node("Constant", [], ["k"], value_float=2.5),
                           node("Mul", ["x", "c"], ["m"]), node("Add", ["m", "k"], ["y"])],
                          [("x", rand(3, 7, 17), ["batch", 7, 17])], [("y", F)]))
    add("ConstantOfShape", model(
        [node("ConstantOfShape", ["s"], ["c"], value=init("v", np.array([0.75], np.float32))),
         node("Sub", ["x", "c"], ["y"])],
        [("x", rand(3, 7, 17), ["batch", 7, 17])], [("y", F)], [ints("s", [7, 17])]))
    add("Range", model([node("Range", ["s", "l", "d"], ["r"]),
                        node("Cast", ["r"], ["rf"], to=T.FLOAT), node("Add", ["x", "rf"], ["y"])],
                       [("x", rand(3, 17), ["batch", 17])], [("y", F)],
                       [ints("s", 1), ints("l", 52), ints("d", 3)]))
    add("Shape-chain", model(
        [node("Shape", ["x"], ["sh"]),
         helper.make_node("Gather", ["sh", "i0"], ["b"], name="g0"),
         helper.make_node("Gather", ["sh", "i1"], ["s"], name="g1"),
         helper.make_node("Unsqueeze", ["b", "z"], ["b1"], name="u0"),
         helper.make_node("Unsqueeze", ["s", "z"], ["s1"], name="u1"),
         helper.make_node("Concat", ["b1", "s1", "h", "d"], ["shp"], axis=0, name="c0"),
         node("Reshape", ["x", "shp"], ["r"]),
         node("Transpose", ["r"], ["y"], perm=[0, 2, 1, 3])],
        [("x", rand(2, 7, 129 - 1), ["batch", "seq", 128])], [("y", F)],
        [ints("i0", 0), ints("i1", 1), ints("z", [0]), ints("h", [4]), ints("d", [32])]))
    add("Shape-start-end-15", model(
        [node("Shape", ["x"], ["sh"], start=-1),
         node("ConstantOfShape", ["sh"], ["c"], value=init("v", np.array([2.0], np.float32))),
         node("Mul", ["x", "c"], ["y"])],
        [("x", rand(3, 17), ["batch", 17])], [("y", F)], opset=15))
    c.append(("bert-block-sym", bert_block()))
    c += slice_cases() + clip_cases() + compare_cases() + opset_cases() + bind_cases() + \
        iota_cases()
    return c


def shape_dim(x, k, out):
    """Shape → Gather → Unsqueeze: dim k of x as a 1-element int64 tensor
    (how torch.onnx exports x.size(k) used as a bound); returns the nodes."""
    return [helper.make_node("Shape", [x], [f"{out}.shape"], name=f"{out}_shape"),
            helper.make_node("Gather", [f"{out}.shape", f"{out}.k"], [f"{out}.s"], name=f"{out}_g",
                             axis=0),
            helper.make_node("Unsqueeze", [f"{out}.s", f"{out}.ax"], [out], name=f"{out}_u")], \
        [ints(f"{out}.k", k), ints(f"{out}.ax", [0])]


def slice_cases():
    """Slices whose bound is a symbolic dim (issue #7 item 1)."""
    c = []
    # BERT's position embeddings: pos_table[:seq] (torch: self.pos[:, :seq]).
    n, i = shape_dim("ids", 1, "seq1")
    c.append(("Slice-sym-end-position-table", model(
        n + [node("Slice", ["pos", "zero1", "seq1", "zero1"], ["p"]),
             node("Gather", ["wte", "ids"], ["e"]), node("Add", ["e", "p"], ["y"])],
        [("ids", rng.integers(0, 33, (3, 7)), ["batch", "seq"])], [("y", F)],
        i + [ints("zero1", [0]), init("pos", rand(65, 17)), init("wte", rand(33, 17))])))
    # x[:, 1:seq, :seq2-? ]: the end is the dim's own size, so the slice runs to the end.
    n, i = shape_dim("x", 1, "seq1")
    c.append(("Slice-sym-end-whole-dim", model(
        n + [node("Slice", ["x", "one1", "seq1", "one1"], ["y"])],
        [("x", rand(3, 7, 17), ["batch", "seq", 17])], [("y", F)],
        i + [ints("zero1", [0]), ints("one1", [1])])))
    # GPT-2's causal mask: bias[:, :, k - q : k, :k] of a [1, 1, 64, 64] buffer,
    # k = q = seq, then where(mask, scores, -1e4) and softmax.
    n1, i1 = shape_dim("x", 2, "k1")
    n2, i2 = shape_dim("x", 3, "q1")
    tril = np.tril(np.ones((64, 64), dtype=bool))[None, None]
    c.append(("Slice-sym-gpt2-causal-mask", model(
        n1 + n2 + [node("Sub", ["k1", "q1"], ["s0"]),
                   node("Slice", ["bias", "s0", "k1", "two1"], ["m1"]),
                   helper.make_node("Slice", ["m1", "zero1", "k1", "three1"], ["m"], name="slice_1"),
                   node("Where", ["m", "x", "neg"], ["w"]), node("Softmax", ["w"], ["y"])],
        [("x", rand(2, 3, 9, 9), ["batch", 3, "seq", "seq"])], [("y", F)],
        i1 + i2 + [ints("zero1", [0]), ints("two1", [2]), ints("three1", [3]),
                   init("bias", tril), init("neg", np.float32(-1e4))])))
    return c


def clip_cases():
    c = []
    add = lambda name, m: c.append((name, m))  # noqa: E731
    add("Clip-min-max", model([node("Clip", ["x", "lo", "hi"], ["y"])],
                              [("x", rand(3, 7, 129), ["batch", 7, 129])], [("y", F)],
                              [init("lo", np.float32(-0.5)), init("hi", np.float32(1.25))]))
    add("Clip-lo-above-hi", model([node("Clip", ["x", "lo", "hi"], ["y"])],
                                  [("x", rand(7, 17), None)], [("y", F)],
                                  [init("lo", np.float32(1.0)), init("hi", np.float32(-1.0))]))
    add("Clip-max-only-runtime-i64", model(
        [node("Clip", ["x", "", "hi"], ["y"])],
        [("x", rng.integers(-99, 99, (7, 17)), None), ("hi", np.array(5, np.int64), [])],
        [("y", T.INT64)]))
    add("Clip-none", model([node("Clip", ["x"], ["y"])], [("x", rand(1, 17), None)], [("y", F)]))
    # Mean pooling as sentence-transformers exports it: sum(x·mask) / clamp(sum(mask), 1e-9);
    # row 1 has no token at all, so the clamp decides it (0 / 1e-9 = 0).
    mask = np.ones((3, 7), dtype=np.int64)
    mask[0, 5:] = 0
    mask[1, :] = 0
    add("Clip-mean-pooling-sym", model(
        [node("Unsqueeze", ["mask", "m1"], ["mu"]), node("Shape", ["x"], ["xs"]),
         node("Expand", ["mu", "xs"], ["me"]), node("Cast", ["me"], ["mf"], to=T.FLOAT),
         node("Mul", ["x", "mf"], ["xm"]), node("ReduceSum", ["xm", "ax1"], ["num"], keepdims=0),
         helper.make_node("ReduceSum", ["mf", "ax1"], ["den"], name="reducesum_1", keepdims=0),
         node("Clip", ["den", "eps"], ["dc"]), node("Div", ["num", "dc"], ["y"])],
        [("x", rand(3, 7, 17), ["batch", "seq", 17]), ("mask", mask, ["batch", "seq"])],
        [("y", F)], [ints("m1", [-1]), ints("ax1", [1]), init("eps", np.float32(1e-9))]))
    return c


# Every pair of these meets in the comparison cases: NaN, both infinities, both
# zeros, the extremes of f32, subnormals one ulp apart, and numbers.
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1.5, 3e38, -3e38,
                    3.4028235e38, 1e-45, 3e-45, -1e-45, 2.0], dtype=np.float32)


def compare_cases():
    c = []
    add = lambda name, m: c.append((name, m))  # noqa: E731
    a, b = SPECIAL[:, None], SPECIAL[None, :]
    i64 = np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min, 0, -1, 1, 7,
                    np.iinfo(np.int64).max - 1], dtype=np.int64)
    i32 = np.array([np.iinfo(np.int32).max, np.iinfo(np.int32).min, 0, -1, 1, -7],
                   dtype=np.int32)
    for op in ("Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal"):
        add(f"{op}-f32-special", binary(op, a, b, elem=T.BOOL))
        add(f"{op}-f32-random", binary(op, rand(7, 17).round(1), rand(17).round(1), elem=T.BOOL))
        add(f"{op}-i64-extremes", binary(op, i64[:, None], i64[None, :], elem=T.BOOL))
        add(f"{op}-i32-extremes", binary(op, i32[:, None], i32[None, :], elem=T.BOOL))
    # f16 inputs as they are (onnxruntime's f32 → f16 Cast saturates and
    # rounds subnormals its own way; tessera's rounds to nearest even).
    with np.errstate(over="ignore"):
        add("GreaterOrEqual-f16-special", binary("GreaterOrEqual", a.astype(np.float16),
                                                 b.astype(np.float16), elem=T.BOOL))
    add("IsNaN", model([node("IsNaN", ["x"], ["y"])],
                       [("x", np.concatenate([SPECIAL, rand(17)]).reshape(4, 8), ["batch", 8])],
                       [("y", T.BOOL)], opset=20))
    with np.errstate(over="ignore"):
        add("IsNaN-f16", unary("IsNaN", SPECIAL.reshape(3, 5).astype(np.float16)))
    c[-1][1][0].graph.output[0].type.tensor_type.elem_type = T.BOOL
    p, q = rng.random((7, 17)) < 0.5, rng.random((17,)) < 0.5
    add("Not", model([node("Not", ["p"], ["y"])], [("p", p, ["batch", 17])], [("y", T.BOOL)]))
    add("And", binary("And", p, q, elem=T.BOOL))
    add("Or", binary("Or", p, q, elem=T.BOOL))
    m, feeds = binary("And", p, q, elem=T.BOOL)  # And-7, unchanged since: an opset-7 model
    m.opset_import[0].version, m.ir_version = 7, 3
    add("And-opset7", (m, feeds))
    # A padding mask the way SDPA exports build it: keep = (mask > 0) and not
    # (pos > limit); scores masked with where(keep, s, -inf), softmax, and the
    # NaN of an all-masked row replaced by 0 (IsNaN → Where).
    mask = np.ones((2, 9), dtype=np.int64)
    mask[0, 6:] = 0
    mask[1, :] = 0
    add("mask-Greater-Not-And-IsNaN", model(
        [node("Greater", ["mask", "z"], ["valid"]), node("Unsqueeze", ["valid", "ax12"], ["v4"]),
         node("Not", ["v4"], ["pad"]), node("Or", ["pad", "never"], ["pad2"]),
         node("And", ["v4", "always"], ["keep0"]),
         helper.make_node("Not", ["pad2"], ["keep1"], name="not_1"),
         helper.make_node("And", ["keep0", "keep1"], ["keep"], name="and_1"),
         node("Where", ["keep", "s", "ninf"], ["sm"]), node("Softmax", ["sm"], ["p"]),
         node("IsNaN", ["p"], ["bad"]),
         helper.make_node("Where", ["bad", "zf", "p"], ["y"], name="where_1")],
        [("s", rand(2, 3, 5, 9), ["batch", 3, 5, "seq"]), ("mask", mask, ["batch", "seq"])],
        [("y", F)], [ints("z", 0), ints("ax12", [1, 2]), init("never", np.array([False])),
                     init("always", np.array(True)), init("ninf", np.float32(-np.inf)),
                     init("zf", np.float32(0.0))]))
    return c


def opset_cases():
    """Opsets above 21: ops whose versions since then only add element types."""
    n, i = shape_dim("x", 0, "b1")
    return [("opset25-shape-ops", model(
        n + [node("Cast", ["x"], ["h"], to=T.FLOAT16),
             node("Concat", ["b1", "m1"], ["shp"], axis=0), node("Reshape", ["h", "shp"], ["r"]),
             node("Transpose", ["r"], ["t"], perm=[1, 0]), node("Flatten", ["t"], ["f"], axis=0),
             node("Identity", ["f"], ["fi"]), node("Squeeze", ["fi", "zero1"], ["sq"]),
             helper.make_node("Cast", ["sq"], ["y"], name="cast_1", to=T.FLOAT),
             node("Range", ["r0", "r1", "r2"], ["rg"]),
             helper.make_node("Cast", ["rg"], ["rgf"], name="cast_2", to=T.FLOAT),
             node("Add", ["rgf", "y"], ["out"])],
        [("x", rand(3, 7, 17), ["batch", 7, 17])], [("out", F)],
        i + [ints("zero1", [0]), ints("m1", [-1]), init("r0", np.float32(0.5)),
             init("r1", np.float32(3 * 7 * 17 + 0.5)), init("r2", np.float32(1.0))],
        opset=25))]


def bind_cases():
    """--bind seq=7: shape code over seq folds where no tessera op expresses
    it (a Range of step 2, an Expand to seq // 2), and the graph still takes
    the model's inputs by name."""
    n1, i1 = shape_dim("x", 1, "seq1")
    n2, i2 = shape_dim("x", 0, "b1")
    m = model(n1 + n2 + [node("Squeeze", ["seq1", "zero1"], ["seq"]),
                         node("Range", ["r0", "seq", "two"], ["r"]),
                         node("Cast", ["r"], ["rf"], to=T.FLOAT),
                         node("Concat", ["b1", "one1"], ["tgt"], axis=0),
                         node("Expand", ["rf", "tgt"], ["re"]),
                         node("Mul", ["x", "w"], ["xw"]),
                         node("ReduceSum", ["xw", "ax"], ["xs"], keepdims=0),
                         helper.make_node("Concat", ["xs", "re"], ["y"], name="concat_1", axis=1)],
              [("x", rand(3, 7, 17), ["batch", "seq", 17])], [("y", F)],
              i1 + i2 + [ints("zero1", [0]), ints("r0", 0), ints("two", 2), ints("one1", [1]),
                         ints("ax", [2]), init("w", rand(17))])
    return [("bind-Range-step2-Expand", m + (["--bind", "seq=7"],)),
            ("bind-Range-step2-Expand-both", m + (["--bind", "seq=7", "--bind", "batch=3"],))]


def iota_cases():
    """Range, ConstantOfShape and Expand over symbolic dims (tessera's iota)."""
    c = []
    add = lambda name, m: c.append((name, m))  # noqa: E731
    # GPT-2: position_ids = arange(seq).unsqueeze(0); wte[ids] + wpe[position_ids].
    n, i = shape_dim("ids", 1, "seq1")
    add("Range-sym-position-ids", model(
        n + [node("Squeeze", ["seq1", "zero1"], ["seq"]), node("Range", ["r0", "seq", "r1"], ["r"]),
             helper.make_node("Unsqueeze", ["r", "zero1"], ["pos"], name="unsqueeze_1"),
             node("Gather", ["wpe", "pos"], ["p"]),
             helper.make_node("Gather", ["wte", "ids"], ["e"], name="gather_1"),
             node("Add", ["e", "p"], ["y"])],
        [("ids", rng.integers(0, 33, (3, 7)), ["batch", "seq"])], [("y", F)],
        i + [ints("zero1", [0]), ints("r0", 0), ints("r1", 1), init("wpe", rand(65, 17)),
             init("wte", rand(33, 17))]))
    # A causal mask from two aranges: j <= i as LessOrEqual over Range(seq).
    n, i = shape_dim("s", 2, "seq1")
    add("Range-sym-causal-mask-LessOrEqual", model(
        n + [node("Squeeze", ["seq1", "zero1"], ["seq"]), node("Range", ["r0", "seq", "r1"], ["r"]),
             node("Unsqueeze", ["r", "zero1"], ["j"]),
             helper.make_node("Unsqueeze", ["r", "one1"], ["i"], name="unsqueeze_1"),
             node("LessOrEqual", ["j", "i"], ["keep"]),
             node("Where", ["keep", "zf", "ninf"], ["bias"]), node("Add", ["s", "bias"], ["sb"]),
             node("Softmax", ["sb"], ["y"])],
        [("s", rand(2, 3, 9, 9), ["batch", 3, "seq", "seq"])], [("y", F)],
        i + [ints("zero1", [0]), ints("one1", [1]), ints("r0", 0), ints("r1", 1),
             init("zf", np.float32(0.0)), init("ninf", np.float32(-np.inf))]))
    # Range in int32 (the limit a Cast of the symbol).
    n, i = shape_dim("x", 1, "seq1")
    add("Range-sym-i32", model(
        n + [node("Squeeze", ["seq1", "zero1"], ["seq"]), node("Cast", ["seq"], ["s32"], to=T.INT32),
             node("Range", ["r0", "s32", "r1"], ["r"]), node("Add", ["x", "r"], ["y"])],
        [("x", rng.integers(-9, 9, (3, 7)).astype(np.int32), ["batch", "seq"])], [("y", T.INT32)],
        i + [ints("zero1", [0]), init("r0", np.int32(0)), init("r1", np.int32(1))]))
    # torch.ones(batch, seq) as the default attention mask; a float fill; a bool fill.
    n1, i1 = shape_dim("x", 0, "b1")
    n2, i2 = shape_dim("x", 1, "s1")
    shape_nodes = n1 + n2 + [node("Concat", ["b1", "s1"], ["bs"], axis=0)]
    for name, value, elem in (("i64", np.array([1], np.int64), T.INT64),
                              ("f32", np.array([0.3], np.float32), F),
                              ("f32-ninf", np.array([-np.inf], np.float32), F),
                              ("bool", np.array([True]), T.BOOL)):
        add(f"ConstantOfShape-sym-{name}", model(
            shape_nodes + [node("ConstantOfShape", ["bs"], ["y"], value=init("v", value))],
            [("x", rand(3, 7, 17), ["batch", "seq", 17])], [("y", elem)], i1 + i2))
    # position_ids.expand(batch, seq): a [1, seq] row to [batch, seq].
    add("Expand-sym", model(
        shape_nodes + [node("Squeeze", ["s1", "zero1"], ["seq"]),
                       node("Range", ["r0", "seq", "r1"], ["r"]),
                       node("Unsqueeze", ["r", "zero1"], ["row"]), node("Expand", ["row", "bs"], ["y"])],
        [("x", rand(3, 7, 17), ["batch", "seq", 17])], [("y", T.INT64)],
        i1 + i2 + [ints("zero1", [0]), ints("r0", 0), ints("r1", 1)]))
    # A known table broadcast to a symbolic shape.
    add("Expand-sym-const-data", model(
        shape_nodes + [node("Expand", ["w", "bs"], ["e"]), node("Unsqueeze", ["e", "m1"], ["eu"]),
                       node("Mul", ["x", "eu"], ["y"])],
        [("x", rand(3, 7, 17), ["batch", "seq", 17])], [("y", F)],
        i1 + i2 + [init("w", rand(1, 1)), ints("m1", [-1])]))
    return c


def bert_block(hidden=32, heads=4, ff=64):
    """A BERT-style encoder layer written the way torch.onnx exports it: Shape →
    Gather → Unsqueeze → Concat → Reshape for the head split, MatMul + Add,
    Div by √d, additive mask from an int mask (Cast, Sub, Mul), Softmax,
    LayerNormalization, Erf GELU; batch and seq symbolic."""
    d = hidden // heads
    w = lambda *s: rand(*s, lo=-0.3, hi=0.3)  # noqa: E731
    inits = [init("wq", w(hidden, hidden)), init("bq", w(hidden)),
             init("wk", w(hidden, hidden)), init("bk", w(hidden)),
             init("wv", w(hidden, hidden)), init("bv", w(hidden)),
             init("wo", w(hidden, hidden)), init("bo", w(hidden)),
             init("w1", w(hidden, ff)), init("b1", w(ff)), init("w2", w(ff, hidden)),
             init("b2", w(hidden)), init("g1", rand(hidden, positive=True)), init("be1", w(hidden)),
             init("g2", rand(hidden, positive=True)), init("be2", w(hidden)),
             ints("i0", 0), ints("i1", 1), ints("z", [0]), ints("nh", [heads]), ints("hd", [d]),
             ints("hid", [hidden]), ints("ax12", [1, 2]),
             init("sqrtd", np.float32(np.sqrt(d))), init("one", np.float32(1.0)),
             init("neg", np.float32(-10000.0)), init("half", np.float32(0.5)),
             init("rt2", np.float32(np.sqrt(2.0)))]
    n = []
    k = [0]

    def N(op, ins, outs=None, **attrs):
        k[0] += 1
        outs = outs or [f"t{k[0]}"]
        n.append(helper.make_node(op, ins, outs, name=f"/layer/{op}_{k[0]}", **attrs))
        return outs[0] if len(outs) == 1 else outs

    sh = N("Shape", ["x"])
    b1 = N("Unsqueeze", [N("Gather", [sh, "i0"], axis=0), "z"])
    s1 = N("Unsqueeze", [N("Gather", [sh, "i1"], axis=0), "z"])
    split_shape = N("Concat", [b1, s1, "nh", "hd"], axis=0)
    merge_shape = N("Concat", [b1, s1, "hid"], axis=0)

    def heads_of(wn, bn, perm):
        p = N("Add", [N("MatMul", ["x", wn]), bn])
        return N("Transpose", [N("Reshape", [p, split_shape])], perm=perm)

    q = heads_of("wq", "bq", [0, 2, 1, 3])
    kt = heads_of("wk", "bk", [0, 2, 3, 1])
    v = heads_of("wv", "bv", [0, 2, 1, 3])
    scores = N("Div", [N("MatMul", [q, kt]), "sqrtd"])
    mf = N("Cast", [N("Unsqueeze", ["mask", "ax12"])], to=T.FLOAT)
    madd = N("Mul", [N("Sub", ["one", mf]), "neg"])
    p = N("Softmax", [N("Add", [scores, madd])], axis=-1)
    ctx = N("Transpose", [N("MatMul", [p, v])], perm=[0, 2, 1, 3])
    att = N("Add", [N("MatMul", [N("Reshape", [ctx, merge_shape]), "wo"]), "bo"])
    h1 = N("LayerNormalization", [N("Add", [att, "x"]), "g1", "be1"], axis=-1, epsilon=1e-12)
    f = N("Add", [N("MatMul", [h1, "w1"]), "b1"])
    gelu = N("Mul", [N("Mul", [f, N("Add", [N("Erf", [N("Div", [f, "rt2"])]), "one"])]), "half"])
    f2 = N("Add", [N("MatMul", [gelu, "w2"]), "b2"])
    N("LayerNormalization", [N("Add", [f2, h1]), "g2", "be2"], ["out"], axis=-1, epsilon=1e-12)
    mask = np.ones((2, 7), dtype=np.int64)
    mask[1, 5:] = 0
    return model(n, [("x", rand(2, 7, hidden), ["batch", "seq", hidden]),
                     ("mask", mask, ["batch", "seq"])], [("out", F)], inits)


def exported_example(name, binds):
    """benchmarks/onnx_export.py's ONNX of an example: written by another tool."""
    import onnx_export
    graph = os.path.join(ROOT, "examples", name, "graph.json")
    m, symbols = onnx_export.export(graph, binds)
    g = onnx_export.load_graph(graph)
    feeds = {}
    for i in g["inputs"]:
        shape = onnx_export.resolve_dims(i["shape"], symbols, name)
        if i["dtype"] in ("i32", "i64"):
            feeds[i["name"]] = rng.integers(0, 50, shape).astype(onnx_export.NP_DTYPE[i["dtype"]])
        else:
            feeds[i["name"]] = rand(*shape)
    return m, feeds


def compare(out, got, want, target):
    if got.shape != want.shape:
        return f"{out}: tessera shape {list(got.shape)}, onnxruntime {list(want.shape)}"
    if want.dtype.kind in "iub":
        if got.dtype.kind not in "iub" or not np.array_equal(got.astype(np.int64),
                                                             want.astype(np.int64)):
            bad = np.argwhere(got.astype(np.int64) != want.astype(np.int64))
            return f"{out}: integers differ at {bad[:1].tolist()} ({len(bad)} of {want.size})"
        return None
    rtol, atol = TOL16.get(str(want.dtype), TOL[target])
    w, g = want.astype(np.float64), got.astype(np.float64)
    # An infinity or NaN on either side must be matched exactly (NaN by NaN);
    # finite values within atol + rtol·|ort|.
    special = ~np.isfinite(w) | ~np.isfinite(g)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    wf, gf = np.where(special, 0.0, w), np.where(special, 0.0, g)
    excess = np.where(special & ~same, np.inf, np.abs(gf - wf) / (atol + rtol * np.abs(wf)))
    if excess.size and np.max(excess) > 1:
        i = np.unravel_index(int(np.argmax(excess)), w.shape)
        return (f"{out}{list(map(int, i))}: onnxruntime {w[i]:.9g}, tessera {g[i]:.9g} "
                f"({int(np.sum(excess > 1))} of {w.size} beyond rtol {rtol:g} atol {atol:g})")
    return None


def check_case(name, built, tessera, targets, workdir):
    m, feeds = built[:2]
    conv_args = list(built[2]) if len(built) > 2 else []  # e.g. --bind
    d = os.path.join(workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    want = dict(zip(names, sess.run(names, feeds)))
    p = subprocess.run([sys.executable, CONVERTER, path, "-o", d] + conv_args,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return [f"onnx2tessera exit {p.returncode}: {p.stderr.strip()}"]
    tfeeds = {}
    for k, a in feeds.items():
        dt = {"float32": "f32", "float16": "f16", "int64": "i64", "int32": "i32",
              "bool": "bool"}[str(a.dtype)]
        tfeeds[k] = (dt, a)
    stio.write(os.path.join(d, "inputs.safetensors"), tfeeds)
    errors = []
    for target in targets:
        outp = os.path.join(d, f"out-{target}.safetensors")
        cmd = [tessera, "run", os.path.join(d, "graph.json"), "--target", target,
               "--inputs", os.path.join(d, "inputs.safetensors"), "--outputs", outp]
        if target == "cpu":
            cmd += ["--threads", "1"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            errors.append(f"{target}: tessera exit {p.returncode}: "
                          f"{(p.stderr.strip().splitlines() or ['?'])[0]}\n    repro: {' '.join(cmd)}")
            continue
        got = stio.read(outp)
        for out, w in want.items():
            if out not in got:
                errors.append(f"{target}: output {out} missing")
                continue
            msg = compare(out, got[out][1], w, target)
            if msg:
                errors.append(f"{target}: {msg}\n    repro: {' '.join(cmd)}")
    return errors


def refusals(workdir):
    """(name, ok, message) for the conversions that must fail cleanly."""
    out = []
    d = os.path.join(workdir, "refuse")
    os.makedirs(d, exist_ok=True)
    x = helper.make_tensor_value_info("x", F, [1, 7, 17])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="ok"),
                           helper.make_node("LSTM", ["r", "w", "w"], ["y"], name="lstm_7",
                                            hidden_size=2)], "g", [x], [y])
    path = os.path.join(d, "lstm.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    bad = os.path.join(d, "bad.onnx")
    with open(bad, "wb") as f:
        f.write(b"\x08\x07this is not a protobuf\xff\xff\xff")
    xs = helper.make_tensor_value_info("x", F, ["batch", "seq"])
    # Range(0, seq, 2) has ceil(seq / 2) values: no symbol, so no iota; --bind seq folds it.
    g = helper.make_graph([helper.make_node("Shape", ["x"], ["s"], name="sh"),
                           helper.make_node("Gather", ["s", "one"], ["n"], name="g"),
                           helper.make_node("Range", ["zero", "n", "two"], ["y"], name="pos")],
                          "g", [xs], [helper.make_tensor_value_info("y", T.INT64, None)],
                          [ints("zero", 0), ints("one", 1), ints("two", 2)])
    sym = os.path.join(d, "sym.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sym)
    # table[1:seq]: a symbolic end that is not the table's own dim, from 1.
    g = helper.make_graph([helper.make_node("Shape", ["x"], ["s"], name="sh"),
                           helper.make_node("Slice", ["s", "one1", "two1"], ["n"], name="g"),
                           helper.make_node("Slice", ["t", "one1", "n"], ["y"], name="pos_slice")],
                          "g", [xs], [helper.make_tensor_value_info("y", F, None)],
                          [ints("one1", [1]), ints("two1", [2]), init("t", rand(9, 3))])
    sym_slice = os.path.join(d, "sym_slice.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sym_slice)
    # Softmax-11 flattens to 2-D around its axis: older than the converter implements.
    g = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="sm11", axis=1)],
                          "g", [x], [y])
    old = os.path.join(d, "softmax11.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)]), old)
    # Dropout in training mode drops at random.
    g = helper.make_graph([helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="drop")],
                          "g", [x], [y], [init("r", np.float32(0.25)), init("t", np.array(True))])
    train = os.path.join(d, "dropout_train.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), train)
    for name, args, rc, needles in [
            ("refuse-LSTM", [path, "-o", d], 1, ["LSTM", "lstm_7", "#1"]),
            ("refuse-malformed", [bad, "-o", d], 1, ["bad.onnx"]),
            ("refuse-missing-file", [os.path.join(d, "nope.onnx"), "-o", d], 1, ["nope.onnx"]),
            ("refuse-symbolic-range", [sym, "-o", d], 1, ["pos", "Range", "--bind"]),
            ("bind-symbolic-range", [sym, "-o", d, "--bind", "seq=7"], 0, []),
            ("refuse-symbolic-slice", [sym_slice, "-o", d], 1, ["pos_slice", "#2", "Slice",
                                                                "symbolic bound"]),
            ("refuse-older-op-version", [old, "-o", d], 1, ["Softmax version 11", "sm11",
                                                            "13 to 13"]),
            ("refuse-dropout-training", [train, "-o", d], 1, ["drop", "training_mode"]),
            ("usage-bind-unknown", [sym, "-o", d, "--bind", "sequence=7"], 2,
             ["--bind sequence", "batch, seq"]),
            ("usage-bind-malformed", [sym, "-o", d, "--bind", "seq=x"], 2, ["NAME=SIZE"]),
            ("usage-no-output", [path], 2, ["usage"])]:
        p = subprocess.run([sys.executable, CONVERTER] + args, capture_output=True, text=True,
                           timeout=60)
        lines = p.stderr.strip().splitlines()
        ok = p.returncode == rc and (rc == 2 or len(lines) == (rc != 0)) and \
            all(s in p.stderr for s in needles)
        out.append((name, ok, f"exit {p.returncode}, stderr: {p.stderr.strip()[:300]}"))
    out.append(refuse_newer_version(d))
    return out


def refuse_newer_version(d):
    """An op whose version in the model's opset is newer than the converter
    implements is refused by op, node and version. No op of onnx 1.23 is (their
    versions after 21 only add types), so the converter's table is lowered here,
    in-process, to see the refusal a future onnx would meet."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from onnx_import import convert as conv
    x = helper.make_tensor_value_info("x", F, [3])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="ok"),
                           helper.make_node("Cast", ["r"], ["y"], name="cast_new", to=T.INT64)],
                          "g", [x], [helper.make_tensor_value_info("y", T.INT64, None)])
    path = os.path.join(d, "cast25.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 25)]), path)
    saved = conv.OP_VERSIONS["Cast"]
    try:
        conv.convert(path)  # as shipped: Cast-25 is implemented
        conv.OP_VERSIONS["Cast"] = (13, 21)
        conv.convert(path)
        return ("refuse-newer-op-version", False, "Cast-25 converted under a table ending at 21")
    except conv.ImportError_ as e:
        msg = str(e)
        ok = all(s in msg for s in ("Cast", "version 25", "cast_new", "#1", "13 to 21")) and \
            "\n" not in msg and conv.OP_VERSIONS["Cast"] == (13, 21)
        return ("refuse-newer-op-version", ok, msg)
    finally:
        conv.OP_VERSIONS["Cast"] = saved


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tessera", required=True, help="the tessera binary")
    ap.add_argument("--workdir", required=True, help="folder for models and outputs")
    ap.add_argument("--target", action="append", choices=["ref", "cpu"],
                    help="tessera targets to check (default: ref and cpu)")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="only cases whose name contains SUBSTRING")
    ap.add_argument("-j", type=int, default=2, help="cases at a time (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep passing cases' files")
    ap.add_argument("-v", "--verbose", action="store_true")
    opt = ap.parse_args()
    targets = opt.target or ["ref", "cpu"]
    tessera, workdir = os.path.abspath(opt.tessera), os.path.abspath(opt.workdir)
    os.makedirs(workdir, exist_ok=True)
    todo = cases()
    # examples/bert's export has IsNaN → Where after its masked softmax.
    for ex, binds in (("gpt", {"seq": 17}), ("llama", {"batch": 2, "seq": 7}),
                      ("bert", {"batch": 2, "seq": 13})):
        todo.append((f"export-{ex}", exported_example(ex, binds)))
    todo = [(n, b) for n, b in todo if not opt.k or any(s in n for s in opt.k)]
    passed = failed = 0

    def one(item):
        name, built = item
        try:
            errs = check_case(name, built, tessera, targets, workdir)
        except Exception as e:  # a bug in the checker or ORT refusing the model
            errs = [f"oracle error: {type(e).__name__}: {str(e)[:300]}"]
        if not errs and not opt.keep:
            shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
        return name, errs

    with ThreadPoolExecutor(max(1, opt.j)) as pool:
        for name, errs in pool.map(one, todo):
            if errs:
                failed += 1
                print(f"FAIL {name}: " + "\n     ".join(errs))
            else:
                passed += 1
                if opt.verbose:
                    print(f"ok   {name}")
            sys.stdout.flush()
    if not opt.k or any("refuse" in s or "usage" in s for s in opt.k):
        for name, ok, msg in refusals(workdir):
            passed, failed = passed + ok, failed + (not ok)
            if not ok or opt.verbose:
                print(f"{'ok  ' if ok else 'FAIL'} {name}: {msg}")
    print(f"onnx import oracle: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
