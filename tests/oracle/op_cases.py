"""op_cases.py — the op oracle's cases: for every op of FORMAT.md, small
one-node graphs with random inputs and the expected outputs, computed here in
float64 with numpy straight from FORMAT.md's wording (never from the C code).

A case is a name ("add/f32_7x17_7x17"), an op and a build function. build()
draws the inputs from a random generator seeded by the case's name (so a case's
data does not depend on which other cases run), rounds them to their dtype
(the stored values are the values), computes the expected outputs in float64
from those stored values, and rounds them once to the output dtype.

Tolerances (see compare() in run_op_cases.py) depend on the output dtype and on
each output's reduction length k (0 for element-wise and data-movement ops).

Where FORMAT.md is silent, the cases take the reading below, and stay away from
what it leaves undefined:
  - neg, abs, relu take integers too (only "transcendental functions" are said
    to be float-only); pow and matmul get float cases only.
  - int -> float casts round to nearest even, once (no detour through double:
    see cast/i64_to_f32_large); float -> int stays inside the target's range.
  - integer results never overflow; float inputs are never NaN except in casts.
  - no zero-size tensors.

Only the standard library and numpy are used.
"""
import math
import sys
import zlib

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
import stio  # noqa: E402

FLOATS = stio.FLOAT_DTYPES
INTS = stio.INT_DTYPES
ALL_DTYPES = FLOATS + INTS + ("bool",)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

class Built:
    """A case made concrete: the graph (a dict, written as graph.json), the
    input tensors and the expected outputs (name -> (dtype, array)), and the
    reduction length of each output (name -> k)."""

    def __init__(self, graph, inputs, want, k):
        self.graph = graph
        self.inputs = inputs
        self.want = want
        self.k = k
        self.signed_zeros = False  # when True, +0 and -0 must match too


class Case:
    """One oracle case. `build` is a function of a numpy Generator -> Built."""

    def __init__(self, name, op, build):
        self.name = name
        self.op = op
        self._build = build

    def build(self):
        rng = np.random.default_rng(zlib.crc32(self.name.encode("utf-8")))
        built = self._build(rng)
        built.graph["name"] = self.name
        return built


CASES = []


def add_case(name, op, build):
    full = f"{op}/{name}"
    if any(c.name == full for c in CASES):
        raise ValueError(f"duplicate case {full}")
    CASES.append(Case(full, op, build))


def graph_of(name, op, inputs, outputs, attrs=None, node_inputs=None,
             input_shapes=None, symbols=None):
    """The one-node graph of a case. inputs: [(name, dtype, array)] become the
    graph inputs (shapes from the arrays unless input_shapes gives symbolic
    ones); node_inputs (default: the graph inputs' names) lets a case omit an
    optional input with ""; outputs: [(name, dtype, want)]."""
    g = {"format": "tessera.graph", "version": 1, "name": name}
    if symbols:
        g["symbols"] = symbols
    g["inputs"] = [
        {"name": n, "dtype": dt,
         "shape": (input_shapes or {}).get(n, [int(d) for d in np.shape(a)])}
        for n, dt, a in inputs
    ]
    node = {"name": f"{op}.node", "op": op,
            "inputs": node_inputs if node_inputs is not None else [n for n, _, _ in inputs],
            "outputs": [n for n, _, _ in outputs]}
    if attrs:
        node["attrs"] = attrs
    g["nodes"] = [node]
    g["outputs"] = [n for n, _, _ in outputs]
    return g


def single(name, op, inputs, outputs, attrs=None, k=0, **kw):
    """Builds a Built for a one-node graph; want arrays are rounded here to
    their output dtype."""
    graph = graph_of(name, op, inputs, outputs, attrs, **kw)
    ins = {n: (dt, a) for n, dt, a in inputs}
    want = {n: (dt, expect_as(w, dt)) for n, dt, w in outputs}
    ks = {n: k for n, _, _ in outputs}
    return Built(graph, ins, want, ks)


def expect_as(w, dtype):
    """Rounds an exact (float64 / int) expected result to dtype, keeping it in
    float64 (floats), int64 (integers) or bool."""
    w = np.asarray(w)
    if dtype in FLOATS:
        return stio.round_float(w.astype(np.float64), dtype)
    if dtype == "bool":
        return w != 0
    return stio.to_dtype(w, dtype).astype(np.int64)


def shape_tag(shape):
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


# ---------------------------------------------------------------------------
# Random data (values as stored: already rounded to their dtype)
# ---------------------------------------------------------------------------

def rand_float(rng, dtype, shape, lo=0.1, hi=2.0, positive=False):
    """|x| uniform in [lo, hi) with a random sign (or positive), rounded to
    dtype, as float64. Never zero."""
    mag = rng.uniform(lo, hi, size=shape)
    if not positive:
        mag = mag * rng.choice([-1.0, 1.0], size=shape)
    return stio.round_float(mag, dtype)


def rand_int(rng, shape, lo=1, hi=1000, positive=False):
    """|x| uniform in [lo, hi] with a random sign, as int64. Never zero when
    lo >= 1."""
    mag = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    if positive:
        return mag
    return mag * rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)


def rand_bool(rng, shape):
    return rng.random(size=shape) < 0.5


def rand_of(rng, dtype, shape, wide=False, **kw):
    """Random values of any dtype with the per-dtype defaults above; wide
    integers span the dtype's whole range (for ops that only move data, so that
    an i64 squeezed through a double or an int32 shows)."""
    if dtype in FLOATS:
        return rand_float(rng, dtype, shape, **kw)
    if dtype == "bool":
        return rand_bool(rng, shape)
    if wide:
        return rand_int(rng, shape, 1, int(np.iinfo(stio.NUMPY_DTYPE[dtype]).max))
    return rand_int(rng, shape, **kw)


