#!/bin/sh
# example-agent.sh — a stand-in for a coding agent, for the demo and for trying templates without an
# agent account. No network, no model: it reads the prompt on stdin and answers from its text alone.
#
#   [agent]
#   command = ["sh", "/path/to/scripts/example-agent.sh"]
#
# - "Implement the plan in <file>" (the `approve` template's prompt): records the work in
#   `implemented/<name>.md` (a real edit for `git.stage_commit` to commit) and prints what it did.
# - Any other prompt: prints an implementation plan for it, which `plan.persist` puts in the plan
#   document. The spec is the prompt's text after its first blank line (the `draft` template's shape),
#   or the whole prompt when there is none.
#
# Progress notes go to stderr (the job's stderr log); the answer goes to stdout.
set -eu

prompt=$(cat)
if [ -z "$(printf '%s' "$prompt" | tr -d '[:space:]')" ]; then
    echo "example-agent: the prompt is empty" >&2
    exit 2
fi
echo "example-agent: read a prompt of $(printf '%s\n' "$prompt" | wc -l | tr -d ' ') line(s) in $(pwd)" >&2

plan_file=$(printf '%s\n' "$prompt" | sed -n 's/.*Implement the plan in \([^[:space:]]*\).*/\1/p' | head -n 1)
if [ -n "$plan_file" ]; then
    if [ ! -f "$plan_file" ]; then
        echo "example-agent: the plan \`$plan_file\` does not exist here" >&2
        exit 1
    fi
    name=$(basename "$plan_file" .md)
    mkdir -p implemented
    {
        echo "# Implemented: $name"
        echo
        echo "Work done by example-agent following \`$plan_file\`:"
        echo
        sed -n 's/^[0-9][0-9]*\. /- /p' "$plan_file"
    } > "implemented/$name.md"
    echo "Implemented the plan in $plan_file; see implemented/$name.md."
    exit 0
fi

# The spec: everything after the first blank line, else the whole prompt.
spec=$(printf '%s\n' "$prompt" | awk 'found { print; next } /^[[:space:]]*$/ { found = 1 }')
if [ -z "$(printf '%s' "$spec" | tr -d '[:space:]')" ]; then
    spec=$prompt
fi
summary=$(printf '%s\n' "$spec" | awk 'NF { print; exit }')

cat <<EOF
### Summary

$summary

### Steps

1. Find where the change belongs: read the code and docs that "$summary" touches.
2. Make the change in small commits, keeping the build green after each.
3. Add or update tests that fail without the change and pass with it.
4. Update the documentation and the changelog.

### Checks

- The project's own checks (\`.ci/run\`) pass on the merged result.
EOF
