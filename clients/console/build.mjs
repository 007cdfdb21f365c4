// Builds the console into dist/: one ES module and one stylesheet, named by
// their content's hash, and index.html loading them (no inline script or
// style, so the page runs under a Content-Security-Policy without
// 'unsafe-inline'). Writes dist/sizes.json (bytes, gzipped bytes) and fails
// when the JavaScript passes its budget of 150 KB gzipped.
// Usage: node build.mjs [out-dir] (default dist)
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ? resolve(process.argv[2]) : join(root, "dist");
export const BUDGET = 150 * 1024;

await rm(out, { recursive: true, force: true });
await mkdir(join(out, "assets"), { recursive: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  conditions: ["browser"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  sourcemap: "linked",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((p) => resolve(root, p));
const js = outputs.find((p) => p.endsWith(".js"));
const css = outputs.find((p) => p.endsWith(".css"));
const html = (await readFile(join(root, "src", "index.html"), "utf8"))
  .replace("%SCRIPT%", `assets/${basename(js)}`)
  .replace("%STYLE%", `assets/${basename(css)}`);
await writeFile(join(out, "index.html"), html);
const size = async (p) => {
  const b = await readFile(p);
  return { bytes: b.length, gzip: gzipSync(b, { level: 9 }).length };
};
const sizes = { js: await size(js), css: await size(css), html: await size(join(out, "index.html")) };
await writeFile(join(out, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");
console.log(`console: ${basename(js)} ${sizes.js.bytes} B (${sizes.js.gzip} B gzipped), ${basename(css)} ${sizes.css.gzip} B gzipped`);
if (sizes.js.gzip > BUDGET) {
  console.error(`the console's JavaScript is ${sizes.js.gzip} B gzipped, over its budget of ${BUDGET} B`);
  process.exit(1);
}
