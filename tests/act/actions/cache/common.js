// Shared by main.js and post.js: where an entry lives, and GitHub's file-based step outputs.
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

function input(name) {
  return (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] || "").trim();
}

function entry(key) {
  const root = process.env.VIZIER_TEST_CACHE_DIR;
  if (!root) throw new Error("VIZIER_TEST_CACHE_DIR is not set");
  const name = crypto.createHash("sha256").update(key).digest("hex");
  return path.join(root, name);
}

function output(name, value) {
  fs.appendFileSync(process.env.GITHUB_OUTPUT, `${name}=${value}\n`);
}

module.exports = { fs, input, entry, output };
