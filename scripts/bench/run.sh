#!/usr/bin/env bash
# Run benchmarks (issue 4): a 1,000-node chain of `true`; a 4-node run in an empty store vs a store
# holding 10,000 finished jobs; `jobs list` and `jobs schedule --format json` over 10,000 records.
# Then (issue 17) every Goal and Keep line as ratios of medians from interleaved rounds (below).
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

. "$(dirname "$0")/lib/chain.sh"
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

# Per-node cost against the process-spawn floor (issue 17), as ratios of medians from interleaved
# rounds: each round runs every case once, in the same order, so the load of this shared machine
# falls on vizier and its peers alike. Peers: N bare `sh -c true` spawns, make, ninja.
# Knobs: BENCH_ROUNDS (5), BENCH_BIG (5000: the flatness chain), BENCH_STORE_RUNS (2000).
rounds=${BENCH_ROUNDS:-5}
big=${BENCH_BIG:-5000}
store_runs=${BENCH_STORE_RUNS:-2000}
have_ninja=1
command -v ninja >/dev/null || { have_ninja=0; echo "ninja is absent (apt-get install ninja-build): its columns are skipped" >&2; }
command -v make >/dev/null || { echo "make is needed" >&2; exit 2; }

fan() { # fan N > file: N independent nodes and a join after all of them
  printf 'id = "bench.fan"\nversion = "v1"\n'
  after=""
  for i in $(seq 1 "$1"); do
    printf '\n[[nodes]]\nid = "f%d"\nkind = "shell"\nuses = "cap.env.shell.command.run"\nargs = { command = "true" }\n' "$i"
    after="$after${after:+, }{ node_id = \"f$i\" }"
  done
  printf '\n[[nodes]]\nid = "join"\nkind = "shell"\nuses = "cap.env.shell.command.run"\nargs = { command = "true" }\nafter = [%s]\n' "$after"
}
make_chain() { # make_chain N > Makefile (phony targets, each after the previous)
  printf 'all: t%d\n' "$1"
  printf '.PHONY: all'; for i in $(seq 1 "$1"); do printf ' t%d' "$i"; done; printf '\n'
  for i in $(seq 1 "$1"); do
    if [ "$i" -gt 1 ]; then printf 't%d: t%d\n\tsh -c true\n' "$i" $((i - 1)); else printf 't1:\n\tsh -c true\n'; fi
  done
}
make_fan() { # make_fan N > Makefile
  printf 'all: join\n.PHONY: all join'; for i in $(seq 1 "$1"); do printf ' f%d' "$i"; done; printf '\n'
  printf 'join:'; for i in $(seq 1 "$1"); do printf ' f%d' "$i"; done; printf '\n\tsh -c true\n'
  for i in $(seq 1 "$1"); do printf 'f%d:\n\tsh -c true\n' "$i"; done
}
ninja_chain() { # ninja_chain N > build.ninja (outputs are phony files removed before each build)
  printf 'rule t\n  command = true\n'
  printf 'build t1: t\n'
  for i in $(seq 2 "$1"); do printf 'build t%d: t t%d\n' "$i" $((i - 1)); done
}
ninja_fan() {
  printf 'rule t\n  command = true\n'
  for i in $(seq 1 "$1"); do printf 'build f%d: t\n' "$i"; done
  printf 'build join: t'; for i in $(seq 1 "$1"); do printf ' f%d' "$i"; done; printf '\n'
}
spawn_repo() { # spawn_repo DIR: templates chain200, chain1000, chainbig, fan200, four
  mkdir -p "$1/.vizier/workflow"
  git -C "$1" init -q -b main
  chain 200 | sed 's/bench.chain/bench.chain200/' > "$1/.vizier/workflow/chain200.toml"
  chain 1000 | sed 's/bench.chain/bench.chain1000/' > "$1/.vizier/workflow/chain1000.toml"
  chain "$big" | sed 's/bench.chain/bench.chainbig/' > "$1/.vizier/workflow/chainbig.toml"
  fan 200 > "$1/.vizier/workflow/fan200.toml"
  chain 4 | sed 's/bench.chain/bench.four/' > "$1/.vizier/workflow/four.toml"
  git -C "$1" add -A && git -C "$1" commit -qm bench
}
spawn_repo "$work/spawn"
spawn_repo "$work/full2k"
for n in 200 1000 "$big"; do
  mkdir -p "$work/make$n" "$work/ninja$n"
  make_chain "$n" > "$work/make$n/Makefile"
  ninja_chain "$n" > "$work/ninja$n/build.ninja"
