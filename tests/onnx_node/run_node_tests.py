#!/usr/bin/env python3
"""run_node_tests.py — ONNX's own backend node tests, run through tessera.

For every node test (onnx/backend/test/case/node/*.py) of an op the importer
supports, the test's model is converted with tools/onnx2tessera, run with
`tessera run --target ref` (and cpu) on the test's inputs, and compared with the
test's expected outputs using ONNX's own tolerances: rtol 1e-3, atol 1e-7
(what onnx.backend.test.runner passes to numpy.testing.assert_allclose; NaN
equals NaN). The "_expanded" variants (the op's function body spelled out in
other ops) count under the op they expand.

The onnx wheel ships the cases as Python but not the data (model.onnx and
test_data_set_*/*.pb), and `backend-test-tools generate-data` in onnx 1.23
writes only the model tests; so this script writes the node data itself, in
the same layout, into a cache folder (--data; never the source tree) plus an
index.json naming each test's op. Regenerated when the onnx version changes.

Status of a test: passed (every target agrees), refused (the converter exits 1
with one line: listed with its reason, does not fail the run), failed (wrong
values or shape, tessera errors, converter crash), skipped (an input the
runner cannot hand to tessera, e.g. a sequence: listed with its reason).
Exit 1 if any test failed, 2 on usage or setup errors.

    run_node_tests.py --tessera build/tessera [--targets ref,cpu] [--op Softmax]
                      [--json] [--inventory] [--data DIR] [-j N]
"""
import argparse
import collections
import concurrent.futures
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    sys.exit(f"run_node_tests: needs numpy and onnx ({e}): run scripts/setup.sh")

import stio  # noqa: E402

# The ops tools/onnx2tessera supports (issue #7).
SUPPORTED = (
    "MatMul Gemm Add Sub Mul Div Pow Sqrt Reciprocal Neg Exp Log Tanh Erf Relu "
    "Sigmoid Gelu Softmax LayerNormalization ReduceMean ReduceSum ReduceMax Gather "
    "Reshape Transpose Unsqueeze Squeeze Concat Slice Split Shape Constant "
    "ConstantOfShape Cast Where Equal Expand Range Identity "
    "Abs Max Min Dropout Flatten "
    "Clip IsNaN Not And Or Greater Less GreaterOrEqual LessOrEqual").split()

RTOL, ATOL = 1e-3, 1e-7  # onnx.backend.test.case.node.expect's TestCase values
INDEX_VERSION = 1


