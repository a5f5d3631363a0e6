#!/bin/sh
# Runs `vizier ci` in any CI system, and is what the GitHub Action (action.yml) runs.
#
# Settings come from the environment, never from text spliced into this script:
#   VIZIER_BIN               the binary (default: `vizier` on PATH)
#   VIZIER_CI_TEMPLATES      template aliases, separated by spaces or newlines (default: [ci] templates)
#   VIZIER_CI_ARTIFACTS_DIR  where manifests, job records and logs are copied (default: [ci] artifacts_dir)
#   VIZIER_CI_ARGS           more arguments for `vizier ci`, split on whitespace, never globbed
# Arguments given to this script are passed on last: `ci/run-vizier.sh --format text`.
#
# The commit: on GitHub, vizier reads GITHUB_EVENT_PATH / GITHUB_SHA / GITHUB_REF itself. Elsewhere this
# script fills GITHUB_SHA and GITHUB_REF (only when unset) from VIZIER_CI_SHA / VIZIER_CI_REF, then from
# GitLab's CI_COMMIT_SHA with CI_COMMIT_TAG or CI_COMMIT_BRANCH, then from the checkout's HEAD.
set -eu

bin=${VIZIER_BIN:-vizier}
case $bin in
  */*) [ -x "$bin" ] || { echo "run-vizier.sh: VIZIER_BIN=$bin is not an executable file" >&2; exit 3; } ;;
  *) command -v "$bin" >/dev/null 2>&1 || {
       echo "run-vizier.sh: \`$bin\` is not on PATH; install vizier or set VIZIER_BIN to its path" >&2
       exit 3
     } ;;
esac

if [ -z "${GITHUB_SHA:-}" ]; then
  if [ -n "${VIZIER_CI_SHA:-}" ]; then
    GITHUB_SHA=$VIZIER_CI_SHA
  elif [ -n "${CI_COMMIT_SHA:-}" ]; then
    GITHUB_SHA=$CI_COMMIT_SHA
  else
    GITHUB_SHA=$(git rev-parse --verify HEAD) || { echo "run-vizier.sh: no commit: set VIZIER_CI_SHA" >&2; exit 3; }
  fi
  export GITHUB_SHA
fi
if [ -z "${GITHUB_REF:-}" ]; then
  if [ -n "${VIZIER_CI_REF:-}" ]; then
    GITHUB_REF=$VIZIER_CI_REF
  elif [ -n "${CI_COMMIT_TAG:-}" ]; then
    GITHUB_REF=refs/tags/$CI_COMMIT_TAG
  elif [ -n "${CI_COMMIT_BRANCH:-}" ]; then
    GITHUB_REF=refs/heads/$CI_COMMIT_BRANCH
  else
    # A detached checkout has no symbolic HEAD; vizier then needs VIZIER_CI_REF.
    GITHUB_REF=$(git symbolic-ref -q HEAD) || { echo "run-vizier.sh: no ref (detached HEAD): set VIZIER_CI_REF" >&2; exit 3; }
  fi
  export GITHUB_REF
fi

# Build the argument list in front of the script's own arguments, then rotate those to the end.
given=$#
set -- "$@" ci
set -f # split words below are data: no globbing
for template in ${VIZIER_CI_TEMPLATES:-}; do
  set -- "$@" --template "$template"
done
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