# ---------------------------------------------------------------------------
# Element-wise ops
# ---------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def int_div(a, b):
    """Integer division truncating toward zero (C's /)."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


def binary_ref(op, a, b, is_int):
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return int_div(a, b) if is_int else a / b
    if op == "pow":
        return np.power(a, b)
    if op == "maximum":
        return np.maximum(a, b)
    if op == "minimum":
        return np.minimum(a, b)
    raise KeyError(op)


def gelu_ref(x, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def unary_ref(op, x):
    if op == "neg":
        return -x
    if op == "exp":
        return np.exp(x)
    if op == "log":
        return np.log(x)
    if op == "sqrt":
        return np.sqrt(x)
    if op == "rsqrt":
        return 1.0 / np.sqrt(x)
    if op == "tanh":
        return np.tanh(x)
    if op == "erf":
        return _erf(x)
    if op == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if op == "relu":
        return np.maximum(x, 0)
    if op == "silu":
        return x / (1.0 + np.exp(-x))
    if op == "abs":
        return np.abs(x)
    raise KeyError(op)


BINARY_OPS = ("add", "sub", "mul", "div", "pow", "maximum", "minimum")
UNARY_OPS = ("neg", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid",
             "relu", "silu", "abs")
# Input ranges (|x| in [lo, hi), positive or not) per unary op.
UNARY_RANGE = {
    "neg": (0.1, 2, False), "exp": (0.1, 5, False), "log": (0.05, 50, True),
    "sqrt": (0.05, 50, True), "rsqrt": (0.05, 50, True), "tanh": (0.1, 3, False),
    "erf": (0.1, 3, False), "sigmoid": (0.1, 8, False), "relu": (0.1, 2, False),
    "silu": (0.1, 8, False), "abs": (0.1, 2, False), "gelu": (0.1, 5, False),
}


def _binary_case(op, dtype, sa, sb, big=False):
    def build(rng):
        is_int = dtype in INTS
        if is_int:
            # Ranges keep every result inside the dtype (no overflow).
            if dtype == "i64" and big:
                hi_a, hi_b = (2**61, 2**61) if op != "mul" else (2**31, 2**30)
                if op == "div":
                    hi_b = 2**40
            elif op == "mul":
                hi_a, hi_b = (2**15, 2**15)
            elif op == "div":
                hi_a, hi_b = (1000, 40)
            else:
                hi_a, hi_b = (2**29, 2**29)
            a = rand_int(rng, sa, 1, hi_a)
            b = rand_int(rng, sb, 1, hi_b)
            if op == "div" and a.size > 4 and a.shape == b.shape:
                # Exact multiples and |a| < |b| among the random ones.
                a.flat[0] = b.flat[0] * 3
                a.flat[1] = -b.flat[1] * 2
                a.flat[2] = b.flat[2] // 2 if abs(b.flat[2]) > 1 else 1
        else:
            a = rand_float(rng, dtype, sa, positive=(op == "pow"))
            b = rand_float(rng, dtype, sb)
        want = binary_ref(op, a, b, is_int)
        name = f"{op}/{dtype}"
        return single(name, op, [("a", dtype, a), ("b", dtype, b)], [("y", dtype, want)])
    return build


def _unary_case(op, dtype, shape, attrs=None, big=False):
    def build(rng):
        lo, hi, pos = UNARY_RANGE[op]
        if dtype in INTS:
            x = rand_int(rng, shape, 1, 2**62 if big else 10**6)
        else:
            x = rand_float(rng, dtype, shape, lo, hi, positive=pos)
        if op == "gelu":
            want = gelu_ref(x, (attrs or {}).get("approximate", "none"))
        else:
            want = unary_ref(op, x)
        return single(op, op, [("x", dtype, x)], [("y", dtype, want)], attrs)
    return build


def register_elementwise():
    binary_shapes = [
        ("f32", (7, 17), (7, 17)),
        ("f32", (17, 1, 129), (7, 1)),       # both sides stretch
        ("f32", (), (127,)),                 # scalar
        ("f32", (), ()),                     # both scalars
        ("f32", (129,), (2, 7, 1)),
        ("f32", (1,), (3, 4097)),            # long row
        ("f16", (127, 129), (127, 129)),
        ("f16", (7, 1, 17), (17,)),
        ("bf16", (129, 127), (129, 127)),
        ("bf16", (1, 7), (17, 1)),
        # Past 16384 elements a CPU kernel splits into several thread-pool
        # tasks; rows of 4097 leave a tail of one after every vector loop.
        ("f32", (33, 4097), (4097,)),
        ("f16", (9, 4097), (9, 1)),
        ("bf16", (4097,), (9, 1)),
    ]
    int_shapes = [
        ("i32", (7, 17), (7, 17)),
        ("i32", (17, 1), (1, 129)),
        ("i64", (129, 7), (129, 7)),
        ("i64", (7, 1, 17), (1, 17)),
        ("i32", (9, 4097), (4097,)),
        ("i64", (4097,), (9, 1)),
    ]
    for op in BINARY_OPS:
        for dt, sa, sb in binary_shapes:
            add_case(f"{dt}_{shape_tag(sa)}_{shape_tag(sb)}", op, _binary_case(op, dt, sa, sb))
        if op == "pow":
            continue  # pow on integers: not defined by FORMAT.md
        for dt, sa, sb in int_shapes:
            add_case(f"{dt}_{shape_tag(sa)}_{shape_tag(sb)}", op, _binary_case(op, dt, sa, sb))
        # i64 past 2**53: exact integer arithmetic, not through double.
        add_case("i64_big_7x17", op, _binary_case(op, "i64", (7, 17), (7, 17), big=True))

    unary_shapes = [("f32", (129, 127)), ("f16", (7, 17)), ("bf16", (17, 129)),
                    ("f32", ()), ("f32", (1, 4097)),
                    # several tasks of a CPU kernel, in each dtype
                    ("f32", (9, 4097)), ("f16", (5, 4097)), ("bf16", (5, 4097))]
    for op in UNARY_OPS:
        for dt, shape in unary_shapes:
            add_case(f"{dt}_{shape_tag(shape)}", op, _unary_case(op, dt, shape))
        if op in ("neg", "abs", "relu"):
            # Not transcendental, so FORMAT.md does not limit them to floats.
            for dt, shape in (("i32", (7, 17)), ("i64", (129,)), ("i32", (5, 4097))):
                add_case(f"{dt}_{shape_tag(shape)}", op, _unary_case(op, dt, shape))
            add_case("i64_big_17x7", op, _unary_case(op, "i64", (17, 7), big=True))
    for approx in ("none", "tanh"):
        for dt, shape in unary_shapes:
            attrs = {"approximate": approx} if approx != "none" else None
            add_case(f"{approx}_{dt}_{shape_tag(shape)}", "gelu",
                     _unary_case("gelu", dt, shape, attrs))
    add_case("none_explicit_f32_7x17", "gelu",
             _unary_case("gelu", "f32", (7, 17), {"approximate": "none"}))

    # Edge values of the element-wise ops.
    def int_div_edges(dtype):
        def build(rng):
            a = np.array([7, -7, 7, -7, 1, -1, 0, 6, -6, 5, -5, 123456], dtype=np.int64)
            b = np.array([2, 2, -2, -2, 3, 3, 5, -3, 3, 5, -5, -1000], dtype=np.int64)
            if dtype == "i64":
                a = np.concatenate([a, [2**62 + 3, -(2**62) - 3]])
                b = np.concatenate([b, [2, 2]])
            want = np.array([x // y if (x < 0) == (y < 0) else -(abs(x) // abs(y))
                             for x, y in zip(a.tolist(), b.tolist())], dtype=np.int64)
            assert np.array_equal(want, int_div(a, b))
            return single("div edges", "div", [("a", dtype, a), ("b", dtype, b)],
                          [("y", dtype, want)])
        return build
    add_case("i32_truncation_edges", "div", int_div_edges("i32"))
    add_case("i64_truncation_edges", "div", int_div_edges("i64"))

    def neg_zero(rng):
        x = np.array([0.0, -0.0, 1.5, -2.25], dtype=np.float64)
        built = single("neg zero", "neg", [("x", "f32", x)], [("y", "f32", -x)])
        built.signed_zeros = True
        return built
    add_case("f32_signed_zero", "neg", neg_zero)


# ---------------------------------------------------------------------------
# cast and where
# ---------------------------------------------------------------------------

def int_to_float_exact(values, dtype):
    """Rounds integers to a float dtype, ties to even, without passing through
    float64 (which would round twice for |x| > 2**53)."""
    bits = {"f32": 24, "f16": 11, "bf16": 8}[dtype]
    out = []
    for v in np.asarray(values).ravel().tolist():
        m = abs(v)
        n = m.bit_length()
        if n > bits:
            shift = n - bits
            q, r = divmod(m, 1 << shift)
            half = 1 << (shift - 1)
            if r > half or (r == half and q & 1):
                q += 1
            m = q << shift
        out.append(math.copysign(float(m), v) if m < 2**1000 else math.inf)
    res = np.array(out, dtype=np.float64).reshape(np.shape(values))
    return stio.round_float(res, dtype)  # only turns overflow into inf


def cast_ref(x, src, dst):
    """FORMAT.md: float -> narrower float rounds to nearest even; float ->
    integer truncates toward zero; bool <-> number is 0/1 and x != 0."""
    if dst == "bool":
        return np.asarray(x) != 0
    if src == "bool":
        return np.asarray(x).astype(np.int64) if dst in INTS else np.asarray(x).astype(np.float64)
    if dst in FLOATS:
        if src in INTS:
            return int_to_float_exact(x, dst)
        return stio.round_float(x, dst)
    if src in FLOATS:
        return np.trunc(x).astype(np.int64)
    return np.asarray(x, dtype=np.int64)


def _cast_data(rng, src, dst, shape):
    """Random data for a cast that stays inside the target's range."""
    if src == "bool":
        return rand_bool(rng, shape)
    if src in FLOATS:
        if dst in INTS or dst == "bool":
            x = rand_float(rng, src, shape, 0.1, 1000.0)
        else:
            # Magnitudes from 1e-6 (f16 subnormals) to 1e4.
            mag = rng.uniform(1, 10, size=shape) * 10.0 ** rng.integers(-6, 4, size=shape)
            x = stio.round_float(mag * rng.choice([-1.0, 1.0], size=shape), src)
        if dst == "bool":
            x.flat[0] = 0.0
            if x.size > 1:
                x.flat[1] = -0.0
        return x
    # integer source
    hi = {"f16": 60000, "bf16": 2**20, "f32": 2**30 if src == "i32" else 2**40,
          "i32": 2**30, "i64": 2**30 if src == "i32" else 2**50, "bool": 5}[dst]
    x = rand_int(rng, shape, 1, hi)
    if dst == "bool":
        x.flat[0] = 0
    return x