def fail_setup(msg):
    print(f"run_node_tests: error: {msg}", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------
# Data: collect ONNX's node cases and write them to disk once.

def collect_cases():
    """Returns [(op_type, domain, TestCase)] for every ONNX node test.

    expect() does not record the op on the TestCase, so it is wrapped while the
    case modules are imported (they bind `expect` from the package at import)."""
    import warnings

    import onnx.backend.test.case.node as node_cases
    ops = {}
    original = node_cases.expect

    def recording_expect(node_op, *args, **kwargs):
        before = len(node_cases._NodeTestCases)
        original(node_op, *args, **kwargs)
        for case in node_cases._NodeTestCases[before:]:
            ops[case.name] = (node_op.op_type, node_op.domain)

    node_cases.expect = recording_expect
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            cases = node_cases.collect_testcases()
    finally:
        node_cases.expect = original
    out = []
    for case in cases:
        if case.name not in ops:
            fail_setup(f"node case {case.name}: could not tell its op")
        op, domain = ops[case.name]
        out.append((op, domain, case))
    return out


def value_kind(value_info):
    t = value_info.type
    return "tensor" if t.HasField("tensor_type") else t.WhichOneof("value")


def write_data(root):
    """Writes every node test (model.onnx, test_data_set_0/{input,output}_j.pb)
    under root/node/ and root/index.json; atomically, via a temporary folder."""
    parent = os.path.dirname(os.path.abspath(root)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".node-data-", dir=parent)
    tests = []
    for op, domain, case in collect_cases():
        d = os.path.join(tmp, "node", case.name)
        os.makedirs(d)
        model = case.model
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(model.SerializeToString())
        kinds = [value_kind(v) for v in list(model.graph.input) + list(model.graph.output)]
        entry = {"name": case.name, "op": op, "domain": domain,
                 "expanded": "_expanded" in case.name[len("test_"):],
                 "opset": next((o.version for o in model.opset_import
                                if o.domain in ("", "ai.onnx")), None),
                 "data_sets": len(case.data_sets), "non_tensor": ""}
        if any(k != "tensor" for k in kinds):
            entry["non_tensor"] = ",".join(sorted(set(k for k in kinds if k != "tensor")))
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(d, f"test_data_set_{i}")
            os.makedirs(ds)
            if entry["non_tensor"]:
                continue  # sequences, maps, optionals: tessera has no such values
            for prefix, values, infos in (("input", inputs, model.graph.input),
                                          ("output", outputs, model.graph.output)):
                for j, v in enumerate(values):
                    if not isinstance(v, onnx.TensorProto):
                        v = numpy_helper.from_array(np.asarray(v), infos[j].name)
                    with open(os.path.join(ds, f"{prefix}_{j}.pb"), "wb") as f:
                        f.write(v.SerializeToString())
        tests.append(entry)
    with open(os.path.join(tmp, "index.json"), "w") as f:
        json.dump({"index_version": INDEX_VERSION, "onnx_version": onnx.__version__,
                   "tests": tests}, f, indent=1)
    if os.path.exists(root):
        shutil.rmtree(root)
    os.rename(tmp, root)


def load_index(root):
    """The index of the data folder, writing the data first when it is missing
    or was made by another onnx version."""
    path = os.path.join(root, "index.json")
    try:
        with open(path) as f:
            index = json.load(f)
        if (index.get("onnx_version") == onnx.__version__
                and index.get("index_version") == INDEX_VERSION):
            return index
    except (OSError, ValueError):
        pass
    t = time.time()
    write_data(root)
    print(f"run_node_tests: wrote ONNX {onnx.__version__} node test data to {root} "
          f"in {time.time() - t:.1f} s", file=sys.stderr)
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# One test.

def last_line(text):
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no message)"


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def compare(name, got, want):
    """None when got (dtype, array) matches the expected numpy array, else one line."""
    dtype, arr = got
    want = np.asarray(want)
    if tuple(arr.shape) != tuple(want.shape):
        return f"{name}: shape {list(arr.shape)}, expected {list(want.shape)}"
    if want.dtype.kind in "fc" or want.dtype.name == "bfloat16":
        w = want.astype(np.float64)
        g = arr.astype(np.float64)
        bad = ~np.isclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True)
        if bad.any():
            i = np.unravel_index(np.argmax(bad), bad.shape)
            err = np.nanmax(np.where(np.isnan(g) | np.isnan(w), 0, np.abs(g - w)))
            return (f"{name}: {int(bad.sum())}/{bad.size} values off, first at {list(i)}: "
                    f"got {g[i]!r}, expected {w[i]!r} (max abs err {err:.3g})")
        return None
    if want.dtype.kind in "OSU":
        return f"{name}: expected output has dtype {want.dtype}"
    g = arr.astype(np.int64) if dtype != "bool" else arr
    w = want.astype(np.int64) if want.dtype.kind != "b" else want
    if dtype == "bool" and want.dtype.kind != "b" or dtype != "bool" and want.dtype.kind == "b":
        return f"{name}: dtype {dtype}, expected {want.dtype}"
    if not np.array_equal(g, w):
        i = np.unravel_index(np.argmax(g != w), g.shape) if g.shape else ()
        return f"{name}: {int(np.sum(g != w))} values differ, first at {list(i)}: " \
               f"got {g[i]!r}, expected {w[i]!r}"
    return None


_CONVERT_LOCK = threading.Lock()
_convert_main = None


