#!/usr/bin/env bash
# test.sh — builds tessera and runs its test suite in three stages, as CI does:
#   unit  build/       RelWithDebInfo, -Werror; every test but the fuzz ones
#   asan  build-asan/  the same under AddressSanitizer and UBSan (leaks too)
#   fuzz  build-fuzz/  clang + libFuzzer; each fuzz target for TESSERA_FUZZ_SECONDS
# Ends with a table of the stages and the line `tests: P passed, F failed`.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/test.sh [--quick] [--stage NAME]... [--help]

Runs scripts/setup.sh --pretrained, then each stage: configure (CMake, Ninja), build, ctest.
  unit   build/       -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_WERROR=ON;
                      ctest -LE 'fuzz|gpu' (gpu: scripts/gpu-check.sh)
  asan   build-asan/  -DTESSERA_SANITIZE=address,undefined -DTESSERA_WERROR=ON;
                      ctest -LE 'fuzz|gpu' with leak detection, halting on any report
  fuzz   build-fuzz/  CC=clang -DTESSERA_FUZZ=ON; ctest -L fuzz, each target for
                      $TESSERA_FUZZ_SECONDS seconds (default 180 when CI=true,
                      60 otherwise)

  --quick        the unit stage only (what a developer runs before pushing)
  --stage NAME   run only the named stage (unit, asan or fuzz; a, b, c also
                 work); may be given more than once
  --help         show this message

Environment: TESSERA_FUZZ_SECONDS (default 180 under CI, else 60); TESSERA_BUILD_DIR (default
build; the other stages use its name with -asan and -fuzz appended).

Exit status: 0 when every stage built and ran at least one test and no test
failed; 1 otherwise (a failed configure or build stops the run at once).
EOF
}

stages=()
while (($# > 0)); do
    case "$1" in
        --quick) stages+=(unit) ;;
        --stage | --stage=*)
            if [[ "$1" == --stage=* ]]; then
                name=${1#--stage=}
            elif (($# < 2)); then
                echo "test.sh: --stage needs a name (unit, asan or fuzz)" >&2
                exit 2
            else
                name=$2
                shift
            fi
            case "$name" in
                unit | a) stages+=(unit) ;;
                asan | b) stages+=(asan) ;;
                fuzz | c) stages+=(fuzz) ;;
                *) echo "test.sh: unknown stage '$name' (unit, asan or fuzz)" >&2; exit 2 ;;
            esac
            ;;
        -h | --help) usage; exit 0 ;;
        *) echo "test.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if ((${#stages[@]} == 0)); then
    stages=(unit asan fuzz)
fi
# In pipeline order, each once.
wanted=" ${stages[*]} "
stages=()
for name in unit asan fuzz; do
    if [[ "$wanted" == *" $name "* ]]; then stages+=("$name"); fi
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

