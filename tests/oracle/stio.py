"""stio.py — a minimal safetensors reader and writer for the oracle tests.

Tensors are handled as (dtype, array) pairs, where dtype is a tessera dtype name
(f32 f16 bf16 i32 i64 bool). numpy has no bfloat16, so bf16 tensors are held in
memory as float32 (every bf16 value is exactly a float32) and stored as the top
16 bits of that float32; writing rounds to nearest, ties to even.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian
header length N, N bytes of JSON {name: {"dtype", "shape", "data_offsets"}},
then the tensor bytes, little-endian, row-major, contiguous from offset 0. The
writer pads the header with spaces to a multiple of 8 bytes.

Only the standard library and numpy are used.
"""
import json
import struct

import numpy as np

# tessera dtype name -> (safetensors name, numpy storage dtype)
_DTYPES = {
    "f32": ("F32", np.dtype("<f4")),
    "f16": ("F16", np.dtype("<f2")),
    "bf16": ("BF16", np.dtype("<u2")),
    "i32": ("I32", np.dtype("<i4")),
    "i64": ("I64", np.dtype("<i8")),
    "bool": ("BOOL", np.dtype("u1")),
}
_FROM_ST = {st: name for name, (st, _) in _DTYPES.items()}

DTYPES = tuple(_DTYPES)
FLOAT_DTYPES = ("f32", "f16", "bf16")
INT_DTYPES = ("i32", "i64")

# In-memory numpy dtype of each tessera dtype (bf16 lives in float32).
NUMPY_DTYPE = {
    "f32": np.dtype(np.float32),
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(np.float32),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "bool": np.dtype(np.bool_),
}

# (significand bits including the implicit one, smallest subnormal exponent,
#  largest finite value) of each float dtype, for round_float().
_FLOAT_FORMAT = {
    "f32": (24, -149, float(np.finfo(np.float32).max)),
    "f16": (11, -24, 65504.0),
    "bf16": (8, -133, float.fromhex("0x1.fep127")),
}


def round_float(x, dtype):
    """Rounds float64 values to the nearest value of a float dtype, ties to even,
    and returns them as float64 (overflow gives ±inf; NaN stays NaN).

    Done once from float64 (no double rounding through float32), so it is the
    correctly rounded result that a reference computing in double should give.
    """
    bits, min_exp, fmax = _FLOAT_FORMAT[dtype]
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        _, e = np.frexp(x)  # x = m * 2**e with 0.5 <= |m| < 1
        quantum = np.ldexp(1.0, np.maximum(e - bits, min_exp))
        y = np.round(x / quantum) * quantum  # np.round: half to even
        # Past the largest finite value by half a unit or more: infinity.
        half_ulp_at_max = np.ldexp(1.0, np.frexp(fmax)[1] - bits - 1)
        big = np.abs(x) >= fmax + half_ulp_at_max
        y = np.where(big & np.isfinite(x), np.copysign(np.inf, x), y)
        y = np.where(np.isfinite(x), y, x)
    return y


def to_dtype(x, dtype):
    """Converts values (any numpy array) to the in-memory array of a tessera
    dtype. Floats are rounded to nearest even; integers must already be integral
    and in range (checked); bool takes x != 0."""
    x = np.asarray(x)
    if dtype in FLOAT_DTYPES:
        return round_float(x.astype(np.float64), dtype).astype(NUMPY_DTYPE[dtype])
    if dtype == "bool":
        return x != 0
    info = np.iinfo(NUMPY_DTYPE[dtype])
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ValueError(f"non-integral values for {dtype}")
    if x.size and (x.min() < info.min or x.max() > info.max):
        raise ValueError(f"values out of range for {dtype}")
    return x.astype(NUMPY_DTYPE[dtype])