def convert(opt, model_path, out_dir):
    """Runs onnx2tessera MODEL -o DIR; returns (exit status, stderr text).

    In-process by default (tools/onnx_import's main(), under a lock because it
    is pure Python and stderr is redirected): a process per test would spend
    most of the run importing onnx. --subprocess-converter runs the script."""
    global _convert_main
    if opt.subprocess_converter:
        p = subprocess.run([opt.converter, model_path, "-o", out_dir],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stderr
    with _CONVERT_LOCK:
        if _convert_main is None:
            sys.path.insert(0, os.path.dirname(opt.converter))
            from onnx_import.convert import main as convert_main
            _convert_main = convert_main
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                rc = _convert_main([model_path, "-o", out_dir])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
            err.write(f"{e.code}\n" if not isinstance(e.code, int) else "")
        except Exception as e:  # a crash is the converter's bug: a failure, not a refusal
            rc = 3
            err.write(f"crashed: {type(e).__name__}: {e}\n")
        return rc, err.getvalue()


# Inputs that exported models carry as constants (axes, shapes, slice bounds,
# split sizes): (op, input positions). --const-inputs bakes the test's values
# for these into the model, since tessera needs them when converting.
SHAPE_INPUTS = {"Reshape": (1,), "Slice": (1, 2, 3, 4), "Split": (1,), "Expand": (1,),
                "ReduceMean": (1,), "ReduceSum": (1,), "ReduceMax": (1,),
                "Unsqueeze": (1,), "Squeeze": (1,), "Range": (0, 1, 2), "ConstantOfShape": (0,)}


def fold_shape_inputs(entry, src, work):
    """Writes work/model.onnx with the shape-like inputs of a one-node test
    turned into initializers; returns its path, or None when nothing changed."""
    model = onnx.load(os.path.join(src, "model.onnx"))
    g = model.graph
    if len(g.node) != 1 or g.node[0].op_type not in SHAPE_INPUTS or entry["data_sets"] != 1:
        return None
    node = g.node[0]
    names = {node.input[i] for i in SHAPE_INPUTS[node.op_type] if i < len(node.input)}
    keep, folded = [], False
    for j, vi in enumerate(list(g.input)):
        if vi.name in names and vi.name:
            a = read_pb(os.path.join(src, "test_data_set_0", f"input_{j}.pb"))
            g.initializer.append(numpy_helper.from_array(a, vi.name))
            folded = True
        else:
            keep.append(vi)
    if not folded:
        return None
    del g.input[:]
    g.input.extend(keep)
    path = os.path.join(work, "model.onnx")
    onnx.save(model, path)
    return path


def run_test(entry, opt):
    """Returns {"name", "op", "status", "reason", "targets": {t: reason or None}}."""
    name = entry["name"]
    res = {"name": name, "op": entry["op"], "expanded": entry["expanded"],
           "opset": entry["opset"], "status": "passed", "reason": "", "targets": {}}
    src = os.path.join(opt.data, "node", name)
    work = os.path.join(opt.work, name)
    os.makedirs(work, exist_ok=True)
    try:
        model_path = os.path.join(src, "model.onnx")
        if opt.const_inputs:
            model_path = fold_shape_inputs(entry, src, work) or model_path
        # The converter sees the model first: a refusal is the converter's word.
        rc, err = convert(opt, model_path, work)
        if rc == 1:
            res.update(status="refused", reason=last_line(err).replace(model_path, "model.onnx"))
            return res
        if rc != 0:
            res.update(status="failed", reason=f"converter exit {rc}: {last_line(err)}")
            return res
        if entry["non_tensor"]:
            res.update(status="skipped", reason=f"converted, but its {entry['non_tensor']} "
                       "values cannot be handed to tessera")
            return res
        model = onnx.load(os.path.join(src, "model.onnx"))
        with open(os.path.join(work, "graph.json")) as f:
            graph = json.load(f)
        want_dtype = {i["name"]: i["dtype"] for i in graph.get("inputs", [])}
        for k in range(entry["data_sets"]):
            ds = os.path.join(src, f"test_data_set_{k}")
            tensors = {}
            for j, vi in enumerate(model.graph.input):
                if vi.name not in want_dtype:
                    continue  # folded away or unused by the converted graph
                a = read_pb(os.path.join(ds, f"input_{j}.pb"))
                dt = want_dtype[vi.name]
                if a.dtype.kind in "OSU":
                    res.update(status="skipped", reason=f"input {vi.name} is {a.dtype}")
                    return res
                if a.dtype.name == "bfloat16" or a.dtype.kind == "V":
                    a = a.astype(np.float32)
                try:
                    tensors[vi.name] = (dt, stio.to_dtype(a, dt) if dt != "bool" else a != 0)
                except (ValueError, OverflowError) as e:
                    res.update(status="skipped", reason=f"input {vi.name} as {dt}: {e}")
                    return res
            inputs = os.path.join(work, f"inputs_{k}.safetensors")
            stio.write(inputs, tensors)
            expected = [(vi.name, read_pb(os.path.join(ds, f"output_{j}.pb")))
                        for j, vi in enumerate(model.graph.output)]
            for target in opt.targets:
                outputs = os.path.join(work, f"outputs_{k}_{target}.safetensors")
                cmd = [opt.tessera, "run", os.path.join(work, "graph.json"),
                       "--target", target, "--inputs", inputs, "--outputs", outputs]
                if target == "cpu":
                    cmd += ["--threads", "1"]
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                why = None
                if p.returncode != 0:
                    why = f"tessera run exit {p.returncode}: {last_line(p.stderr or p.stdout)}"
                else:
                    got = stio.read(outputs)
                    for oname, want in expected:
                        if oname not in got:
                            why = f"{oname}: missing from tessera's outputs"
                        else:
                            why = compare(oname, got[oname], want)
                        if why:
                            break
                if why and not res["targets"].get(target):
                    res["targets"][target] = why
                res["targets"].setdefault(target, None)
        bad = [f"{t}: {w}" for t, w in res["targets"].items() if w]
        if bad:
            res.update(status="failed", reason="; ".join(bad))
    except subprocess.TimeoutExpired as e:
        res.update(status="failed", reason=f"timed out: {' '.join(e.cmd[:3])}")
    except (OSError, ValueError, KeyError) as e:
        res.update(status="failed", reason=f"runner: {type(e).__name__}: {e}")
    finally:
        if not opt.keep:
            shutil.rmtree(work, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------

def default_tessera():
    for b in ("build-lead", "build"):
        p = os.path.join(ROOT, b, "tessera")
        if os.access(p, os.X_OK):
            return p
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tessera", default=os.environ.get("TESSERA") or default_tessera(),
                    help="the tessera binary (default $TESSERA, else build-lead/ or build/)")
    ap.add_argument("--converter", default=os.path.join(ROOT, "tools", "onnx2tessera"))
    ap.add_argument("--subprocess-converter", action="store_true",
                    help="run the converter script per test instead of in-process")
    ap.add_argument("--targets", default="ref,cpu", help="comma list (default ref,cpu)")
    ap.add_argument("--op", action="append", help="run this op only (repeatable)")
    ap.add_argument("--data", default=os.environ.get("TESSERA_ONNX_NODE_DATA") or
                    os.path.join(tempfile.gettempdir(), f"tessera-onnx-node-{os.getuid()}"),
                    help="cache folder for the generated node test data")
    ap.add_argument("--work", help="scratch folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep converted graphs and outputs")
    ap.add_argument("--inventory", action="store_true",
                    help="only print how many node tests each supported op has")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--const-inputs", action="store_true",
                    help="bake shape-like inputs (axes, shapes, slice bounds, split sizes) "
                         "into the model as exported models carry them; not ONNX's test as "
                         "written, so reported apart")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="tests run at once (default 1)")
    opt = ap.parse_args()

    ops = SUPPORTED
    if opt.op:
        unknown = [o for o in opt.op if o not in SUPPORTED]
        if unknown:
            fail_setup(f"--op {unknown[0]}: not a supported op (one of {' '.join(SUPPORTED)})")
        ops = tuple(opt.op)
    opt.data = os.path.abspath(opt.data)
    index = load_index(opt.data)
    tests = [t for t in index["tests"] if t["op"] in ops and t["domain"] in ("", "ai.onnx")]
    by_op = collections.OrderedDict((op, []) for op in ops)
    for t in tests:
        by_op[t["op"]].append(t)

    if opt.inventory:
        rows = {op: {"tests": len(ts), "expanded": sum(t["expanded"] for t in ts),
                     "non_tensor": sum(bool(t["non_tensor"]) for t in ts),
                     "opsets": sorted(set(t["opset"] for t in ts))}
                for op, ts in by_op.items()}
        if opt.json:
            print(json.dumps({"onnx_version": onnx.__version__, "data": opt.data,
                              "total": len(tests), "ops": rows}, indent=1))
        else:
            print(f"ONNX {onnx.__version__} node tests of the supported ops ({opt.data})")
            print(f"{'op':20} {'tests':>5} {'expanded':>8} {'non-tensor':>10}  opsets")
            for op, r in rows.items():
                print(f"{op:20} {r['tests']:5} {r['expanded']:8} {r['non_tensor']:10}  "
                      f"{','.join(str(o) for o in r['opsets'])}")
            print(f"{'total':20} {len(tests):5} "
                  f"{sum(r['expanded'] for r in rows.values()):8} "
                  f"{sum(r['non_tensor'] for r in rows.values()):10}")
        return 0

    if not opt.tessera or not os.access(opt.tessera, os.X_OK):
        fail_setup(f"no tessera binary ({opt.tessera}): pass --tessera")
    if not os.access(opt.converter, os.X_OK):
        fail_setup(f"{opt.converter}: converter missing or not executable")
    opt.targets = [t for t in opt.targets.split(",") if t]
    if any(t not in ("ref", "cpu", "cuda") for t in opt.targets) or not opt.targets:
        fail_setup(f"--targets {','.join(opt.targets)}: expected ref, cpu or cuda")
    opt.tessera = os.path.abspath(opt.tessera)
    tmp = None
    if opt.work:
        os.makedirs(opt.work, exist_ok=True)
    else:
        tmp = opt.work = tempfile.mkdtemp(prefix="tessera-node-")
    t0 = time.time()
    try:
        with concurrent.futures.ThreadPoolExecutor(max(1, opt.jobs)) as pool:
            results = list(pool.map(lambda t: run_test(t, opt), tests))
    finally:
        if tmp and not opt.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.time() - t0

    statuses = ("passed", "refused", "failed", "skipped")
    table = collections.OrderedDict()
    for op in ops:
        rs = [r for r in results if r["op"] == op]
        table[op] = {"tests": len(rs), **{s: sum(r["status"] == s for r in rs) for s in statuses}}
    totals = {"tests": len(results), **{s: sum(r["status"] == s for r in results)
                                        for s in statuses}}
    if opt.json:
        print(json.dumps({"onnx_version": onnx.__version__, "targets": opt.targets,
                          "const_inputs": opt.const_inputs,
                          "rtol": RTOL, "atol": ATOL, "seconds": round(seconds, 1),
                          "totals": totals, "ops": table, "tests": results}, indent=1))
    else:
        print(f"ONNX {onnx.__version__} backend node tests through tessera "
              f"(targets {','.join(opt.targets)}; rtol {RTOL:g}, atol {ATOL:g}; "
              f"{'shape inputs baked in; ' if opt.const_inputs else ''}"
              f"{seconds:.0f} s)")
        print(f"{'op':20} {'tests':>5} {'passed':>6} {'refused':>7} {'failed':>6} {'skipped':>7}")
        for op, r in table.items():
            print(f"{op:20} {r['tests']:5} {r['passed']:6} {r['refused']:7} "
                  f"{r['failed']:6} {r['skipped']:7}")
        print(f"{'total':20} {totals['tests']:5} {totals['passed']:6} "
              f"{totals['refused']:7} {totals['failed']:6} {totals['skipped']:7}")
        for s in ("refused", "skipped", "failed"):
            rs = [r for r in results if r["status"] == s]
            if rs:
                print(f"\n{s}:")
                for r in rs:
                    print(f"  {r['op']:18} {r['name']}: {r['reason']}")
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
