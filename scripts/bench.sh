#!/usr/bin/env bash
# Benchmarks, each printing a table: scripts/bench.sh [SUITE...]  (default: every scripts/bench/*.sh)
# Speed and memory goals live here, never in timed tests. What is measured is the binary users
# download: the release build for the host's release target (`scripts/package.sh --print-target`; on
# Linux the static musl one, which needs the musl target and musl-tools), where cargo puts it:
# $CARGO_TARGET_DIR (relative to the repository root when relative) or target/, then
# <target>/release/vizier. `scripts/bench.sh --print-binary` prints that path and builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in
  /*) ;;
  *) target_dir="$root/$target_dir" ;;
esac
release_target=$("$root/scripts/package.sh" --print-target)
export VIZIER="$target_dir/$release_target/release/vizier"
if [ "${1:-}" = "--print-binary" ]; then
  printf '%s\n' "$VIZIER"
  exit 0
fi
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=()
  for f in "$here"/bench/*.sh; do suites+=("$(basename "$f" .sh)"); done
fi
# Unknown names fail before the (slow) release build.
for suite in "${suites[@]}"; do
  if [ ! -f "$here/bench/$suite.sh" ]; then
    echo "unknown benchmark '$suite' (have: $(ls "$here/bench" | sed 's/\.sh$//' | tr '\n' ' '))" >&2
    exit 2
  fi
done
# The release recipe itself (and its checks for the musl target and C compiler).
"$root/scripts/package.sh" --target "$release_target" --out "$target_dir/package" > /dev/null
if [ ! -x "$VIZIER" ]; then
  echo "the release build did not produce $VIZIER" >&2
  exit 3
fi
for suite in "${suites[@]}"; do
  echo "== $suite"
  bash "$here/bench/$suite.sh"
done
