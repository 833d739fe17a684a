#!/usr/bin/env python3
"""check_layering.py — enforces the module table of DESIGN.md on #include lines.

Usage: check_layering.py REPO_ROOT      self-test, then check the tree
       check_layering.py --self-test    only the self-test

Every .c/.h (and .def) file under the library folders is read. Project headers
are included by their path from the repo root ("ir/ir.h"), or by a bare name for
a file in the including file's own folder ("internal.h", "ops.def"). A folder may
include only the project folders its row of the table names; a few third-party
headers belong to one folder each; a folder's private internal.h stays inside
that folder. Each violation is printed as
    FILE:LINE: folder 'X' may not include "Y" (allowed: ...)
and the closing line is `layering: N passed, M failed` (N files clean, M files
with a violation). Exit status 0 when every file is clean, 1 otherwise, 2 when
the arguments or the tree are not what they should be. Standard library only.
"""
import os
import re
import sys
import tempfile

# The module table (DESIGN.md, "Modules"): which project folders each folder's
# files may include. tests/ and benchmarks/ may include everything and are not
# scanned; they appear here only so that a library including them is caught.
PROJECT_FOLDERS = ("ir", "frontend", "passes", "codegen", "runtime", "autotune", "tools",
                   "tests", "benchmarks")
ALLOWED = {
    "ir": ("ir",),
    "frontend": ("ir", "frontend"),
    "passes": ("ir", "passes"),
    "codegen": ("ir", "codegen"),
    "runtime": ("runtime",),
    "autotune": ("ir", "passes", "codegen", "runtime", "autotune"),
    "tools": PROJECT_FOLDERS,
}
SCANNED = ("ir", "frontend", "passes", "codegen", "runtime", "autotune", "tools")
EXTENSIONS = (".c", ".h", ".def")

