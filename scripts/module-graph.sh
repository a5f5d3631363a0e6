#!/bin/sh
# Prints the crate's module edges: one line `from -> to` for every top-level module `from` (a file
# `src/from.rs` or a folder `src/from/`) whose code names `crate::to`. Sorted, one edge per pair.
# Anyone can run it from the repository root: `scripts/module-graph.sh`. The architecture test
# (`tests/integration/architecture.rs`) reads the same edges and checks them against the code map in
# `docs/ARCHITECTURE.md`.
set -eu
cd "$(dirname "$0")/.."
find src -name '*.rs' ! -name main.rs ! -name lib.rs | sort | while read -r file; do
    rel=${file#src/}
    from=${rel%%/*}
    from=${from%.rs}
    # `crate::x` anywhere (use lines, paths in code), and `crate::{x, y::…}` groups.
    grep -o 'crate::[a-z_][a-z0-9_]*' "$file" | sed "s|^crate::|$from -> |" || true
    grep -o 'crate::{[^}]*}' "$file" | sed 's/^crate::{//; s/}$//' | tr ',' '\n' |
        sed 's/^ *//; s/::.*//; s/ .*//' | grep -v '^$' | sed "s|^|$from -> |" || true
done | awk '$1 != $3' | sort -u
