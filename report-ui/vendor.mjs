// Copy the minified browser builds of Vega, Vega-Lite and Vega-Embed into the app's static folder, with one file that
// holds the licence of every package they bundle. Run after `npm ci`: `npm run vendor`. The output is committed; the
// app and the offline report never fetch a chart library from anywhere else.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "gaistd_kg", "web", "static", "report", "vendor");
const BUILDS = {
  vega: "build/vega.min.js",
  "vega-lite": "build/vega-lite.min.js",
  "vega-embed": "build/vega-embed.min.js",
};

function pkg(name) {
  return JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
}

// Every package the three builds may contain: their runtime dependencies, transitively.
function closure(names) {
  const seen = new Set();
  const todo = [...names];
  while (todo.length) {
    const name = todo.pop();
    if (seen.has(name) || !existsSync(join(modules, name, "package.json"))) continue;
    seen.add(name);
    todo.push(...Object.keys(pkg(name).dependencies || {}));
  }
  return [...seen].sort();
}

function licenceText(name) {
  const dir = join(modules, name);
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  return file ? readFileSync(join(dir, file), "utf8").trim() : null;
}

mkdirSync(out, { recursive: true });
const versions = {};
for (const [name, build] of Object.entries(BUILDS)) {
  // the source-map comment is dropped: the maps are not shipped, and a browser's developer tools would ask for them
  const code = readFileSync(join(modules, name, build), "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
  writeFileSync(join(out, `${name}.min.js`), code);
  versions[name] = pkg(name).version;
}
writeFileSync(join(out, "VERSIONS.json"), JSON.stringify(versions, null, 2) + "\n");

const parts = [
  "Third-party software in this folder: the minified browser builds of vega, vega-lite and vega-embed",
  "(copied from the npm packages by report-ui/vendor.mjs, source-map comment removed) and the packages they bundle.",
  "",
];
for (const name of closure(Object.keys(BUILDS))) {
  const p = pkg(name);
  parts.push("=".repeat(100), `${name}@${p.version}  (${p.license || "see text"})`, "=".repeat(100));
  parts.push(licenceText(name) || `No licence file in the package; package.json declares: ${p.license}`, "");
}
writeFileSync(join(out, "THIRD_PARTY_LICENSES.txt"), parts.join("\n"));
console.log(`vendored ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(", ")} into ${out}`);
