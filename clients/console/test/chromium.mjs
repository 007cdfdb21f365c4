// session runs f with headless Chromium (Debian's chromium, or CHROMIUM),
// then prints out as JSON and exits: 1 if f threw (its error in out.error).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);

/**
 * recorder is what a driving script records, as console_test.go reads it:
 * out (steps, the pages' console messages, axe-core's findings by state)
 * and the means to fill it — step, check (throws what went wrong), audit
 * (axe-core on the page as it is, and a screenshot under shots), watch
 * (a page's console messages and errors).
 */
export async function recorder(shots) {
  const axeSource = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");
  const out = { console: [], axe: {}, steps: [] };
  return {
    out,
    step: (s) => out.steps.push(s),
    check: (ok, what) => {
      if (!ok) throw new Error(what);
    },
    async audit(page, name) {
      await page.evaluate(axeSource); // by the DevTools protocol: the page's CSP does not apply
      out.axe[name] = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length, target: v.nodes[0] && v.nodes[0].target }));
      });
      await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    },
    watch(page) {
      page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => out.console.push(`pageerror: ${e.message}`));
    },
  };
}

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

/**
 * holdParts holds every part after the first ms before it goes to
 * storage, so a test can interrupt an upload after its first part: parts
 * lists the part numbers sent (reset it at will), waitPart1(n) waits until
 * n parts numbered 1 reached storage (every upload has one: a page that
 * sent a small file first waits for 2).
 */
export async function holdParts(page, ms) {
  const held = { parts: [], part1s: 0 };
  page.on("requestfinished", (r) => {
    const u = new URL(r.url());
    if (u.searchParams.get("partNumber") === "1" && u.searchParams.has("uploadId")) held.part1s++;
  });
  await page.route((u) => u.searchParams.has("partNumber") && u.searchParams.has("uploadId"), async (route) => {
    const n = Number(new URL(route.request().url()).searchParams.get("partNumber"));
    held.parts.push(n);
    if (n > 1) await new Promise((r) => setTimeout(r, ms));
    await route.continue().catch(() => undefined); // a reload drops it
  });
  held.waitPart1 = async (n = 1) => {
    for (let i = 0; held.part1s < n; i++) {
      if (i >= 600) throw new Error("part 1 did not reach storage in 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return held;
}