build=${TESSERA_BUILD_DIR:-build}
python="$build/venv/bin/python3"
[[ "$python" == /* ]] || python="$root/$python"
# CI has 90 minutes and the rest of the suite takes a few: give the fuzzers more.
if [[ "${CI:-}" == true ]]; then default_fuzz_seconds=180; else default_fuzz_seconds=60; fi
fuzz_seconds=${TESSERA_FUZZ_SECONDS:-$default_fuzz_seconds}
if ! [[ "$fuzz_seconds" =~ ^[0-9]+$ ]] || ((fuzz_seconds == 0)); then
    echo "test.sh: TESSERA_FUZZ_SECONDS must be a positive whole number, not '$fuzz_seconds'" >&2
    exit 2
fi
jobs=$(nproc)
started=$SECONDS

echo "==> setup: scripts/setup.sh --pretrained"
bash scripts/setup.sh --pretrained

duration() {
    local s=$1
    if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# Results, by stage.
declare -A res_dir res_build res_passed res_failed res_skipped res_result res_time
ran=()
status=0

summary() {
    local name total_passed=0 total_failed=0
    echo
    echo "==> summary ($(duration $((SECONDS - started))) in all)"
    printf '%-6s %-12s %-7s %7s %7s %8s  %-18s %s\n' \
        stage dir build passed failed skipped result time
    for name in "${ran[@]}"; do
        printf '%-6s %-12s %-7s %7s %7s %8s  %-18s %s\n' "$name" "${res_dir[$name]}" \
            "${res_build[$name]}" "${res_passed[$name]:--}" "${res_failed[$name]:--}" \
            "${res_skipped[$name]:--}" "${res_result[$name]}" "${res_time[$name]}"
        total_passed=$((total_passed + ${res_passed[$name]:-0}))
        total_failed=$((total_failed + ${res_failed[$name]:-0}))
    done
    echo "tests: $total_passed passed, $total_failed failed"
}

# run_stage NAME DIR "ENV..." CMAKE_ARGS... -- CTEST_ARGS...
# Configures and builds DIR (a failure ends the script), then runs ctest with
# the environment ENV (space-separated NAME=VALUE words) and records its counts.
run_stage() {
    local name=$1 dir=$2 env_words=$3
    shift 3
    local -a cmake_args=() ctest_args=() env_args=()
    while (($# > 0)) && [[ "$1" != -- ]]; do cmake_args+=("$1"); shift; done
    if (($# > 0)); then shift; fi
    ctest_args=("$@")
    read -r -a env_args <<<"$env_words"

    local t0=$SECONDS
    ran+=("$name")
    res_dir[$name]="$dir/"
    res_build[$name]=-
    res_result[$name]="not run"
    res_time[$name]=-
    echo
    echo "==> stage $name: $dir/ (cmake ${cmake_args[*]}; ctest ${ctest_args[*]})"

    # A build folder made earlier with another generator cannot be reused as is.
    if [[ -f "$dir/CMakeCache.txt" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
        echo "test.sh: $dir/ was configured with another generator; reconfiguring it for Ninja"
        rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
    fi
    if ! env "${env_args[@]}" cmake -S "$root" -B "$dir" -G Ninja \
        -DTESSERA_PYTHON="$python" -DPython3_EXECUTABLE="$python" "${cmake_args[@]}" </dev/null ||
        ! ninja -C "$dir" -j"$jobs" </dev/null; then
        res_build[$name]=FAILED
        res_result[$name]="FAIL (build)"
        res_time[$name]=$(duration $((SECONDS - t0)))
        echo "test.sh: stage $name: the configure or build step failed" >&2
        summary
        exit 1
    fi
    res_build[$name]=ok

    local log="$dir/ctest-$name.log" rc=0
    env "${env_args[@]}" ctest --test-dir "$dir" -j2 --output-on-failure --no-tests=error \
        --timeout 600 "${ctest_args[@]}" </dev/null 2>&1 | tee "$log" || rc=$?

    # ctest's closing count: "95% tests passed, 1 tests failed out of 20". It
    # counts a skipped test as passed; the skipped ones are listed afterwards.
    local line total=0 failed=0 skipped=0
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    if [[ "$line" =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
        failed=${BASH_REMATCH[1]}
        total=${BASH_REMATCH[2]}
    fi
    skipped=$(grep -cE '^[[:space:]]+[0-9]+ - .* \(Skipped\)$' "$log" || true)
    res_failed[$name]=$failed
    res_skipped[$name]=$skipped
    res_passed[$name]=$((total - failed - skipped))
    res_time[$name]=$(duration $((SECONDS - t0)))
    if ((total == 0)); then
        if grep -q '^No tests were found' "$log"; then
            res_result[$name]="FAIL (no tests)"
        else
            res_result[$name]="FAIL (ctest rc=$rc)"
        fi
        status=1
    elif ((failed > 0 || rc != 0)); then
        res_result[$name]="FAIL"
        status=1
    else
        res_result[$name]="ok"
    fi
    echo "<== stage $name: ${res_passed[$name]} passed, $failed failed, $skipped skipped" \
        "in ${res_time[$name]}: ${res_result[$name]}"
}

for stage in "${stages[@]}"; do
    case "$stage" in
        unit)
            run_stage unit "$build" "" \
                -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_WERROR=ON -DTESSERA_SANITIZE= \
                -DTESSERA_FUZZ=OFF -- -LE 'fuzz|gpu'
            ;;
        asan)
            run_stage asan "$build-asan" \
                "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
                -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=address,undefined \
                -DTESSERA_WERROR=ON -DTESSERA_FUZZ=OFF -- -LE 'fuzz|gpu'
            ;;
        fuzz)
            clang=$(command -v clang || true)
            if [[ -z "$clang" ]]; then
                echo "test.sh: clang not found (scripts/setup.sh installs it)" >&2
                exit 1
            fi
            run_stage fuzz "$build-fuzz" \
                "CC=$clang UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
                -DCMAKE_C_COMPILER="$clang" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_FUZZ=ON \
                -DTESSERA_SANITIZE= -DTESSERA_FUZZ_SECONDS="$fuzz_seconds" -- -L fuzz
            ;;
    esac
done

summary
exit "$status"
