// Times uploads of a file on disk from a page in headless Chromium, served
// by a plain HTTP server on its own origin (no interception: Playwright's
// routing carries every request body through the DevTools protocol, which
// alone takes seconds per 8 MiB part). The file is picked in the page's
// input, as a person picks one. Prints {runs: [{seconds, size}]}.
// Usage: node bench.mjs <page-url> <api-url> <token> <path> <runs>
import { drive } from "./drive.mjs";

const [url, api, token, path, runs] = process.argv.slice(2);
await drive([], async (page, out) => {
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 30000 });
  await page.setInputFiles("input[type=file]", path);
  out.runs = [];
  for (let i = 0; i < Number(runs); i++) out.runs.push(await page.evaluate(([a, t]) => window.bench(a, t), [api, token]));
});
