#!/bin/sh
# Runs one step of a fanned-out vizier run: `vizier ci plan`, `vizier ci node` or `vizier ci collect`.
# It is what the actions under ci/plan, ci/node and ci/collect run (see docs/ci.md, "When one runner is
# not enough"), and works the same in any CI.
#
# Usage: ci/run-fanout.sh plan|node|collect [more vizier arguments...]
# Settings come from the environment, never from text spliced into this script:
#   VIZIER_BIN               the binary (default: `vizier` on PATH)
#   VIZIER_CI_TEMPLATES      plan: template aliases, separated by spaces or newlines
#   VIZIER_FANOUT_MAX_LEVELS plan: the number of level jobs (default 8)
#   VIZIER_FANOUT_GROUP      node: the group to run (`<run_id>.g<k>`, from the plan's matrix)
#   VIZIER_FANOUT_STORE_IN   node, collect: folders of earlier jobs' artifacts, one per line
#   VIZIER_CI_ARTIFACTS_DIR  where this step writes its records (uploaded by the workflow)
#   VIZIER_CI_ARGS           more arguments, split on whitespace, never globbed
set -eu

mode=${1:-}
case $mode in
  plan | node | collect) shift ;;
  *) echo "run-fanout.sh: the first argument must be plan, node or collect (got \`$mode\`)" >&2; exit 2 ;;
esac

bin=${VIZIER_BIN:-vizier}
case $bin in
  */*) [ -x "$bin" ] || { echo "run-fanout.sh: VIZIER_BIN=$bin is not an executable file" >&2; exit 3; } ;;
  *) command -v "$bin" >/dev/null 2>&1 || {
       echo "run-fanout.sh: \`$bin\` is not on PATH; install vizier or set VIZIER_BIN to its path" >&2
       exit 3
     } ;;
esac

given=$#
set -- "$@" ci "$mode"
set -f # split words below are data: no globbing
case $mode in
  plan)
    for template in ${VIZIER_CI_TEMPLATES:-}; do
      set -- "$@" --template "$template"
    done
    if [ -n "${VIZIER_FANOUT_MAX_LEVELS:-}" ]; then
      set -- "$@" --max-levels "$VIZIER_FANOUT_MAX_LEVELS"
    fi
    ;;
  node)
    [ -n "${VIZIER_FANOUT_GROUP:-}" ] || { echo "run-fanout.sh: node needs VIZIER_FANOUT_GROUP" >&2; exit 2; }
    set -- "$@" --group "$VIZIER_FANOUT_GROUP"
    ;;
esac
if [ "$mode" != plan ]; then
  # One folder per line; a folder name may hold spaces.
  newline='
'
  old_ifs=$IFS
  IFS=$newline
  for dir in ${VIZIER_FANOUT_STORE_IN:-}; do
    [ -n "$dir" ] && set -- "$@" --store-in "$dir"
  done
  IFS=$old_ifs
fi
if [ -n "${VIZIER_CI_ARTIFACTS_DIR:-}" ]; then
  set -- "$@" --artifacts-dir "$VIZIER_CI_ARTIFACTS_DIR"
fi
for arg in ${VIZIER_CI_ARGS:-}; do
  set -- "$@" "$arg"
done
set +f
i=0
while [ "$i" -lt "$given" ]; do
  set -- "$@" "$1"
  shift
  i=$((i + 1))
done

exec "$bin" "$@"
