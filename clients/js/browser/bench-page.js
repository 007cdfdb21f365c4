// The browser benchmark's page (BenchmarkBrowserUpload bundles it with
// esbuild): it times the upload of the File picked in its input (a file
// on disk, as a person picks one) with the browser entry (4 parts in
// flight, CRC32C on, as the CLI's).
import { Client } from "../dist/browser.js";

window.bench = async (api, token) => {
  const file = document.querySelector("input[type=file]").files[0];
  const c = new Client({ endpoint: api, token });
  const t0 = performance.now();
  const f = await c.upload(file, { parallel: 4, remember: false });
  return { seconds: (performance.now() - t0) / 1000, size: f.size };
};
window.ready = true;
