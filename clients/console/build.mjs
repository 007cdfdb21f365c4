// Builds the console into dist/: two pages — the console (index.html) and
// the page a file request's link opens (request.html) — each an ES module
// and a stylesheet named by their content's hash (the code they share in
// chunks of its own), with no inline script or style, so the pages run
// under a Content-Security-Policy without 'unsafe-inline'. Writes
// dist/sizes.json (bytes, gzipped bytes, a page's modules together) and
// fails when a page's JavaScript passes its budget of 150 KB gzipped.
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
  entryPoints: ["src/main.tsx", "src/request.tsx"],
  bundle: true,
  splitting: true,
  chunkNames: "chunk-[hash]",
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
const size = async (paths) => {
  let bytes = 0;
  let gzip = 0;
  for (const p of paths) {
    const b = await readFile(p);
    bytes += b.length;
    gzip += gzipSync(b, { level: 9 }).length;
  }
  return { bytes, gzip };
};
const outputs = Object.entries(result.metafile.outputs);
/** the modules a page loads: its entry and the chunks it imports, transitively */
const closure = (file, seen = new Set()) => {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const i of result.metafile.outputs[file].imports) if (i.kind === "import-statement") closure(i.path, seen);
  return seen;
};
const sizes = {};
let over = false;
for (const [page, entry] of [["index.html", "src/main.tsx"], ["request.html", "src/request.tsx"]]) {
  const [js, meta] = outputs.find(([p, o]) => o.entryPoint === entry && p.endsWith(".js"));
  const css = meta.cssBundle;
  const html = (await readFile(join(root, "src", page), "utf8"))
    .replace("%SCRIPT%", `assets/${basename(js)}`)
    .replace("%STYLE%", `assets/${basename(css)}`);
  await writeFile(join(out, page), html);
  const name = page.replace(".html", "");
  sizes[name] = { js: await size([...closure(js)].map((p) => resolve(root, p))), css: await size([resolve(root, css)]), html: await size([join(out, page)]) };
  console.log(`${page}: ${basename(js)} and its chunks ${sizes[name].js.bytes} B (${sizes[name].js.gzip} B gzipped), ${basename(css)} ${sizes[name].css.gzip} B gzipped`);
  if (sizes[name].js.gzip > BUDGET) {
    console.error(`${page}'s JavaScript is ${sizes[name].js.gzip} B gzipped, over its budget of ${BUDGET} B`);
    over = true;
  }
}
await writeFile(join(out, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");
if (over) process.exit(1);
