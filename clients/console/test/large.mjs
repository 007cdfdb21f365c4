// Measures the console on a large account in headless Chromium: the first
// page of files after a fresh load, five next pages, search as you type,
// and the DOM's size. Prints JSON of milliseconds. Run by
// BenchmarkConsoleLargeAccount (bench_test.go), which seeds the account.
// Env: CHROMIUM, ANEXO_URL, ANEXO_TOKEN, TERM (a name part ~1% of files have).
import { session } from "./chromium.mjs";

const { ANEXO_URL: url, ANEXO_TOKEN: token } = process.env;
const out = {};
/** rendered is ms from the last listing's answer to now: the console's own part. */
const rendered = (page) =>
  page.evaluate(() => {
    const r = performance.getEntriesByType("resource").filter((e) => e.name.includes("/v1/files?")).at(-1);
    return performance.now() - r.responseEnd;
  });
await session(out, async (browser) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const rows = () => page.evaluate(() => document.querySelectorAll("main table tbody tr").length);
  const t0 = Date.now();
  await page.goto(`${url}/#token=${encodeURIComponent(token)}`);
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 50);
  out.firstPageMs = Date.now() - t0;
  out.firstRenderMs = Math.round(await rendered(page));
  const next = [];
  const renders = [];
  for (let i = 2; i <= 6; i++) {
    const t = Date.now();
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByText(`Page ${i}`, { exact: true }).waitFor();
    await page.waitForFunction(() => !document.querySelector("main table[aria-busy=true]") && document.querySelectorAll("main table tbody tr").length === 50);
    next.push(Date.now() - t);
    renders.push(Math.round(await rendered(page)));
  }
  out.nextPageMs = next.sort((a, b) => a - b)[2]; // the median of five
  out.nextRenderMs = renders.sort((a, b) => a - b)[2];
  const t1 = Date.now();
  await page.getByLabel("Search by name").fill(process.env.TERM);
  await page.waitForFunction((term) => {
    const rs = [...document.querySelectorAll("main table tbody tr")];
    return !document.querySelector("main table[aria-busy=true]") && rs.length > 0 && rs.every((r) => r.textContent.includes(term));
  }, process.env.TERM);
  out.searchMs = Date.now() - t1 - 250; // less the 250 ms the screen waits for typing to pause
  out.searchRows = await rows();
  out.domNodes = await page.evaluate(() => document.getElementsByTagName("*").length);
  out.heapMB = Math.round((await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0)) / 1048576);
});
