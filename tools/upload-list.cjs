// The files `firebase deploy` would upload for a functions codebase: firebase-tools' own
// packaging, run here. prepareFunctionsUpload.js (packageSource) takes the codebase's `ignore`
// (a custom list replaces the default ["node_modules", ".git"]), appends "firebase-debug.log",
// "firebase-debug.*.log" and ".runtimeconfig.json", and lists the source directory with
// fsAsync.readdirRecursive({path, ignoreStrings}) (minimatch globs, matchBase and dot, matched
// against absolute paths). CommonJS: tools/package.json is "type": "module".
// usage: node tools/upload-list.cjs [project dir] [codebase]   (prints one relative path a line)
const path = require("node:path");
const fs = require("node:fs");

const projectDir = path.resolve(process.argv[2] ?? path.join(__dirname, ".."));
const codebase = process.argv[3] ?? "default";
const { readdirRecursive } = require(path.join(__dirname, "node_modules/firebase-tools/lib/fsAsync.js"));
const config = JSON.parse(fs.readFileSync(path.join(projectDir, "firebase.json"), "utf8"));
const entries = Array.isArray(config.functions) ? config.functions : [config.functions];
const entry = entries.find((e) => (e.codebase ?? "default") === codebase);
if (!entry) {
  console.error(`no functions codebase ${codebase} in firebase.json`);
  process.exit(2);
}
const sourceDir = path.normalize(path.join(projectDir, entry.source));
const ignore = [...(entry.ignore ?? ["node_modules", ".git"])];
ignore.push("firebase-debug.log", "firebase-debug.*.log", ".runtimeconfig.json");
readdirRecursive({ path: sourceDir, ignoreStrings: ignore }).then((files) => {
  for (const name of files.map((f) => path.relative(sourceDir, f.name).split(path.sep).join("/")).sort()) {
    console.log(name);
  }
});
