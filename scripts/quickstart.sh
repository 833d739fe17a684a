#!/usr/bin/env bash
# quickstart.sh — from a fresh clone to a first result: installs what is missing
# (scripts/setup.sh), builds build/ with CMake and Ninja, and runs the bundled
# GPT example compiled for this CPU, checked against the reference interpreter.
set -euo pipefail

case "${1:-}" in
    "") ;;
    -h | --help)
        cat <<'USAGE'
usage: scripts/quickstart.sh

Runs scripts/setup.sh, configures and builds build/ (RelWithDebInfo, Ninja), then
  build/tessera run examples/gpt/graph.json --target cpu --check --fill random --seed 1
TESSERA_BUILD_DIR names another build folder (default build).
USAGE
        exit 0
        ;;
    *) echo "quickstart.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${TESSERA_BUILD_DIR:-build}
python="$build/venv/bin/python3"
[[ "$python" == /* ]] || python="$root/$python"

echo "==> scripts/setup.sh"
bash scripts/setup.sh

echo "==> configure and build $build/"
if [[ -f "$build/CMakeCache.txt" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$build/CMakeCache.txt"; then
    rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles" # made with another generator
fi
# Plain options spelled out: scripts/test.sh builds the same folder with -Werror.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_PYTHON="$python" \
    -DPython3_EXECUTABLE="$python" -DTESSERA_WERROR=OFF -DTESSERA_SANITIZE= -DTESSERA_FUZZ=OFF
ninja -C "$build" -j"$(nproc)"

example=examples/gpt/graph.json
echo "==> $build/tessera run $example --target cpu --check --fill random --seed 1"
"$build/tessera" run "$example" --target cpu --check --fill random --seed 1

echo
echo "Next steps:"
printf '  %s:\n      %s\n' \
    "the graph IR after each pass, the kernels and the memory plan" "$build/tessera inspect $example --dump all" \
    "a deployable library and executable" "$build/tessera compile $example --target cpu -o /tmp/gpt" \
    "every command and its options" "$build/tessera --help" \
    "build with -Werror and run the tests" "scripts/test.sh --quick"