done
mkdir -p "$work/makefan" "$work/ninjafan"
make_fan 200 > "$work/makefan/Makefile"
ninja_fan 200 > "$work/ninjafan/build.ninja"
# Keep lines: a commit with vizier's pre-commit hook and no template staged against a bare commit
# without it (as scripts/bench/hooks.sh sets them up); `jobs list` over the 10,000 jobs of
# $work/chain above; `validate` of a 5,000-node chain against Python's tomllib parsing that file
# (in-process parse time, interpreter start-up left out).
# 60 commits per round: the hook line is a difference of a few ms on a ~12 ms commit.
commits=60
for h in nohook noophook vizierhook; do
  mkdir -p "$work/$h/src"
  git -C "$work/$h" init -q -b main
  cp -r "$work/spawn/.vizier" "$work/$h/"
  rm -rf "$work/$h/.vizier/jobs"
  echo 0 > "$work/$h/src/f.txt"
  git -C "$work/$h" add -A && git -C "$work/$h" commit -qm init
done
(cd "$work/vizierhook" && "$VIZIER" hooks install --hook pre-commit > /dev/null)
# What git itself spends on running any pre-commit hook: one that only exits.
printf '#!/bin/sh\nexit 0\n' > "$work/noophook/.git/hooks/pre-commit"
chmod +x "$work/noophook/.git/hooks/pre-commit"
mkdir -p "$work/validate5k/.vizier/workflow"
chain 5000 > "$work/validate5k/.vizier/workflow/chain.toml"
(cd "$work/validate5k" && "$VIZIER" validate > /dev/null) || { echo "the 5,000-node chain is not valid" >&2; exit 3; }
python3 -c 'import tomllib' 2>/dev/null || { echo "python3 >= 3.11 (tomllib) is needed" >&2; exit 2; }
commit_n() { # commit_n DIR: $commits commits of one changed file
  local i
  for ((i = 0; i < commits; i++)); do
    date +%s%N > "$1/src/f.txt"
    git -C "$1" add src/f.txt && git -C "$1" commit -qm change
  done
}
tomllib_ms() { # appends "tomllib <ns>": the parse alone, timed inside Python
  python3 - "$work/validate5k/.vizier/workflow/chain.toml" >> "$times" <<'PY'
import sys, time, tomllib
data = open(sys.argv[1], "rb").read().decode()
start = time.perf_counter_ns()
tomllib.loads(data)
print("tomllib", time.perf_counter_ns() - start)
PY
}

# A store holding $store_runs earlier runs of `four` (fsync off while filling: only the measured
# runs pay for durability).
(cd "$work/full2k" && for _ in $(seq 1 "$store_runs"); do VIZIER_FSYNC=0 "$VIZIER" run four > /dev/null; done)
sync # what the unsynced filling left in the page cache is not flushed by the measured runs

times="$work/times.txt"
: > "$times"
clock() { # clock CASE COMMAND...: appends "CASE seconds"
  local name=$1 start end
  shift
  start=$(date +%s%N)
  "$@" > /dev/null 2>&1 || { echo "$name failed: $*" >&2; exit 3; }
  end=$(date +%s%N)
  echo "$name $(( end - start ))" >> "$times"
}
bare() { local i; for ((i = 0; i < $1; i++)); do sh -c true; done; }
vrun() { (cd "$work/spawn" && "$VIZIER" run "$1"); }
# Outside the clock: move the last run's store aside and flush, so every case starts from an empty
# store and none pays for the one before it. Aside, not removed: removing a 5,000-node run's store
# takes seconds, and for a minute or more after a removal ext4 skips the freed inodes when it makes
# new files (`recently_deleted`), which doubled the per-node cost measured here. The stores set
# aside are removed with $work when the script ends.
aside=0
fresh() {
  if [ -d "$work/spawn/.vizier/jobs" ]; then
    aside=$((aside + 1))
    mkdir -p "$work/aside"
    mv "$work/spawn/.vizier/jobs" "$work/aside/$aside"
  fi
  sync
}
nin() { rm -f "$1"/t* "$1"/f* "$1"/join "$1"/.ninja_*; ninja -C "$1" "${@:2}"; }
for round in $(seq 1 "$rounds"); do
  fresh
  clock vizier200 vrun chain200
  clock bare200 bare 200
  clock make200 make -s -C "$work/make200" -j1
  [ $have_ninja = 1 ] && clock ninja200 nin "$work/ninja200" -j1
  fresh
  clock vizier1000 vrun chain1000
  clock bare1000 bare 1000
  [ $have_ninja = 1 ] && clock ninja1000 nin "$work/ninja1000" -j1
  if [ "$round" -le 3 ]; then
    fresh
    clock vizierbig vrun chainbig
    clock barebig bare "$big"
  fi
  fresh
  clock vizierfan vrun fan200
  clock makefan make -s -C "$work/makefan" -j2
  [ $have_ninja = 1 ] && clock ninjafan nin "$work/ninjafan" -j2
  fresh
  clock fourempty sh -c "cd '$work/spawn' && '$VIZIER' run four"
  sync
  clock fourfull sh -c "cd '$work/full2k' && '$VIZIER' run four"
  clock commitbare commit_n "$work/nohook"
  clock commitvizier commit_n "$work/vizierhook"
  clock commitnoop commit_n "$work/noophook"
  clock jobslist sh -c "cd '$work/chain' && '$VIZIER' jobs list"
  clock validate5k sh -c "cd '$work/validate5k' && '$VIZIER' validate"
  tomllib_ms
