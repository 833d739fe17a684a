#!/usr/bin/env bash
# bench-cpu.sh — the CPU benchmark tables of benchmarks/results/: GEMM against
# OpenBLAS (full suite, both B layouts, 1 and 2 threads; f16, bf16 and the fused
# bias+GELU epilogue; tuned at 2 threads), attention against PyTorch's SDPA on the CPU, and
# whole models against onnxruntime (and PyTorch eager where installed).
# Each table gets a header naming the machine, the commit and the date, a CSV
# and a PNG chart. Run on a quiet machine: other load shows up as noise.
#
#   scripts/bench-cpu.sh [--out DIR] [--only gemm|attention|model|tuned] [--python PY]
#
# --python names an interpreter with numpy and torch for attention and model
# (default $TESSERA_PYTHON, else build/venv/bin/python: numpy and onnxruntime).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/benchmarks/results
only=""
python=${TESSERA_PYTHON:-$root/build/venv/bin/python}
tessera=${TESSERA:-$root/build/tessera}
while (($# > 0)); do
    case "$1" in
        --out) out=$2; shift ;;
        --only) only=$2; shift ;;
        --python) python=$2; shift ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-cpu: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ -x "$tessera" ]] || { echo "bench-cpu: $tessera not built (scripts/build.sh, or set TESSERA)" >&2; exit 1; }
mkdir -p "$out"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "+changes" || true)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
status=0

# run NAME COMMAND...: COMMAND's stdout to NAME.txt under a header; stderr shown.
run() {
    local name=$1
    shift
    echo "== $name" >&2
    {
        echo "# $name — $(date -u +%Y-%m-%d) — commit $commit$dirty — $cpu, $(nproc) cores"
        echo "# command: $*"
        "$@" || status=1
    } > "$out/$name.txt"
    tail -3 "$out/$name.txt" >&2
}

gemm() {
    local name=$1
    shift
    run "$name" "$tessera" bench gemm --target cpu "$@" --csv "$out/$name.csv" --plot "$out/$name.png"
}

if [[ -z "$only" || "$only" == gemm ]]; then
    for t in 1 2; do
        gemm cpu-bench-gemm-full-kn-t$t --suite full --threads $t
        gemm cpu-bench-gemm-full-nk-t$t --suite full --transpose-b --threads $t
    done
    gemm cpu-bench-gemm-quick-f16-t2 --suite quick --dtype f16 --threads 2
    gemm cpu-bench-gemm-quick-bf16-t2 --suite quick --dtype bf16 --threads 2
    gemm cpu-bench-gemm-quick-bias-gelu-t2 --suite quick --transpose-b --epilogue bias_gelu --threads 2
fi
if [[ -z "$only" || "$only" == attention ]]; then
    if ! "$python" -c 'import torch' 2>/dev/null; then
        echo "bench-cpu: $python has no PyTorch: attention is compared with numpy only (--python PY)" >&2
    fi
    for t in 1 2; do
        run cpu-bench-attention-quick-t$t env TESSERA_PYTHON="$python" "$tessera" bench attention --target cpu \
            --suite quick --threads $t --csv "$out/cpu-bench-attention-quick-t$t.csv" \
            --plot "$out/cpu-bench-attention-quick-t$t.png"
    done
fi
if [[ -z "$only" || "$only" == model ]]; then
    # GPT-2 small and BERT-base at seq 128, the LLaMA-style model at seq 512,
    # batch 1, against onnxruntime (and PyTorch eager where --python has it).
    run cpu-bench-model-t2 env TESSERA_PYTHON="$python" "$tessera" bench model --target cpu --threads 2 \
        --csv "$out/cpu-bench-model-t2.csv" --plot "$out/cpu-bench-model-t2.png"
fi
if [[ -z "$only" || "$only" == tuned ]]; then
    # Tuning (32 trials a problem) is mostly the reference's time on the big ones.
    db=$(mktemp -d)/bench.jsonl
    gemm cpu-bench-gemm-quick-tuned-t2 --suite quick --threads 2 --db "$db" --tune
fi
exit $status
