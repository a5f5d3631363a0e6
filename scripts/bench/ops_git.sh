#!/usr/bin/env bash
# Git operation benchmarks (issue 5): what the worktree, commit, merge and patch operations cost on
# top of the runner, in a repository of 200 tracked files (a larger checkout measures the filesystem, not vizier).
#   - a 5-node worktree flow (prepare → edit → stage_commit → cleanup → done) vs the same chain of `true`
#   - the repository's merge template squash-merging a plan branch (main reset before each run)
#   - a patch pipeline applying 50 patches in a worktree
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

node() { # node ID USES ARGS AFTER
  local kind=builtin
  case "$2" in cap.env.shell.*) kind=shell ;; control.*) kind=gate ;; esac
  printf '\n[[nodes]]\nid = "%s"\nkind = "%s"\nuses = "%s"\n' "$1" "$kind" "$2"
  [ -n "$3" ] && printf 'args = %s\n' "$3"
  [ -n "$4" ] && printf 'after = [{ node_id = "%s" }]\n' "$4"
  return 0
}

repo="$work/repo"
mkdir -p "$repo/.vizier/workflow" "$repo/src" "$repo/patches"
git -C "$repo" init -q -b main
printf '.vizier/jobs/\n.vizier/tmp/\n.vizier/tmp-worktrees/\n' > "$repo/.gitignore"
for i in $(seq 1 200); do printf 'line %d\n' "$i" > "$repo/src/f$i.txt"; done
{
  printf 'id = "bench.worktree"\nversion = "v1"\n[params]\nbranch = "bench/wt"\n'
  node prepare cap.env.builtin.worktree.prepare '{ branch = "${branch}", purpose = "bench" }' ""
  node edit cap.env.shell.command.run '{ command = "date +%s%N > stamp.txt" }' prepare
  node commit cap.env.builtin.git.stage_commit "" edit
  node cleanup cap.env.builtin.worktree.cleanup "" commit
  node done control.terminal "" cleanup
} > "$repo/.vizier/workflow/worktree.toml"
{
  printf 'id = "bench.chain"\nversion = "v1"\n'
  node a cap.env.shell.command.run '{ command = "true" }' ""
  node b cap.env.shell.command.run '{ command = "true" }' a
  node c cap.env.shell.command.run '{ command = "true" }' b
  node d cap.env.shell.command.run '{ command = "true" }' c
  node done control.terminal "" d
} > "$repo/.vizier/workflow/chain.toml"
cp "$root/.vizier/workflow/merge.toml" "$repo/.vizier/workflow/merge.toml"
files='['
for i in $(seq 1 50); do
  printf 'diff --git a/src/f%d.txt b/src/f%d.txt\n--- a/src/f%d.txt\n+++ b/src/f%d.txt\n@@ -1 +1,2 @@\n line %d\n+patched\n' \
    "$i" "$i" "$i" "$i" "$i" > "$repo/patches/p$i.patch"
  files="$files\"patches/p$i.patch\""
  [ "$i" -lt 50 ] && files="$files, "
done
files="$files]"
{
  printf "id = \"bench.patches\"\nversion = \"v1\"\n[params]\nbranch = \"bench/patches\"\nfiles = '%s'\n" "$files"
  node prepare cap.env.builtin.worktree.prepare '{ branch = "${branch}", purpose = "bench" }' ""
  node pipeline cap.env.builtin.patch.pipeline_prepare '{ files = "${files}" }' prepare
  node apply cap.env.builtin.patch.execute_pipeline "" pipeline
  node finalize cap.env.builtin.patch.pipeline_finalize '{ message = "bench: patches" }' apply
  node cleanup cap.env.builtin.worktree.cleanup "" finalize
  node done control.terminal "" cleanup
} > "$repo/.vizier/workflow/patches.toml"
git -C "$repo" add -A && git -C "$repo" commit -qm bench
git -C "$repo" checkout -q -b draft/plan
printf 'feature\n' > "$repo/feature.txt"
git -C "$repo" add -A && git -C "$repo" commit -qm feature
git -C "$repo" checkout -q main
base=$(git -C "$repo" rev-parse main)

median() { # median of a hyperfine JSON export, in ms
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"
}
# Each timed run starts from an empty job store, so store growth does not blur the numbers.
clean="rm -rf $repo/.vizier/jobs"
hyperfine -N --warmup 2 --runs 25 --export-json "$work/chain.json" --prepare "$clean" \
  "sh -c 'cd $repo && $VIZIER run chain'" > /dev/null
hyperfine -N --warmup 2 --runs 25 --export-json "$work/wt.json" \
  --prepare "sh -c '$clean; git -C $repo branch -q -D bench/wt 2>/dev/null || true'" \
  "sh -c 'cd $repo && $VIZIER run worktree'" > /dev/null
# What git itself takes to make and remove a worktree of this repository, for comparison.
hyperfine -N --warmup 2 --runs 25 --export-json "$work/git.json" \
  "sh -c 'git -C $repo worktree add -q -b bench/raw $repo/.vizier/tmp-worktrees/raw HEAD && git -C $repo worktree remove $repo/.vizier/tmp-worktrees/raw && git -C $repo branch -q -D bench/raw'" > /dev/null
hyperfine -N --warmup 2 --runs 25 --export-json "$work/merge.json" \
  --prepare "sh -c '$clean; git -C $repo reset -q --hard $base'" \
  "sh -c 'cd $repo && $VIZIER run merge --set ci_script=true'" > /dev/null
hyperfine -N --warmup 2 --runs 25 --export-json "$work/patches.json" \
  --prepare "sh -c '$clean; git -C $repo branch -q -D bench/patches 2>/dev/null || true'" \
  "sh -c 'cd $repo && $VIZIER run patches'" > /dev/null
test -z "$(ls "$repo/.vizier/tmp-worktrees")" || { echo "a worktree was left behind" >&2; exit 1; }

chain=$(median "$work/chain.json"); wt=$(median "$work/wt.json")
printf '| %-58s | %10s |\n' "measure (200 tracked files, median)" "result"
printf '|%s|%s|\n' "------------------------------------------------------------" "------------"
printf '| %-58s | %7s ms |\n' "run: 5-node chain of \`true\` (baseline)" "$chain"
printf '| %-58s | %7s ms |\n' "run: worktree prepare, edit, stage_commit, cleanup" "$wt"
git=$(median "$work/git.json")
printf '| %-58s | %7s ms |\n' "  git alone: worktree add + remove" "$git"
printf '| %-58s | %7s ms |\n' "  vizier cost: flow - baseline - git alone" "$(python3 -c "print('%.1f' % ($wt - $chain - $git))")"
printf '| %-58s | %7s ms |\n' "run: merge template, squash a plan branch onto main" "$(median "$work/merge.json")"
printf '| %-58s | %7s ms |\n' "run: patch pipeline, 50 patches in a worktree" "$(median "$work/patches.json")"
