const { fs, input, entry, output } = require("./common.js");
const key = input("key");
const target = input("path");
const stored = entry(key);
if (fs.existsSync(stored)) {
  fs.cpSync(stored, target, { recursive: true });
  console.log(`Cache restored from key: ${key}`);
  output("cache-hit", "true");
} else {
  console.log(`Cache not found for input keys: ${key}`);
  output("cache-hit", "false");
}
