#!/usr/bin/env python3
"""onnx_export.py — converts a tessera graph (graph.json + weights.safetensors,
docs/FORMAT.md) into an ONNX model (opset 17) with fixed shapes, so onnxruntime
can run the same model on the same weights: a second oracle and a baseline for
the CPU benchmarks.

    onnx_export.py GRAPH.json -o MODEL.onnx [--bind SYMBOL=N]...

Symbols take their size from --bind, else from the graph's defaults. Weights and
constants become initializers. Ops without an ONNX twin are expanded in the
patterns onnxruntime's optimizer fuses (rmsnorm, gelu); rope's cos/sin tables
and causal masks become initializers. An op this file does not know is refused
by name and node (exit 1). Only the standard library, numpy and onnx are used.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # the benchmark and oracle venv has it: say how to get it
    sys.exit(f"onnx_export: cannot import onnx ({e}): run scripts/setup.sh")

OPSET = 17


class ExportError(Exception):
    """Bad or unsupported input: the message names the node or the file."""


# ---------------------------------------------------------------------------
# Tensors: tessera dtypes, a small safetensors reader, ONNX initializers

ONNX_DTYPE = {"f32": TensorProto.FLOAT, "f16": TensorProto.FLOAT16,
              "bf16": TensorProto.BFLOAT16, "i32": TensorProto.INT32,
              "i64": TensorProto.INT64, "bool": TensorProto.BOOL}
# numpy dtype each tessera dtype lives in (bf16 as float32: numpy has none).
NP_DTYPE = {"f32": np.float32, "f16": np.float16, "bf16": np.float32,
            "i32": np.int32, "i64": np.int64, "bool": np.bool_}
FLOATS = ("f32", "f16", "bf16")
_ST_DTYPE = {"F32": ("f32", "<f4"), "F16": ("f16", "<f2"), "BF16": ("bf16", "<u2"),
             "I32": ("i32", "<i4"), "I64": ("i64", "<i8"), "BOOL": ("bool", "u1")}
_MAX_HEADER = 100 << 20


def read_safetensors(path):
    """Reads a safetensors file into {name: (tessera dtype, array)}; bf16 arrays
    are returned as float32 (exact)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ExportError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ExportError(f"{path}: header length {n} does not fit the file")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        raise ExportError(f"{path}: bad JSON header: {e}")
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info.get("dtype") not in _ST_DTYPE:
            raise ExportError(f"{path}: tensor '{name}' has unsupported dtype {info.get('dtype')}")
        dt, np_dt = _ST_DTYPE[info["dtype"]]
        shape = [int(d) for d in info["shape"]]
        begin, end = info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if end > len(body) or end - begin != count * np.dtype(np_dt).itemsize:
            raise ExportError(f"{path}: tensor '{name}' has bad data offsets")
        a = np.frombuffer(body[begin:end], dtype=np_dt).reshape(shape)
        if dt == "bf16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        elif dt == "bool":
            a = a != 0
        out[name] = (dt, a.copy())
    return out


def _bf16_bits(a):
    """float32 -> bf16 bits, rounded to nearest even (NaN kept quiet)."""
    u = a.astype(np.float32, order="C").view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(a), np.uint16(0x7FC0), r)


def make_tensor(name, dtype, array):
    """An ONNX TensorProto of a tessera dtype from an array."""
    a = np.asarray(array)
    if dtype == "bf16":
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.BFLOAT16
        t.dims.extend(a.shape)
        t.raw_data = _bf16_bits(a.astype(np.float32)).tobytes()
        return t
    # astype(order="C"), not ascontiguousarray: that one turns a scalar into [1].
    return numpy_helper.from_array(a.astype(NP_DTYPE[dtype], order="C"), name)


# ---------------------------------------------------------------------------
# Shapes: each node's output shapes, computed with the bound symbols


