#!/bin/sh
# The project's checks: `vizier run ci` and `vizier ci` (the `check` node of
# .vizier/workflow/ci.toml) run this file from the repository root. A non-zero exit fails the run.
# Replace the line below with your build and tests, for example:
#   cargo test --locked      npm ci && npm test      make check      pytest
set -eu
echo "vizier: .ci/run has no checks yet; write your build and tests into it"