done
echo
python3 - "$times" "$big" "$store_runs" "$commits" "$jobs" <<'PY'
import statistics, sys
times, big, store_runs, commits, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
runs = {}
for line in open(times):
    name, ns = line.split()
    runs.setdefault(name, []).append(int(ns) / 1e6)
med = {k: statistics.median(v) for k, v in runs.items()}
def ms(k):
    return "%.0f ms" % med[k] if k in med else "absent"
def ratio(a, b):
    return "%.2fx" % (med[a] / med[b]) if a in med and b in med else "n/a"
rows = [
    ("chain of 200 `true`: vizier / 200 bare `sh -c true`", "%s / %s" % (ms("vizier200"), ms("bare200")), ratio("vizier200", "bare200"), "<= 3.5x"),
    ("  against make -j1 / ninja -j1", "%s / %s" % (ms("make200"), ms("ninja200")), "%s / %s" % (ratio("vizier200", "make200"), ratio("vizier200", "ninja200")), ""),
    ("chain of 1,000: vizier / 1,000 bare", "%s / %s" % (ms("vizier1000"), ms("bare1000")), ratio("vizier1000", "bare1000"), "<= 3.5x"),
    ("  against ninja -j1", ms("ninja1000"), ratio("vizier1000", "ninja1000"), ""),
    ("chain of %d: vizier / %d bare" % (big, big), "%s / %s" % (ms("vizierbig"), ms("barebig")), ratio("vizierbig", "barebig"), "completes"),
    ("ms per node at %d / at 200" % big, "%.2f / %.2f ms" % (med["vizierbig"] / big, med["vizier200"] / 200), "%.2fx" % ((med["vizierbig"] / big) / (med["vizier200"] / 200)), "<= 1.1x"),
    ("200 independent + join: vizier / make -j2", "%s / %s" % (ms("vizierfan"), ms("makefan")), ratio("vizierfan", "makefan"), "<= 3x"),
    ("  against ninja -j2", ms("ninjafan"), ratio("vizierfan", "ninjafan"), ""),
    ("4-node run, store of %d earlier runs / empty store" % store_runs, "%s / %s" % (ms("fourfull"), ms("fourempty")), ratio("fourfull", "fourempty"), "<= 1.1x"),
    ("keep: commit, vizier hook, no template staged / no hook", "%.1f / %.1f ms" % (med["commitvizier"] / commits, med["commitbare"] / commits), "%s, +%.1f ms" % (ratio("commitvizier", "commitbare"), (med["commitvizier"] - med["commitbare"]) / commits), "+<= 3 ms"),
    ("  of which git running any hook (one that only exits)", "%.1f ms" % (med["commitnoop"] / commits), "+%.1f ms" % ((med["commitnoop"] - med["commitbare"]) / commits), ""),
    ("keep: jobs list over %d jobs" % jobs, ms("jobslist"), "", "<= 80 ms"),
    ("keep: validate 5,000 nodes / tomllib parsing the file", "%s / %s" % (ms("validate5k"), ms("tomllib")), ratio("validate5k", "tomllib"), "<= 0.5x"),
]
print("| %-58s | %-22s | %-13s | %-9s |" % ("measure (medians of interleaved rounds)", "result", "ratio", "target"))
print("|%s|%s|%s|%s|" % ("-" * 60, "-" * 24, "-" * 15, "-" * 11))
for r in rows:
    print("| %-58s | %-22s | %-13s | %-9s |" % r)
PY
