#!/usr/bin/env bash
# artifact-jail.sh — shows that a compiled model needs nothing but what its
# ELF header names: compiles MODEL with --embed-weights, copies the executable
# and exactly the libraries ldd lists into an empty directory, and runs it
# there under chroot (root only), so no LLVM, compiler, tessera or weights file
# can be reached. Prints the files in the jail and the model's output summary.
#
# usage: sudo scripts/artifact-jail.sh [MODEL.json] [TESSERA]
set -euo pipefail
model=${1:-examples/gpt/graph.json}
tessera=${2:-build/tessera}
if [[ $(id -u) -ne 0 ]]; then
    echo "artifact-jail.sh: chroot needs root (run with sudo)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$tessera" compile "$model" --target cpu --embed-weights -o "$work/out/model" >/dev/null
jail="$work/jail"
mkdir -p "$jail/app" "$jail/tmp"
cp "$work/out/model/model" "$jail/app/model"
# Every library the dynamic loader resolves, and the loader itself.
ldd "$jail/app/model" | awk '/=> \// {print $3} /^[ \t]*\// {print $1}' | while read -r lib; do
    mkdir -p "$jail$(dirname "$lib")"
    cp -L "$lib" "$jail$lib"
done
echo "files in the jail:"
(cd "$jail" && find . -type f | sort | sed 's|^\.|  |')
echo "running /app/model inside it:"
chroot "$jail" /app/model --fill random --seed 1
