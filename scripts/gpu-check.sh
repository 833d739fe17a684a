#!/usr/bin/env bash
# gpu-check.sh — one visit to a lent GPU machine (../shared/GPU.md), in one
# command of under 10 minutes: unpack the carried Debian packages, build
# tessera's GPU parts, run the gpu-labelled tests (every op and kernel kind
# against the reference), compute-sanitizer memcheck and racecheck on the
# kernel tests, the GEMM benchmark against cuBLAS, attention against PyTorch
# SDPA and whole models (tiny, GPT-2 small) against PyTorch eager. Logs and tables go to
# $OUT (the device tool's folder; default build-gpu/out); the summary table is
# printed last.
#
# Here, once (downloads cJSON's Debian packages into the ignored .device/):
#     scripts/gpu-check.sh --fetch
# Then, through the device tool:
#     run(command="bash scripts/gpu-check.sh", carry=[".device"])
# Without a GPU (this machine, CI) it still builds and reports every step as
# skipped, which is how the script itself is tested.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ "${1:-}" == --fetch ]]; then
    mkdir -p .device
    (cd .device && apt-get download libcjson1 libcjson-dev) || {
        echo "gpu-check: apt-get download libcjson1 libcjson-dev failed (needs Debian's package lists)" >&2
        exit 1
    }
    ls -l .device
    exit 0