def broadcast(shapes, where):
    try:
        return list(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ExportError(f"{where}: shapes {shapes} do not broadcast")


def norm_axis(axis, rank, where):
    if not -rank <= axis < rank:
        raise ExportError(f"{where}: axis {axis} out of range for rank {rank}")
    return axis % rank


def resolve_dims(dims, symbols, where):
    out = []
    for d in dims:
        if isinstance(d, str):
            if d not in symbols:
                raise ExportError(f"{where}: symbol '{d}' has no size: pass --bind {d}=N")
            out.append(int(symbols[d]))
        else:
            out.append(int(d))
    return out


# ---------------------------------------------------------------------------
# The converter


class Exporter:
    def __init__(self, graph, weights, symbols):
        self.graph, self.symbols = graph, symbols
        self.nodes, self.inits = [], []
        self.shape, self.dtype = {}, {}  # value name -> bound shape, tessera dtype
        # Every ONNX name taken; the graph's own names first, so a made-up
        # name never takes one a later node defines.
        self.used = {o for n in graph.get("nodes", []) for o in n.get("outputs", [])}
        self.const_cache = {}
        for name, (dt, a) in weights.items():
            self.define(name, dt, list(a.shape))
            self.inits.append(make_tensor(name, dt, a))
        for c in graph.get("constants", []):
            dt, shape = c["dtype"], resolve_dims(c["shape"], symbols, f"constant {c['name']}")
            data = np.array(c["data"], dtype=np.float64 if dt in FLOATS else None)
            self.define(c["name"], dt, shape)
            self.inits.append(make_tensor(c["name"], dt, data.reshape(shape)))
        self.inputs = []
        for i in graph["inputs"]:
            shape = resolve_dims(i["shape"], symbols, f"input {i['name']}")
            self.define(i["name"], i["dtype"], shape)
            self.inputs.append(helper.make_tensor_value_info(i["name"], ONNX_DTYPE[i["dtype"]],
                                                             shape))

    def define(self, name, dtype, shape):
        if name in self.shape:
            raise ExportError(f"value '{name}' is defined twice")
        if dtype not in ONNX_DTYPE:
            raise ExportError(f"value '{name}': unknown dtype '{dtype}'")
        self.shape[name], self.dtype[name] = list(shape), dtype
        self.used.add(name)

    def fresh(self, base):
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def const(self, value, dtype):
        """An initializer holding value (scalar or array) in a dtype; shared."""
        a = np.asarray(value, dtype=np.float64 if dtype in FLOATS else NP_DTYPE[dtype])
        key = (dtype, a.shape, a.tobytes())
        if key not in self.const_cache:
            name = self.fresh(f"const.{len(self.const_cache)}")
            self.inits.append(make_tensor(name, dtype, a))
            self.const_cache[key] = name
        return self.const_cache[key]

    def ints(self, values):
        return self.const(np.array(values, dtype=np.int64), "i64")

    def op(self, op_type, inputs, base, n_out=1, **attrs):
        """Adds one ONNX node; returns its output name(s)."""
        outs = [self.fresh(f"{base}/{op_type}{'' if n_out == 1 else k}") for k in range(n_out)]
        node_name = self.fresh(f"{base}/{op_type}#")
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=node_name, **attrs))
        return outs[0] if n_out == 1 else outs

    def export(self):
        order = self.topo_order()
        for n in order:
            self.convert(n)
        outputs = []
        for name in self.graph["outputs"]:
            if name not in self.shape:
                raise ExportError(f"output '{name}' is never defined")
            outputs.append(helper.make_tensor_value_info(name, ONNX_DTYPE[self.dtype[name]],
                                                         self.shape[name]))
        g = helper.make_graph(self.nodes, self.graph.get("name", "tessera")[:120], self.inputs,
                              outputs, initializer=self.inits)
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="tessera onnx_export")
        model.ir_version = 8  # opset 17's IR version: older onnxruntime builds accept it
        return model

    def topo_order(self):
        """The nodes in an order with every input defined first (FORMAT.md lets
        a graph list them in any order without a cycle)."""
        nodes = self.graph["nodes"]
        producer = {}
        for i, n in enumerate(nodes):
            n.setdefault("name", f"{n.get('op', '?')}#{i}")
            for o in n.get("outputs", []):
                producer[o] = i
        state, order = [0] * len(nodes), []
        for root in range(len(nodes)):
            stack = [(root, 0)]
            while stack:
                i, k = stack.pop()
                if k == 0:
                    if state[i] == 2:
                        continue
                    if state[i] == 1:
                        raise ExportError(f"node '{nodes[i]['name']}': the graph has a cycle")
                    state[i] = 1
                ins = [x for x in nodes[i].get("inputs", []) if x in producer]
                if k < len(ins):
                    stack.append((i, k + 1))
                    j = producer[ins[k]]
                    if state[j] == 1:
                        raise ExportError(f"node '{nodes[i]['name']}': the graph has a cycle")
                    if state[j] == 0:
                        stack.append((j, 0))
                else:
                    state[i] = 2
                    order.append(nodes[i])
        return order

    # -- one tessera node -----------------------------------------------------

    def convert(self, n):
        where = f"node '{n['name']}'"
        op, attrs = n["op"], n.get("attrs", {})
        conv = getattr(self, "op_" + op, None)
        if op in BINARY:
            conv = self.binary
        elif op in UNARY:
            conv = self.unary
        if conv is None:
            raise ExportError(f"unsupported op '{op}' in {where}")
        ins = n.get("inputs", [])
        for x in ins:
            if x and x not in self.shape:
                raise ExportError(f"{where}: input '{x}' is never defined")
        first = len(self.nodes)
        results = conv(n, where, ins, attrs)
        if not isinstance(results, list):
            results = [results]
        outs = n.get("outputs", [])
        if len(outs) != len(results):
            raise ExportError(f"{where}: {op} has {len(results)} outputs, "
                              f"the node names {len(outs)}")
        added = self.nodes[first:]
        for name, (value, dtype, shape) in zip(outs, results):
            self.define(name, dtype, shape)
            # Give the ONNX node that made the value the tessera value's name,
            # so names match between the two tools; an Identity where it is
            # read again inside this expansion (never, for the ops above).
            producer = [nd for nd in added if value in nd.output]
            if producer and not any(value in nd.input for nd in added):
                out = producer[0].output
                out[list(out).index(value)] = name
            else:
                self.nodes.append(helper.make_node("Identity", [value], [name],
                                                   name=self.fresh(name + "/out")))

    def x(self, name):
        return self.shape[name], self.dtype[name]

    def binary(self, n, where, ins, attrs):
        (sa, da), (sb, db) = self.x(ins[0]), self.x(ins[1])
        if da != db:
            raise ExportError(f"{where}: inputs are {da} and {db} (no implicit promotion)")
        onnx_op = BINARY[n["op"]]
        if n["op"] == "div" and da not in FLOATS:
            # ONNX leaves integer division's rounding to the runtime; FORMAT.md
            # truncates toward zero: a / b = sign(a·b) · (|a| / |b|).
            name, zero = n["name"], self.const(0, da)
            abs_a, abs_b = self.op("Abs", [ins[0]], name), self.op("Abs", [ins[1]], name)
            q = self.op("Div", [abs_a, abs_b], name)
            neg = self.op("Xor", [self.op("Less", [ins[0], zero], name),
                                  self.op("Less", [ins[1], zero], name)], name)
            out = self.op("Where", [neg, self.op("Neg", [q], name), q], name)
        else:
            out = self.op(onnx_op, ins[:2], n["name"])
        return out, da, broadcast([sa, sb], where)

    def unary(self, n, where, ins, attrs):
        s, d = self.x(ins[0])
        x, name, op = ins[0], n["name"], n["op"]
        if op in ("exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "silu", "gelu") \
                and d not in FLOATS:
            raise ExportError(f"{where}: {op} takes a float input, got {d}")
        if op == "rsqrt":
            out = self.op("Reciprocal", [self.op("Sqrt", [x], name)], name)
        elif op == "silu":
            out = self.op("Mul", [x, self.op("Sigmoid", [x], name)], name)
        elif op == "gelu":
            out = self.gelu(x, d, attrs.get("approximate", "none"), name, where)
        else:
            out = self.op(UNARY[op], [x], name)
        return out, d, s

    def gelu(self, x, d, approximate, name, where):
        c = lambda v: self.const(v, d)  # noqa: E731
        if approximate == "none":
            # x·0.5·(1 + erf(x/√2)): the pattern onnxruntime fuses into Gelu.
            e = self.op("Erf", [self.op("Div", [x, c(math.sqrt(2.0))], name)], name)
            x_1e = self.op("Mul", [x, self.op("Add", [e, c(1.0)], name)], name)
            return self.op("Mul", [x_1e, c(0.5)], name)
        if approximate == "tanh":
            # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): fused into FastGelu.
            x3 = self.op("Pow", [x, c(3.0)], name)
            inner = self.op("Add", [x, self.op("Mul", [x3, c(0.044715)], name)], name)
            t = self.op("Tanh", [self.op("Mul", [inner, c(math.sqrt(2.0 / math.pi))], name)], name)
            half_x = self.op("Mul", [x, c(0.5)], name)
            return self.op("Mul", [half_x, self.op("Add", [t, c(1.0)], name)], name)
        raise ExportError(f"{where}: gelu approximate must be 'none' or 'tanh', "
                          f"got '{approximate}'")

    def op_cast(self, n, where, ins, attrs):
        s, _ = self.x(ins[0])
        to = attrs.get("to")
        if to not in ONNX_DTYPE:
            raise ExportError(f"{where}: cast needs 'to', one of {', '.join(ONNX_DTYPE)}")
        return self.op("Cast", [ins[0]], n["name"], to=ONNX_DTYPE[to]), to, s

    def op_where(self, n, where, ins, attrs):
        shapes = [self.shape[i] for i in ins[:3]]
        return self.op("Where", ins[:3], n["name"]), self.dtype[ins[1]], broadcast(shapes, where)

    def op_matmul(self, n, where, ins, attrs):
        name, args, shapes = n["name"], [], []
        for x, flag in zip(ins[:2], ("transpose_a", "transpose_b")):
            s, _ = self.x(x)
            if len(s) < 2:
                raise ExportError(f"{where}: matmul operands need rank >= 2, '{x}' is {s}")
            if attrs.get(flag, False):
                perm = list(range(len(s) - 2)) + [len(s) - 1, len(s) - 2]
                x, s = self.op("Transpose", [x], name, perm=perm), [s[p] for p in perm]
            args.append(x)
            shapes.append(s)
        (sa, sb), d = shapes, self.dtype[ins[0]]
        if sa[-1] != sb[-2]:
            raise ExportError(f"{where}: matmul inner dims {sa[-1]} and {sb[-2]} differ")
        batch = broadcast([sa[:-2], sb[:-2]], where)
        return self.op("MatMul", args, name), d, batch + [sa[-2], sb[-1]]

    def op_softmax(self, n, where, ins, attrs):
        s, d = self.x(ins[0])
        axis = norm_axis(attrs.get("axis", -1), len(s), where)
        return self.op("Softmax", [ins[0]], n["name"], axis=axis), d, s

    def norm_params(self, n, where, attrs):
        if attrs.get("axis", -1) not in (-1, len(self.shape[n["inputs"][0]]) - 1):
            raise ExportError(f"{where}: {n['op']} takes axis -1 only")

    def op_layernorm(self, n, where, ins, attrs):
        self.norm_params(n, where, attrs)
        s, d = self.x(ins[0])
        w = ins[1] if len(ins) > 1 and ins[1] else self.const(np.ones(s[-1]), d)
        args = [ins[0], w] + ([ins[2]] if len(ins) > 2 and ins[2] else [])
        out = self.op("LayerNormalization", args, n["name"], axis=-1,
                      epsilon=float(attrs.get("eps", 1e-5)))
        return out, d, s

    def op_rmsnorm(self, n, where, ins, attrs):
        # x / sqrt(mean(x²) + eps) · w, in the Pow-ReduceMean-Add-Sqrt-Div-Mul
        # pattern onnxruntime fuses into SimplifiedLayerNormalization.
        self.norm_params(n, where, attrs)
        s, d = self.x(ins[0])
        x, name = ins[0], n["name"]
        ms = self.op("ReduceMean", [self.op("Pow", [x, self.const(2.0, d)], name)], name,
                     axes=[-1], keepdims=1)
        eps = self.const(float(attrs.get("eps", 1e-6)), d)
        rms = self.op("Sqrt", [self.op("Add", [ms, eps], name)], name)
        out = self.op("Div", [x, rms], name)
        if len(ins) > 1 and ins[1]:
            out = self.op("Mul", [out, ins[1]], name)
        return out, d, s

    def op_reduce(self, n, where, ins, attrs, onnx_op):
        s, d = self.x(ins[0])
        if "axes" not in attrs:
            raise ExportError(f"{where}: {n['op']} needs 'axes'")
        axes = sorted({norm_axis(a, len(s), where) for a in attrs["axes"]})
        keep = bool(attrs.get("keepdims", False))
        if onnx_op == "ReduceSum":  # opset 13+: axes is an input
            out = self.op(onnx_op, [ins[0], self.ints(axes)], n["name"], keepdims=int(keep))
        else:
            out = self.op(onnx_op, [ins[0]], n["name"], axes=axes, keepdims=int(keep))
        shape = [1 if i in axes else v for i, v in enumerate(s) if keep or i not in axes]
        return out, d, shape

    def op_reduce_sum(self, *a):
        return self.op_reduce(*a, "ReduceSum")

    def op_reduce_mean(self, *a):
        return self.op_reduce(*a, "ReduceMean")

    def op_reduce_max(self, *a):
        return self.op_reduce(*a, "ReduceMax")

    def op_transpose(self, n, where, ins, attrs):
        s, d = self.x(ins[0])
        perm = [norm_axis(p, len(s), where) for p in attrs.get("perm", [])]
        if sorted(perm) != list(range(len(s))):
            raise ExportError(f"{where}: perm {attrs.get('perm')} is not a permutation "
                              f"of rank {len(s)}")
        return self.op("Transpose", [ins[0]], n["name"], perm=perm), d, [s[p] for p in perm]

    def op_reshape(self, n, where, ins, attrs):
        s, d = self.x(ins[0])
        if "shape" not in attrs:
            raise ExportError(f"{where}: reshape needs 'shape'")
        dims = resolve_dims(attrs["shape"], self.symbols, where)
        total, known = int(np.prod(s, dtype=np.int64)), int(np.prod([v for v in dims if v != -1],
                                                                   dtype=np.int64))
        if dims.count(-1) > 1 or (dims.count(-1) and (known == 0 or total % known)) \
                or (not dims.count(-1) and known != total):
            raise ExportError(f"{where}: cannot reshape {s} to {attrs['shape']} ({dims})")
        dims = [total // known if v == -1 else v for v in dims]
        return self.op("Reshape", [ins[0], self.ints(dims)], n["name"], allowzero=1), d, dims

    def op_slice(self, n, where, ins, attrs):
        s, d = self.x(ins[0])
        axis = norm_axis(attrs.get("axis", 0), len(s), where)
        step = int(attrs.get("step", 1))
        if step == 0:
            raise ExportError(f"{where}: slice step must not be 0")
        big = 2**62
        start = int(attrs.get("start", 0 if step > 0 else -1))
        end = int(attrs.get("end", big if step > 0 else -big))
        length = len(range(*slice(start, end, step).indices(s[axis])))
        out = self.op("Slice", [ins[0], self.ints([start]), self.ints([end]), self.ints([axis]),
                                self.ints([step])], n["name"])
        return out, d, s[:axis] + [length] + s[axis + 1:]

    def op_concat(self, n, where, ins, attrs):
        if "axis" not in attrs:
            raise ExportError(f"{where}: concat needs 'axis'")
        s, d = self.x(ins[0])
        axis = norm_axis(attrs["axis"], len(s), where)
        total = sum(self.shape[x][axis] for x in ins)
        out = self.op("Concat", list(ins), n["name"], axis=axis)
        return out, d, s[:axis] + [total] + s[axis + 1:]

    def op_split(self, n, where, ins, attrs):
        s, d = self.x(ins[0])
        sizes = [int(v) for v in attrs.get("sizes", [])]
        axis = norm_axis(attrs.get("axis", 0), len(s), where)
        if not sizes or sum(sizes) != s[axis]:
            raise ExportError(f"{where}: split sizes {sizes} do not add up to {s[axis]}")
        outs = self.op("Split", [ins[0], self.ints(sizes)], n["name"], n_out=len(sizes), axis=axis)
        outs = outs if isinstance(outs, list) else [outs]
        return [(o, d, s[:axis] + [k] + s[axis + 1:]) for o, k in zip(outs, sizes)]

    def op_gather(self, n, where, ins, attrs):
        (st, d), (si, di) = self.x(ins[0]), self.x(ins[1])
        if di not in ("i32", "i64"):
            raise ExportError(f"{where}: gather indices must be i32 or i64, got {di}")
        axis = norm_axis(attrs.get("axis", 0), len(st), where)
        return (self.op("Gather", ins[:2], n["name"], axis=axis), d,
                st[:axis] + si + st[axis + 1:])

    def op_rope(self, n, where, ins, attrs):
        s, d = self.x(ins[0])
        x, name = ins[0], n["name"]
        if d not in FLOATS or len(s) < 2:
            raise ExportError(f"{where}: rope takes a float x of rank >= 2")
        hd = s[-1]
        r = int(attrs.get("rotary_dim", hd))
        if r <= 0 or r % 2 or r > hd:
            raise ExportError(f"{where}: rotary_dim {r} must be even and in (0, {hd}]")
        inv = float(attrs.get("theta", 10000.0)) ** (-2.0 * np.arange(r // 2) / r)
        pos = ins[1] if len(ins) > 1 and ins[1] else ""
        if pos:
            # Positions arrive at run time: angles p·θᵢ, shaped positions.shape
            # + [r/2], in double: in f32, p·θ at p = 4096 is already off by 1e-4.
            ps = self.shape[pos]
            if self.dtype[pos] not in ("i32", "i64"):
                raise ExportError(f"{where}: rope positions must be i32 or i64")
            broadcast([ps, s[:-1]], where)
            pf = self.op("Unsqueeze", [self.op("Cast", [pos], name, to=TensorProto.DOUBLE),
                                       self.ints([-1])], name)
            inv_name = self.fresh(f"{name}/inv_freq")
            self.inits.append(numpy_helper.from_array(inv.astype(np.float64), inv_name))
            ang = self.op("Mul", [pf, inv_name], name)
            cos = self.op("Cast", [self.op("Cos", [ang], name)], name, to=ONNX_DTYPE[d])
            sin = self.op("Cast", [self.op("Sin", [ang], name)], name, to=ONNX_DTYPE[d])
        else:
            # Positions 0…seq−1: the tables are initializers, computed in double.
            ang = np.arange(s[-2], dtype=np.float64)[:, None] * inv[None, :]
            cos, sin = self.const(np.cos(ang), d), self.const(np.sin(ang), d)
        h = r // 2
        mul = lambda a, b: self.op("Mul", [a, b], name)  # noqa: E731
        parts = [h, h] + ([hd - r] if hd > r else [])
        if not attrs.get("interleaved", False):
            pieces = self.op("Split", [x, self.ints(parts)], name, n_out=len(parts), axis=-1)
            x1, x2 = pieces[0], pieces[1]
            o1 = self.op("Sub", [mul(x1, cos), mul(x2, sin)], name)
            o2 = self.op("Add", [mul(x2, cos), mul(x1, sin)], name)
            out = self.op("Concat", [o1, o2] + pieces[2:], name, axis=-1)
        else:
            # Pairs (2i, 2i+1): view the rotated part as [..., r/2, 2].
            if hd > r:
                rot, rest = self.op("Split", [x, self.ints([r, hd - r])], name, n_out=2, axis=-1)
            else:
                rot, rest = x, None
            lead = s[:-1]
            pairs = self.op("Reshape", [rot, self.ints(lead + [h, 2])], name)
            e, o = self.op("Split", [pairs, self.ints([1, 1])], name, n_out=2, axis=-1)
            c3 = self.op("Unsqueeze", [cos, self.ints([-1])], name)
            s3 = self.op("Unsqueeze", [sin, self.ints([-1])], name)
            oe = self.op("Sub", [mul(e, c3), mul(o, s3)], name)
            oo = self.op("Add", [mul(o, c3), mul(e, s3)], name)
            both = self.op("Concat", [oe, oo], name, axis=-1)
            out = self.op("Reshape", [both, self.ints(lead + [r])], name)
            if rest is not None:
                out = self.op("Concat", [out, rest], name, axis=-1)
        return out, d, s

    def op_attention(self, n, where, ins, attrs):
        (sq_, d), (sk_, _), (sv_, _) = self.x(ins[0]), self.x(ins[1]), self.x(ins[2])
        name = n["name"]
        if not (len(sq_) == len(sk_) == len(sv_) == 4):
            raise ExportError(f"{where}: attention takes rank-4 q, k, v, got {sq_}, {sk_}, {sv_}")
        b, hq, sq, dh = sq_
        bk, hkv, sk, dk = sk_
        if dk != dh or sv_[:3] != sk_[:3] or bk != b or hkv == 0 or hq % hkv:
            raise ExportError(f"{where}: attention shapes q {sq_}, k {sk_}, v {sv_} do not fit")
        dv, g = sv_[3], hq // hkv
        scale = float(attrs.get("scale", 1.0 / math.sqrt(dh)))
        q = ins[0]
        if g > 1:
            # Grouped-query heads: query head h reads kv head h / g, and heads
            # kv·g … kv·g+g−1 are contiguous, so q viewed as [b, hkv, g·sq, d]
            # multiplies k directly: no copy of k or v.
            q = self.op("Reshape", [q, self.ints([b, hkv, g * sq, dh])], name)
        kt = self.op("Transpose", [ins[1]], name, perm=[0, 1, 3, 2])
        scores = self.op("Mul", [self.op("MatMul", [q, kt], name), self.const(scale, d)], name)
        if g > 1:
            scores = self.op("Reshape", [scores, self.ints([b, hq, sq, sk])], name)
        mask = ins[3] if len(ins) > 3 and ins[3] else ""
        if mask:
            broadcast([self.shape[mask], [b, hq, sq, sk]], where)
            scores = self.op("Add", [scores, mask], name)
        if attrs.get("causal", False):
            # Bottom-right aligned: query i sees keys j <= i + (sk − sq).
            i = np.arange(sq)[:, None]
            j = np.arange(sk)[None, :]
            causal = self.const(np.where(j <= i + (sk - sq), 0.0, -np.inf), d)
            scores = self.op("Add", [scores, causal], name)
        p = self.op("Softmax", [scores], name, axis=-1)
        if mask or (attrs.get("causal", False) and sq > sk):
            # A row that sees no key gives zeros (FORMAT.md); softmax of all −inf is NaN.
            p = self.op("Where", [self.op("IsNaN", [p], name), self.const(0.0, d), p], name)
        if g > 1:
            p = self.op("Reshape", [p, self.ints([b, hkv, g * sq, sk])], name)
        out = self.op("MatMul", [p, ins[2]], name)
        if g > 1:
            out = self.op("Reshape", [out, self.ints([b, hq, sq, dv])], name)
        return out, d, [b, hq, sq, dv]


BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
          "maximum": "Max", "minimum": "Min"}
UNARY = {"neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "rsqrt": None, "tanh": "Tanh",
         "erf": "Erf", "sigmoid": "Sigmoid", "relu": "Relu", "silu": None, "abs": "Abs",
         "gelu": None}


# ---------------------------------------------------------------------------
# Entry points


def load_graph(path):
    try:
        with open(path) as f:
            graph = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError(f"{path}: {e}")
    if graph.get("format") != "tessera.graph" or graph.get("version") != 1:
        raise ExportError(f"{path}: not a tessera.graph version 1 file")
    return graph


def bind_symbols(graph, binds=None, input_shapes=None, where="graph"):
    """Symbol sizes: --bind, then the inputs' shapes (which must agree), then
    the graph's defaults."""
    symbols = {}
    for k, v in (binds or {}).items():
        symbols[k] = int(v)
    fixed = set(symbols)
    for i in graph.get("inputs", []):
        shape = (input_shapes or {}).get(i["name"])
        if shape is None:
            continue
        if len(shape) != len(i["shape"]):
            raise ExportError(f"{where}: input '{i['name']}' has rank {len(shape)}, "
                              f"the graph says {len(i['shape'])}")
        for dim, size in zip(i["shape"], shape):
            if isinstance(dim, str):
                if dim in symbols and symbols[dim] != size:
                    raise ExportError(f"{where}: symbol '{dim}' is {symbols[dim]} but input "
                                      f"'{i['name']}' gives {size}")
                symbols[dim] = int(size)
                fixed.add(dim)
            elif dim != size:
                raise ExportError(f"{where}: input '{i['name']}' has shape {list(shape)}, "
                                  f"the graph says {i['shape']}")
    for k, v in graph.get("symbols", {}).items():
        symbols.setdefault(k, int(v))
    return symbols


def export(graph_path, binds=None, input_shapes=None):
    """Converts a graph file (with its weights) to an onnx.ModelProto. Returns
    (model, symbols)."""
    graph = load_graph(graph_path)
    weights = {}
    if graph.get("weights"):
        weights = read_safetensors(os.path.join(os.path.dirname(os.path.abspath(graph_path)),
                                                graph["weights"]))
    symbols = bind_symbols(graph, binds, input_shapes, graph_path)
    try:
        model = Exporter(graph, weights, symbols).export()
    except (KeyError, TypeError, IndexError) as e:  # a malformed graph, not a bug here
        raise ExportError(f"{graph_path}: malformed graph ({type(e).__name__}: {e})")
    onnx.checker.check_model(model)
    return model, symbols


def parse_binds(items):
    out = {}
    for item in items or []:
        sym, eq, size = item.partition("=")
        if not eq or not sym or not size.isdigit():
            raise ExportError(f"--bind: expected SYMBOL=N, got '{item}'")
        out[sym] = int(size)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("graph", help="the tessera graph.json")
    ap.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    ap.add_argument("--bind", action="append", metavar="SYMBOL=N", help="size of a symbolic dim")
    opt = ap.parse_args()
    try:
        model, symbols = export(opt.graph, parse_binds(opt.bind))
    except ExportError as e:
        print(f"onnx_export: {e}", file=sys.stderr)
        return 1
    onnx.save(model, opt.output)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"wrote {opt.output}: {len(model.graph.node)} nodes ({', '.join(ops)}), "
          f"symbols {symbols}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