def _cast_case(src, dst, shape):
    def build(rng):
        x = _cast_data(rng, src, dst, shape)
        want = cast_ref(x, src, dst)
        return single(f"cast {src}->{dst}", "cast", [("x", src, x)], [("y", dst, want)],
                      {"to": dst})
    return build


def _cast_values_case(src, dst, values, want=None):
    """A cast of hand-picked values; want defaults to cast_ref's."""
    def build(rng):
        x = np.array(values, dtype=np.int64 if src in INTS else np.float64)
        if src in FLOATS:
            assert np.array_equal(stio.round_float(x, src), x, equal_nan=True), \
                "values must be exact in the source dtype"
        w = cast_ref(x, src, dst)
        if want is not None:  # hand-written: also a check of cast_ref itself
            hand = expect_as(np.array(want), dst)
            assert np.array_equal(expect_as(w, dst), hand, equal_nan=dst in FLOATS), \
                f"cast_ref {src}->{dst} disagrees with the hand-written values"
            w = hand
        return single(f"cast {src}->{dst}", "cast", [("x", src, x)], [("y", dst, w)],
                      {"to": dst})
    return build


def _where_case(dtype, sc, sa, sb):
    def build(rng):
        c = rand_bool(rng, sc)
        a = rand_of(rng, dtype, sa, wide=True)
        b = rand_of(rng, dtype, sb, wide=True)
        want = np.where(c, a, b)
        return single("where", "where", [("cond", "bool", c), ("a", dtype, a),
                                         ("b", dtype, b)], [("y", dtype, want)])
    return build


def register_cast_where():
    for src in ALL_DTYPES:
        for dst in ALL_DTYPES:
            add_case(f"{src}_to_{dst}_7x17", "cast", _cast_case(src, dst, (7, 17)))
    add_case("f32_to_f16_4097", "cast", _cast_case("f32", "f16", (4097,)))
    add_case("f32_to_bf16_3x129", "cast", _cast_case("f32", "bf16", (3, 129)))
    # Long rows split into several CPU tasks.
    for src, dst in (("f16", "f32"), ("bf16", "f32"), ("f32", "bf16"), ("i64", "f32"),
                     ("f32", "i32"), ("bool", "f16"), ("f16", "i64"), ("i32", "bool")):
        add_case(f"{src}_to_{dst}_9x4097", "cast", _cast_case(src, dst, (9, 4097)))
    add_case("f32_to_f16_127x1", "cast", _cast_case("f32", "f16", (127, 1)))
    add_case("i64_to_bf16_1", "cast", _cast_case("i64", "bf16", (1,)))
    # Round to nearest, ties to even; overflow; subnormals.
    add_case("f32_to_f16_ties", "cast", _cast_values_case("f32", "f16", [
        1 + 2**-11, 1 + 3 * 2**-11, -(1 + 2**-11), 1 + 2**-11 + 2**-20, 2049.0, 2051.0,
        65504.0, 65519.0, 65520.0, -65520.0, 1e6, 2**-25, 3 * 2**-25, 2**-26, 2**-14,
        2**-14 - 2**-25, float("inf"), float("-inf"), 0.0, -0.0],
        [1.0, 1 + 2**-9, -1.0, 1 + 2**-10, 2048.0, 2052.0, 65504.0, 65504.0,
         float("inf"), float("-inf"), float("inf"), 0.0, 2**-23, 0.0, 2**-14, 2**-14,
         float("inf"), float("-inf"), 0.0, -0.0]))
    add_case("f32_to_bf16_ties", "cast", _cast_values_case("f32", "bf16", [
        1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8), 1 + 2**-8 + 2**-23,
        float.fromhex("0x1.fefp127"), float.fromhex("0x1.ffp127"),
        2**-133, 2**-134, 3 * 2**-134, float("inf")],
        [1.0, 1 + 2**-6, -1.0, 1 + 2**-7, float.fromhex("0x1.fep127"), float("inf"),
         2**-133, 0.0, 2**-132, float("inf")]))
    add_case("f16_to_bf16_ties", "cast", _cast_values_case("f16", "bf16", [
        1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-10, 65504.0, 2**-24],
        [1.0, 1 + 2**-6, 1 + 2**-7, 65536.0, 2**-24]))
    add_case("bf16_to_f16_range", "cast", _cast_values_case("bf16", "f16", [
        1 + 2**-7, 65280.0, 65536.0, 2**-24, 2**-25, 3 * 2**-25, 2**-34],
        [1 + 2**-7, 65280.0, float("inf"), 2**-24, 0.0, 2**-23, 0.0]))
    for src in FLOATS:
        for dst in INTS:
            add_case(f"{src}_to_{dst}_truncation", "cast", _cast_values_case(src, dst, [
                2.5, -2.5, 0.75, -0.75, 1.0, -1.0, 0.0, -0.0, 127.5, -127.5, 1000.0,
                -3.5, 3.5, 0.5, -0.5],
                [2, -2, 0, 0, 1, -1, 0, 0, 127, -127, 1000, -3, 3, 0, 0]))
    add_case("f32_to_i64_large", "cast", _cast_values_case("f32", "i64", [
        2.0**40 + 2**17, -(2.0**40) - 2**17, 2.0**62, -(2.0**62)],
        [2**40 + 2**17, -(2**40) - 2**17, 2**62, -(2**62)]))
    for src in FLOATS:
        add_case(f"{src}_to_bool_specials", "cast", _cast_values_case(src, "bool", [
            0.0, -0.0, 1.0, -0.5, float("inf"), float("-inf"), float("nan"), 2**-14],
            [False, False, True, True, True, True, True, True]))
    for dst in ALL_DTYPES:
        add_case(f"bool_to_{dst}_values", "cast", _cast_values_case(
            "bool", dst, [True, False, True], [1, 0, 1]))
    add_case("i32_to_f16_ties", "cast", _cast_values_case("i32", "f16", [
        2049, 2051, -2049, 4097, 4098, 4099, 4100, 65504, -65504, 3],
        [2048.0, 2052.0, -2048.0, 4096.0, 4096.0, 4100.0, 4100.0, 65504.0, -65504.0, 3.0]))
    add_case("i32_to_f32_ties", "cast", _cast_values_case("i32", "f32", [
        2**24 + 1, 2**24 + 3, -(2**24) - 1, 2**31 - 1, -(2**31)],
        [2.0**24, 2.0**24 + 4, -(2.0**24), 2.0**31, -(2.0**31)]))
    # 2**60 + 2**36 + 1 is just above half an f32 unit past 2**60, so it rounds
    # up; through float64 it would round twice and land on 2**60.
    add_case("i64_to_f32_large", "cast", _cast_values_case("i64", "f32", [
        2**60 + 2**36 + 1, 2**60 + 2**36, 2**60 + 3 * 2**36, -(2**62) - 1, 2**63 - 1],
        [2.0**60 + 2**37, 2.0**60, 2.0**60 + 2**38, -(2.0**62), 2.0**63]))
    add_case("i64_to_i32_negative", "cast", _cast_values_case(
        "i64", "i32", [-1, -(2**31), 2**31 - 1, 7], [-1, -(2**31), 2**31 - 1, 7]))

    where_shapes = [((7, 1, 1), (1, 17, 1), (1, 1, 129)), ((7, 17), (7, 17), (7, 17)),
                    ((129,), (), (17, 129)), ((), (7, 17), (17,))]
    for dt in ALL_DTYPES:
        for sc, sa, sb in where_shapes:
            add_case(f"{dt}_{shape_tag(sc)}_{shape_tag(sa)}_{shape_tag(sb)}", "where",
                     _where_case(dt, sc, sa, sb))
    add_case("f32_4097", "where", _where_case("f32", (2, 4097), (4097,), (2, 1)))
    for dt in ("i64", "f16", "bool"):
        add_case(f"{dt}_9x4097", "where", _where_case(dt, (9, 4097), (4097,), (9, 1)))
    add_case("f32_127x1_1x129_127x129", "where",
             _where_case("f32", (127, 1), (1, 129), (127, 129)))


