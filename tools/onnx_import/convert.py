"""convert.py — ONNX ModelProto → tessera graph + weights (see tools/onnx2tessera).

Every ONNX value is one of:
  - a known array (initializer, Constant, or folded): numpy, or a numpy object
    array whose entries are ints, symbol names ("seq") or opaque expressions
    ("?(batch*seq)") when it is a shape that depends on a symbolic dim;
  - a run-time tessera value: (tessera name, dtype, shape), shape entries ints,
    symbols or opaque expressions.
A node with all inputs known is evaluated here (numerically by onnx.reference,
symbolically for the few ops shape code uses); otherwise it becomes tessera
nodes. Known arrays become weights only where a run-time node reads them.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import stio  # noqa: E402  the oracle's safetensors writer (bf16 rounding, bool)

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    sys.exit(f"onnx2tessera: cannot import onnx ({e}): run scripts/setup.sh")

# Any opset up to the newest the installed onnx package knows; what decides
# is each node's op version in the model's opset (from onnx's own schemas),
# which must lie in the range the converter implements (OP_VERSIONS).
MIN_OPSET = 1
MAX_OPSET = onnx.defs.onnx_opset_version()
BIG = 2**31  # slice bounds beyond this are clamped (tessera wants |int| < 2^53)

# The versions of each op the converter implements, oldest and newest,
# reviewed against onnx 1.23's schemas (opset 28; onnx.defs.get_schema(op,
# opset).since_version). The oldest is the version in force at opset 13
# (older ones differ: Softmax-11 flattens to 2-D, Split-11 takes its sizes
# as an attribute ...), except Not, And and Or, unchanged since 1 and 7.
# Every version above 21 only adds element types tessera lacks (float4/6/8,
# int2/4: refused by dtype), rewords the doc (Transpose-25, Dropout-22), or
# adds an attribute that acts on those types alone (Cast-24's round_mode for
# float8e8m0; Range-27's stash_type for float16/bfloat16, whose default of
# float32 is what folding and iota do). A node whose op version is outside
# its range is refused by op, node and version: its meaning may differ.
OP_VERSIONS = {
    "MatMul": (13, 13), "Gemm": (13, 13), "Add": (13, 14), "Sub": (13, 14), "Mul": (13, 14),
    "Div": (13, 14), "Pow": (13, 15), "Sqrt": (13, 13), "Reciprocal": (13, 13), "Neg": (13, 13),
    "Exp": (13, 13), "Log": (13, 13), "Tanh": (13, 13), "Erf": (13, 13), "Relu": (13, 14),
    "Sigmoid": (13, 13), "Gelu": (20, 20), "Softmax": (13, 13), "LayerNormalization": (17, 17),
    "ReduceMean": (13, 18), "ReduceSum": (13, 13), "ReduceMax": (13, 20), "Gather": (13, 13),
    "Reshape": (13, 25), "Transpose": (13, 25), "Unsqueeze": (13, 25), "Squeeze": (13, 25),
    "Concat": (13, 13), "Slice": (13, 13), "Split": (13, 18), "Shape": (13, 25),
    "Constant": (13, 25), "ConstantOfShape": (9, 25), "Cast": (13, 28), "Where": (9, 16),
    "Equal": (13, 19), "Expand": (13, 13), "Range": (11, 27), "Identity": (13, 25),
    "Abs": (13, 13), "Max": (13, 13), "Min": (13, 13), "Dropout": (13, 22), "Flatten": (13, 25),
    "Clip": (13, 13), "IsNaN": (13, 20), "Not": (1, 1), "And": (7, 7), "Or": (7, 7),
    "Greater": (13, 13), "Less": (13, 13), "GreaterOrEqual": (12, 16), "LessOrEqual": (12, 16),
}


class ImportError_(Exception):
    """Bad or unsupported input: one line naming the node or the file."""


class UsageError(ImportError_):
    """A command-line argument that does not fit the model (exit 2)."""


class RunTime(Exception):
    """Raised by a sym_ folder: the node's data is a plain array but a
    parameter depends on symbols, so it becomes tessera nodes instead."""


# ONNX element type → tessera dtype. Narrow integers widen to i32, double
# narrows to f32 (tessera has no f64), uint64 is read as i64.
DTYPE = {
    TensorProto.FLOAT: "f32", TensorProto.DOUBLE: "f32", TensorProto.FLOAT16: "f16",
    TensorProto.BFLOAT16: "bf16", TensorProto.INT64: "i64", TensorProto.UINT64: "i64",
    TensorProto.INT32: "i32", TensorProto.UINT32: "i32", TensorProto.INT16: "i32",
    TensorProto.UINT16: "i32", TensorProto.INT8: "i32", TensorProto.UINT8: "i32",
    TensorProto.BOOL: "bool",
}
FLOATS = ("f32", "f16", "bf16")
NP_OF = {"f32": np.float32, "f16": np.float16, "bf16": np.float32, "i32": np.int32,
         "i64": np.int64, "bool": np.bool_}


def np_dtype_name(a):
    """tessera dtype of a numpy array holding an ONNX tensor."""
    k, name = a.dtype.kind, a.dtype.name
    if name == "bfloat16":
        return "bf16"
    if k == "f":
        return "f16" if a.dtype.itemsize == 2 else "f32"
    if k == "b":
        return "bool"
    if k in "iu":
        return "i64" if a.dtype.itemsize == 8 else "i32"
    if k == "O":
        return "i64"  # symbolic shapes are int64 in ONNX
    raise ImportError_(f"unsupported tensor dtype {a.dtype}")


def is_sym(a):
    return isinstance(a, np.ndarray) and a.dtype == object


def normalize(a):
    """An object array whose entries are all ints becomes an int64 array."""
    if is_sym(a) and all(isinstance(v, (int, np.integer)) for v in a.flat):
        return np.array(a.tolist(), dtype=np.int64).reshape(a.shape)
    return a


def sym_op(op, a, b):
    """One entry of symbolic shape arithmetic."""
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        a, b = int(a), int(b)
        return {"Add": a + b, "Sub": a - b, "Mul": a * b,
                "Div": int(a / b) if b else 0}[op]
    if op == "Add" and b == 0 or op == "Sub" and b == 0 or op in ("Mul", "Div") and b == 1:
        return a
    if op in ("Add", "Mul") and a == (0 if op == "Add" else 1):
        return b
    if op == "Div" and a == b:
        return 1
    if op == "Sub" and a == b:
        return 0  # key_length - query_length in GPT-2's causal-mask slice
    return "?(%s%s%s)" % (a, {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}[op], b)


def dim_str(d):
    return str(d)


class Converter:
    def __init__(self, model, path, binds=None):
        self.model, self.path = model, path
        self.binds = dict(binds or {})  # symbol (dim_param or its tessera name) -> size
        self.bound = set()
        self.opset = 0
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = imp.version
        if not MIN_OPSET <= self.opset <= MAX_OPSET:
            raise ImportError_(f"{path}: opset {self.opset} is outside the supported {MIN_OPSET}-{MAX_OPSET}")
        g = model.graph
        self.known = {}     # onnx name -> numpy array (numeric or symbolic)
        self.rt = {}        # onnx name -> (tessera name, dtype, shape)
        self.nodes, self.weights, self.inputs, self.symbols = [], {}, [], {}
        self.sym_names = []  # every symbolic input dim, bound or not (for messages)
        self.scalars = {}    # (dtype, value) -> the weight holding that scalar
        self.used = set()
        for n in g.node:
            self.used.update(n.output)
            self.used.update(n.input)
        self.used.update(i.name for i in g.input)
        self.used.update(i.name for i in g.initializer)
        self.taken = set()  # tessera names defined so far
        for t in g.initializer:
            self.known[t.name] = self.tensor(t, f"initializer '{t.name}'")
        for i in g.input:
            if i.name in self.known:
                continue  # old IR versions list initializers as inputs too
            self.add_input(i)
        unused = sorted(set(self.binds) - self.bound)
        if unused:
            raise UsageError(f"--bind {unused[0]}: no input of {path} has a symbolic dim of "
                             f"that name (symbolic dims: {', '.join(self.sym_names) or 'none'})")

    # -- names and values ----------------------------------------------------

    def fresh(self, base):
        name, k = base, 0
        while name in self.used or name in self.taken:
            k += 1
            name = f"{base}.{k}"
        self.used.add(name)
        return name

    def tensor(self, t, where):
        if t.data_type not in DTYPE:
            raise ImportError_(f"{where}: unsupported element type "
                               f"{TensorProto.DataType.Name(t.data_type)}")
        if t.data_location == TensorProto.EXTERNAL:
            base = os.path.dirname(os.path.abspath(self.path))
            try:
                onnx.external_data_helper.load_external_data_for_tensor(t, base)
            except Exception as e:  # noqa: BLE001 -- any failure is a bad file
                raise ImportError_(f"{where}: cannot load external data: {e}")
        try:
            return numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001
            raise ImportError_(f"{where}: unreadable tensor: {e}")

    def add_input(self, vi):
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or tt.elem_type not in DTYPE:
            raise ImportError_(f"input '{vi.name}': unsupported type")
        shape = []
        for k, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            else:
                raw = d.dim_param or f"{vi.name}_dim{k}"
                s = re.sub(r"[^A-Za-z0-9_]", "_", raw)
                if s[0].isdigit():
                    s = "d" + s
                if s not in self.sym_names:
                    self.sym_names.append(s)
                # --bind fixes the dim: every shape computed from it is then
                # a plain number and folds (Range, Expand, slices over it).
                hit = [n for n in (raw, s) if n in self.binds]
                if hit:
                    self.bound.update(hit)
                    shape.append(self.binds[hit[0]])
                    continue
                self.symbols.setdefault(s, 1)
                shape.append(s)
        dt = DTYPE[tt.elem_type]
        self.inputs.append({"name": vi.name, "dtype": dt, "shape": shape})
        self.rt[vi.name] = (vi.name, dt, shape)
        self.taken.add(vi.name)

    def emit(self, op, ins, outs, attrs=None, name=None):
        n = {"op": op, "inputs": list(ins), "outputs": list(outs)}
        if attrs:
            n["attrs"] = attrs
        if name:
            n["name"] = self.fresh(name) if name in self.taken else name
            self.taken.add(n["name"])
        self.taken.update(outs)
        self.nodes.append(n)

    def value(self, name, where):
        """The run-time view (tessera name, dtype, shape) of an ONNX value;
        a known numeric array becomes a weight the first time it is read."""
        if name in self.rt:
            return self.rt[name]
        if name not in self.known:
            raise ImportError_(f"{where}: input '{name}' is never defined")
        a = self.known[name]
        if is_sym(a):
            raise ImportError_(f"{where}: value '{name}' is a shape that depends on symbolic dims "
                               f"{sorted({str(v) for v in a.flat if not isinstance(v, int)})} "
                               f"and is used as a run-time tensor: not expressible in tessera")
        dt = np_dtype_name(a)
        tname = name if name not in self.taken else self.fresh(name)
        self.weights[tname] = (dt, np.asarray(a).astype(NP_OF[dt]) if dt != "bf16"
                               else np.asarray(a).astype(np.float32))
        self.taken.add(tname)
        self.rt[name] = (tname, dt, list(a.shape))
        return self.rt[name]

    def const(self, value, dtype):
        """A weight holding value in dtype; returns its tessera name. Scalars
        are shared (the comparisons use the same 0, 1, true and false often)."""
        a = np.asarray(value).astype(NP_OF[dtype])
        key = (dtype, a.tobytes()) if a.ndim == 0 else None
        if key in self.scalars:
            return self.scalars[key]
        name = self.fresh(f"const.{len(self.weights)}")
        self.weights[name] = (dtype, a)
        self.taken.add(name)
        if key:
            self.scalars[key] = name
        return name

    def iota(self, shape, dtype, out, where, start=0, step=1, axis=0, name=None):
        """Emits tessera's iota (contracts: out[idx] = start + step·idx[axis]) of
        a shape of integers and symbol names; returns out."""
        opaque = [d for d in shape if isinstance(d, str) and d.startswith("?")]
        if opaque:
            raise ImportError_(f"{where}: shape {[str(d) for d in shape]} has a dim that is an "
                               f"expression of symbols; tessera's iota takes integers and symbol "
                               f"names (--bind the symbols)")
        self.emit("iota", [], [out], {"shape": [d if isinstance(d, str) else int(d) for d in shape],
                                      "axis": int(axis), "dtype": dtype, "start": int(start),
                                      "step": int(step)}, name)
        return out

    def fill(self, shape, dtype, v, out, where, name=None):
        """A tensor of a (symbolic) shape holding v everywhere: an iota with
        step 0, plus v where v is no integer the iota can start at."""
        if dtype == "bool":
            t = self.iota(shape, "i32", self.fresh(out + ".i"), where, start=int(bool(v)), step=0)
            self.emit("cast", [t], [out], {"to": "bool"}, name)
        elif dtype not in FLOATS:
            self.iota(shape, dtype, out, where, start=int(v), step=0, name=name)
        elif float(v).is_integer() and abs(float(v)) <= 2**24 and not np.signbit(v):
            self.iota(shape, dtype, out, where, start=int(v), step=0, name=name)
        else:  # 0 + v is v exactly, infinities and NaN included (-0.0 becomes +0.0)
            z = self.iota(shape, dtype, self.fresh(out + ".zero"), where, start=0, step=0)
            self.emit("add", [z, self.const(float(v), dtype)], [out], None, name)
        return out

    # -- shapes ----------------------------------------------------------------

    @staticmethod
    def broadcast(shapes, where):
        rank = max(len(s) for s in shapes)
        out = []
        for k in range(rank):
            ds = [s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0]
            ints = {d for d in ds if isinstance(d, int) and d != 1}
            syms = [d for d in ds if not isinstance(d, int)]
            if len(ints) > 1:
                raise ImportError_(f"{where}: shapes {shapes} do not broadcast")
            out.append(ints.pop() if ints else (syms[0] if syms else 1))
        return out

    def reshape_attr(self, shape, where):
        """tessera's reshape shape: ints and symbol names, opaque dims as one -1."""
        opaque = [d for d in shape if isinstance(d, str) and d.startswith("?")]
        if len(opaque) > 1:
            raise ImportError_(f"{where}: target shape {shape} has {len(opaque)} dims that "
                               f"are expressions of symbols: tessera's reshape takes one -1")
        return [-1 if isinstance(d, str) and d.startswith("?") else d for d in shape]

    def reshape(self, x, shape, out, where, name=None):
        """Emits x reshaped to shape (ints, symbols, opaque dims) as value out."""
        self.emit("reshape", [x], [out], {"shape": self.reshape_attr(shape, where)}, name)
        return out

    @staticmethod
    def infer_minus_one(in_shape, dims):
        """Fills reshape's -1 from the input's shape, cancelling symbols."""
        if -1 not in dims:
            return list(dims)
        num_int, num_syms = 1, []
        for d in in_shape:
            if isinstance(d, int):
                num_int *= d
            else:
                num_syms.append(d)
        den_int, rest = 1, list(num_syms)
        ok = True
        for d in dims:
            if d == -1:
                continue
            if isinstance(d, int):
                den_int *= d
            elif d in rest:
                rest.remove(d)
            else:
                ok = False
        if ok and den_int and num_int % den_int == 0:
            q = num_int // den_int
            if not rest:
                fill = q
            elif len(rest) == 1 and q == 1:
                fill = rest[0]
            else:
                fill = "?(" + "*".join([str(q)] + rest) + ")"
        else:
            fill = "?(reshape)"
        return [fill if d == -1 else d for d in dims]

    # -- the graph -------------------------------------------------------------

    def run(self):
        g = self.model.graph
        for idx, node in enumerate(g.node):
            where = f"node '{node.name or '(unnamed)'}' (#{idx}, {node.op_type})"
            if node.domain not in ("", "ai.onnx") and not (
                    node.domain == "com.microsoft" and node.op_type == "SimplifiedLayerNormalization"):
                raise ImportError_(f"unsupported op {node.domain}.{node.op_type} in node "
                                   f"'{node.name}' (#{idx})")
            conv = getattr(self, "op_" + node.op_type, None)
            if conv is None or node.op_type not in SUPPORTED:
                raise ImportError_(f"unsupported op {node.op_type} in node '{node.name}' (#{idx})")
            if node.op_type in OP_VERSIONS:  # not SimplifiedLayerNormalization (onnxruntime's)
                self.check_version(node, idx)
            ins = list(node.input)
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            present = [x for x in ins if x]
            if all(x in self.known for x in present) and node.op_type not in NO_FOLD:
                try:
                    self.fold(node, ins, attrs, where)
                    continue
                except RunTime:
                    pass  # a plain array under symbolic parameters: tessera nodes
            conv(node, ins, attrs, where)
        outputs = []
        for o in g.output:
            if o.name in self.known and o.name not in self.rt:
                self.value(o.name, f"graph output '{o.name}'")
            if o.name not in self.rt:
                raise ImportError_(f"graph output '{o.name}' is never defined")
            tname, dt, shape = self.rt[o.name]
            if tname != o.name:
                # An alias (Identity, a no-op reshape): copy under the output's name.
                self.reshape(tname, shape, o.name, f"graph output '{o.name}'")
            outputs.append(o.name)
        graph = {"format": "tessera.graph", "version": 1,
                 "name": (g.name or "onnx")[:120]}
        if self.weights:
            graph["weights"] = "weights.safetensors"
        if self.symbols:
            graph["symbols"] = self.symbols
        graph["inputs"] = self.inputs
        graph["nodes"] = self.nodes
        graph["outputs"] = outputs
        return graph

    def check_version(self, node, idx):
        """Refuses an op whose version in the model's opset lies outside the
        versions the converter implements (OP_VERSIONS)."""
        op = node.op_type
        try:
            ver = onnx.defs.get_schema(op, self.opset, "").since_version
        except Exception:  # noqa: BLE001 -- no such op at this opset
            raise ImportError_(f"unsupported op {op} in node '{node.name}' (#{idx}): "
                               f"opset {self.opset} has no {op}")
        lo, hi = OP_VERSIONS[op]
        if not lo <= ver <= hi:
            raise ImportError_(f"unsupported op {op} version {ver} (opset {self.opset}) in node "
                               f"'{node.name}' (#{idx}): the converter implements {op} versions "
                               f"{lo} to {hi}" + (", and its meaning may have changed since"
                                                  if ver > hi else ""))

    def fold(self, node, ins, attrs, where):
        """Evaluates a node whose inputs are all known."""
        arrays = [self.known[x] if x else None for x in ins]
        if any(is_sym(a) for a in arrays if a is not None):
            h = getattr(self, "sym_" + node.op_type, None)
            if h is None:
                raise ImportError_(f"{where}: computes on a shape with symbolic dims "
                                   f"({[str(a.tolist()) for a in arrays if is_sym(a)]}); "
                                   f"{node.op_type} of symbols cannot fold")
            # np.take and friends give a bare str for a 0-d pick: keep object arrays.
            outs = [np.asarray(a, dtype=object) if np.asarray(a).dtype.kind in "OU"
                    else np.asarray(a) for a in h(arrays, attrs, where)]
        else:
            from onnx.reference import ReferenceEvaluator
            try:
                ev = ReferenceEvaluator(node, opsets={"": self.opset})
                outs = ev.run(None, {x: a for x, a in zip(ins, arrays) if x})
            except Exception as e:  # noqa: BLE001 -- report it against the node
                raise ImportError_(f"{where}: cannot evaluate on constants: "
                                   f"{str(e).splitlines()[0] if str(e) else type(e).__name__}")
        for o, a in zip(node.output, outs):
            if o:
                self.known[o] = normalize(np.asarray(a) if not is_sym(a) else a)

    # -- symbolic folding of shape code -------------------------------------

    def axes_of(self, arrays, attrs, k=1, name="axes"):
        if len(arrays) > k and arrays[k] is not None:
            return [int(v) for v in np.asarray(arrays[k]).reshape(-1)]
        return list(attrs.get(name, []))

    def sym_Shape(self, a, attrs, where):
        # The shape of a shape vector holding symbols is a plain number: its length.
        r = a[0].ndim
        start, end = attrs.get("start", 0), attrs.get("end", r)
        return [np.array(a[0].shape[slice(max(-r, min(r, start)), max(-r, min(r, end)))], dtype=np.int64)]

    def sym_Identity(self, a, attrs, where):
        return [a[0]]

    def sym_Cast(self, a, attrs, where):
        if DTYPE.get(attrs.get("to")) not in ("i32", "i64"):
            raise ImportError_(f"{where}: casts a symbolic shape to a non-integer type")
        return [a[0]]

    def sym_Gather(self, a, attrs, where):
        return [np.take(a[0], np.asarray(a[1]).astype(np.int64), axis=attrs.get("axis", 0))]

    def sym_Concat(self, a, attrs, where):
        return [np.concatenate([np.asarray(x, dtype=object) for x in a], axis=attrs["axis"])]

    def sym_Unsqueeze(self, a, attrs, where):
        x = a[0]
        axes = self.axes_of(a, attrs)
        r = x.ndim + len(axes)
        for ax in sorted(v % r for v in axes):
            x = np.expand_dims(x, ax)
        return [x]

    def sym_Squeeze(self, a, attrs, where):
        axes = self.axes_of(a, attrs)
        return [np.squeeze(a[0], axis=tuple(axes)) if axes else np.squeeze(a[0])]

    def sym_Reshape(self, a, attrs, where):
        shape = [int(v) for v in np.asarray(a[1]).reshape(-1)]
        shape = [a[0].shape[k] if v == 0 and not attrs.get("allowzero") else v
                 for k, v in enumerate(shape)]
        return [a[0].reshape(shape)]

    def sym_Slice(self, a, attrs, where):
        x = a[0]
        starts, ends = np.asarray(a[1]).reshape(-1), np.asarray(a[2]).reshape(-1)
        bounds = [v for k in range(1, min(len(a), 5)) if a[k] is not None
                  for v in np.asarray(a[k]).reshape(-1) if not isinstance(v, (int, np.integer))]
        if bounds:
            if not is_sym(x):
                raise RunTime  # a table sliced to a symbolic end: op_Slice
            raise ImportError_(f"{where}: slices a shape with symbolic bounds {bounds}: cannot fold")
        axes = self.axes_of(a, attrs, 3) or list(range(len(starts)))
        steps = self.axes_of(a, attrs, 4) or [1] * len(starts)
        idx = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            idx[ax % x.ndim] = slice(int(s), int(e), int(st))
        return [x[tuple(idx)]]

    def sym_arith(self, op, a):
        f = np.frompyfunc(lambda u, v: sym_op(op, u, v), 2, 1)
        return [np.asarray(f(np.asarray(a[0], dtype=object), np.asarray(a[1], dtype=object)),
                           dtype=object)]

    def sym_Add(self, a, attrs, where):
        return self.sym_arith("Add", a)

    def sym_Sub(self, a, attrs, where):
        return self.sym_arith("Sub", a)

    def sym_Mul(self, a, attrs, where):
        return self.sym_arith("Mul", a)

    def sym_Div(self, a, attrs, where):
        return self.sym_arith("Div", a)

    def sym_Equal(self, a, attrs, where):
        def eq(u, v):
            if u == v:
                return True
            if isinstance(u, int) and isinstance(v, int):
                return False
            # A dim symbol (not "?(…)" arithmetic) is a size: never negative.
            # PyTorch compares shapes with -1 this way before an Expand.
            for sym, num in ((u, v), (v, u)):
                if isinstance(sym, str) and not sym.startswith("?") and isinstance(num, int) and num < 0:
                    return False
            raise ImportError_(f"{where}: compares symbolic dims {u} and {v}: cannot fold")
        f = np.frompyfunc(eq, 2, 1)
        return [np.asarray(f(np.asarray(a[0], dtype=object),
                             np.asarray(a[1], dtype=object))).astype(bool)]

    def sym_Where(self, a, attrs, where):
        if is_sym(a[0]):
            raise ImportError_(f"{where}: condition depends on symbolic dims")
        return [np.where(a[0], np.asarray(a[1], dtype=object), np.asarray(a[2], dtype=object))]

    def sym_Expand(self, a, attrs, where):
        if is_sym(a[1]):
            if not is_sym(a[0]):
                raise RunTime  # an array broadcast to a symbolic shape: op_Expand
            raise ImportError_(f"{where}: expands a shape to a shape with symbolic dims")
        return [np.broadcast_to(np.asarray(a[0], dtype=object),
                                np.broadcast_shapes(a[0].shape, tuple(a[1].tolist()))).copy()]

    def sym_Range(self, a, attrs, where):
        raise RunTime  # a symbolic limit: op_Range's iota

    def sym_ConstantOfShape(self, a, attrs, where):
        raise RunTime  # a symbolic shape: op_ConstantOfShape's iota

    # -- run-time ops ----------------------------------------------------------

    def op_Identity(self, node, ins, attrs, where):
        self.rt[node.output[0]] = self.value(ins[0], where)

    def op_Dropout(self, node, ins, attrs, where):
        if len(node.output) > 1 and node.output[1]:
            raise ImportError_(f"{where}: Dropout's mask output is not supported")
        # Inference is a copy; training_mode true drops at random, unless the
        # ratio is 0.
        if len(ins) > 2 and ins[2]:
            def scalar_in(i, default):
                if len(ins) <= i or not ins[i]:
                    return default
                return np.asarray(self.known[ins[i]]).reshape(-1)[0] \
                    if ins[i] in self.known else None
            ratio, training = scalar_in(1, 0.5), scalar_in(2, False)
            if ratio is None or float(ratio) != 0.0:
                if training is None:
                    raise ImportError_(f"{where}: training_mode is computed at run time (and "
                                       f"true drops values at random)")
                if bool(training):
                    raise ImportError_(f"{where}: training_mode drops values at random "
                                       f"(ratio {'run-time' if ratio is None else f'{float(ratio):g}'}): "
                                       f"not expressible in tessera")
        self.op_Identity(node, ins, attrs, where)

    def op_Shape(self, node, ins, attrs, where):
        _, _, shape = self.value(ins[0], where)
        r = len(shape)
        start, end = attrs.get("start", 0), attrs.get("end", r)
        dims = shape[slice(max(-r, min(r, start)), max(-r, min(r, end)))]
        self.known[node.output[0]] = normalize(np.array(dims, dtype=object).reshape(len(dims)))

    def unary(self, node, ins, where, op, attrs=None, float_only=True):
        x, dt, shape = self.value(ins[0], where)
        if float_only and dt not in FLOATS:
            raise ImportError_(f"{where}: takes a float input, got {dt}")
        self.emit(op, [x], [node.output[0]], attrs, node.name or None)
        self.rt[node.output[0]] = (node.output[0], dt, shape)

    def op_Neg(self, node, ins, attrs, where):
        self.unary(node, ins, where, "neg", float_only=False)

    def op_Abs(self, node, ins, attrs, where):
        self.unary(node, ins, where, "abs", float_only=False)

    def op_Relu(self, node, ins, attrs, where):
        self.unary(node, ins, where, "relu", float_only=False)

    def op_Exp(self, node, ins, attrs, where):
        self.unary(node, ins, where, "exp")

    def op_Log(self, node, ins, attrs, where):
        self.unary(node, ins, where, "log")

    def op_Sqrt(self, node, ins, attrs, where):
        self.unary(node, ins, where, "sqrt")

    def op_Tanh(self, node, ins, attrs, where):
        self.unary(node, ins, where, "tanh")

    def op_Erf(self, node, ins, attrs, where):
        self.unary(node, ins, where, "erf")

    def op_Sigmoid(self, node, ins, attrs, where):
        self.unary(node, ins, where, "sigmoid")

    def op_Gelu(self, node, ins, attrs, where):
        approx = attrs.get("approximate", b"none")
        approx = approx.decode() if isinstance(approx, bytes) else approx
        if approx not in ("none", "tanh"):
            raise ImportError_(f"{where}: Gelu approximate '{approx}' is not none or tanh")
        self.unary(node, ins, where, "gelu", {"approximate": approx} if approx != "none" else None)

    def op_Reciprocal(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        if dt not in FLOATS:
            raise ImportError_(f"{where}: takes a float input, got {dt}")
        self.emit("div", [self.const(1.0, dt), x], [node.output[0]], None, node.name or None)
        self.rt[node.output[0]] = (node.output[0], dt, shape)

    def binary(self, node, ins, where, op):
        a, da, sa = self.value(ins[0], where)
        b, db, sb = self.value(ins[1], where)
        if da != db:
            if op == "pow":  # ONNX lets the exponent have its own type
                if ins[1] in self.known and not is_sym(self.known[ins[1]]):
                    b = self.const(self.known[ins[1]].astype(np.float64), da)
                else:
                    cb = self.fresh(node.output[0] + ".exp")
                    self.emit("cast", [b], [cb], {"to": da})
                    b = cb
            else:
                raise ImportError_(f"{where}: inputs are {da} and {db}")
        shape = self.broadcast([sa, sb], where)
        self.emit(op, [a, b], [node.output[0]], None, node.name or None)
        self.rt[node.output[0]] = (node.output[0], da, shape)

    def op_Add(self, node, ins, attrs, where):
        self.binary(node, ins, where, "add")

    def op_Sub(self, node, ins, attrs, where):
        self.binary(node, ins, where, "sub")

    def op_Mul(self, node, ins, attrs, where):
        self.binary(node, ins, where, "mul")

    def op_Div(self, node, ins, attrs, where):
        self.binary(node, ins, where, "div")

    def op_Pow(self, node, ins, attrs, where):
        # tessera's pow is float-only (FORMAT.md): an integer power computed at
        # run time is refused rather than silently done in floats.
        dt = self.value(ins[0], where)[1]
        if dt not in ("f32", "f16", "bf16"):
            raise ImportError_(f"{where}: Pow of {dt} at run time: tessera's pow takes f32, f16 or bf16")
        self.binary(node, ins, where, "pow")

    def variadic(self, node, ins, where, op):
        if len(ins) == 1:
            return self.op_Identity(node, ins, {}, where)
        cur = ins[0]
        for k, nxt in enumerate(ins[1:]):
            out = node.output[0] if k == len(ins) - 2 else self.fresh(f"{node.output[0]}.{k}")
            fake = helper.make_node("X", [cur, nxt], [out], name=node.name)
            self.binary(fake, [cur, nxt], where, op)
            cur = out

    def op_Max(self, node, ins, attrs, where):
        self.variadic(node, ins, where, "maximum")

    def op_Min(self, node, ins, attrs, where):
        self.variadic(node, ins, where, "minimum")

    # -- comparisons and logic ----------------------------------------------
    # tessera has no comparison op: bool comes from cast (x != 0, NaN is
    # nonzero) and feeds where. maximum and minimum propagate NaN on every
    # target (ir/ops_elementwise.c, the LLVM and CUDA expressions), and
    # integer sub wraps, which the constructions below rely on. Each one is
    # exact for every input, infinities and NaN included:
    #   isnan(x) = cast(min(|x|, 1) · 0): |x| clamped to 1 is finite unless NaN
    #   a > b (float) = r ≠ 0 and not isnan(r), r = relu(a − b): a − b > 0
    #       exactly when a > b (gradual underflow keeps a nonzero difference
    #       nonzero, overflow gives +inf); inf − inf is NaN, and inf > inf is false
    #   a > b (int) = cast(max(a, b) − b): nonzero, even wrapped, iff max(a, b) ≠ b
    #   a ≥ b = not (b > a) and not isnan(max(a, b)) (ints: not (b > a))
    #   a == b (float) = d == 0, or d NaN but max(a, b) not NaN (the same
    #       infinity twice), d = a − b; (int, bool) cast(a − b) == 0
    #   not p = where(p, F, T); p and q = where(p, q, F); p or q = where(p, T, q)

    def t(self, out, tag):
        return self.fresh(f"{out}.{tag}")

    def e1(self, op, ins, out, attrs=None, name=None):
        self.emit(op, ins, [out], attrs, name)
        return out

    def bool_const(self, v):
        return self.const(bool(v), "bool")

    def b_not(self, p, out, name=None):
        return self.e1("where", [p, self.bool_const(False), self.bool_const(True)], out, None, name)

    def b_and(self, p, q, out, name=None):
        return self.e1("where", [p, q, self.bool_const(False)], out, None, name)

    def b_or(self, p, q, out, name=None):
        return self.e1("where", [p, self.bool_const(True), q], out, None, name)

    def isnan_of(self, x, dt, out, name=None, nonneg=False):
        m = x if nonneg else self.e1("abs", [x], self.t(out, "abs"))
        m = self.e1("minimum", [m, self.const(1.0, dt)], self.t(out, "clamp"))
        z = self.e1("mul", [m, self.const(0.0, dt)], self.t(out, "z"))
        return self.e1("cast", [z], out, {"to": "bool"}, name)

    def greater_of(self, a, b, dt, out, name=None):
        if dt in FLOATS:
            r = self.e1("relu", [self.e1("sub", [a, b], self.t(out, "d"))], self.t(out, "r"))
            nz = self.e1("cast", [r], self.t(out, "nz"), {"to": "bool"})
            nan = self.isnan_of(r, dt, self.t(out, "nan"), nonneg=True)
            return self.e1("where", [nan, self.bool_const(False), nz], out, None, name)
        m = self.e1("maximum", [a, b], self.t(out, "max"))
        return self.e1("cast", [self.e1("sub", [m, b], self.t(out, "d"))], out, {"to": "bool"},
                       name)

    def compare_inputs(self, ins, where, allow_bool=False):
        a, da, sa = self.value(ins[0], where)
        b, db, sb = self.value(ins[1], where)
        if da != db:
            raise ImportError_(f"{where}: inputs are {da} and {db}")
        if da == "bool" and not allow_bool:
            raise ImportError_(f"{where}: compares bools: ONNX orders numbers only")
        return a, b, da, self.broadcast([sa, sb], where)

    def compare(self, node, ins, where, swap, or_equal):
        a, b, dt, shape = self.compare_inputs(ins, where)
        if swap:
            a, b = b, a
        out, name = node.output[0], node.name or None
        if not or_equal:
            self.greater_of(a, b, dt, out, name)
        elif dt not in FLOATS:
            self.b_not(self.greater_of(b, a, dt, self.t(out, "lt")), out, name)
        else:
            lt = self.greater_of(b, a, dt, self.t(out, "lt"))
            m = self.e1("maximum", [a, b], self.t(out, "max"))
            unordered = self.isnan_of(m, dt, self.t(out, "unordered"))
            self.e1("where", [self.b_or(lt, unordered, self.t(out, "no")),
                              self.bool_const(False), self.bool_const(True)], out, None, name)
        self.rt[out] = (out, "bool", shape)

    def op_Greater(self, node, ins, attrs, where):
        self.compare(node, ins, where, False, False)

    def op_Less(self, node, ins, attrs, where):
        self.compare(node, ins, where, True, False)

    def op_GreaterOrEqual(self, node, ins, attrs, where):
        self.compare(node, ins, where, False, True)

    def op_LessOrEqual(self, node, ins, attrs, where):
        self.compare(node, ins, where, True, True)

    def op_Equal(self, node, ins, attrs, where):
        a, b, da, shape = self.compare_inputs(ins, where, allow_bool=True)
        out, name = node.output[0], node.name or None
        if da == "bool":
            a, b = (self.e1("cast", [v], self.t(out, f"i{k}"), {"to": "i32"})
                    for k, v in enumerate((a, b)))
        d = self.e1("sub", [a, b], self.t(out, "diff"))
        ne = self.e1("cast", [d], self.t(out, "ne"), {"to": "bool"})
        if da in FLOATS:
            # d is NaN for NaN and for the same infinity twice; only the
            # latter is equal, and it leaves max(a, b) a number.
            dnan = self.isnan_of(d, da, self.t(out, "dnan"))
            m = self.e1("maximum", [a, b], self.t(out, "max"))
            ordered = self.b_not(self.isnan_of(m, da, self.t(out, "mnan")), self.t(out, "ord"))
            same_inf = self.b_and(dnan, ordered, self.t(out, "inf"))
            self.e1("where", [ne, same_inf, self.bool_const(True)], out, None, name)
        else:
            self.b_not(ne, out, name)
        self.rt[out] = (out, "bool", shape)

    def op_IsNaN(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        if dt not in FLOATS:
            raise ImportError_(f"{where}: takes a float input, got {dt}")
        self.isnan_of(x, dt, node.output[0], node.name or None)
        self.rt[node.output[0]] = (node.output[0], "bool", shape)

    def logic(self, node, ins, where, fn):
        vals = [self.value(n, where) for n in ins]
        if any(v[1] != "bool" for v in vals):
            raise ImportError_(f"{where}: takes bools, got {[v[1] for v in vals]}")
        fn(*[v[0] for v in vals], node.output[0], node.name or None)
        self.rt[node.output[0]] = (node.output[0], "bool",
                                   self.broadcast([v[2] for v in vals], where))

    def op_Not(self, node, ins, attrs, where):
        self.logic(node, ins, where, self.b_not)

    def op_And(self, node, ins, attrs, where):
        self.logic(node, ins, where, self.b_and)

    def op_Or(self, node, ins, attrs, where):
        self.logic(node, ins, where, self.b_or)

    def op_Clip(self, node, ins, attrs, where):
        """min(max(x, lo), hi): with lo > hi every value is hi, as ONNX says."""
        x, dt, shape = self.value(ins[0], where)
        out = node.output[0]
        bounds = [(op, n) for op, n in (("maximum", ins[1] if len(ins) > 1 else ""),
                                       ("minimum", ins[2] if len(ins) > 2 else "")) if n]
        if not bounds:
            self.rt[out] = (x, dt, shape)
            return
        cur = x
        for k, (op, n) in enumerate(bounds):
            if n in self.known and not is_sym(self.known[n]):
                a = np.asarray(self.known[n])
                if a.size != 1:
                    raise ImportError_(f"{where}: bound '{n}' has shape {list(a.shape)}, not a scalar")
                c = self.const(a.reshape(()).astype(np.float64 if dt in FLOATS else np.int64), dt)
            else:
                c, dc, sc = self.value(n, where)
                if dc != dt:
                    raise ImportError_(f"{where}: bound '{n}' is {dc}, the input {dt}")
            nxt = out if k == len(bounds) - 1 else self.t(out, "lo")
            cur = self.e1(op, [cur, c], nxt, None, (node.name or None) if nxt == out else None)
        self.rt[out] = (out, dt, shape)

    def op_Where(self, node, ins, attrs, where):
        c, dc, sc = self.value(ins[0], where)
        a, da, sa = self.value(ins[1], where)
        b, db, sb = self.value(ins[2], where)
        if da != db:
            raise ImportError_(f"{where}: branches are {da} and {db}")
        self.emit("where", [c, a, b], [node.output[0]], None, node.name or None)
        self.rt[node.output[0]] = (node.output[0], da, self.broadcast([sc, sa, sb], where))

    def op_Cast(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        to = DTYPE.get(attrs.get("to"))
        if to is None:
            raise ImportError_(f"{where}: cast to an unsupported type")
        if to == dt:
            self.rt[node.output[0]] = (x, dt, shape)
            return
        self.emit("cast", [x], [node.output[0]], {"to": to}, node.name or None)
        self.rt[node.output[0]] = (node.output[0], to, shape)

    def matmul_core(self, a, b, out, where, name, ta=False, tb=False):
        """numpy matmul (1-D operands included) with optional transposes."""
        an, da, sa = a
        bn, db, sb = b
        if da != db or da not in FLOATS:
            raise ImportError_(f"{where}: matmul takes two floats of one dtype, got {da} and {db}")
        if len(sa) == 0 or len(sb) == 0:
            raise ImportError_(f"{where}: matmul of a scalar")
        a1, b1 = len(sa) == 1, len(sb) == 1
        if a1:
            an = self.reshape(an, [1, sa[0]], self.fresh(out + ".a2"), where)
            sa = [1, sa[0]]
        if b1:
            bn = self.reshape(bn, [sb[0], 1], self.fresh(out + ".b2"), where)
            sb = [sb[0], 1]
        sa2 = sa[:-2] + ([sa[-1], sa[-2]] if ta else sa[-2:])
        sb2 = sb[:-2] + ([sb[-1], sb[-2]] if tb else sb[-2:])
        lead = self.broadcast([sa2[:-2], sb2[:-2]], where) if len(sa2) > 2 or len(sb2) > 2 else []
        shape = lead + [sa2[-2], sb2[-1]]
        final = shape[:-2] + ([] if a1 else [shape[-2]]) + ([] if b1 else [shape[-1]])
        attrs = {}
        if ta:
            attrs["transpose_a"] = True
        if tb:
            attrs["transpose_b"] = True
        mid = out if not (a1 or b1) else self.fresh(out + ".mm")
        self.emit("matmul", [an, bn], [mid], attrs or None, name)
        if a1 or b1:
            self.reshape(mid, final, out, where)
        return final, da

    def op_MatMul(self, node, ins, attrs, where):
        a, b = self.value(ins[0], where), self.value(ins[1], where)
        shape, dt = self.matmul_core(a, b, node.output[0], where, node.name or None)
        self.rt[node.output[0]] = (node.output[0], dt, shape)

    def op_Gemm(self, node, ins, attrs, where):
        a, b = self.value(ins[0], where), self.value(ins[1], where)
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        out = node.output[0]
        has_c = len(ins) > 2 and ins[2] and beta != 0.0
        mm = self.fresh(out + ".mm") if has_c or alpha != 1.0 else out
        shape, dt = self.matmul_core(a, b, mm, where, node.name or None,
                                     bool(attrs.get("transA", 0)), bool(attrs.get("transB", 0)))
        cur = mm
        if alpha != 1.0:
            nxt = out if not has_c else self.fresh(out + ".alpha")
            self.emit("mul", [cur, self.const(alpha, dt)], [nxt])
            cur = nxt
        if has_c:
            if ins[2] in self.known and not is_sym(self.known[ins[2]]):
                c = self.const(self.known[ins[2]].astype(np.float64) * beta, dt)
            else:
                c, _, _ = self.value(ins[2], where)
                if beta != 1.0:
                    cb = self.fresh(out + ".beta")
                    self.emit("mul", [c, self.const(beta, dt)], [cb])
                    c = cb
            self.emit("add", [cur, c], [out])
        self.rt[out] = (out, dt, shape)

    def op_Softmax(self, node, ins, attrs, where):
        self.unary(node, ins, where, "softmax", {"axis": int(attrs.get("axis", -1))})

    def norm_weight(self, name, size, dt, where):
        if not name:
            return ""
        if name in self.known and not is_sym(self.known[name]):
            a = self.known[name]
            if a.size != size if isinstance(size, int) else a.ndim != 1:
                raise ImportError_(f"{where}: scale/bias of shape {list(a.shape)} for a last dim of {size}")
            return self.const(a.reshape(-1).astype(np.float64), dt)
        w, _, s = self.value(name, where)
        if len(s) != 1:
            w = self.reshape(w, [size], self.fresh(name + ".1d"), where)
        return w

    def op_LayerNormalization(self, node, ins, attrs, where, op="layernorm", eps_default=1e-5):
        x, dt, shape = self.value(ins[0], where)
        for extra in node.output[1:]:
            if extra and any(extra in n.input for n in self.model.graph.node) or \
                    extra in [o.name for o in self.model.graph.output]:
                raise ImportError_(f"{where}: the mean / inverse std outputs are not supported")
        if dt not in FLOATS:
            raise ImportError_(f"{where}: takes a float input, got {dt}")
        r = len(shape)
        axis = int(attrs.get("axis", -1)) % r
        out = node.output[0]
        eps = float(attrs.get("epsilon", eps_default))
        if axis != r - 1:
            tail = shape[axis:]
            if not all(isinstance(d, int) for d in tail):
                raise ImportError_(f"{where}: normalizes over symbolic dims {tail}")
            size = int(np.prod(tail))
            xin = self.reshape(x, shape[:axis] + [size], self.fresh(out + ".flat"), where)
        else:
            size, xin = shape[-1], x
        ws = [self.norm_weight(n, size, dt, where) for n in ins[1:3 if op == "layernorm" else 2]]
        while ws and not ws[-1]:
            ws.pop()
        mid = out if axis == r - 1 else self.fresh(out + ".n")
        self.emit(op, [xin] + ws, [mid], {"eps": eps}, node.name or None)
        if axis != r - 1:
            self.reshape(mid, shape, out, where)
        self.rt[out] = (out, dt, shape)

    def op_SimplifiedLayerNormalization(self, node, ins, attrs, where):
        self.op_LayerNormalization(node, ins, attrs, where, "rmsnorm", 1e-5)

    def reduce(self, node, ins, attrs, where, op):
        x, dt, shape = self.value(ins[0], where)
        if dt not in FLOATS:
            raise ImportError_(f"{where}: tessera reduces floats only, got {dt}")
        if len(ins) > 1 and ins[1]:
            if ins[1] not in self.known or is_sym(self.known[ins[1]]):
                raise ImportError_(f"{where}: axes must be known when converting")
            axes = [int(v) for v in self.known[ins[1]].reshape(-1)]
        else:
            axes = list(attrs.get("axes", []))
        keep = bool(attrs.get("keepdims", 1))
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                self.rt[node.output[0]] = (x, dt, shape)
                return
            axes = list(range(len(shape)))
        r = len(shape)
        axes = sorted({a % r for a in axes}) if r else []
        out = node.output[0]
        if not axes:  # a scalar: nothing to reduce
            self.rt[out] = (x, dt, shape)
            return
        if op == "reduce_max" and any(shape[k] == 0 for k in axes):
            # ONNX gives -inf (the identity of max); tessera refuses a max of nothing.
            raise ImportError_(f"{where}: ReduceMax over an empty axis of shape {shape}")
        self.emit(op, [x], [out], {"axes": axes, "keepdims": keep}, node.name or None)
        self.rt[out] = (out, dt, [1 if k in axes else d for k, d in enumerate(shape)
                                  if keep or k not in axes])

    def op_ReduceMean(self, node, ins, attrs, where):
        self.reduce(node, ins, attrs, where, "reduce_mean")

    def op_ReduceSum(self, node, ins, attrs, where):
        self.reduce(node, ins, attrs, where, "reduce_sum")

    def op_ReduceMax(self, node, ins, attrs, where):
        self.reduce(node, ins, attrs, where, "reduce_max")

    def op_Gather(self, node, ins, attrs, where):
        t, dt, st = self.value(ins[0], where)
        i, di, si = self.value(ins[1], where)
        axis = int(attrs.get("axis", 0)) % len(st)
        self.emit("gather", [t, i], [node.output[0]], {"axis": axis} if axis else None,
                  node.name or None)
        self.rt[node.output[0]] = (node.output[0], dt, st[:axis] + si + st[axis + 1:])

    def known_ints(self, name, where, what):
        if name not in self.known:
            raise ImportError_(f"{where}: {what} is computed at run time; tessera needs it "
                               f"when converting")
        return self.known[name].reshape(-1).tolist()

    def op_Reshape(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        dims = self.known_ints(ins[1], where, "the target shape")
        if not attrs.get("allowzero", 0):
            dims = [shape[k] if isinstance(d, int) and d == 0 else d for k, d in enumerate(dims)]
        dims = [int(d) if isinstance(d, (int, np.integer)) else d for d in dims]
        # An opaque entry (an expression of symbols) is unknown: it becomes -1.
        opaque = [d for d in dims if isinstance(d, str) and d.startswith("?")]
        if opaque and -1 in dims:
            raise ImportError_(f"{where}: target shape {dims} has -1 and an expression of symbols")
        attr_dims = [-1 if isinstance(d, str) and d.startswith("?") else d for d in dims]
        if attr_dims.count(-1) > 1:
            raise ImportError_(f"{where}: target shape {dims} has more than one unknown dim")
        full = self.infer_minus_one(shape, attr_dims)
        out = node.output[0]
        if full == shape and -1 not in attr_dims:
            self.rt[out] = (x, dt, shape)
            return
        self.emit("reshape", [x], [out], {"shape": attr_dims}, node.name or None)
        self.rt[out] = (out, dt, full)

    def to_shape(self, node, x, dt, shape, new, where):
        out = node.output[0]
        if new == shape:
            self.rt[out] = (x, dt, shape)
            return
        self.reshape(x, new, out, where, node.name or None)
        self.rt[out] = (out, dt, new)

    def op_Unsqueeze(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        axes = self.known_ints(ins[1], where, "axes") if len(ins) > 1 and ins[1] else \
            list(attrs.get("axes", []))
        r = len(shape) + len(axes)
        new = list(shape)
        for ax in sorted(int(a) % r for a in axes):
            new.insert(ax, 1)
        self.to_shape(node, x, dt, shape, new, where)

    def op_Squeeze(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        axes = self.known_ints(ins[1], where, "axes") if len(ins) > 1 and ins[1] else \
            list(attrs.get("axes", []))
        r = len(shape)
        if not axes and any(not isinstance(d, int) for d in shape):
            raise ImportError_(f"{where}: Squeeze without axes on symbolic shape {shape}: "
                               f"which dims go depends on sizes known only at run time")
        axes = {int(a) % r for a in axes} if axes else {k for k, d in enumerate(shape) if d == 1}
        new = [d for k, d in enumerate(shape) if k not in axes]
        self.to_shape(node, x, dt, shape, new, where)

    def op_Flatten(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        axis = int(attrs.get("axis", 1))
        axis = axis + len(shape) if axis < 0 else axis  # [-r, r]: -r is 0

        def prod(ds):
            return self.infer_minus_one(ds, [-1])[0] if ds else 1
        self.to_shape(node, x, dt, shape, [prod(shape[:axis]), prod(shape[axis:])], where)

    def op_Transpose(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        perm = list(attrs.get("perm", range(len(shape) - 1, -1, -1)))
        self.emit("transpose", [x], [node.output[0]], {"perm": perm}, node.name or None)
        self.rt[node.output[0]] = (node.output[0], dt, [shape[p] for p in perm])

    def op_Concat(self, node, ins, attrs, where):
        vals = [self.value(n, where) for n in ins if n]
        dt, s0 = vals[0][1], vals[0][2]
        axis = int(attrs["axis"]) % len(s0)
        vals = [v for v in vals if v[2][axis] != 0] or vals[:1]
        total = vals[0][2][axis]
        for v in vals[1:]:
            total = sym_op("Add", total, v[2][axis])
        shape = s0[:axis] + [total] + s0[axis + 1:]
        if len(vals) == 1:
            self.rt[node.output[0]] = vals[0]
            return
        self.emit("concat", [v[0] for v in vals], [node.output[0]], {"axis": axis},
                  node.name or None)
        self.rt[node.output[0]] = (node.output[0], dt, shape)

    def op_Slice(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        starts = self.known_ints(ins[1], where, "starts")
        ends = self.known_ints(ins[2], where, "ends")
        axes = self.known_ints(ins[3], where, "axes") if len(ins) > 3 and ins[3] else \
            list(range(len(starts)))
        steps = self.known_ints(ins[4], where, "steps") if len(ins) > 4 and ins[4] else \
            [1] * len(starts)
        for v in axes + steps:
            if not isinstance(v, (int, np.integer)):
                raise ImportError_(f"{where}: slice axes or steps depend on symbolic dim {v}")
        cur, out = x, node.output[0]
        shape = list(shape)
        todo = list(zip(starts, ends, axes, steps))
        if not todo:
            self.rt[out] = (x, dt, shape)
            return
        for k, (s, e, ax, st) in enumerate(todo):
            ax, st = int(ax) % len(shape), int(st)
            d = shape[ax]
            nxt = out if k == len(todo) - 1 else self.fresh(f"{out}.{k}")
            if isinstance(e, str) and e == d and st > 0:
                e = BIG  # x[s:seq] on a dim of size seq runs to its end
            if isinstance(s, str) or isinstance(e, str):
                if isinstance(s, (int, np.integer)) and s == 0 and st == 1 and \
                        isinstance(e, str) and not e.startswith("?"):
                    # x[:seq] of a longer dim (a position table, a causal-mask
                    # buffer): gather rows 0 .. seq-1, counted by an iota that
                    # folds once seq is bound. ONNX clamps seq to the dim; a seq
                    # beyond it is a run-time index error in tessera's gather.
                    pos = self.iota([e], "i32", self.fresh(f"{out}.pos{k}"), where)
                    self.emit("gather", [cur, pos], [nxt], {"axis": ax} if ax else None,
                              (node.name or None) if nxt == out else None)
                    shape[ax] = e
                    cur = nxt
                    continue
                raise ImportError_(f"{where}: slice [{s}:{e}:{st}] of axis {ax} (size {d}) has a "
                                   f"symbolic bound other than 0 .. the whole dim or 0 .. a symbol "
                                   f"with step 1: not expressible in tessera (--bind the symbol)")
            s, e = max(-BIG, min(BIG, int(s))), max(-BIG, min(BIG, int(e)))
            if isinstance(d, int):
                shape[ax] = len(range(*slice(s, e, st).indices(d)))
            elif not (s == 0 and st == 1 and e >= BIG):
                shape[ax] = f"?(slice {d})"
            self.emit("slice", [cur], [nxt], {"axis": ax, "start": s, "end": e, "step": int(st)},
                      (node.name or None) if nxt == out else None)
            cur = nxt
        self.rt[out] = (out, dt, shape)

    def op_Split(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        axis = int(attrs.get("axis", 0)) % len(shape)
        d = shape[axis]
        outs = list(node.output)
        if len(ins) > 1 and ins[1]:
            sizes = [int(v) for v in self.known_ints(ins[1], where, "split sizes")]
        else:
            if not isinstance(d, int):
                raise ImportError_(f"{where}: splits symbolic dim {d} without sizes")
            n = int(attrs.get("num_outputs", len(outs)))
            chunk = -(-d // n)
            sizes = [chunk] * (n - 1) + [d - chunk * (n - 1)]
        tnames = [o if o else self.fresh(f"{node.name or 'split'}.unused{k}")
                  for k, o in enumerate(outs)]
        self.emit("split", [x], tnames, {"axis": axis, "sizes": sizes}, node.name or None)
        for o, s in zip(outs, sizes):
            if o:
                self.rt[o] = (o, dt, shape[:axis] + [s] + shape[axis + 1:])

    def op_Expand(self, node, ins, attrs, where):
        x, dt, shape = self.value(ins[0], where)
        target = self.known_ints(ins[1], where, "the target shape")
        rank = max(len(shape), len(target))
        xs = [1] * (rank - len(shape)) + list(shape)
        ts = [1] * (rank - len(target)) + list(target)
        ones, new = [], []
        for a, t in zip(xs, ts):
            t = t if isinstance(t, str) else int(t)
            if a == 1 and t != 1:
                ones.append(t)
                new.append(t)
            else:
                ones.append(1)
                new.append(a)
        out = node.output[0]
        if new == list(shape):
            self.rt[out] = (x, dt, shape)
            return
        # where(true, x, x) broadcasts x to the shape of a small all-true
        # tensor: a constant, or an iota (of ones, cast) over symbolic dims.
        if all(isinstance(d, int) for d in ones):
            cond = self.const(np.ones(ones, dtype=bool), "bool")
        else:
            cond = self.fill(ones, "bool", True, self.fresh(out + ".all"), where)
        self.emit("where", [cond, x, x], [out], None, node.name or None)
        self.rt[out] = (out, dt, new)

    def refuse_runtime(self, node, ins, attrs, where):
        missing = [x for x in ins if x and x not in self.known]
        raise ImportError_(f"{where}: needs its inputs known when converting, but "
                           f"{missing} are computed at run time")

    op_Constant = refuse_runtime

    def known_scalar(self, name, where, what):
        if name not in self.known:
            self.refuse_runtime(None, [name], None, where)
        a = np.asarray(self.known[name])
        if a.size != 1:
            raise ImportError_(f"{where}: {what} has shape {list(a.shape)}, not a scalar")
        return a.reshape(-1)[0]

    def op_Range(self, node, ins, attrs, where):
        """Range(start, limit, delta) over a symbolic limit: an iota of length
        limit − start (which must be a symbol: start 0, delta 1)."""
        start, limit, delta = (self.known_scalar(n, where, w) for n, w in
                               zip(ins, ("start", "limit", "delta")))
        numeric = [np.asarray(self.known[n]) for n in ins if not is_sym(self.known[n])]
        dt = np_dtype_name(numeric[0]) if numeric else "i64"
        for v, what in ((start, "start"), (delta, "delta")):
            if isinstance(v, str):
                raise ImportError_(f"{where}: {what} {v} depends on symbolic dims: "
                                   f"only the limit may (--bind the symbols)")
            if not float(v).is_integer():
                raise ImportError_(f"{where}: {what} {v} is not an integer: tessera's iota "
                                   f"counts in integer steps")
        if dt in ("f16", "bf16") and int(attrs.get("stash_type", 1)) != 1:
            raise ImportError_(f"{where}: stash_type {attrs['stash_type']} accumulates in "
                               f"{dt}: tessera's iota rounds each value once")
        start, delta = int(start), int(delta)
        n = sym_op("Sub", limit, start)
        if delta != 1 or not isinstance(n, str) or n.startswith("?"):
            raise ImportError_(f"{where}: Range({start}, {limit}, {delta}) has a length that is "
                               f"no symbol or integer (tessera's iota needs one; --bind the "
                               f"symbols)")
        out = node.output[0]
        self.iota([n], dt, out, where, start=start, step=delta, name=node.name or None)
        self.rt[out] = (out, dt, [n])

    def op_ConstantOfShape(self, node, ins, attrs, where):
        """ConstantOfShape of a symbolic shape: an iota with step 0."""
        if ins[0] not in self.known:
            self.refuse_runtime(node, ins, attrs, where)
        shape = list(np.asarray(self.known[ins[0]]).reshape(-1))
        v = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
        dt = np_dtype_name(v)
        out = node.output[0]
        if not shape:
            raise ImportError_(f"{where}: a scalar of a symbolic shape")  # cannot happen
        self.fill(shape, dt, v.reshape(-1)[0], out, where, node.name or None)
        self.rt[out] = (out, dt, [d if isinstance(d, str) else int(d) for d in shape])


SUPPORTED = {
    "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Neg", "Exp", "Log",
    "Tanh", "Erf", "Relu", "Sigmoid", "Gelu", "Softmax", "LayerNormalization",
    "SimplifiedLayerNormalization", "ReduceMean", "ReduceSum", "ReduceMax", "Gather", "Reshape",
    "Transpose", "Unsqueeze", "Squeeze", "Concat", "Slice", "Split", "Shape", "Constant",
    "ConstantOfShape", "Cast", "Where", "Equal", "Expand", "Range", "Identity",
    # cheap extras seen in exports
    "Abs", "Max", "Min", "Dropout", "Flatten",
    # pooling clamps, masks and SDPA exports (issue #7)
    "Clip", "IsNaN", "Not", "And", "Or", "Greater", "Less", "GreaterOrEqual", "LessOrEqual",
}
# Ops that never fold even with known inputs (Shape of a known array folds fine
# through the reference evaluator; none need this today).
NO_FOLD = set()


def convert(path, binds=None):
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # noqa: BLE001 -- protobuf raises many kinds
        raise ImportError_(f"{path}: not a readable ONNX model ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else 'parse error'})")
    if not model.graph.node and not model.graph.output:
        raise ImportError_(f"{path}: not a readable ONNX model (no graph)")
    c = Converter(model, path, binds)
    return c.run(), c.weights


def dump_graph(graph):
    """JSON with one input, node or output per line: diffable and readable."""
    lines = ["{"]
    items = list(graph.items())
    for k, (key, v) in enumerate(items):
        end = "," if k < len(items) - 1 else ""
        if isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"  {json.dumps(key)}: [")
            lines += [f"    {json.dumps(e)}" + ("," if j < len(v) - 1 else "")
                      for j, e in enumerate(v)]
            lines.append("  ]" + end)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(v)}{end}")
    return "\n".join(lines + ["}"]) + "\n"


def bind_arg(text):
    """NAME=SIZE for --bind."""
    name, eq, size = text.partition("=")
    if not eq or not name or not size.strip().isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=SIZE with SIZE a positive integer")
    return name, int(size)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="onnx2tessera",
                                 description="Converts an ONNX model to a tessera graph.")
    ap.add_argument("model", help="the .onnx file")
    ap.add_argument("-o", "--output", required=True, metavar="DIR",
                    help="folder for graph.json and weights.safetensors")
    ap.add_argument("--bind", action="append", default=[], type=bind_arg, metavar="NAME=SIZE",
                    help="fix the symbolic input dim NAME (its dim_param) to SIZE, so that "
                         "shape code over it folds (repeatable)")
    opt = ap.parse_args(argv)
    binds = {}
    for name, size in opt.bind:
        if binds.get(name, size) != size:
            ap.error(f"--bind {name}: given twice, as {binds[name]} and {size}")
        binds[name] = size
    try:
        graph, weights = convert(opt.model, binds)
        os.makedirs(opt.output, exist_ok=True)
        stio.write(os.path.join(opt.output, "weights.safetensors"), weights)
        with open(os.path.join(opt.output, "graph.json"), "w") as f:
            f.write(dump_graph(graph))
    except UsageError as e:
        print(f"onnx2tessera: {e}", file=sys.stderr)
        return 2
    except ImportError_ as e:
        print(f"onnx2tessera: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"onnx2tessera: {e}", file=sys.stderr)
        return 1
    print(f"wrote {opt.output}/graph.json: {len(graph['nodes'])} nodes, "
          f"{len(weights)} weights, symbols {graph.get('symbols', {})}")
    return 0
