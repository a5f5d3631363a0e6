#!/usr/bin/env bash
# Benchmarks, each printing a table: scripts/bench.sh [validate|hooks|run]...  (default: all)
# Speed and memory goals live here, never in timed tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
cargo build --release --quiet
export VIZIER="$root/target/release/vizier"
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=()
  for f in "$here"/bench/*.sh; do suites+=("$(basename "$f" .sh)"); done
fi
for suite in "${suites[@]}"; do
  script="$here/bench/$suite.sh"
  if [ ! -f "$script" ]; then
    echo "unknown benchmark '$suite' (have: $(ls "$here/bench" | sed 's/\.sh$//' | tr '\n' ' '))" >&2
    exit 2
  fi
  echo "== $suite"
  bash "$script"
done
