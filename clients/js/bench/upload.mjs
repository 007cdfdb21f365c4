// Uploads a file with the client and prints the seconds it took (the
// benchmark in js_test.go compares it with the Go CLI on the same server).
// Usage: ANEXO_URL=… ANEXO_TOKEN=… node bench/upload.mjs <path> [parallel]
import { Client } from "../dist/node.js";

const [path, parallel = "4"] = process.argv.slice(2);
const c = new Client({ endpoint: process.env.ANEXO_URL, token: process.env.ANEXO_TOKEN });
const t0 = performance.now();
const file = await c.upload(path, { parallel: Number(parallel) });
process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, uuid: file.uuid, size: file.size }) + "\n");