# Third-party headers that belong to one folder (or to none of the libraries):
# (description, test on the include name, folders that may include it).
THIRD_PARTY = (
    ("<cjson/...>", lambda n: n.startswith("cjson/"), ("frontend", "autotune")),
    ("<llvm-c/...>", lambda n: n.startswith("llvm-c/"), ("codegen",)),
    ("<nvrtc.h>", lambda n: n == "nvrtc.h", ("codegen",)),
    ("<cuda.h>", lambda n: n == "cuda.h", ("runtime",)),
    # cuBLAS and cudart are only ever a benchmark's peer: the CLI's `bench gemm`
    # (tools/bench_cublas.c) takes their types from the headers and loads the
    # libraries with dlopen; no library folder may depend on them.
    ("<cublas*.h>", lambda n: re.fullmatch(r"cublas[A-Za-z0-9_]*\.h", n) is not None, ("tools",)),
    ("<cuda_runtime*.h>", lambda n: re.fullmatch(r"cuda_runtime[A-Za-z0-9_]*\.h", n) is not None,
     ("tools",)),
)

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]*)[>"]')


def strip_comments(text):
    """Blanks out /* */ and // comments and string literals' contents, keeping
    newlines, so that line numbers stay right and a commented-out include or an
    emitter's "#include <cuda_fp16.h>" text is not read as a directive."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "'" or (c == '"' and not _in_include(out)):
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + text[j - 1:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _in_include(out):
    """True when the text since the last newline is an #include directive's start,
    so its "quoted name" is kept."""
    tail = []
    for piece in reversed(out):
        k = piece.rfind("\n")
        if k >= 0:
            tail.append(piece[k + 1:])
            break
        tail.append(piece)
    line = "".join(reversed(tail))
    return re.fullmatch(r"[ \t]*#[ \t]*include[ \t]*", line) is not None


def allowed_text(folder):
    return ", ".join(f + "/" for f in ALLOWED[folder])


def check_include(root, relpath, delim, name):
    """Returns None when the include is allowed, else the text after the colon."""
    folder = relpath.split("/", 1)[0]
    filedir = os.path.dirname(relpath)

    def deny(extra=None):
        why = extra if extra is not None else allowed_text(folder)
        return f"folder '{folder}' may not include \"{name}\" (allowed: {why})"

    for desc, matches, owners in THIRD_PARTY:
        if matches(name):
            if folder in owners:
                return None
            owner_text = " and ".join(o + "/" for o in owners) if owners else "no library folder"
            return deny(f"{desc} only in {owner_text}")

    parts = name.split("/")
    if parts[0] in (".", ".."):
        return deny("project headers by their path from the repo root, e.g. \"ir/ir.h\"")
    if len(parts) == 1:
        if delim == "<":
            return None  # a system header
        # A bare name must be a file beside the including file (or a template
        # that CMake configures into one, like build_info.h.in).
        here = os.path.join(root, filedir, name)
        if os.path.isfile(here) or os.path.isfile(here + ".in"):
            return None
        return deny(f"a bare name only for a file in {filedir}/; "
                    f"other project headers by path from the repo root: {allowed_text(folder)}")
    target = parts[0]
    if target not in PROJECT_FOLDERS:
        # Not a project path from the root. A path relative to this file's folder
        # ("cuda/emit.h" from codegen/) still is a project header: name it fully.
        if delim == '"' and os.path.isfile(os.path.join(root, filedir, name)):
            return deny("project headers by their path from the repo root, "
                        f"e.g. \"{filedir}/{name}\"")
        return None  # a third-party header with a folder (<sys/mman.h>, …)
    if target not in ALLOWED[folder]:
        return deny()
    if parts[-1] == "internal.h":
        owner = "/".join(parts[:-1])
        if not (filedir == owner or filedir.startswith(owner + "/")):
            return deny(f"{owner}/internal.h is private to {owner}/; "
                        f"use its public header")
    return None


def scan(root):
    """Returns (clean files, files with violations, [violation lines])."""
    clean, bad, report = 0, 0, []
    for top in SCANNED:
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fname in sorted(filenames):
                if not fname.endswith(EXTENSIONS):
                    continue
                path = os.path.join(dirpath, fname)
                relpath = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = strip_comments(f.read())
                found = []
                for lineno, line in enumerate(text.split("\n"), 1):
                    m = INCLUDE_RE.match(line)
                    if not m:
                        continue
                    why = check_include(root, relpath, m.group(1), m.group(2).strip())
                    if why:
                        found.append(f"{relpath}:{lineno}: {why}")
                if found:
                    bad += 1
                    report.extend(found)
                else:
                    clean += 1
    return clean, bad, report


# ---- self-test -----------------------------------------------------------------
# Synthetic files: (path, text). A line ending in "// BAD" must be reported
# (the marker lies inside a comment, so it does not change what is read); no
# other line may be.
SELF_TEST_FILES = (
    ("ir/ir.h", '#include <stdint.h>\n#include "ops.def"\n'),
    ("ir/ops.def", "X(add)\n"),
    ("ir/internal.h", '#include "ir.h"\n'),
    ("ir/ok.c", '#include "internal.h"\n#include "ir/ir.h"\n#include <math.h>\n'
                '#include <sys/mman.h>\n'),
    ("ir/bad.c", '#include "passes/passes.h" // BAD\n'
                 '  #  include "frontend/frontend.h" // BAD\n'
                 '#include "../runtime/runtime.h" // BAD\n'
                 '#include <cjson/cJSON.h> // BAD\n'
                 '/* #include "tools/x.h" */\n'
                 '// #include "tools/y.h"\n'
                 'static const char *s = "#include <cuda.h>";\n'
                 '#if 0\n#endif\n'),
    ("frontend/frontend.h", '#include "ir/ir.h"\n'),
    ("frontend/json.c", '#include <cjson/cJSON.h>\n#include "frontend/frontend.h"\n'),
    ("frontend/bad.c", '#include "ir/internal.h" // BAD\n#include "passes/passes.h" // BAD\n'
                       '#include "ir.h" // BAD\n'),
    ("passes/passes.h", '#include "ir/ir.h"\n'),
    ("passes/bad.c", '#include "codegen/codegen.h" // BAD\n#include <llvm-c/Core.h> // BAD\n'),
    ("codegen/codegen.h", '#include "ir/ir.h"\n'),
    ("codegen/internal.h", '#include "codegen/codegen.h"\n'),
    ("codegen/cuda/internal.h", '#include "codegen/internal.h"\n'),
    ("codegen/cuda/nvrtc.c", '#include <nvrtc.h>\n#include "internal.h"\n'
                             '#include "codegen/cuda/internal.h"\n'
                             '#include "codegen/internal.h"\n'
                             '#define EMIT "#include <cuda_fp16.h>\\n"\n'),
    ("codegen/llvm/bad.c", '#include <llvm-c/Core.h>\n#include "codegen/cuda/internal.h" // BAD\n'
                           '#include <cuda.h> // BAD\n#include "runtime/runtime.h" // BAD\n'),
    ("codegen/bad.c", '#include "cuda/internal.h" // BAD\n#include <cublas_v2.h> // BAD\n'),
    ("runtime/runtime.h", '#include <stddef.h>\n'),
    ("runtime/cuda.c", '#include <cuda.h>\n#include "runtime/runtime.h"\n'),
    ("runtime/bad.c", '#include "ir/ir.h" // BAD\n#include <cuda_runtime_api.h> // BAD\n'
                      '#include <nvrtc.h> // BAD\n#include "tests/test.h" // BAD\n'),
    ("autotune/autotune.h", '#include "ir/ir.h"\n#include "passes/passes.h"\n'
                            '#include "codegen/codegen.h"\n#include "runtime/runtime.h"\n'),
    ("autotune/bad.c", '#include "frontend/frontend.h" // BAD\n'
                       '#include "passes/internal.h" // BAD\n'),
    ("tools/build_info.h.in", "#define V 1\n"),
    ("tools/main.c", '#include "build_info.h"\n#include "frontend/frontend.h"\n'
                     '#include "autotune/autotune.h"\n#include "ir/ir.h"\n'),
    ("tools/bad.c", '#include "ir/internal.h" // BAD\n#include <cuda.h> // BAD\n'
                    '#include "nothere.h" // BAD\n'),
    ("tests/ignored.c", '#include <cublas_v2.h>\n#include "ir/internal.h"\n'),
)


def self_test():
    with tempfile.TemporaryDirectory(prefix="layering-") as root:
        want = set()
        bad_files = set()
        for rel, text in SELF_TEST_FILES:
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            for lineno, line in enumerate(text.split("\n"), 1):
                if line.endswith("// BAD"):
                    want.add(f"{rel}:{lineno}")
                    bad_files.add(rel)
        clean, bad, report = scan(root)
        got = {":".join(line.split(":", 2)[:2]) for line in report}
        scanned = [r for r, _ in SELF_TEST_FILES
                   if r.endswith(EXTENSIONS) and r.split("/", 1)[0] in SCANNED]
        errors = []
        for loc in sorted(want - got):
            errors.append(f"self-test: violation not caught: {loc}")
        for line in report:
            if ":".join(line.split(":", 2)[:2]) not in want:
                errors.append(f"self-test: false alarm: {line}")
        if bad != len(bad_files) or clean != len(scanned) - len(bad_files):
            errors.append(f"self-test: counted {clean} clean and {bad} failed files, "
                          f"want {len(scanned) - len(bad_files)} and {len(bad_files)}")
        for line in report:
            if not re.fullmatch(r"[^:]+:\d+: folder '[a-z]+' may not include \"[^\"]+\" "
                                r"\(allowed: .+\)", line):
                errors.append(f"self-test: badly formed report line: {line}")
        for e in errors:
            print(e)
        if not errors:
            print(f"layering self-test: {len(want)} violations caught, "
                  f"{clean} clean files accepted")
        return not errors


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        ok = self_test()
        print(f"layering: {1 if ok else 0} passed, {0 if ok else 1} failed")
        return 0 if ok else 1
    if len(argv) != 2 or argv[1].startswith("-"):
        print("usage: check_layering.py REPO_ROOT | --self-test", file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    if not os.path.isfile(os.path.join(root, "ir", "ir.h")):
        print(f"check_layering.py: {root}: not the tessera repo root (no ir/ir.h)",
              file=sys.stderr)
        return 2
    if not self_test():
        print("layering: 0 passed, 1 failed (the checker's self-test failed)")
        return 1
    clean, bad, report = scan(root)
    for line in report:
        print(line)
    if clean + bad == 0:
        print(f"check_layering.py: {root}: no source files found", file=sys.stderr)
        return 1
    print(f"layering: {clean} passed, {bad} failed")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
