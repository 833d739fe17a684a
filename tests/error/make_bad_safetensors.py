#!/usr/bin/env python3
"""make_bad_safetensors.py — (re)generates the malformed safetensors files of
the error corpus, each with the one-line error tessera must print for it, and
the seed corpus of the safetensors fuzz target. Standard library only.

Run from anywhere: python3 tests/error/make_bad_safetensors.py
It writes, under tests/error/ (the runner, check_errors.py, runs from there):
  weights/NAME.safetensors  a bad weights file
  weights/NAME.json         a tiny valid graph naming it in "weights"
                            (weight "w" f32 [2, 2], output y = add(w, w))
  weights/NAME.expect       the expected error line
  inputs/graph.json         one valid graph: input x f32 [2, 3], y = relu(x)
  inputs/NAME.safetensors   a bad inputs file, run with --inputs
  inputs/NAME.expect        args and expected error line
and tests/fuzz/corpus/safetensors/*.safetensors: valid files of every dtype,
one with metadata, and the malformed files above.

Only structural file errors live here; errors about a file's tensors not
matching the graph come from graph_json.c and the CLI and have their own cases.
Files it did not generate are left alone, so a case removed here must be
deleted by hand.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "fuzz", "corpus", "safetensors")
SUPPORTED = "(tessera reads F32, F16, BF16, I32, I64, BOOL)"


def st(header, data=b"", hlen=None):
    """A file: 8-byte little-endian header length, header text, data bytes.
    hlen overrides the length written; header is used as given (no padding),
    so byte offsets in the messages below are easy to follow."""
    h = header.encode("utf-8") if isinstance(header, str) else header
    n = len(h) if hlen is None else hlen
    return struct.pack("<Q", n) + h + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def hdr(obj):
    return json.dumps(obj, separators=(",", ":"))


def data(n):
    """n distinct data bytes (f32 values of no importance: errors come first)."""
    return bytes((i * 37 + 11) & 0xFF for i in range(n))


W = entry("F32", [2, 2], 0, 16)  # the one valid weight the graphs use
W_HDR = hdr({"w": W})            # 57 bytes: the data section starts at byte 65
X = entry("F32", [2, 3], 0, 24)  # the one valid input of inputs/graph.json
X_HDR = hdr({"x": X})            # 57 bytes as well

# (name, file bytes, WHERE or "", WHAT) for weights files.
WEIGHTS = [
    ("empty", b"", "", "the file is empty (a safetensors file starts with an 8-byte header length)"),
    ("short", b"\x10\x00\x00\x00\x00", "byte 0", "the file holds 5 bytes, too few for the 8-byte header length"),
    ("header_past_end", st("{}", hlen=1000), "byte 0",
     "header length 1000 runs past the end of the file (8 + 1000 bytes needed, the file holds 10)"),
    ("header_too_large", st("{}", hlen=200_000_000), "byte 0",
     "header length 200000000 is over the limit of 100000000 bytes"),
    ("header_huge", st("{}", hlen=0xFFFFFFFFFFFFFFFF), "byte 0",
     "header length 18446744073709551615 is over the limit of 100000000 bytes"),
    ("header_zero", st("", data(16)), "byte 0", "header length is 0, but the header must hold a JSON object"),
    ("header_not_json", st('{"w": {"dtype": "F32", "shape": [2, 2]'), "header, line 1, column 39",
     "the file ends early (truncated?): expected ',' or '}' after an object member"),
    ("header_bad_token", st('{"w": nope}'), "header, line 1, column 7",
     "invalid JSON: expected a value (object, array, string, number, true, false or null), got 'nope'"),
    ("header_blank", st("        "), "header", "the file holds no JSON value: expected a JSON object"),
    ("header_trailing_text", st(W_HDR + "  }", data(16)), "header",
     "unexpected byte 0x7D after the JSON object at byte 67 (only spaces may pad the header)"),
    ("header_array", st("[1, 2]"), "header", "must be a JSON object of tensors, found an array"),
    ("entry_not_object", st('{"w": [2, 2]}'), "tensor 'w'",
     "must be an object with dtype, shape and data_offsets, found an array"),
    ("missing_dtype", st(hdr({"w": {"shape": [2, 2], "data_offsets": [0, 16]}}), data(16)), "tensor 'w'",
     "has no dtype (expected one of F32, F16, BF16, I32, I64, BOOL)"),
    ("missing_shape", st(hdr({"w": {"dtype": "F32", "data_offsets": [0, 16]}}), data(16)), "tensor 'w'",
     "has no shape (expected an array of dims)"),
    ("missing_offsets", st(hdr({"w": {"dtype": "F32", "shape": [2, 2]}}), data(16)), "tensor 'w'",
     "has no data_offsets (expected [begin, end])"),
    ("dtype_f64", st(hdr({"w": entry("F64", [2, 2], 0, 32)}), data(32)), "tensor 'w'",
     "dtype F64 is not supported " + SUPPORTED),
    ("dtype_i8", st(hdr({"w": entry("I8", [2, 2], 0, 4)}), data(4)), "tensor 'w'",
     "dtype I8 is not supported " + SUPPORTED),
    ("dtype_lowercase", st(hdr({"w": entry("f32", [2, 2], 0, 16)}), data(16)), "tensor 'w'",
     "dtype f32 is not supported " + SUPPORTED),
    ("dtype_not_string", st(hdr({"w": entry(4, [2, 2], 0, 16)}), data(16)), "tensor 'w'",
     'dtype must be a string such as "F32", found a number'),
    ("shape_negative", st(hdr({"w": entry("F32", [2, -2], 0, 16)}), data(16)), "tensor 'w'",
     "shape[1] is -2, not an integer in [0, 2^53)"),
    ("shape_fraction", st(hdr({"w": entry("F32", [2, 2.5], 0, 16)}), data(16)), "tensor 'w'",
     "shape[1] is 2.5, not an integer in [0, 2^53)"),
    ("shape_string_dim", st(hdr({"w": entry("F32", ["2", 2], 0, 16)}), data(16)), "tensor 'w'",
     "shape[0] is a string, not an integer in [0, 2^53)"),
    ("shape_not_array", st(hdr({"w": entry("F32", 4, 0, 16)}), data(16)), "tensor 'w'",
     "shape must be an array of dims, found a number"),
    ("shape_rank9", st(hdr({"w": entry("F32", [1] * 9, 0, 4)}), data(4)), "tensor 'w'",
     "shape has 9 dims, more than the 8 tessera supports"),
    ("offsets_three", st(hdr({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16, 16]}}), data(16)),
     "tensor 'w'", "data_offsets must be [begin, end], found an array of 3 items"),
    ("offsets_string", st(hdr({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": "0:16"}}), data(16)),
     "tensor 'w'", "data_offsets must be [begin, end], found a string"),
    ("offsets_negative", st(hdr({"w": entry("F32", [2, 2], -16, 0)}), data(16)), "tensor 'w'",
     "data_offsets[0] is -16, not an integer in [0, 2^53)"),
    ("offsets_reversed", st(hdr({"w": entry("F32", [2, 2], 16, 0)}), data(16)), "tensor 'w'",
     "data_offsets [16, 0] begin after they end"),
    ("offsets_not_from_zero", st(hdr({"w": entry("F32", [2, 2], 8, 24)}), data(24)), "tensor 'w'",
     "data_offsets [8, 24] start at 8, but the first tensor must start at 0"),
    ("offsets_hole", st(hdr({"w": W, "b": entry("F32", [2], 20, 28)}), data(28)), "tensor 'b'",
     "data_offsets [20, 28] leave a hole of 4 bytes after tensor 'w', which ends at 16"),
    ("offsets_overlap", st(hdr({"w": W, "b": entry("F32", [2], 8, 16)}), data(16)), "tensor 'b'",
     "data_offsets [8, 16] overlap tensor 'w' at [0, 16]"),
    ("length_mismatch", st(hdr({"w": entry("F32", [2, 2], 0, 12)}), data(12)), "tensor 'w'",
     "data_offsets [0, 12] hold 12 bytes, but f32 [2, 2] needs 16"),
    ("numel_overflow", st(hdr({"w": entry("F32", [4294967296, 4294967296], 0, 16)}), data(16)), "tensor 'w'",
     "f32 [4294967296, 4294967296] is too large: its size in bytes overflows 64 bits"),
    ("bytes_overflow", st(hdr({"w": entry("I64", [4294967296, 536870912], 0, 16)}), data(16)), "tensor 'w'",
     "i64 [4294967296, 536870912] is too large: its size in bytes overflows 64 bits"),
    ("trailing_bytes", st(W_HDR, data(20)), "byte 81",
     "4 bytes follow the end of the last tensor (the file must end there)"),
    ("truncated_data", st(W_HDR, data(8)), "tensor 'w'",
     "data_offsets [0, 16] end at byte 81 of the file, but the file holds only 73 bytes"),
    ("duplicate_name", st("{" + W_HDR[1:-1] + "," + W_HDR[1:-1] + "}", data(16)), "tensor 'w'",
     "appears twice in the header (each name must be unique)"),
    ("metadata_not_object", st(hdr({"__metadata__": "pt", "w": W}), data(16)), "header",
     "__metadata__ must be an object of strings, found a string"),
    ("metadata_not_strings", st(hdr({"__metadata__": {"format": "pt", "step": 3}, "w": W}), data(16)), "header",
     "__metadata__ entry 'step' is a number, not a string"),
]

# (name, file bytes, WHERE, WHAT) for --inputs files of inputs/graph.json.
INPUTS = [
    ("empty", b"", "", "the file is empty (a safetensors file starts with an 8-byte header length)"),
    ("short", b"\x39\x00\x00\x00\x00\x00\x00", "byte 0", "the file holds 7 bytes, too few for the 8-byte header length"),
    ("header_past_end", st(X_HDR, hlen=58), "byte 0",
     "header length 58 runs past the end of the file (8 + 58 bytes needed, the file holds 65)"),
    ("header_not_json", st("{'x': 1}"), "header, line 1, column 2",
     "invalid JSON: expected a string naming an object member, got ''x''"),
    ("dtype_u8", st(hdr({"x": entry("U8", [2, 3], 0, 6)}), data(6)), "tensor 'x'",
     "dtype U8 is not supported " + SUPPORTED),
    ("length_mismatch", st(hdr({"x": entry("F32", [2, 3], 0, 20)}), data(20)), "tensor 'x'",
     "data_offsets [0, 20] hold 20 bytes, but f32 [2, 3] needs 24"),
    ("shape_negative", st(hdr({"x": entry("F32", [-2, 3], 0, 24)}), data(24)), "tensor 'x'",
     "shape[0] is -2, not an integer in [0, 2^53)"),
    ("offsets_hole", st(hdr({"x": X, "y": entry("F32", [1], 32, 36)}), data(36)), "tensor 'y'",
     "data_offsets [32, 36] leave a hole of 8 bytes after tensor 'x', which ends at 24"),
    ("offsets_overlap", st(hdr({"x": X, "y": entry("F32", [2], 0, 8)}), data(24)), "tensor 'x'",
     "data_offsets [0, 24] overlap tensor 'y' at [0, 8]"),
    ("truncated_data", st(X_HDR, data(23)), "tensor 'x'",
     "data_offsets [0, 24] end at byte 89 of the file, but the file holds only 88 bytes"),
    ("trailing_bytes", st(X_HDR, data(25)), "byte 89",
     "1 bytes follow the end of the last tensor (the file must end there)"),
    ("duplicate_name", st("{" + X_HDR[1:-1] + "," + X_HDR[1:-1] + "}", data(24)), "tensor 'x'",
     "appears twice in the header (each name must be unique)"),
    ("metadata_not_strings", st(hdr({"__metadata__": {"a": ["b"]}, "x": X}), data(24)), "header",
     "__metadata__ entry 'a' is an array, not a string"),
]

# Cases that need no generated file: (dir, name, path given, WHERE, WHAT).
NO_FILE = [
    ("weights", "missing_file", "weights/no_such_file.safetensors", "",
     "cannot open: No such file or directory (the weights file of weights/missing_file.json)"),
    ("inputs", "missing_file", "inputs/no_such_file.safetensors", "", "cannot open: No such file or directory"),
    ("inputs", "is_directory", "inputs", "", "is a directory, not a safetensors file"),
]


def expect_line(path, where, what):
    return "tessera: error: " + ": ".join(p for p in (path, where, what) if p)


def write(path, content):
    mode = "wb" if isinstance(content, bytes) else "w"
    with open(path, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
        f.write(content)


def weights_graph(name, weights_file):
    g = {
        "format": "tessera.graph",
        "version": 1,
        "name": "bad-weights-" + name.replace("_", "-"),
        "weights": weights_file,
        "inputs": [],
        "nodes": [{"op": "add", "inputs": ["w", "w"], "outputs": ["y"]}],
        "outputs": ["y"],
    }
    return json.dumps(g, indent=2) + "\n"


INPUTS_GRAPH = {
    "format": "tessera.graph",
    "version": 1,
    "name": "relu",
    "inputs": [{"name": "x", "dtype": "f32", "shape": [2, 3]}],
    "nodes": [{"op": "relu", "inputs": ["x"], "outputs": ["y"]}],
    "outputs": ["y"],
}


def main():
    wdir, idir = os.path.join(HERE, "weights"), os.path.join(HERE, "inputs")
    for d in (wdir, idir, FUZZ):
        os.makedirs(d, exist_ok=True)
    names = set()
    for name, blob, where, what in WEIGHTS:
        assert len(blob) < 4096 and name not in names, name
        names.add(name)
        write(os.path.join(wdir, name + ".safetensors"), blob)
        write(os.path.join(wdir, name + ".json"), weights_graph(name, name + ".safetensors"))
        write(os.path.join(wdir, name + ".expect"),
              "# generated by make_bad_safetensors.py\n"
              + expect_line("weights/" + name + ".safetensors", where, what) + "\n")
    write(os.path.join(idir, "graph.json"), json.dumps(INPUTS_GRAPH, indent=2) + "\n")
    for name, blob, where, what in INPUTS:
        assert len(blob) < 4096
        rel = "inputs/" + name + ".safetensors"
        write(os.path.join(HERE, rel), blob)
        write(os.path.join(idir, name + ".expect"),
              "# generated by make_bad_safetensors.py\n"
              f"args: run inputs/graph.json --target ref --inputs {rel}\n"
              + expect_line(rel, where, what) + "\n")
    for d, name, given, where, what in NO_FILE:
        if d == "weights":
            write(os.path.join(wdir, name + ".json"), weights_graph(name, os.path.basename(given)))
            args = ""
        else:
            args = f"args: run inputs/graph.json --target ref --inputs {given}\n"
        write(os.path.join(HERE, d, name + ".expect"),
              "# generated by make_bad_safetensors.py\n" + args + expect_line(given, where, what) + "\n")

    # Fuzz seeds: valid files of every dtype and rank 0..4 (plus a zero-size
    # tensor and metadata), then every malformed file above.
    dtypes = [("F32", 4), ("F16", 2), ("BF16", 2), ("I32", 4), ("I64", 8), ("BOOL", 1)]
    shapes = [[], [3], [2, 3], [2, 1, 2], [1, 2, 2, 1]]
    for dt, size in dtypes:
        obj, at = {}, 0
        for r, shape in enumerate(shapes):
            n = size
            for s in shape:
                n *= s
            obj[f"{dt.lower()}_{r}"] = entry(dt, shape, at, at + n)
            at += n
        text = hdr(obj)
        text += " " * (-len(text) % 8)
        write(os.path.join(FUZZ, f"valid_{dt.lower()}.safetensors"), st(text, data(at)))
    meta = {"__metadata__": {"format": "pt", "note": "caf\u00e9"}, "w": W,
            "z": entry("BF16", [0, 4], 16, 16), "a\"b\\c": entry("BOOL", [2], 16, 18)}
    write(os.path.join(FUZZ, "valid_metadata.safetensors"), st(hdr(meta), data(18)))
    write(os.path.join(FUZZ, "valid_empty_header.safetensors"), st("{}      "))
    for prefix, cases in (("bad_w_", WEIGHTS), ("bad_i_", INPUTS)):
        for name, blob, _, _ in cases:
            write(os.path.join(FUZZ, prefix + name + ".safetensors"), blob)
    print(f"wrote {len(WEIGHTS)} weights cases, {len(INPUTS)} inputs cases, "
          f"{len(NO_FILE)} missing-file cases and fuzz seeds")


if __name__ == "__main__":
    main()
