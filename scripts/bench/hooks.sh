#!/usr/bin/env bash
# `git commit` of one file with different pre-commit hooks; prints a table of medians.
#   (a) no hook   (b) vizier, no template staged   (c) vizier, 5 templates staged
#   (d) a plain sh hook running `true`   (e) lefthook's Go binary (LEFTHOOK_BIN) running `true`
#   (f) prek with one `true` hook        (g) pre-commit with one `true` hook
# lefthook, prek and pre-commit come from PyPI into a venv under target/. Targets
# (issue 3): (b) adds at most 3 ms over (a), (c) at most 10 ms.
# Run through scripts/bench.sh (it builds the release binary and exports $VIZIER). RUNS=n sets the
# number of timed commits per case (default 200; pre-commit gets a tenth).
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${RUNS:-200}

venv="$root/target/bench-venv"
if [ ! -x "$venv/bin/prek" ] || [ ! -x "$venv/bin/pre-commit" ] || [ ! -x "$venv/bin/lefthook" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'lefthook==2.2.2' 'prek==0.5.11' 'pre-commit==4.7.0'
fi
# The `lefthook` command from PyPI is a Python wrapper; the Go binary ships inside the package.
LEFTHOOK_BIN=$("$venv/bin/python" -c \
  'import lefthook.main as m, os, glob; print(glob.glob(os.path.join(os.path.dirname(m.__file__), "bin", "*", "lefthook"))[0])')
export LEFTHOOK_BIN

# A quiet, isolated git.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
unset VIZIER_SKIP_HOOKS GIT_DIR GIT_INDEX_FILE

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

template() {
  cat <<T
id = "template.$1"
version = "v1"

[params]
target = "main"

[[nodes]]
id = "fmt"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "cargo fmt --check" }

[[nodes]]
id = "test"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "cargo test" }
after = [{ node_id = "fmt" }]

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "test" }]
T
}

# A repository with 500 source files and 5 committed templates.
make_repo() {
  local dir="$work/$1"
  git init -q -b main "$dir"
  mkdir -p "$dir/src" "$dir/.vizier/workflow"
  for i in $(seq 1 500); do echo "$i" >"$dir/src/f$i.txt"; done
  for t in draft approve merge ci review; do template "$t" >"$dir/.vizier/workflow/$t.toml"; done
  printf 'target\n' >"$dir/.gitignore"
  git -C "$dir" add -A
  git -C "$dir" commit -q -m init
  echo "$dir"
}

noop_config='repos:
  - repo: local
    hooks:
      - id: noop
        name: noop
        entry: "true"
        language: system
        always_run: true
        pass_filenames: false
'

a=$(make_repo none)
b=$(make_repo vizier-code)
(cd "$b" && "$VIZIER" hooks install --hook pre-commit >/dev/null)
c=$(make_repo vizier-templates)
(cd "$c" && "$VIZIER" hooks install --hook pre-commit >/dev/null)
d=$(make_repo sh)
printf '#!/bin/sh\ntrue\n' >"$d/.git/hooks/pre-commit"
chmod +x "$d/.git/hooks/pre-commit"
e=$(make_repo lefthook)
printf 'pre-commit:\n  commands:\n    noop:\n      run: "true"\n' >"$e/lefthook.yml"
git -C "$e" add lefthook.yml && git -C "$e" commit -q -m lefthook
(cd "$e" && "$LEFTHOOK_BIN" install >/dev/null)
f=$(make_repo prek)
printf '%s' "$noop_config" >"$f/.pre-commit-config.yaml"
git -C "$f" add -A && git -C "$f" commit -q -m prek
(cd "$f" && "$venv/bin/prek" install >/dev/null)
g=$(make_repo pre-commit)
printf '%s' "$noop_config" >"$g/.pre-commit-config.yaml"
git -C "$g" add -A && git -C "$g" commit -q -m pre-commit
(cd "$g" && PRE_COMMIT_HOME="$work/pre-commit-home" "$venv/bin/pre-commit" install >/dev/null)
export PRE_COMMIT_HOME="$work/pre-commit-home"

# Check each setup once: the hook must run and pass.
for dir in "$a" "$b" "$d" "$e" "$f" "$g"; do
  (cd "$dir" && date +%s%N >>src/f1.txt && git add src/f1.txt && git commit -q -m check) >/dev/null 2>&1 || {
    echo "setup check failed in $dir" >&2
    exit 1
  }
done
(cd "$c" && echo '# check' >>.vizier/workflow/ci.toml && git add .vizier &&
  git commit -q -m check 2>&1 | grep -q 'staged under .vizier/ valid') || {
  echo "the vizier hook did not validate the staged templates" >&2
  exit 1
}

# Each timed `git commit` commits one freshly staged change: a source file, and for (c) all five
# templates as well. The machine is shared, so the cases take turns in a fresh random order every round:
# load from elsewhere then spreads over all of them instead of landing on one (running each case's
# runs back to back, as hyperfine does, skewed the medians by whole milliseconds here).
python3 - "$runs" "$a" "$b" "$c" "$d" "$e" "$f" "$g" <<'PY'
import random, statistics, subprocess, sys, time

runs = int(sys.argv[1])
a, b, c, d, e, f, g = sys.argv[2:9]
code = ["src/f1.txt"]
templates = [f".vizier/workflow/{t}.toml" for t in ("draft", "approve", "merge", "ci", "review")]
cases = [
    ("(a) no hook", a, code, 1),
    ("(b) vizier, no template staged", b, code, 1),
    # (c) stages the source file too, so git's own work matches (a)'s (a new `src/` tree) and the
    # difference is the hook's, plus five more blobs' worth of tree for git.
    ("(c) vizier, 5 templates staged", c, code + templates, 1),
    ("(d) plain sh hook", d, code, 1),
    ("(e) lefthook (LEFTHOOK_BIN)", e, code, 1),
    ("(f) prek", f, code, 1),
    ("(g) pre-commit", g, code, 10),  # about 150 ms a commit: one round in ten
]
times = {name: [] for name, *_ in cases}

def commit(name, repo, files, n):
    for rel in files:
        with open(f"{repo}/{rel}", "a") as fh:
            fh.write(f"# {n}\n")
    subprocess.run(["git", "add", "--", *files], cwd=repo, check=True)
    start = time.perf_counter_ns()
    done = subprocess.run(["git", "commit", "-q", "-m", "bench"], cwd=repo, capture_output=True)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if done.returncode != 0:
        sys.exit(f"{name}: git commit failed:\n{done.stderr.decode()}")
    return elapsed

for n in range(-3, runs):  # three warm-up rounds
    order = cases[:]
    random.shuffle(order)
    for name, repo, files, every in order:
        if n % every == 0 or n < 0:
            ms = commit(name, repo, files, n)
            if n >= 0:
                times[name].append(ms)

base = statistics.median(times["(a) no hook"])
targets = {"(b)": 3.0, "(c)": 10.0}
print(f"{'git commit with':34} {'median ms':>10} {'added ms':>9} {'p25 ms':>8} {'runs':>5}  target")
for name, *_ in cases:
    t = times[name]
    median = statistics.median(t)
    p25 = statistics.quantiles(t, n=4)[0]
    added = median - base
    target = targets.get(name[:3])
    mark = "" if target is None else f"+{target:g} ms {'met' if added <= target else 'MISSED'}"
    print(f"{name:34} {median:10.2f} {added:+9.2f} {p25:8.2f} {len(t):5}  {mark}")
PY
