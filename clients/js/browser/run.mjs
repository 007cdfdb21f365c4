// Drives the client in headless Chromium (Debian's chromium, the
// playwright-core of shared/platform/devserver/web/browsertest): a page at the API's own
// origin (served by interception, from dist/) uploads a File it makes —
// parallel parts, the CRC32C computed in the page — then uploads another,
// aborts it mid-way and resumes it from the same File. Prints what the
// page saw as JSON on stdout. Usage: node run.mjs <api-url> <token>
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { drive } from "./drive.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const [api, token] = process.argv.slice(2);
const origin = new URL(api).origin;
const page$ = `<!doctype html><meta charset="utf-8"><title>anexo client</title>
<script type="importmap">{"imports": {"openapi-fetch": "/__client/openapi-fetch.mjs"}}</script>
<script type="module">
import { Client } from "/__client/dist/browser.js";
window.run = async (token) => {
  const c = new Client({ endpoint: location.origin, token });
  const random = (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
    return b;
  };
  const hex = async (b) => Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b)), (x) => x.toString(16).padStart(2, "0")).join("");
  const out = {};
  const one = random(11 * 1024 * 1024 + 7);
  const progress = [];
  const f1 = await c.upload(new File([one], "gravação.bin", { type: "application/octet-stream" }), { parallel: 2, onProgress: (p) => progress.push(p.loaded) });
  out.first = { uuid: f1.uuid, size: f1.size, name: f1.name, sha256: await hex(one), progress };
  const two = random(16 * 1024 * 1024 + 3);
  const file = new File([two], "retomada.bin");
  const ctl = new AbortController();
  let session;
  const err = await c.upload(file, { parallel: 1, signal: ctl.signal, onSession: (id) => (session = id), onProgress: (p) => p.loaded > 0 && ctl.abort() }).then(() => null, (e) => e);
  out.aborted = { name: err && err.name, sessionId: err && err.sessionId, session };
  const f2 = await c.upload(file, { resume: session });
  const st = await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: session } } }));
  out.second = { uuid: f2.uuid, size: f2.size, sha256: await hex(two), status: st.session.status, sessionFile: st.file && st.file.uuid };
  try {
    await c.call(c.api.POST("/v1/sessions", { body: { file_name: "", file_size: 1 } }));
  } catch (e) {
    out.problem = { name: e.name, status: e.status, code: e.code, field: e.field };
  }
  return out;
};
window.ready = true;
</script>`;

// A page fulfilled by interception has no address Chromium saw, so it
// counts as public, and Local Network Access would keep it from the
// storage's loopback address: the page is on loopback, as the API is.
await drive(["--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessRespectPreflightResults"], async (page, out) => {
  await page.route(`${origin}/__client/**`, async (route) => {
    const path = new URL(route.request().url()).pathname.replace("/__client/", "");
    if (path === "index.html") return route.fulfill({ contentType: "text/html", body: page$ });
    const file = path === "openapi-fetch.mjs" ? join(root, "node_modules", "openapi-fetch", "dist", "index.mjs") : join(root, path);
    if (!file.startsWith(root)) return route.fulfill({ status: 404 });
    return route.fulfill({ contentType: "text/javascript", body: await readFile(file) });
  });
  await page.goto(`${origin}/__client/index.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 30000 });
  Object.assign(out, await page.evaluate((t) => window.run(t), token));
});
