#!/usr/bin/env bash
# What the GitHub Action's install step costs without a release binary: the first run per vizier source
# and runner (a cache miss: `cargo install --locked`, fat LTO, from an empty target folder) against a
# later one (the cache restored the build folder: no compile). Times ci/install-vizier.sh exactly as
# action.yml runs it, on a copy of the action's files; prints a table.
# Run through scripts/bench.sh (it exports $VIZIER; unused here).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vizier-bench-action.XXXXXX")
trap 'rm -rf "$work"' EXIT

action=$work/action
mkdir -p "$action"
cp -R "$root/action.yml" "$root/ci" "$root/src" "$root/hooks" "$root/Cargo.toml" "$root/Cargo.lock" "$action/"
export VIZIER_BUILD_DIR=$work/vizier-build CARGO_TARGET_DIR=$work/target
unset VIZIER_PATH VIZIER_VERSION GITHUB_OUTPUT GITHUB_PATH

seconds() { # runs "$@" quietly, prints the wall time in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }'
}

key=$(seconds sh "$action/ci/install-vizier.sh" --cache-key)
first=$(seconds sh "$action/ci/install-vizier.sh")
grep -q "building from source" "$work/stderr" || { echo "the first run did not build" >&2; exit 1; }
second=$(seconds sh "$action/ci/install-vizier.sh")
grep -q "using the cached build" "$work/stderr" || { echo "the second run built again" >&2; exit 1; }

printf '%-44s %10s\n' "case" "seconds"
printf '%-44s %10s\n' "cache key (hash of the build's inputs)" "$key"
printf '%-44s %10s\n' "first run: cache miss, cargo install --locked" "$first"
printf '%-44s %10s\n' "later run: cache restored, no compile" "$second"
echo "($(nproc 2>/dev/null || sysctl -n hw.ncpu) cores; the cache restore itself is actions/cache's download, not timed here)"
