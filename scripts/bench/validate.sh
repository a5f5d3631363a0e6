#!/usr/bin/env bash
# `vizier validate` on generated chains of `command.run` nodes (each node after the previous one),
# plus `vizier --version` for start-up cost. Prints one row per case: median wall time (hyperfine),
# mean CPU time (user + system; steadier than wall time on a shared machine), peak resident memory
# (/usr/bin/time), CPU time per 1,000 nodes (flat when growth is linear) and the target. Run through `scripts/bench.sh validate`, which builds release and exports $VIZIER.
#
# Targets (issue 2): 5,000 nodes in <= 150 ms and <= 50 MB, growing linearly; --version <= 2 ms.
set -euo pipefail

: "${VIZIER:?run through scripts/bench.sh, which exports VIZIER}"

need() {
  local program=$1 package=$2
  if ! command -v "$program" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing $package for $program" >&2
      apt-get update -qq >/dev/null && apt-get install -y -qq "$package" >/dev/null
    else
      echo "missing $program: install the $package package" >&2
      exit 2
    fi
  fi
}
need hyperfine hyperfine
need /usr/bin/time time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# chain N [REF_PREFIX]: N shell nodes, node i after node i-1. With REF_PREFIX the `after` entries name
# nodes that do not exist (every reference dangling: the worst case for "did you mean" hints).
chain() {
  local n=$1 ref=${2:-n}
  awk -v n="$n" -v ref="$ref" 'BEGIN {
    print "id = \"template.chain\""
    print "version = \"v1\""
    for (i = 1; i <= n; i++) {
      print ""
      print "[[nodes]]"
      printf "id = \"n%d\"\n", i
      print "kind = \"shell\""
      print "uses = \"cap.env.shell.command.run\""
      printf "args = { command = \"echo step %d\" }\n", i
      if (i > 1) printf "after = [{ node_id = \"%s%d\" }]\n", ref, i - 1
    }
  }'
}

# timing DIR ARGS...: "<median wall ms> <mean cpu ms>" from hyperfine, run inside DIR.
timing() {
  local dir=$1
  shift
  local csv="$work/hyperfine.csv"
  (cd "$dir" && hyperfine -N -i --style none --warmup 3 --min-runs 10 --export-csv "$csv" \
    "$(printf '%q ' "$@")" >/dev/null 2>&1)
  awk -F, 'NR == 2 { printf "%.1f %.1f\n", $4 * 1000, ($5 + $6) * 1000 }' "$csv"
}

# peak_mb DIR ARGS...: the largest resident set of five runs, in MB.
peak_mb() {
  local dir=$1
  shift
  local max=0 kb
  for _ in 1 2 3 4 5; do
    kb=$(cd "$dir" && /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1)
    [ "$kb" -gt "$max" ] && max=$kb
  done
  awk -v kb="$max" 'BEGIN { printf "%.1f", kb / 1024 }'
}

row() {
  printf '| %-20s | %9s | %8s | %7s | %12s | %-19s |\n' "$@"
}

row "case" "median ms" "CPU ms" "peak MB" "CPU ms/1,000" "target"
row "--------------------" "---------" "--------" "-------" "------------" "-------------------"

read -r wall cpu < <(timing "$work" "$VIZIER" --version)
row "vizier --version" "$wall" "$cpu" "$(peak_mb "$work" "$VIZIER" --version)" "" "<= 2 ms"

case_row() {
  local label=$1 n=$2 ref=$3 target=$4
  local dir="$work/$n-$ref"
  mkdir -p "$dir/.vizier/workflow"
  chain "$n" "$ref" >"$dir/.vizier/workflow/chain.toml"
  # The chain must be what we think it is: valid, or failing only on dangling references.
  if [ "$ref" = n ]; then
    (cd "$dir" && "$VIZIER" validate >/dev/null) || { echo "chain of $n is not valid" >&2; exit 1; }
  fi
  local wall cpu
  read -r wall cpu < <(timing "$dir" "$VIZIER" validate)
  row "$label" "$wall" "$cpu" "$(peak_mb "$dir" "$VIZIER" validate)" \
    "$(awk -v ms="$cpu" -v n="$n" 'BEGIN { printf "%.1f", ms * 1000 / n }')" "$target"
}

case_row "chain 1,000" 1000 n ""
case_row "chain 5,000" 5000 n "<= 150 ms, <= 50 MB"
case_row "chain 10,000" 10000 n "linear"
case_row "5,000 dangling refs" 5000 gone "linear"