elif [[ $# -gt 0 ]]; then
    echo "usage: scripts/gpu-check.sh [--fetch]" >&2
    exit 2
fi

out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
build=$root/build-gpu
jobs=$(nproc 2>/dev/null || echo 4)
declare -a summary=()
note() { summary+=("$(printf '%-22s %s' "$1" "$2")"); }
t_start=$(date +%s)

# ---- the machine --------------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
        nvidia-smi -q | grep -iE 'CUDA Version|Product Name|Persistence' | head -5
    else
        echo "gpu: none (no nvidia-smi)"
    fi
    command -v nvcc >/dev/null && nvcc --version | tail -2
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null
} >"$out/gpu-info.txt" 2>&1
cat "$out/gpu-info.txt"

# ---- dependencies: cJSON from the carried .deb files --------------------------
deps=/tmp/tessera-deps
if ! [[ -f /usr/include/cjson/cJSON.h ]]; then
    if compgen -G ".device/*.deb" >/dev/null; then
        mkdir -p "$deps"
        for f in .device/*.deb; do dpkg -x "$f" "$deps"; done
        export CMAKE_PREFIX_PATH="$deps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
        export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    else
        echo "gpu-check: cJSON is not installed and .device/ holds no packages: run" \
            "'scripts/gpu-check.sh --fetch' here and name .device in carry" >&2
        exit 1
    fi
fi

# ---- build ------------------------------------------------------------------------
python=$(command -v python3)
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTESSERA_PYTHON="$python" \
        -DPython3_EXECUTABLE="$python" >"$out/gpu-tests.log" 2>&1 ||
    ! cmake --build "$build" -j "$jobs" >>"$out/gpu-tests.log" 2>&1; then
    tail -30 "$out/gpu-tests.log"
    echo "gpu-check: the build failed (log: gpu-tests.log)"
    exit 1
fi
note build "ok ($(($(date +%s) - t_start)) s)"
export TESSERA_CACHE_DIR=$build/nvrtc-cache

# ---- gpu-labelled tests -------------------------------------------------------------
(cd "$build" && timeout 300 ctest -L gpu -j 2 --output-on-failure) >>"$out/gpu-tests.log" 2>&1
rc=$?
line=$(grep -E 'tests passed|tests failed' "$out/gpu-tests.log" | tail -1)
skipped=$(grep -c '\*\*\*Skipped\|Not Run' "$out/gpu-tests.log" || true)
note "gpu tests" "${line:-no ctest summary} (exit $rc; $skipped skipped)"

# ---- compute-sanitizer on the kernel tests ------------------------------------------
kt=$build/tests/test_gpu_kernels
if command -v compute-sanitizer >/dev/null && [[ -x "$kt" ]] && "$kt" -k '__probe__' >/dev/null 2>&1; then
    : >"$out/sanitizer.log"
    for tool in memcheck racecheck; do
        echo "==== compute-sanitizer --tool $tool test_gpu_kernels --quick" >>"$out/sanitizer.log"
        timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 99 "$kt" --quick >>"$out/sanitizer.log" 2>&1
        src=$?
        summ=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer.log" | tail -1)
        note "sanitizer $tool" "exit $src; ${summ:-no summary}"
    done
else
    echo "compute-sanitizer: skipped (no compute-sanitizer, no test binary, or no GPU)" >"$out/sanitizer.log"
    note sanitizer "skipped (no GPU or no compute-sanitizer)"
fi

# ---- the sm_90a wgmma GEMM (issue #8), off by default: TESSERA_HOPPER=1 ------------------
# Its matmul cases against the reference, racecheck of its mbarrier ring, then the
# benchmarks below once more with it on.
if [[ -x "$kt" ]] && "$kt" -k '__probe__' >/dev/null 2>&1; then
    TESSERA_HOPPER=1 timeout 200 "$kt" -k matmul >"$out/gpu-hopper-tests.log" 2>&1
    note "wgmma matmul tests" "exit $?; $(tail -1 "$out/gpu-hopper-tests.log")"
    if command -v compute-sanitizer >/dev/null; then
        TESSERA_HOPPER=1 timeout 200 compute-sanitizer --tool racecheck --error-exitcode 99 "$kt" --quick -k matmul \
            >"$out/gpu-hopper-racecheck.log" 2>&1
        note "wgmma racecheck" "exit $?; $(grep -E 'RACECHECK SUMMARY' "$out/gpu-hopper-racecheck.log" | tail -1)"
    fi
else
    note "wgmma matmul tests" "skipped (no GPU)"
fi

# ---- benchmarks -------------------------------------------------------------------------
# GEMM against cublasGemmEx and cublasLt: bf16 quick suite (d768, d4096, squares,
# awkward), then the fused bias+GELU on the d=4096 family.
timeout 200 "$build/tessera" bench gemm --target cuda --suite quick --dtype bf16 --transpose-b \
    --csv "$out/gpu-gemm.csv" >"$out/gpu-gemm.txt" 2>&1
note "gemm vs cuBLAS" "exit $?; $(grep -E '^geomean' "$out/gpu-gemm.txt" | head -2 | tr '\n' ' ') $(tail -1 "$out/gpu-gemm.txt")"
timeout 120 "$build/tessera" bench gemm --target cuda --suite d4096 --dtype bf16 --transpose-b \
    --epilogue bias_gelu --csv "$out/gpu-gemm-bias-gelu.csv" >"$out/gpu-gemm-bias-gelu.txt" 2>&1
note "gemm+bias+gelu" "exit $?; $(grep -E '^geomean' "$out/gpu-gemm-bias-gelu.txt" | head -2 | tr '\n' ' ') $(tail -1 "$out/gpu-gemm-bias-gelu.txt")"
TESSERA_HOPPER=1 timeout 200 "$build/tessera" bench gemm --target cuda --suite quick --dtype bf16 --transpose-b \
    --csv "$out/gpu-hopper-gemm.csv" >"$out/gpu-hopper-gemm.txt" 2>&1
note "wgmma gemm vs cuBLAS" "exit $?; $(grep -E '^geomean' "$out/gpu-hopper-gemm.txt" | head -2 | tr '\n' ' ') $(tail -1 "$out/gpu-hopper-gemm.txt")"
TESSERA_HOPPER=1 timeout 120 "$build/tessera" bench gemm --target cuda --suite d4096 --dtype bf16 --transpose-b \
    --epilogue bias_gelu --csv "$out/gpu-hopper-gemm-bias-gelu.csv" >"$out/gpu-hopper-gemm-bias-gelu.txt" 2>&1
note "wgmma gemm+bias+gelu" "exit $?; $(grep -E '^geomean' "$out/gpu-hopper-gemm-bias-gelu.txt" | head -2 | tr '\n' ' ') $(tail -1 "$out/gpu-hopper-gemm-bias-gelu.txt")"
if "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
    timeout 200 "$python" benchmarks/bench_attention.py --tessera "$build/tessera" --target cuda --suite quick \
        --dtype bf16 --peer torch --repeats 20 --csv "$out/gpu-attention.csv" >"$out/gpu-attention.txt" 2>&1
    note "attention vs torch" "exit $?; $(grep -E '^geomean' "$out/gpu-attention.txt" | head -1) $(tail -1 "$out/gpu-attention.txt")"
else
    note "attention vs torch" "skipped (no PyTorch with CUDA)"
fi
# Whole models against PyTorch eager: the three tiny families, then GPT-2 small at
# seq 128 (torch.compile's max-autotune takes minutes: run it by hand).
timeout 240 "$python" benchmarks/bench_model.py --tessera "$build/tessera" --target cuda --model tiny gpt2 \
    --quick --peers torch --csv "$out/gpu-model.csv" >"$out/gpu-model.txt" 2>"$out/gpu-model.log"
note "models vs eager" "exit $?; $(grep -E '^geomean' "$out/gpu-model.txt" | head -1) $(tail -1 "$out/gpu-model.txt")"

# Greedy generation with the key/value cache on the GPU, every token checked
# against the interpreter without a cache; then Hugging Face models built by
# transformers (the machine's python has it) against tessera on the GPU.
timeout 60 "$build/tessera" generate examples/gpt/decoder.json --tokens 3,141,59,26,53,58,97 --max-new 40 \
    --target cuda --check >"$out/gpu-generate.txt" 2>&1
note "generate (cuda)" "exit $?; $(grep -E '^(decode|check)' "$out/gpu-generate.txt" | cut -c1-90 | tr '\n' ' ')"
if "$python" -c 'import transformers' >/dev/null 2>&1; then
    timeout 150 "$python" tests/hf/check_hf.py --quick --targets cuda --tessera "$build/tessera" \
        >"$out/gpu-hf.txt" 2>&1
    note "hf vs transformers" "exit $?; $(tail -1 "$out/gpu-hf.txt")"
else
    note "hf vs transformers" "skipped (no transformers)"
fi

# ---- summary (last) ------------------------------------------------------------------------
{
    echo "gpu-check summary ($(head -3 "$out/gpu-info.txt" | tr '\n' ' '))"
    printf '%s\n' "${summary[@]}"
    echo "total: $(($(date +%s) - t_start)) s"
} | tee "$out/summary.txt"
