#!/bin/sh
# demo.sh — the whole flow in one command, with no network and no agent account:
#
#   1. build vizier (or use $VIZIER),
#   2. make a scratch git repository and `vizier init` it,
#   3. configure the example agent (scripts/example-agent.sh) and a small CI script,
#   4. `vizier run draft`: the agent writes a plan, committed on `draft/<slug>` in a worktree,
#   5. `vizier run merge`: the plan branch is squash-merged onto `main` once CI passes on it.
#
# Usage: scripts/demo.sh [DIR]    (DIR: where to make the scratch repository; default: a new temp dir)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
slug=greeting
spec="Greet new contributors in the README and point them at the docs."

step() { printf '\n==> %s\n' "$*"; }

if [ -n "${VIZIER:-}" ]; then
    vizier=$VIZIER
else
    step "building vizier"
    (cd "$here" && cargo build --quiet --bin vizier)
    vizier=${CARGO_TARGET_DIR:-$here/target}/debug/vizier
fi
case $vizier in
    /*) ;;
    *) vizier=$(pwd)/$vizier ;;
esac

if [ $# -gt 0 ]; then
    scratch=$1
    if [ -e "$scratch" ] && [ -n "$(ls -A "$scratch")" ]; then
        echo "demo: $scratch exists and is not empty" >&2
        exit 2
    fi
    mkdir -p "$scratch"
else
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/vizier-demo.XXXXXX")
fi
scratch=$(cd "$scratch" && pwd)
cd "$scratch"

failed() {
    printf '\ndemo: %s failed. The scratch repository is %s;\n' "$1" "$scratch" >&2
    printf "look with \`vizier jobs list\` and \`vizier jobs show <job>\` there.\n" >&2
    exit 1
}

step "a scratch repository in $scratch"
git init -q -b main . 2>/dev/null || { git init -q . && git symbolic-ref HEAD refs/heads/main; }
git config user.name "vizier demo"
git config user.email "demo@example.invalid"
printf '# A scratch project\n\nMade by vizier'"'"'s scripts/demo.sh.\n' > README.md
git add README.md
git commit -q -m "a project"

step "vizier init"
"$vizier" init

step "configure the example agent and the CI check"
mkdir -p scripts .ci
cp "$here/scripts/example-agent.sh" scripts/example-agent.sh
cat >> .vizier/config.toml <<'EOF'

[agent]
command = ["sh", "scripts/example-agent.sh"]
timeout_secs = 60
EOF
cat > .ci/run <<'EOF'
#!/bin/sh
# The scratch project's CI: every plan document has its two sections.
set -eu
for plan in .vizier/implementation-plans/*.md; do
    grep -q '^## Operator Spec' "$plan"
    grep -q '^## Implementation Plan' "$plan"
done
echo "ci: the plans are complete"
EOF
chmod +x .ci/run
"$vizier" validate
git add -A
git commit -q -m "vizier: scaffold, example agent, CI check"
git log --oneline

step "vizier run draft --set slug=$slug --set spec=..."
"$vizier" run draft --set "slug=$slug" --set "spec=$spec" || failed "vizier run draft"
git log --oneline "draft/$slug" -n 3
git show "draft/$slug:.vizier/implementation-plans/$slug.md"
git status --short

step "vizier run merge --set slug=$slug"
"$vizier" run merge --set "slug=$slug" || failed "vizier run merge"
git log --oneline -n 3
"$vizier" jobs list

printf '\nThe scratch repository is %s (remove it with: rm -rf %s)\n' "$scratch" "$scratch"
