#!/usr/bin/env bash
# Run benchmarks (issue 4): a 1,000-node chain of `true`; a 4-node run in an empty store vs a store
# holding 10,000 finished jobs; `jobs list` and `jobs schedule --format json` over 10,000 records.
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

chain() { # chain N > file
  printf 'id = "bench.chain"\nversion = "v1"\n'
  for i in $(seq 1 "$1"); do
    printf '\n[[nodes]]\nid = "n%d"\nkind = "shell"\nuses = "cap.env.shell.command.run"\nargs = { command = "true" }\n' "$i"
    [ "$i" -gt 1 ] && printf 'after = [{ node_id = "n%d" }]\n' $((i - 1))
  done
  return 0
}
repo() { # repo DIR: a git repo with the chain templates
  mkdir -p "$1/.vizier/workflow"
  git -C "$1" init -q -b main
  chain 1000 > "$1/.vizier/workflow/chain.toml"
  chain 4 > "$1/.vizier/workflow/four.toml"
  git -C "$1" add -A && git -C "$1" commit -qm bench
}
median() { # median of a hyperfine JSON export, in ms
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"
}

repo "$work/chain"
cd "$work/chain"
start=$(date +%s.%N)
"$VIZIER" run chain > /dev/null
end=$(date +%s.%N)
chain_s=$(python3 -c "print('%.2f' % ($end - $start))")

# A store with 10,000 finished jobs: the 1,000-node run's records copied under nine more run ids.
run=$(ls .vizier/jobs/runs | head -1 | sed 's/\.json$//')
for k in 1 2 3 4 5 6 7 8 9; do
  new=$(printf 'run-%016x' "$k")
  for d in .vizier/jobs/"$run"-*; do
    dest=".vizier/jobs/${new}${d#.vizier/jobs/$run}"
    mkdir -p "$dest"
    sed "s/$run/$new/g" "$d/job.json" > "$dest/job.json"
  done
  sed "s/$run/$new/g" ".vizier/jobs/runs/$run.json" > ".vizier/jobs/runs/$new.json"
  sed "s/$run/$new/g" ".vizier/jobs/plans/$run.json" > ".vizier/jobs/plans/$new.json"
done
jobs=$(ls -d .vizier/jobs/run-* | wc -l)

repo "$work/empty"
hyperfine -N --warmup 2 --runs 15 --export-json "$work/empty.json" \
  --prepare "rm -rf $work/empty/.vizier/jobs" "sh -c 'cd $work/empty && $VIZIER run four'" > /dev/null
hyperfine -N --warmup 2 --runs 15 --export-json "$work/full.json" \
  "sh -c 'cd $work/chain && $VIZIER run four'" > /dev/null
hyperfine -N --warmup 2 --runs 15 --export-json "$work/list.json" "sh -c 'cd $work/chain && $VIZIER jobs list > /dev/null'" > /dev/null
hyperfine -N --warmup 2 --runs 15 --export-json "$work/sched.json" "sh -c 'cd $work/chain && $VIZIER jobs schedule --format json > /dev/null'" > /dev/null
sched_bytes=$(cd "$work/chain" && "$VIZIER" jobs schedule --format json | wc -c)

empty=$(median "$work/empty.json"); full=$(median "$work/full.json")
ratio=$(python3 -c "print('%.2f' % ($full / $empty))")
printf '| %-52s | %12s | %-12s |\n' "measure" "result" "target"
printf '|%s|%s|%s|\n' "------------------------------------------------------" "--------------" "--------------"
printf '| %-52s | %10s s | %-12s |\n' "run: 1,000-node chain of \`true\`" "$chain_s" "≤ 5 s"
printf '| %-52s | %9s ms | %-12s |\n' "run: 4 nodes, empty store (median)" "$empty" ""
printf '| %-52s | %9s ms | %-12s |\n' "run: 4 nodes, store with $jobs finished jobs" "$full" ""
printf '| %-52s | %11sx | %-12s |\n' "  slowdown" "$ratio" "≤ 1.2x"
printf '| %-52s | %9s ms | %-12s |\n' "jobs list over $jobs records" "$(median "$work/list.json")" "≤ 80 ms"
printf '| %-52s | %9s ms | %-12s |\n' "jobs schedule --format json over $jobs records" "$(median "$work/sched.json")" "≤ 200 ms"
printf '| %-52s | %11s B | %-12s |\n' "  output size" "$sched_bytes" "linear"
