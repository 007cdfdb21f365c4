// Drives resume-page.js in headless Chromium, web security on, the page on
// another origin than the API: pick a file, reload once a part is stored,
// pick the same file again, wait for the upload and its download. Prints
// what the page saw as JSON. Usage: node crossorigin.mjs <page-url> <file>
import { drive } from "./drive.mjs";

const [url, file] = process.argv.slice(2);
await drive([], async (page, out) => {
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
});
