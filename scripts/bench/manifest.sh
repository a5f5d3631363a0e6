#!/usr/bin/env bash
# Reading and rewriting a large run manifest (issue 11: one tolerant manifest model). A store holds
# one run of a 5,000-node chain (BENCH_MANIFEST_NODES), made by growing a real 2-node run's plan
# and manifest, with its last node still queued. Two cases, each a release-build hyperfine median
# and, when valgrind is there, the instructions callgrind counts (steady on a shared machine):
#   - `jobs schedule --run R --format dag`: one parse of the manifest, a small output;
#   - `jobs cancel <last job>`: the person-driven change: parse, rewrite, and the tick that follows
#     (the manifest is put back before each run).
# Run through `scripts/bench.sh manifest`, which builds release and exports $VIZIER.
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh, which exports VIZIER}"
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }
nodes=${BENCH_MANIFEST_NODES:-5000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

repo=$work/repo
mkdir -p "$repo/.vizier/workflow"
git -C "$repo" init -q -b main
printf '.vizier/jobs/\n' > "$repo/.gitignore"
{
  printf 'id = "bench.manifest"\nversion = "v1"\n'
  printf '\n[[nodes]]\nid = "n1"\nkind = "shell"\nuses = "cap.env.shell.command.run"\nargs = { command = "true" }\n'
  printf '\n[[nodes]]\nid = "n2"\nkind = "shell"\nuses = "cap.env.shell.command.run"\nargs = { command = "true" }\nafter = [{ node_id = "n1" }]\n'
} > "$repo/.vizier/workflow/chain.toml"
git -C "$repo" add -A && git -C "$repo" commit -qm bench
(cd "$repo" && VIZIER_FSYNC=0 "$VIZIER" run chain > /dev/null)
run=$(ls "$repo/.vizier/jobs/runs" | grep -v '^\.' | sed 's/\.json$//')

# Grow the run to $nodes nodes: node k (k > 2) is node 2 again, after node k-1; the last one queued.
python3 - "$repo/.vizier/jobs" "$run" "$nodes" <<'PY'
import copy, json, os, sys
jobs, run, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
plan_path, man_path = f"{jobs}/plans/{run}.json", f"{jobs}/runs/{run}.json"
plan, man = json.load(open(plan_path)), json.load(open(man_path))
pn, mn = plan["nodes"][1], man["nodes"][1]
job2 = f"{run}-n2"
for k in range(3, n + 1):
    node_id, job_id = f"n{k}", f"{run}-n{k}"
    p = json.loads(json.dumps(pn).replace(job2, job_id))
    p["node_id"] = node_id
    p["deps"] = [{"node": k - 2, "on": "success"}]
    plan["nodes"].append(p)
    m = json.loads(json.dumps(mn).replace(job2, job_id))
    m["node_id"], m["after"] = node_id, [f"{run}-n{k - 1}"]
    man["nodes"].append(m)
    os.makedirs(f"{jobs}/{job_id}", exist_ok=True)
last = man["nodes"][-1]
for key in ("outcome", "exit_code", "started_at", "finished_at"):
    last[key] = None
last["status"] = "queued"
man["outcome"] = man["finished_at"] = None
json.dump(plan, open(plan_path, "w"), separators=(",", ":"))
json.dump(man, open(man_path, "w"), separators=(",", ":"))
PY
last="$run-n$nodes"
cp "$repo/.vizier/jobs/runs/$run.json" "$work/manifest.json"
cat > "$work/restore.sh" <<EOF
#!/bin/sh
cp "$work/manifest.json" "$repo/.vizier/jobs/runs/$run.json"
rm -f "$repo/.vizier/jobs/active/$run" "$repo/.vizier/jobs/$last/job.json"
EOF
chmod +x "$work/restore.sh"
bytes=$(wc -c < "$work/manifest.json")

median() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"; }
instructions() { # instructions COMMAND...: what callgrind counts, or "n/a" without valgrind
  if command -v valgrind >/dev/null; then
    "$work/restore.sh"
    (cd "$repo" && valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | python3 -c 'import sys; print("{:,}".format(int(sys.stdin.read())))'
  else
    echo "n/a"
  fi
}
cd "$repo"
"$work/restore.sh"
hyperfine -N --warmup 2 --runs 15 --export-json "$work/sched.json" \
  "$VIZIER jobs schedule --run $run --format dag" > /dev/null
hyperfine -N --warmup 2 --runs 15 --prepare "$work/restore.sh" --export-json "$work/cancel.json" \
  "$VIZIER jobs cancel $last" > /dev/null
sched_ir=$(instructions "$VIZIER" jobs schedule --run "$run" --format dag)
cancel_ir=$(instructions "$VIZIER" jobs cancel "$last")

printf '| %-54s | %10s | %16s |\n' "measure ($nodes-node manifest, $bytes B)" "median" "instructions"
printf '|%s|%s|%s|\n' "--------------------------------------------------------" "------------" "------------------"
printf '| %-54s | %7s ms | %16s |\n' "jobs schedule --run --format dag (one parse)" "$(median "$work/sched.json")" "$sched_ir"
printf '| %-54s | %7s ms | %16s |\n' "jobs cancel (parse, rewrite, tick)" "$(median "$work/cancel.json")" "$cancel_ir"
