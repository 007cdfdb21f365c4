// session runs f with headless Chromium (Debian's chromium, or CHROMIUM),
// then prints out as JSON and exits: 1 if f threw (its error in out.error).
import { chromium } from "playwright-core";

export async function session(out, f) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
  try {
    await f(browser);
  } catch (e) {
    out.error = String((e && e.stack) || e);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(out.error ? 1 : 0);
}
