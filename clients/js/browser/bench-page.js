// The browser benchmark's page (BenchmarkBrowserUpload bundles it with
// esbuild): it makes a File of the size asked for and times its upload
// with the browser entry (4 parts in flight, CRC32C on, as the CLI's).
import { Client } from "../dist/browser.js";

window.bench = async (api, token, size) => {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  const file = new File([data], "bench.bin");
  const c = new Client({ endpoint: api, token });
  const t0 = performance.now();
  const f = await c.upload(file, { parallel: 4, remember: false });
  return { seconds: (performance.now() - t0) / 1000, size: f.size };
};
window.ready = true;
