// drive runs f with a new page of headless Chromium (Debian's chromium,
// the playwright-core of shared/platform/devserver/web/browsertest), the
// page's console and errors collected; it prints what f put in out, as
// JSON, and exits 1 if f failed.
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(pathToFileURL(join(here, "..", "..", "..", "shared", "platform", "devserver", "web", "browsertest", "node_modules", "playwright-core", "index.mjs")));

export async function drive(args, f) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: ["--no-sandbox", ...args] });
  const out = { console: [] };
  try {
    const page = await browser.newPage();
    page.on("console", (m) => out.console.push(m.type() + ": " + m.text()));
    page.on("pageerror", (e) => out.console.push("pageerror: " + e.message));
    await f(page, out);
  } catch (e) {
    out.error = String((e && e.stack) || e);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(out.error ? 1 : 0);
}
