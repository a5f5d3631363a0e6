#!/usr/bin/env bash
# The job process alone (issue 17): `vizier __workflow-node --job-id <id>` for the last node of a
# chain of 200 and of a chain of BENCH_JOB_BIG (2000) `true` nodes, against a bare `sh -c true`.
# Its cost must not grow with the run (it reads its own job.json and the run's outputs index, never
# the whole plan). Each sample starts the job process for a fresh attempt of a finished run, with
# VIZIER_DRIVER set so it does not tick; medians of interleaved rounds (BENCH_JOB_ROUNDS, 30).
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
big=${BENCH_JOB_BIG:-2000}
rounds=${BENCH_JOB_ROUNDS:-30}

. "$(dirname "$0")/lib/chain.sh"
for n in 200 "$big"; do # a finished run of a chain of N (fsync off: setting up is not measured)
  mkdir -p "$work/c$n/.vizier/workflow"
  git -C "$work/c$n" init -q -b main
  chain "$n" > "$work/c$n/.vizier/workflow/chain.toml"
  git -C "$work/c$n" add -A && git -C "$work/c$n" commit -qm bench
  (cd "$work/c$n" && VIZIER_FSYNC=0 "$VIZIER" run chain > /dev/null)
done
declare -A run_of
for n in 200 "$big"; do
  run=$(cd "$work/c$n/.vizier/jobs/runs" && ls -- *.json | head -1)
  run_of[$n]=${run%.json}
done
# The one fsync a job process does (its outcome.json) is left out (VIZIER_FSYNC=0): it costs the
# same at any size and this shared disk's flush times would drown the difference measured here.
job() { # job N ATTEMPT: prints the ns one job process took
  local start end
  cd "$work/c$1"
  start=$(date +%s%N)
  VIZIER_FSYNC=0 VIZIER_DRIVER=1 VIZIER_ATTEMPT=$2 "$VIZIER" __workflow-node --job-id "${run_of[$1]}-n$1"
  end=$(date +%s%N)
  cd "$work"
  echo $((end - start))
}
bare() { local start end; start=$(date +%s%N); sh -c true; end=$(date +%s%N); echo $((end - start)); }
times="$work/times.txt"
: > "$times"
for r in $(seq 1 "$rounds"); do
  attempt=$((r + 1))
  echo "small $(job 200 "$attempt")" >> "$times"
  echo "big $(job "$big" "$attempt")" >> "$times"
  echo "bare $(bare)" >> "$times"
done
python3 - "$times" "$big" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, ns = line.split()
    runs.setdefault(name, []).append(int(ns) / 1e6)
med = {k: statistics.median(v) for k, v in runs.items()}
big = sys.argv[2]
rows = [
    ("job process, last node of 200 / bare `sh -c true`", "%.2f / %.2f ms" % (med["small"], med["bare"]), "%.2fx" % (med["small"] / med["bare"]), ""),
    ("job process, last node of %s / of 200" % big, "%.2f / %.2f ms" % (med["big"], med["small"]), "%.2fx" % (med["big"] / med["small"]), "<= 1.1x"),
]
print("| %-58s | %-20s | %-8s | %-8s |" % ("measure (medians of interleaved rounds)", "result", "ratio", "target"))
print("|%s|%s|%s|%s|" % ("-" * 60, "-" * 22, "-" * 10, "-" * 10))
for r in rows:
    print("| %-58s | %-20s | %-8s | %-8s |" % r)
PY
