// Copies the prebuilt YASGUI bundle from node_modules into the Flask static folder, with the licences of everything
// the bundle contains. The copied files are committed, so the server never needs npm (or a CDN) at run time.
// Run: cd ui && npm ci && npm run build
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "node_modules", "@zazuko", "yasgui");
const out = join(here, "..", "gaistd_kg", "web", "static", "yasgui");
mkdirSync(out, { recursive: true });

const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

// The bundle ends with a sourceMappingURL comment; the map is not shipped, so drop the comment (no 404 in devtools).
const js = readFileSync(join(pkgDir, "build", "yasgui.min.js"), "utf8").replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
writeFileSync(join(out, "yasgui.min.js"), js);
const css = readFileSync(join(pkgDir, "build", "yasgui.min.css"), "utf8").replace(/\/\*# sourceMappingURL=\S+ \*\/\s*$/, "\n");
writeFileSync(join(out, "yasgui.min.css"), css);

// Licences: @zazuko/yasgui declares MIT in package.json but ships no licence file; the bundle also inlines its
// production dependencies, whose licence files are gathered here from node_modules.
const mit = readFileSync(join(here, "MIT-LICENSE-YASGUI.txt"), "utf8");
const parts = [
  `${pkg.name} ${pkg.version} (${pkg.homepage})\nLicence declared in its package.json: ${pkg.license}\n\n${mit}`,
];
const tree = execFileSync("npm", ["ls", "--all", "--omit=dev", "--parseable"], { cwd: here, encoding: "utf8" })
  .split("\n").filter(Boolean).slice(1);
const seen = new Set([pkg.name]);
for (const dir of tree.sort()) {
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const id = `${meta.name}@${meta.version}`;
  if (seen.has(id) || meta.name === pkg.name) continue;
  seen.add(id);
  const declared = typeof meta.license === "string" ? meta.license : JSON.stringify(meta.license ?? "UNKNOWN");
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file ? readFileSync(join(dir, file), "utf8").trim()
    : `(the package ships no licence file; its package.json declares: ${declared})`;
  parts.push(`${id}  —  ${declared}${meta.homepage ? "  —  " + meta.homepage : ""}\n\n${text}\n`);
}
writeFileSync(join(out, "LICENSE.txt"), parts.join("\n" + "=".repeat(78) + "\n\n"));
writeFileSync(join(out, "VERSION"), `${pkg.name} ${pkg.version}\n`);
console.log(`copied ${pkg.name} ${pkg.version} to ${out} (${seen.size} packages in LICENSE.txt)`);
