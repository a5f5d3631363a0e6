#!/usr/bin/env bash
# Agent benchmarks (issue 5): what prompt.resolve + agent.invoke add to a run over plain shell
# nodes; four runs of one template started at once; how close a timeout stops an agent to its
# deadline; `vizier init` and `vizier init --check`.
set -euo pipefail
: "${VIZIER:?run through scripts/bench.sh}"
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

median() { # median of a hyperfine JSON export, in ms
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"
}
now() { date +%s.%N; }
secs() { python3 -c "print('%.2f' % ($2 - $1))"; }

repo="$work/repo"
mkdir -p "$repo/.vizier/workflow"
git -C "$repo" init -q -b main
cat > "$repo/.vizier/workflow/fan.toml" <<'EOF'
id = "bench.fan"
version = "v1"
[params]
topic = "x"
[[artifact_contracts]]
id = "prompt_text"
version = "v1"
[[nodes]]
id = "prompt"
kind = "builtin"
uses = "cap.env.builtin.prompt.resolve"
args = { prompt_text = "Plan for ${topic}" }
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "main" } }] }
[[nodes]]
id = "agent"
kind = "agent"
uses = "cap.agent.invoke"
after = [{ node_id = "prompt" }]
needs = [{ custom = { type_id = "prompt_text", key = "main" } }]
[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "agent" }]
EOF
cat > "$repo/.vizier/workflow/shell.toml" <<'EOF'
id = "bench.shell"
version = "v1"
[[nodes]]
id = "prompt"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
[[nodes]]
id = "agent"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "cat >/dev/null" }
after = [{ node_id = "prompt" }]
[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "agent" }]
EOF
cp "$repo/.vizier/workflow/fan.toml" "$repo/.vizier/workflow/slow.toml"
printf '[agent]\ncommand = ["sh", "-c", "cat >/dev/null"]\n[agents.slow]\ncommand = ["sleep", "30"]\ntimeout_secs = 1\n' \
  > "$repo/.vizier/config.toml"
git -C "$repo" add -A && git -C "$repo" commit -qm bench
cd "$repo"

hyperfine -N --warmup 2 --runs 20 --export-json "$work/shell.json" \
  --prepare "rm -rf $repo/.vizier/jobs" "$VIZIER run shell" > /dev/null
hyperfine -N --warmup 2 --runs 20 --export-json "$work/fan.json" \
  --prepare "rm -rf $repo/.vizier/jobs" "$VIZIER run fan" > /dev/null

rm -rf .vizier/jobs
start=$(now)
for t in alpha bravo charlie delta; do "$VIZIER" run fan --set "topic=$t" > /dev/null & done
wait
four=$(secs "$start" "$(now)")

start=$(now)
"$VIZIER" run slow > /dev/null || true
timeout=$(secs "$start" "$(now)")

fresh="$work/fresh"
mkdir -p "$fresh" && git -C "$fresh" init -q -b main
hyperfine -N --warmup 2 --runs 20 --export-json "$work/init.json" \
  --prepare "rm -rf $fresh/.vizier $fresh/.gitignore" "sh -c 'cd $fresh && $VIZIER init'" > /dev/null
(cd "$fresh" && "$VIZIER" init > /dev/null)
hyperfine -N --warmup 2 --runs 20 --export-json "$work/check.json" \
  "sh -c 'cd $fresh && $VIZIER init --check'" > /dev/null

shell=$(median "$work/shell.json"); fan=$(median "$work/fan.json")
extra=$(python3 -c "print('%.1f' % ($fan - $shell))")
printf '| %-52s | %12s | %-12s |\n' "measure" "result" "target"
printf '|%s|%s|%s|\n' "------------------------------------------------------" "--------------" "--------------"
printf '| %-52s | %9s ms | %-12s |\n' "run: 2 shell nodes + terminal (median)" "$shell" ""
printf '| %-52s | %9s ms | %-12s |\n' "run: prompt.resolve + agent.invoke + terminal" "$fan" ""
printf '| %-52s | %9s ms | %-12s |\n' "  added by the prompt payload and the agent runner" "$extra" "≤ 20 ms"
printf '| %-52s | %10s s | %-12s |\n' "4 runs of one template at once (wall)" "$four" "≤ 2 s"
printf '| %-52s | %10s s | %-12s |\n' "agent with timeout_secs = 1: run ends after" "$timeout" "≤ 1.5 s"
printf '| %-52s | %9s ms | %-12s |\n' "vizier init, fresh repository (median)" "$(median "$work/init.json")" "≤ 20 ms"
printf '| %-52s | %9s ms | %-12s |\n' "vizier init --check, complete (median)" "$(median "$work/check.json")" "≤ 10 ms"