def _bf16_bits(a):
    """float32 array (values already bf16) -> uint16 bits, rounding any extra
    float32 precision to nearest even."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(a, dtype=np.float32))
    rounded = np.where(nan, (u >> 16) | 0x40, rounded)  # keep NaN a quiet NaN
    return rounded.astype(np.uint16)


def encode(tensors):
    """Returns the bytes of a safetensors file holding tensors, a dict (in the
    order given) of name -> (dtype, array)."""
    header = {}
    chunks = []
    offset = 0
    for name, (dtype, arr) in tensors.items():
        if dtype not in _DTYPES:
            raise ValueError(f"{name}: unknown dtype {dtype!r}")
        st_name, store = _DTYPES[dtype]
        arr = np.asarray(arr)
        if dtype == "bf16":
            raw = _bf16_bits(arr.astype(np.float32)).astype(store)
        elif dtype == "bool":
            raw = (arr != 0).astype(store)
        else:
            raw = to_dtype(arr, dtype).astype(store)
        data = np.ascontiguousarray(raw).tobytes()
        header[name] = {
            "dtype": st_name,
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path, tensors):
    """Writes tensors (dict name -> (dtype, array)) to a safetensors file."""
    with open(path, "wb") as f:
        f.write(encode(tensors))


def decode(blob):
    """Parses the bytes of a safetensors file into a dict name -> (dtype, array)
    in file order; bf16 comes back as float32. Raises ValueError on a file that
    breaks the format's rules."""
    if len(blob) < 8:
        raise ValueError("file shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError("header length past the end of the file")
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    out = {}
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    end = 0
    for name, info in sorted(entries, key=lambda kv: kv[1]["data_offsets"][0]):
        if info["dtype"] not in _FROM_ST:
            raise ValueError(f"{name}: unsupported dtype {info['dtype']}")
        dtype = _FROM_ST[info["dtype"]]
        store = _DTYPES[dtype][1]
        shape = tuple(int(d) for d in info["shape"])
        begin, stop = info["data_offsets"]
        if begin != end:
            raise ValueError(f"{name}: data offsets not contiguous")
        count = int(np.prod(shape, dtype=np.int64))
        if stop - begin != count * store.itemsize:
            raise ValueError(f"{name}: byte length does not match its shape")
        raw = np.frombuffer(data[begin:stop], dtype=store).reshape(shape)
        if dtype == "bf16":
            arr = (raw.astype(np.uint32) << 16).view(np.float32)
        elif dtype == "bool":
            arr = raw != 0
        else:
            arr = raw.astype(NUMPY_DTYPE[dtype])
        out[name] = (dtype, arr)
        end = stop
    if end != len(data):
        raise ValueError("file does not end where its last tensor ends")
    # Back to the header's order, which is the order the writer used.
    return {name: out[name] for name, _ in entries}


def read(path):
    """Reads a safetensors file into a dict name -> (dtype, array)."""
    with open(path, "rb") as f:
        return decode(f.read())


def _self_test():
    """Round trips every dtype and checks the bf16 and f16 rounding rules."""
    rng = np.random.default_rng(0)
    tensors = {
        "a": ("f32", rng.standard_normal((3, 5)).astype(np.float32)),
        "b": ("f16", rng.standard_normal((7,)).astype(np.float16)),
        "c": ("bf16", to_dtype(rng.standard_normal((2, 2, 2)), "bf16")),
        "d": ("i32", rng.integers(-9, 9, (4,)).astype(np.int32)),
        "e": ("i64", np.array([2**62, -(2**61) - 1], dtype=np.int64)),
        "f": ("bool", np.array([[True, False, True]])),
        "g": ("f32", np.array(1.5, dtype=np.float32)),
    }
    blob = encode(tensors)
    assert (struct.unpack("<Q", blob[:8])[0]) % 8 == 0
    back = decode(blob)
    assert list(back) == list(tensors)
    for name, (dtype, arr) in tensors.items():
        d2, a2 = back[name]
        assert d2 == dtype and a2.shape == arr.shape, name
        assert np.array_equal(a2, arr), name
    # bf16: 1 + 2**-8 is a tie between 1 and 1 + 2**-7: even is 1.
    t = np.array([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8 + 2**-20), 3e38 * 2])
    want = np.array([1.0, 1 + 2**-6, -(1 + 2**-7), np.inf])
    assert np.array_equal(round_float(t, "bf16"), want)
    bits = _bf16_bits(np.array([1 + 2**-8, 1 + 3 * 2**-8], dtype=np.float32))
    assert list(bits) == [0x3F80, 0x3F82], bits
    # f16: ties to even, overflow at 65520, subnormal ties.
    t = np.array([1 + 2**-11, 1 + 3 * 2**-11, 65519.0, 65520.0, 2**-25, 3 * 2**-25])
    want = np.array([1.0, 1 + 2**-9, 65504.0, np.inf, 0.0, 2**-23])
    assert np.array_equal(round_float(t, "f16"), want)
    with np.errstate(over="ignore"):
        assert np.array_equal(round_float(t, "f16"), t.astype(np.float16).astype(np.float64))
    x = rng.standard_normal(10000) * 10.0 ** rng.integers(-44, 38, 10000)
    assert np.array_equal(round_float(x, "f32"), x.astype(np.float32).astype(np.float64))
    print("stio self-test: ok")


if __name__ == "__main__":
    _self_test()
