#!/usr/bin/env bash
# Hostile validation inputs: time and peak memory of `vizier validate --format json` on
#  - diamond imports: 23 files, each importing the next one twice (a composition that doubles),
#  - a chain of 32,000 params, each naming the one before,
#  - 100,000 dangling `after` references,
#  - params that double 40 times (a 1 KB template expanding to terabytes).
# Each must stay well under a second and a few tens of MB: validation is linear in its input.
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
git init -q
mkdir -p .vizier/workflow/d
node='[[nodes]]
id = "a"
kind = "shell"
uses = "cap.env.shell.command.run"'
for ((k = 0; k < 23; k++)); do
  if [ $k -eq 0 ]; then f=.vizier/workflow/diamond.toml; next=d/f1.toml; else f=.vizier/workflow/d/f$k.toml; next=f$((k + 1)).toml; fi
  printf 'id = "t%d"\nversion = "v1"\n[[imports]]\nname = "l"\npath = "%s"\n[[imports]]\nname = "r"\npath = "%s"\n' "$k" "$next" "$next" >"$f"
done
printf 'id = "leaf"\nversion = "v1"\n%s\nargs = { command = "true" }\n' "$node" >.vizier/workflow/d/f23.toml
{
  printf 'id = "chain"\nversion = "v1"\n[params]\np0 = "x"\n'
  for ((i = 1; i < 32000; i++)); do printf 'p%d = "${p%d}"\n' $i $((i - 1)); done
  printf '%s\nargs = { command = "echo ${p31999}" }\n' "$node"
} >.vizier/workflow/chain.toml
{
  printf 'id = "dangling"\nversion = "v1"\n%s\nargs = { command = "true" }\nafter = [' "$node"
  for ((i = 0; i < 100000; i++)); do printf '{ node_id = "m%d" }, ' $i; done
  printf ']\n'
} >.vizier/workflow/dangling.toml
{
  printf 'id = "double"\nversion = "v1"\n[params]\np0 = "xxxxxxxxxxxxxxxxxxxxxxxx"\n'
  for ((i = 1; i <= 40; i++)); do printf 'p%d = "${p%d}${p%d}"\n' $i $((i - 1)) $((i - 1)); done
  printf '%s\nargs = { command = "echo ${p40}" }\n' "$node"
} >.vizier/workflow/double.toml
printf '%-10s %10s %10s %s\n' input seconds peak_kb errors
for t in diamond chain dangling double; do
  /usr/bin/time -f '%e %M' -o time.txt "$VIZIER" validate --format json ".vizier/workflow/$t.toml" >out.json || true
  read -r secs kb < <(tail -1 time.txt)
  errors=$(grep -o '"errors": [0-9]*' out.json | tail -1 | grep -o '[0-9]*$' || echo '-')
  printf '%-10s %10s %10s %s\n' "$t" "$secs" "$kb" "$errors"
done