# ---------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------

def _matmul_case(dtype, sa, sb, ta=False, tb=False):
    def build(rng):
        a = rand_of(rng, dtype, sa, **({"hi": 20} if dtype in INTS else {}))
        b = rand_of(rng, dtype, sb, **({"hi": 20} if dtype in INTS else {}))
        aa = np.swapaxes(a, -1, -2) if ta else a
        bb = np.swapaxes(b, -1, -2) if tb else b
        if dtype in INTS:
            want = np.matmul(aa.astype(np.int64), bb.astype(np.int64))
        else:
            want = np.matmul(aa, bb)
        attrs = {}
        if ta:
            attrs["transpose_a"] = True
        if tb:
            attrs["transpose_b"] = True
        return single("matmul", "matmul", [("a", dtype, a), ("b", dtype, b)],
                      [("y", dtype, want)], attrs, k=aa.shape[-1])
    return build


def register_matmul():
    specs = [
        ("f32", (7, 17), (17, 129), False, False),
        ("f32", (129, 127), (127, 7), False, False),
        ("f32", (1, 17), (17, 1), False, False),            # dot
        ("f32", (2, 3, 7, 17), (17, 5), False, False),       # b broadcast over batch
        ("f32", (5, 1, 7, 17), (1, 3, 17, 129), False, False),  # both batch dims stretch
        ("f32", (3, 17, 7), (3, 17, 129), True, False),
        ("f32", (3, 7, 17), (3, 129, 17), False, True),
        ("f32", (2, 17, 7), (2, 1, 17), True, True),
        ("f32", (7, 17), (2, 3, 17, 5), False, False),       # a broadcast over batch
        ("f32", (1, 129), (129, 127), False, False),         # one row
        ("f32", (2, 1, 17, 7), (3, 5, 17), True, True),      # rank 4 x rank 3, both transposed
        ("f32", (3, 4097), (4097, 5), False, False),         # long reduction
        ("f32", (4097, 2), (7, 4097), True, True),
        ("f16", (7, 129), (129, 17), False, False),
        ("f16", (2, 17, 127), (2, 7, 127), False, True),
        ("bf16", (17, 129), (129, 7), False, False),
        ("bf16", (4, 127, 7), (4, 127, 17), True, False),
        ("f32", (129, 4097), (4097, 17), False, False),      # many tasks, many k blocks
        ("f16", (2, 4097), (4097, 3), False, False),
        ("bf16", (4097, 2), (3, 4097), True, True),
    ]
    for dt, sa, sb, ta, tb in specs:
        tag = ("_ta" if ta else "") + ("_tb" if tb else "")
        add_case(f"{dt}_{shape_tag(sa)}_{shape_tag(sb)}{tag}", "matmul",
                 _matmul_case(dt, sa, sb, ta, tb))


# ---------------------------------------------------------------------------
# softmax, norms, reductions
# ---------------------------------------------------------------------------

