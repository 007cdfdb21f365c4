// Times uploads from a page in headless Chromium, served by a plain HTTP
// server on its own origin (no interception: Playwright's routing carries
// every request body through the DevTools protocol, which alone takes
// seconds per 8 MiB part). Prints {runs: [{seconds, size}]}.
// Usage: node bench.mjs <page-url> <api-url> <token> <bytes> <runs>
import { drive } from "./drive.mjs";

const [url, api, token, size, runs] = process.argv.slice(2);
await drive([], async (page, out) => {
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 30000 });
  out.runs = [];
  for (let i = 0; i < Number(runs); i++) out.runs.push(await page.evaluate(([a, t, n]) => window.bench(a, t, n), [api, token, Number(size)]));
});
