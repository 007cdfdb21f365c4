// Drives resume-page.js in headless Chromium, web security on, the page on
// another origin than the API: pick a file, reload once a part is stored,
// pick the same file again, wait for the upload and its download. Prints
// what the page saw as JSON. Usage: node crossorigin.mjs <page-url> <file>
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(pathToFileURL(join(here, "..", "..", "..", "shared", "platform", "devserver", "web", "browsertest", "node_modules", "playwright-core", "index.mjs")));

const [url, file] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
const out = { console: [] };
try {
  const page = await browser.newPage();
  page.on("console", (m) => out.console.push(m.type() + ": " + m.text()));
  page.on("pageerror", (e) => out.console.push("pageerror: " + e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.anexoState?.ready, null, { timeout: 30000 });
  out.address = page.url();
  // storage takes the first part; the second is held, as a slow link
  // would, until the page reloads
  let puts = 0;
  const storage = (u) => u.searchParams.has("X-Amz-Signature");
  await page.route(storage, (route) => (route.request().method() === "PUT" && ++puts > 1 ? undefined : route.continue()));
  await page.setInputFiles("#pick", file);
  await page.waitForFunction(() => window.anexoState.progress.some((b) => b >= 8 * 1024 * 1024) || window.anexoState.error, null, { timeout: 60000 });
  out.before = await page.evaluate(() => ({ sessions: window.anexoState.sessions, progress: window.anexoState.progress, error: window.anexoState.error }));
  await page.unroute(storage);
  await page.reload();
  await page.waitForFunction(() => window.anexoState?.ready, null, { timeout: 30000 });
  await page.setInputFiles("#pick", file);
  await page.waitForFunction(() => window.anexoState.done || window.anexoState.error, null, { timeout: 120000 });
  out.after = await page.evaluate(() => window.anexoState);
} catch (e) {
  out.error = String((e && e.stack) || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(out.error ? 1 : 0);
