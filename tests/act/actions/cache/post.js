const { fs, input, entry } = require("./common.js");
const key = input("key");
const target = input("path");
const stored = entry(key);
if (fs.existsSync(stored)) {
  console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
} else if (!fs.existsSync(target)) {
  console.log(`Path Validation Error: ${target} does not exist, hence no cache is being saved.`);
} else {
  fs.cpSync(target, `${stored}.part`, { recursive: true });
  fs.renameSync(`${stored}.part`, stored);
  console.log(`Cache saved with key: ${key}`);
}
