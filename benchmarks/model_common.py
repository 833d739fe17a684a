"""model_common.py — what bench_model.py and its worker processes share: the
paths, the message lines (named after the command typed), the error that ends a
run, the numpy check (re-running under build/venv's Python), and safetensors I/O."""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, "build", "venv")  # scripts/setup.sh's: numpy, onnx, onnxruntime
VENV_PYTHON = os.path.join(VENV, "bin", "python3")
IN_VENV = os.path.realpath(sys.prefix) == os.path.realpath(VENV)
# `tessera bench model` sets this: usage and error lines name the command typed.
PROG = os.environ.get("TESSERA_BENCH_PROG", "bench_model.py")
WHO = "tessera" if PROG.startswith("tessera ") else PROG


def error_line(msg):
    return f"tessera: error: {PROG[len('tessera '):]}: {msg}" if WHO == "tessera" else f"{PROG}: error: {msg}"


def note(msg):
    """A progress line on stderr (stdout is the table, PASSED or FAILED last)."""
    print(f"{WHO}: {msg}", file=sys.stderr, flush=True)


def warn(msg):
    print(f"{WHO}: warning: {msg}", file=sys.stderr, flush=True)


try:
    import numpy as np
except ImportError:
    # The launcher may start us with a Python that lacks numpy: try the project's venv.
    if os.path.exists(VENV_PYTHON) and not IN_VENV and not os.environ.get("TESSERA_BENCH_MODEL_REEXEC"):
        os.environ["TESSERA_BENCH_MODEL_REEXEC"] = "1"
        os.execv(VENV_PYTHON, [VENV_PYTHON] + sys.argv)
    sys.exit(error_line(f"{sys.executable} cannot import numpy: run scripts/setup.sh (it makes build/venv) "
                        "or set TESSERA_PYTHON to a Python that has numpy"))


class BenchError(Exception):
    """An error that ends the run: one line, exit 1."""


# ---------------------------------------------------------------------------
# Safetensors: a streaming writer and an mmap reader (weights reach 3.4 GB)

_ST = {"f32": ("F32", "<f4"), "i32": ("I32", "<i4"), "i64": ("I64", "<i8")}
_ST_BACK = {v[0]: (k, v[1]) for k, v in _ST.items()}


def st_header(entries):
    """entries: [(name, dtype, shape)] -> the header's bytes, its length first; the
    tensors follow it back to back in the order given."""
    header, offset = {}, 0
    for name, dt, shape in entries:
        n = int(np.prod(shape, dtype=np.int64)) * np.dtype(_ST[dt][1]).itemsize
        header[name] = {"dtype": _ST[dt][0], "shape": [int(s) for s in shape],
                        "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def st_write(path, tensors):
    """tensors: {name: (dtype, array)}, small ones (inputs)."""
    head = st_header([(k, dt, a.shape) for k, (dt, a) in tensors.items()])
    with open(path, "wb") as f:
        f.write(head)
        for dt, a in tensors.values():
            f.write(np.ascontiguousarray(a, dtype=_ST[dt][1]).tobytes())


def st_layout(path):
    """{name: (dtype, shape, absolute file offset, nbytes)} of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] not in _ST_BACK:
            raise BenchError(f"{path}: tensor '{name}' has dtype {e['dtype']}, not F32/I32/I64")
        b, end = e["data_offsets"]
        out[name] = (_ST_BACK[e["dtype"]][0], list(e["shape"]), 8 + n + b, end - b)
    return out


def st_read(path):
    """{name: (dtype, read-only memmapped array)}."""
    out = {}
    for name, (dt, shape, off, nbytes) in st_layout(path).items():
        if nbytes == 0:
            out[name] = (dt, np.zeros(shape, dtype=_ST[dt][1]))
        else:
            out[name] = (dt, np.memmap(path, dtype=_ST[dt][1], mode="r", offset=off, shape=tuple(shape)))
    return out