def softmax_ref(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def layernorm_ref(x, w, b, eps):
    mean = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mean) ** 2, axis=-1, keepdims=True)  # biased, as in LayerNorm
    y = (x - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def rmsnorm_ref(x, w, eps):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * w if w is not None else y


def _softmax_case(dtype, shape, axis, hi=2.0, neg_inf=False):
    def build(rng):
        x = rand_float(rng, dtype, shape, 0.1, hi)
        if neg_inf:  # some -inf entries (masked logits), never a whole row
            x = np.where(rng.random(size=shape) < 0.3, -np.inf, x)
            np.moveaxis(x, axis, -1)[..., 0] = 1.0
        attrs = {"axis": axis} if axis is not None else None
        ax = -1 if axis is None else axis
        return single("softmax", "softmax", [("x", dtype, x)],
                      [("y", dtype, softmax_ref(x, ax))], attrs, k=shape[ax])
    return build


def _norm_case(op, dtype, shape, use_w=True, use_b=True, eps=None, offset=0.0,
               explicit_axis=None, hi=2.0):
    def build(rng):
        d = shape[-1]
        x = rand_float(rng, dtype, shape, 0.1, hi)
        if offset:
            x = stio.round_float(x + offset, dtype)
        ins = [("x", dtype, x)]
        node_in = ["x"]
        w = b = None
        if use_w:
            w = rand_float(rng, dtype, (d,), 0.5, 1.5)
            ins.append(("weight", dtype, w))
            node_in.append("weight")
        elif op == "layernorm" and use_b:
            node_in.append("")
        if op == "layernorm" and use_b:
            b = rand_float(rng, dtype, (d,), 0.1, 1.0)
            ins.append(("bias", dtype, b))
            node_in.append("bias")
        attrs = {}
        if eps is not None:
            attrs["eps"] = eps
        if explicit_axis is not None:
            attrs["axis"] = explicit_axis  # -1 or rank - 1: the last dim either way
        e = eps if eps is not None else (1e-5 if op == "layernorm" else 1e-6)
        if op == "layernorm":
            want = layernorm_ref(x, w, b, e)
        else:
            want = rmsnorm_ref(x, w, e)
        return single(op, op, ins, [("y", dtype, want)], attrs, k=d, node_inputs=node_in)
    return build


def _reduce_case(op, dtype, shape, axes, keepdims=None):
    def build(rng):
        x = rand_float(rng, dtype, shape)
        ax = tuple(axes)
        kd = bool(keepdims)
        if op == "reduce_sum":
            want = np.sum(x, axis=ax, keepdims=kd)
        elif op == "reduce_mean":
            want = np.mean(x, axis=ax, keepdims=kd)
        else:
            want = np.max(x, axis=ax, keepdims=kd)
        k = int(np.prod([shape[a] for a in axes]))
        attrs = {"axes": list(axes)}
        if keepdims is not None:
            attrs["keepdims"] = keepdims
        return single(op, op, [("x", dtype, x)], [("y", dtype, want)], attrs,
                      k=k if op != "reduce_max" else 0)
    return build


def register_reductions():
    for dt, shape, axis in [("f32", (7, 129), None), ("f32", (7, 129), -1),
                            ("f32", (17, 7), 0), ("f32", (3, 127, 5), 1),
                            ("f32", (3, 127, 5), -2), ("f32", (2, 4097), -1),
                            ("f16", (17, 129), -1), ("bf16", (7, 127), -1),
                            ("f16", (5, 1), -1), ("f16", (3, 4097), -1),
                            ("bf16", (2, 4097), -1), ("f32", (4097, 3), 0)]:
        add_case(f"{dt}_{shape_tag(shape)}_axis{axis}", "softmax",
                 _softmax_case(dt, shape, axis))
    add_case("f32_large_logits_7x129", "softmax", _softmax_case("f32", (7, 129), -1, hi=80.0))
    add_case("f32_neg_inf_entries_7x17", "softmax", _softmax_case("f32", (7, 17), -1, neg_inf=True))
    add_case("f16_neg_inf_entries_17x7_axis0", "softmax",
             _softmax_case("f16", (17, 7), 0, neg_inf=True))

    for op in ("layernorm", "rmsnorm"):
        add_case("f32_7x129", op, _norm_case(op, "f32", (7, 129)))
        add_case("f32_2x17x127_eps1e-2", op, _norm_case(op, "f32", (2, 17, 127), eps=1e-2))
        add_case("f32_no_weight_7x17", op, _norm_case(op, "f32", (7, 17), use_w=False,
                                                      use_b=False))
        add_case("f32_axis-1_17x7", op, _norm_case(op, "f32", (17, 7), explicit_axis=-1))
        add_case("f32_axis2_2x3x17", op, _norm_case(op, "f32", (2, 3, 17), explicit_axis=2))
        add_case("f32_3x4097", op, _norm_case(op, "f32", (3, 4097)))
        add_case("f32_offset100_7x129", op, _norm_case(op, "f32", (7, 129), offset=100.0))
        add_case("f16_17x129", op, _norm_case(op, "f16", (17, 129)))
        add_case("bf16_7x127", op, _norm_case(op, "bf16", (7, 127)))
        add_case("f16_3x4097", op, _norm_case(op, "f16", (3, 4097)))
        add_case("bf16_2x4097", op, _norm_case(op, "bf16", (2, 4097)))
        add_case("f32_1x1", op, _norm_case(op, "f32", (1, 1), eps=0.5))
        # x² passes f16's largest value (65504): the sums must not be kept in f16.
        add_case("f16_large_values_7x129", op, _norm_case(op, "f16", (7, 129), hi=1000.0))
    add_case("f32_bias_only_7x17", "layernorm",
             _norm_case("layernorm", "f32", (7, 17), use_w=False, use_b=True))
    add_case("f32_weight_only_7x17", "layernorm",
             _norm_case("layernorm", "f32", (7, 17), use_w=True, use_b=False))

    for op in ("reduce_sum", "reduce_mean", "reduce_max"):
        for dt, shape, axes, kd in [
                ("f32", (7, 129), [-1], None), ("f32", (7, 129), [0], False),
                ("f32", (5, 17, 7), [0, 2], None), ("f32", (5, 17, 7), [1], True),
                ("f32", (5, 17, 7), [-3, -1], True), ("f32", (5, 17, 7), [0, 1, 2], None),
                ("f32", (3, 4097), [1], None), ("f16", (17, 129), [-1], None),
                ("bf16", (129, 7), [0], True), ("f32", (1, 127), [0], None),
                ("f32", (4097, 3), [0], None), ("f16", (3, 4097), [-1], None),
                ("f32", (9, 4097), [0, 1], None)]:
            tag = "_".join(str(a) for a in axes) + ("_keep" if kd else "")
            add_case(f"{dt}_{shape_tag(shape)}_axes{tag}", op,
                     _reduce_case(op, dt, shape, axes, kd))


# ---------------------------------------------------------------------------
# data movement
# ---------------------------------------------------------------------------

def _transpose_case(dtype, shape, perm):
    def build(rng):
        x = rand_of(rng, dtype, shape, wide=True)
        return single("transpose", "transpose", [("x", dtype, x)],
                      [("y", dtype, np.transpose(x, perm))], {"perm": list(perm)})
    return build


def _reshape_case(dtype, shape, new_shape, symbols=None, in_shape=None, out_shape=None):
    """new_shape is the attribute; out_shape is the concrete shape expected
    (default: numpy's reshape of new_shape)."""
    def build(rng):
        x = rand_of(rng, dtype, shape, wide=True)
        tgt = out_shape if out_shape is not None else new_shape
        want = x.reshape(tgt)
        return single("reshape", "reshape", [("x", dtype, x)], [("y", dtype, want)],
                      {"shape": list(new_shape)}, symbols=symbols,
                      input_shapes={"x": in_shape} if in_shape else None)
    return build


def _slice_case(dtype, shape, axis, start, end, step=None):
    def build(rng):
        x = rand_of(rng, dtype, shape, wide=True)
        idx = [slice(None)] * len(shape)
        idx[axis] = slice(start, end, 1 if step is None else step)
        want = x[tuple(idx)]
        assert want.size > 0
        attrs = {"axis": axis, "start": start, "end": end}
        if step is not None:
            attrs["step"] = step
        return single("slice", "slice", [("x", dtype, x)], [("y", dtype, want)], attrs)
    return build


def _concat_case(dtype, shapes, axis):
    def build(rng):
        xs = [rand_of(rng, dtype, s, wide=True) for s in shapes]
        want = np.concatenate(xs, axis=axis)
        ins = [(f"x{i}", dtype, x) for i, x in enumerate(xs)]
        return single("concat", "concat", ins, [("y", dtype, want)], {"axis": axis})
    return build


def _split_case(dtype, shape, axis, sizes):
    def build(rng):
        x = rand_of(rng, dtype, shape, wide=True)
        cuts = np.cumsum(sizes)[:-1]
        parts = np.split(x, cuts, axis=axis)
        outs = [(f"y{i}", dtype, p) for i, p in enumerate(parts)]
        return single("split", "split", [("x", dtype, x)], outs,
                      {"axis": axis, "sizes": list(sizes)})
    return build


def _gather_case(dtype, tshape, ishape, axis=None, idtype="i32", negative=True):
    def build(rng):
        table = rand_of(rng, dtype, tshape, wide=True)
        ax = 0 if axis is None else axis
        n = tshape[ax]
        idx = rng.integers(0, n, size=ishape, dtype=np.int64)
        if negative:
            # About half the indices written from the end: i - n in [-n, -1].
            flip = rng.random(size=ishape) < 0.5
            idx = np.where(flip, idx - n, idx)
            if idx.size >= 2:
                idx.flat[0] = -n  # the lowest legal index
                idx.flat[1] = n - 1
        want = np.take(table, np.where(idx < 0, idx + n, idx), axis=ax)
        attrs = {"axis": axis} if axis is not None else None
        return single("gather", "gather", [("table", dtype, table), ("indices", idtype, idx)],
                      [("y", dtype, want)], attrs)
    return build


def register_movement():
    perms = [((7, 17), (1, 0)), ((3, 7, 17), (2, 0, 1)), ((2, 3, 7, 5), (0, 2, 1, 3)),
             ((2, 3, 7, 5), (3, 2, 1, 0)), ((129, 127), (0, 1)), ((17,), (0,)),
             ((1, 7, 1), (2, 0, 1))]
    for dt in ALL_DTYPES:
        for shape, perm in perms[:3] if dt != "f32" else perms:
            add_case(f"{dt}_{shape_tag(shape)}_perm{''.join(map(str, perm))}", "transpose",
                     _transpose_case(dt, shape, perm))
    add_case("f32_4097x3_perm10", "transpose", _transpose_case("f32", (4097, 3), (1, 0)))
    add_case("f32_33x4097_perm10", "transpose", _transpose_case("f32", (33, 4097), (1, 0)))
    add_case("f16_4097x9_perm10", "transpose", _transpose_case("f16", (4097, 9), (1, 0)))
    add_case("i64_3x4097x2_perm201", "transpose",
             _transpose_case("i64", (3, 4097, 2), (2, 0, 1)))
    # Negative entries count from the end, like every axis ("Negative axes
    # count from the end"); numpy's transpose reads them the same way.
    neg_perms = [((2, 3, 7, 5), (-1, 0, 1, 2)), ((3, 7, 17), (-1, -3, -2)),
                 ((7, 17), (-1, 0)), ((2, 3, 7, 5), (0, -2, 1, -1)), ((17,), (-1,))]
    for dt in ALL_DTYPES:
        for i, (shape, perm) in enumerate(neg_perms):
            if dt != "f32" and i != 0:
                continue
            tag = "_".join(str(p) for p in perm)
            add_case(f"{dt}_{shape_tag(shape)}_perm_{tag}", "transpose",
                     _transpose_case(dt, shape, perm))

    for dt in ALL_DTYPES:
        add_case(f"{dt}_7x17_to_-1", "reshape", _reshape_case(dt, (7, 17), [-1]))
        add_case(f"{dt}_2x3x4x5_to_6x-1", "reshape", _reshape_case(dt, (2, 3, 4, 5), [6, -1]))
    add_case("f32_119_to_7x17x1", "reshape", _reshape_case("f32", (119,), [7, 17, 1]))
    add_case("f32_4097_to_1x4097", "reshape", _reshape_case("f32", (4097,), [1, -1]))
    add_case("f32_127x129_to_129x-1", "reshape", _reshape_case("f32", (127, 129), [129, -1]))
    add_case("f32_scalar_to_1x1", "reshape", _reshape_case("f32", (), [1, 1]))
    add_case("f32_1x1_to_scalar", "reshape", _reshape_case("f32", (1, 1), []))
    # Symbol n bound from the input's shape (7), not its default (3).
    add_case("f32_symbolic_n", "reshape", _reshape_case(
        "f32", (7, 12), ["n", 3, -1], symbols={"n": 3}, in_shape=["n", 12], out_shape=[7, 3, 4]))
    add_case("i64_symbolic_minus1", "reshape", _reshape_case(
        "i64", (2, 7, 4), [-1, "n", 2, 2], symbols={"n": 5}, in_shape=[2, "n", 4],
        out_shape=[2, 7, 2, 2]))

    slices = [
        ((17, 7), 0, 2, 11, None), ((17, 7), 0, 1, 16, 3), ((7, 129), -1, -100, -3, None),
        ((7, 129), 1, 128, 0, -1), ((7, 129), 1, -1, -1000, -2),   # negative steps
        ((7, 17), 1, -1000, 1000, None), ((7, 17), 0, 3, 1000, 2),  # clamped bounds
        ((3, 7, 17), 1, 1000, -1000, -3), ((3, 7, 17), -2, 0, 1, None),
        ((4097,), 0, 5, 4000, 7),
        ((7, 17), 1, 3, 17, 1000), ((7, 17), 0, -1, -8, -1000),   # step past the end
        ((17, 7), -2, 16, -18, -1),                               # full reversal
        ((9, 4097), -1, -1, -4098, -3),                           # several CPU tasks
        ((127, 9), 0, 1, 127, 7),
    ]
    for dt in ALL_DTYPES:
        for i, (shape, axis, start, end, step) in enumerate(slices):
            if dt != "f32" and i not in (1, 4, 7, 13):
                continue
            tag = f"{shape_tag(shape)}_ax{axis}_{start}_{end}" + (f"_{step}" if step else "")
            add_case(f"{dt}_{tag}", "slice", _slice_case(dt, shape, axis, start, end, step))

    concats = [([(7, 17), (5, 17)], 0), ([(7, 1), (7, 17), (7, 3)], -1),
               ([(2, 3, 5), (2, 1, 5), (2, 7, 5), (2, 3, 5)], 1), ([(17,)], 0),
               ([(4097, 2), (1, 2)], -2), ([(9, 4097), (9, 1)], -1),
               ([(2, 127), (2, 129)], -1), ([(127, 3), (129, 3)], 0)]
    for dt in ALL_DTYPES:
        for i, (shapes, axis) in enumerate(concats):
            if dt != "f32" and i not in (1, 2, 5):
                continue
            add_case(f"{dt}_{'+'.join(shape_tag(s) for s in shapes)}_ax{axis}", "concat",
                     _concat_case(dt, shapes, axis))

    splits = [((17, 7), 0, [10, 7]), ((7, 17), -1, [1, 1, 15]), ((3, 12, 5), 1, [4, 4, 4]),
              ((3, 12, 5), -2, [12]), ((2, 4097), 1, [4000, 97]),
              ((3, 129), -1, [1, 127, 1]), ((129, 2), 0, [127, 2])]
    for dt in ALL_DTYPES:
        for i, (shape, axis, sizes) in enumerate(splits):
            if dt != "f32" and i not in (1, 2):
                continue
            add_case(f"{dt}_{shape_tag(shape)}_ax{axis}_{'-'.join(map(str, sizes))}", "split",
                     _split_case(dt, shape, axis, sizes))

    gathers = [
        ("f32", (129, 17), (7, 5), None, "i32"), ("f32", (7, 17), (3,), 1, "i64"),
        ("f32", (2, 7, 17), (2, 3), -1, "i32"), ("f32", (17, 3), (), None, "i64"),
        ("f32", (4097, 7), (17,), 0, "i32"), ("f32", (5, 7, 3), (2, 2, 2), 1, "i64"),
        ("f32", (129,), (7, 17), None, "i32"), ("f32", (1, 7), (3, 1), 0, "i64"),
        ("f32", (7, 4097), (33,), None, "i64"),           # several CPU tasks
        ("f32", (127, 129), (7, 2), -1, "i64"),
        ("i64", (9, 4097), (5, 3), -1, "i32"), ("f16", (4097, 9), (4097,), 0, "i32"),
    ]
    for dt, ts, ish, axis, idt in gathers:
        tag = f"{dt}_{shape_tag(ts)}_idx{idt}_{shape_tag(ish)}"
        tag += f"_ax{axis}" if axis is not None else ""
        add_case(tag, "gather", _gather_case(dt, ts, ish, axis, idt))
    for dt in ALL_DTYPES:
        if dt != "f32":
            add_case(f"{dt}_17x5_idxi32_7x3", "gather",
                     _gather_case(dt, (17, 5), (7, 3), None, "i32"))
            add_case(f"{dt}_7x17_idxi64_5_ax-1", "gather",
                     _gather_case(dt, (7, 17), (5,), -1, "i64"))
    add_case("f32_nonnegative_idx", "gather", _gather_case("f32", (17, 5), (7,), None, "i32",
                                                           negative=False))


# ---------------------------------------------------------------------------
# rope and attention
# ---------------------------------------------------------------------------

def rope_ref(x, positions, theta, interleaved, rotary_dim):
    """FORMAT.md "rope": θᵢ = theta^(−2i/r); rotate the first r entries of the
    last dim, in the rotate-half or the interleaved layout."""
    seq, hd = x.shape[-2], x.shape[-1]
    r = hd if rotary_dim is None else rotary_dim
    if positions is None:
        p = np.broadcast_to(np.arange(seq, dtype=np.float64), x.shape[:-1])
    else:
        p = np.broadcast_to(np.asarray(positions, dtype=np.float64), x.shape[:-1])
    i = np.arange(r // 2, dtype=np.float64)
    th = float(theta) ** (-2.0 * i / r)
    ang = p[..., None] * th
    c, s = np.cos(ang), np.sin(ang)
    out = x.astype(np.float64).copy()
    if interleaved:
        xe, xo = x[..., 0:r:2], x[..., 1:r:2]
        out[..., 0:r:2] = xe * c - xo * s
        out[..., 1:r:2] = xo * c + xe * s
    else:
        x1, x2 = x[..., : r // 2], x[..., r // 2 : r]
        out[..., : r // 2] = x1 * c - x2 * s
        out[..., r // 2 : r] = x2 * c + x1 * s
    return out


def _rope_case(dtype, shape, interleaved=None, rotary_dim=None, theta=None,
               pos_shape=None, pos_dtype="i32", pos_max=None):
    def build(rng):
        x = rand_float(rng, dtype, shape)
        ins = [("x", dtype, x)]
        pos = None
        if pos_shape is not None:
            hi = pos_max if pos_max is not None else 2 * shape[-2]
            pos = rng.integers(0, hi, size=pos_shape, dtype=np.int64)
            ins.append(("positions", pos_dtype, pos))
        attrs = {}
        if interleaved is not None:
            attrs["interleaved"] = interleaved
        if rotary_dim is not None:
            attrs["rotary_dim"] = rotary_dim
        if theta is not None:
            attrs["theta"] = theta
        want = rope_ref(x, pos, 10000.0 if theta is None else theta, bool(interleaved),
                        rotary_dim)
        return single("rope", "rope", ins, [("y", dtype, want)], attrs)
    return build


def attention_ref(q, k, v, mask=None, causal=False, scale=None):
    """FORMAT.md "attention": softmax(q·kᵀ·scale + mask)·v with grouped-query
    heads, bottom-right causal alignment, and zeros for a row that sees no key."""
    b, hq, sq, d = q.shape
    hkv, sk = k.shape[1], k.shape[2]
    group = hq // hkv
    kk = np.repeat(k, group, axis=1)  # query head h reads kv head h // group
    vv = np.repeat(v, group, axis=1)
    sc = 1.0 / math.sqrt(d) if scale is None else scale
    s = np.matmul(q, np.swapaxes(kk, -1, -2)) * sc
    if mask is not None:
        s = s + mask
    if causal:
        i = np.arange(sq)[:, None]
        j = np.arange(sk)[None, :]
        s = np.where(j <= i + (sk - sq), s, -np.inf)
    s = np.broadcast_to(s, (b, hq, sq, sk))
    m = np.max(s, axis=-1, keepdims=True)
    dead = ~np.isfinite(m)  # every key masked out (m = -inf)
    e = np.exp(s - np.where(dead, 0.0, m))
    e = np.where(dead, 0.0, e)
    tot = np.sum(e, axis=-1, keepdims=True)
    p = e / np.where(dead, 1.0, tot)
    return np.matmul(p, vv)


def _attention_case(dtype, b, hq, hkv, sq, sk, d, dv=None, causal=None, scale=None,
                    mask_shape=None, mask_kind="random", qhi=2.0):
    def build(rng):
        dvv = d if dv is None else dv
        q = rand_float(rng, dtype, (b, hq, sq, d), 0.1, qhi)
        k = rand_float(rng, dtype, (b, hkv, sk, d), 0.1, qhi)
        v = rand_float(rng, dtype, (b, hkv, sk, dvv))
        ins = [("q", dtype, q), ("k", dtype, k), ("v", dtype, v)]
        mask = None
        if mask_shape is not None:
            if mask_kind == "random":
                mask = rand_float(rng, dtype, mask_shape, 0.1, 3.0)
            else:  # padding: -inf or -10000 on some keys; one row fully -inf
                mask = np.zeros(mask_shape)
                keep = rng.random(size=mask_shape) < 0.7
                mask = np.where(keep, mask, -np.inf if mask_kind == "-inf" else -10000.0)
                if mask_kind == "-inf" and mask_shape[-2] > 1:
                    mask[..., 1, :] = -np.inf  # query row 1 sees nothing: zeros
                mask = stio.round_float(mask, dtype)
            ins.append(("mask", dtype, mask))
        attrs = {}
        if causal is not None:
            attrs["causal"] = causal
        if scale is not None:
            attrs["scale"] = scale
        want = attention_ref(q, k, v, mask, bool(causal), scale)
        return single("attention", "attention", ins, [("y", dtype, want)], attrs,
                      k=max(d, sk))
    return build


def register_transformer():
    ropes = [
        ("f32_1x2x7x32", "f32", (1, 2, 7, 32), {}),
        ("f32_interleaved_1x2x7x32", "f32", (1, 2, 7, 32), {"interleaved": True}),
        ("f32_explicit_false_2x17x16", "f32", (2, 17, 16), {"interleaved": False}),
        ("f32_rotary16_of_32", "f32", (2, 3, 17, 32), {"rotary_dim": 16}),
        ("f32_rotary8_of_34_interleaved", "f32", (1, 2, 7, 34),
         {"rotary_dim": 8, "interleaved": True}),
        ("f32_theta500000_pos_i32", "f32", (2, 4, 17, 64),
         {"theta": 500000.0, "pos_shape": (17,)}),
        ("f32_pos_i64_bcast", "f32", (2, 3, 7, 32), {"pos_shape": (2, 1, 7), "pos_dtype": "i64"}),
        ("f32_pos_full_rotary6", "f32", (2, 7, 6), {"pos_shape": (2, 7), "rotary_dim": 6}),
        ("f32_pos_large_4096", "f32", (1, 2, 129, 64), {"pos_shape": (129,), "pos_max": 4097}),
        ("f32_seq4097", "f32", (1, 4097, 16), {}),
        ("f16_seq4097_interleaved", "f16", (1, 2, 4097, 16), {"interleaved": True}),
        ("bf16_seq4097_pos", "bf16", (1, 4097, 8), {"pos_shape": (4097,), "pos_max": 8192}),
        ("f32_decode_seq1_pos1", "f32", (2, 4, 1, 32), {"pos_shape": (1,), "pos_max": 4097}),
        ("f32_pos_scalar", "f32", (1, 2, 7, 16), {"pos_shape": (), "pos_dtype": "i64"}),
        ("f32_theta100_interleaved", "f32", (1, 1, 127, 32),
         {"theta": 100, "interleaved": True}),
        ("f16_1x4x17x32", "f16", (1, 4, 17, 32), {}),
        ("f16_interleaved_pos", "f16", (2, 2, 7, 64),
         {"interleaved": True, "pos_shape": (2, 1, 7)}),
        ("bf16_1x4x17x32", "bf16", (1, 4, 17, 32), {}),
        ("bf16_rotary16_interleaved", "bf16", (1, 2, 17, 32),
         {"rotary_dim": 16, "interleaved": True}),
    ]
    for name, dt, shape, kw in ropes:
        add_case(name, "rope", _rope_case(dt, shape, **kw))

    atts = [
        # name, dtype, b, hq, hkv, sq, sk, d, extra
        ("f32_b2_h4_s17_d32", "f32", 2, 4, 4, 17, 17, 32, {}),
        ("f32_causal_s17", "f32", 2, 4, 4, 17, 17, 32, {"causal": True}),
        ("f32_explicit_noncausal", "f32", 1, 2, 2, 7, 7, 16, {"causal": False}),
        ("f32_causal_sq3_sk17", "f32", 1, 2, 2, 3, 17, 32, {"causal": True}),
        ("f32_causal_sq1_sk129", "f32", 2, 2, 2, 1, 129, 64, {"causal": True}),
        ("f32_noncausal_sq7_sk129", "f32", 1, 2, 2, 7, 129, 32, {}),
        ("f32_causal_sq17_sk7_dead_rows", "f32", 1, 2, 2, 17, 7, 16, {"causal": True}),
        ("f32_gqa_hkv2", "f32", 2, 8, 2, 17, 17, 32, {"causal": True}),
        ("f32_mqa_hkv1", "f32", 1, 4, 1, 7, 17, 32, {}),
        ("f32_dv24_d16", "f32", 1, 2, 1, 7, 17, 16, {"dv": 24}),
        ("f32_scale0.3", "f32", 1, 2, 2, 17, 17, 32, {"scale": 0.3}),
        ("f32_scale2_causal", "f32", 1, 2, 2, 7, 7, 8, {"scale": 2.0, "causal": True}),
        ("f32_mask_full", "f32", 2, 2, 2, 7, 17, 16, {"mask_shape": (2, 2, 7, 17)}),
        ("f32_mask_bcast_b11sk", "f32", 2, 4, 2, 7, 17, 16,
         {"mask_shape": (2, 1, 1, 17), "mask_kind": "-10000"}),
        ("f32_mask_sq_sk_causal", "f32", 1, 2, 2, 17, 17, 32,
         {"mask_shape": (17, 17), "causal": True}),
        ("f32_mask_1d_sk", "f32", 2, 2, 2, 7, 17, 16, {"mask_shape": (17,)}),
        ("f32_mask_111sk_gqa", "f32", 2, 4, 2, 7, 17, 16, {"mask_shape": (1, 1, 1, 17),
                                                          "mask_kind": "-10000"}),
        ("f32_mask_neginf_dead_row", "f32", 2, 2, 2, 7, 17, 16,
         {"mask_shape": (2, 1, 7, 17), "mask_kind": "-inf"}),
        ("f32_mask_neginf_causal", "f32", 1, 4, 2, 7, 7, 16,
         {"mask_shape": (1, 4, 7, 7), "mask_kind": "-inf", "causal": True}),
        ("f32_large_scores", "f32", 1, 2, 2, 7, 17, 64, {"qhi": 4.0}),
        ("f32_sk4097", "f32", 1, 1, 1, 2, 4097, 16, {"causal": True}),
        ("f32_d1_s1", "f32", 1, 1, 1, 1, 1, 1, {}),
        # Several query blocks and tasks on the CPU.
        ("f32_causal_s129_d64", "f32", 1, 2, 2, 129, 129, 64, {"causal": True}),
        # Head sizes no vector width divides.
        ("f32_d127_dv129_sq127", "f32", 1, 2, 1, 127, 17, 127, {"dv": 129}),
        ("f32_d7_dv17_causal", "f32", 2, 2, 2, 17, 17, 7, {"dv": 17, "causal": True}),
        ("f32_gqa_sq129_sk257_mask", "f32", 2, 4, 2, 129, 257, 16,
         {"mask_shape": (2, 1, 1, 257), "mask_kind": "-inf"}),
        ("f16_sk4097_mask", "f16", 1, 2, 1, 3, 4097, 16,
         {"mask_shape": (1, 1, 1, 4097), "mask_kind": "-10000"}),
        ("bf16_sk4097_causal", "bf16", 1, 1, 1, 2, 4097, 16, {"causal": True}),
        ("f16_causal_gqa", "f16", 1, 4, 2, 17, 17, 32, {"causal": True}),
        ("f16_mask", "f16", 2, 2, 1, 7, 17, 16, {"mask_shape": (2, 1, 1, 17),
                                                 "mask_kind": "-inf"}),
        ("bf16_causal", "bf16", 1, 4, 4, 17, 17, 32, {"causal": True}),
        ("bf16_sq3_sk17_mqa", "bf16", 2, 2, 1, 3, 17, 32, {"causal": True}),
    ]
    for name, dt, b, hq, hkv, sq, sk, d, kw in atts:
        add_case(name, "attention", _attention_case(dt, b, hq, hkv, sq, sk, d, **kw))


def self_test():
    """Checks the numpy references against values worked out by hand."""
    # rope, p = 1, theta = 10000, head_dim 4: theta_0 = 1, theta_1 = 1/100.
    x = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    c0, s0, c1, s1 = math.cos(1), math.sin(1), math.cos(0.01), math.sin(0.01)
    half = rope_ref(x, None, 10000.0, False, None)
    assert np.allclose(half[0], x[0], rtol=0, atol=0)
    assert np.allclose(half[1], [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0,
                                 4 * c1 + 2 * s1], rtol=1e-15)
    inter = rope_ref(x, None, 10000.0, True, None)
    assert np.allclose(inter[1], [1 * c0 - 2 * s0, 2 * c0 + 1 * s0, 3 * c1 - 4 * s1,
                                  4 * c1 + 3 * s1], rtol=1e-15)
    part = rope_ref(x, np.array([0, 1]), 10000.0, False, 2)  # r = 2: theta_0 = 1 only
    assert np.allclose(part[1], [1 * c0 - 2 * s0, 2 * c0 + 1 * s0, 3, 4], rtol=1e-15)
    # gelu(1) both forms, erf, sigmoid, silu.
    assert abs(gelu_ref(np.array(1.0), "none") - 0.8413447460685429) < 1e-15
    assert abs(gelu_ref(np.array(1.0), "tanh") - 0.8411919906082768) < 1e-15
    assert abs(_erf(np.array(0.5)) - 0.5204998778130465) < 1e-15
    assert abs(unary_ref("silu", np.array(2.0)) - 2 / (1 + math.exp(-2))) < 1e-15
    # Integer division truncates toward zero.
    assert list(int_div(np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2]))) == [3, -3, -3, 3]
    # layernorm / rmsnorm of [1, 2, 3, 4]: mean 2.5, biased var 1.25; ms 7.5.
    v = np.array([1.0, 2.0, 3.0, 4.0])
    want = (v - 2.5) / math.sqrt(1.25 + 1e-5)
    assert np.allclose(layernorm_ref(v, None, None, 1e-5), want, rtol=1e-15)
    assert np.allclose(rmsnorm_ref(v, np.array([2.0] * 4), 0.0), 2 * v / math.sqrt(7.5))
    # attention: a loop written out, GQA + causal bottom-right + a dead row.
    rng = np.random.default_rng(1)
    q = rng.standard_normal((1, 4, 5, 3))
    k = rng.standard_normal((1, 2, 3, 3))
    v = rng.standard_normal((1, 2, 3, 2))
    got = attention_ref(q, k, v, causal=True, scale=0.7)
    for h in range(4):
        for i in range(5):
            seen = [j for j in range(3) if j <= i + (3 - 5)]
            if not seen:
                assert np.all(got[0, h, i] == 0)
                continue
            sc = np.array([q[0, h, i] @ k[0, h // 2, j] * 0.7 for j in seen])
            p = np.exp(sc - sc.max())
            p /= p.sum()
            ref = sum(p[n] * v[0, h // 2, j] for n, j in enumerate(seen))
            assert np.allclose(got[0, h, i], ref, rtol=1e-12)
    # Every op of FORMAT.md has cases and sits in exactly one family.
    assert sorted(FORMAT_OPS) == OPS, set(FORMAT_OPS) ^ set(OPS)
    in_families = [op for ops in FAMILIES.values() for op in ops]
    assert sorted(in_families) == OPS, "FAMILIES must hold every op once"
    # Every case builds, and its inputs encode.
    for c in CASES:
        b = c.build()
        stio.encode(b.inputs)
    print(f"op_cases self-test: ok ({len(CASES)} cases)")


# ---------------------------------------------------------------------------
# generators
# ---------------------------------------------------------------------------

def _iota_case(dtype, shape, axis=None, start=None, step=None, sym=None):
    """iota over `shape` (sym: {dim index: symbol name}, bound by an input of
    that length so the case also checks symbols); values exact in int64, then
    rounded to dtype as the graph dtype would."""
    def build(rng):
        ax = (0 if axis is None else axis) % len(shape)
        idx = np.arange(shape[ax], dtype=np.int64).reshape([-1 if i == ax else 1 for i in range(len(shape))])
        want = (0 if start is None else start) + (1 if step is None else step) * np.broadcast_to(idx, shape)
        attrs = {"shape": [sym[i] if sym and i in sym else d for i, d in enumerate(shape)]}
        for k, v in (("axis", axis), ("start", start), ("step", step)):
            if v is not None:
                attrs[k] = v
        if dtype != "i32":
            attrs["dtype"] = dtype
        ins, shapes, symbols = [], None, None
        if sym:
            # one f32 input per symbol, of that symbol's length, only to bind it
            ins = [(f"len_{name}", "f32", rand_float(rng, "f32", (shape[i],))) for i, name in sym.items()]
            shapes = {f"len_{name}": [name] for name in sym.values()}
            symbols = {name: 1 for name in sym.values()}
        built = single("iota", "iota", ins, [("y", dtype, want)], attrs,
                       node_inputs=[], input_shapes=shapes, symbols=symbols)
        return built
    return build


def register_generators():
    add_case("i32_7", "iota", _iota_case("i32", (7,)))
    add_case("f32_17x3_axis0_start2_step-3", "iota", _iota_case("f32", (17, 3), 0, 2, -3))
    add_case("i64_1x129_axis-1_big", "iota", _iota_case("i64", (1, 129), -1, -(2 ** 40), 2 ** 31))
    add_case("bf16_127_start-64", "iota", _iota_case("bf16", (127,), start=-64))
    add_case("f16_4097", "iota", _iota_case("f16", (4097,)))  # rounds above 2048, as the dtype does
    add_case("i32_step0_2x5", "iota", _iota_case("i32", (2, 5), 1, 42, 0))
    add_case("i32_symbolic_seq_17x1", "iota", _iota_case("i32", (17, 1), sym={0: "seq"}))
    # 1.2 MB: above the fold pass's budget, so it runs as a kernel (INDEX)
    add_case("i32_3x100003_unfolded", "iota", _iota_case("i32", (3, 100003), 1, 5, 3))


register_elementwise()
register_generators()
register_cast_where()
register_matmul()
register_reductions()
register_movement()
register_transformer()

OPS = sorted({c.op for c in CASES})

# Every op of FORMAT.md's table, and the families the ctests run them in
# (tests/oracle/CMakeLists.txt registers one ctest per family).
FORMAT_OPS = (
    "add sub mul div pow maximum minimum neg exp log sqrt rsqrt tanh erf sigmoid relu "
    "silu abs gelu cast where matmul softmax layernorm rmsnorm reduce_sum reduce_mean "
    "reduce_max transpose reshape slice concat split gather rope attention iota").split()
FAMILIES = {
    "binary": list(BINARY_OPS),
    "unary": list(UNARY_OPS) + ["gelu"],
    "cast": ["cast"],
    "where": ["where"],
    "matmul": ["matmul"],
    "softmax": ["softmax"],
    "norm": ["layernorm", "rmsnorm"],
    "reduce": ["reduce_sum", "reduce_mean", "reduce_max"],
    "layout": ["transpose", "reshape", "slice", "concat", "split"],
    "gather": ["gather"],
    "rope": ["rope"],
    "attention": ["attention"],
    "iota": ["iota"],
}

if __name__ == "__main__":
    self_test()
