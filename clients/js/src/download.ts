// Node only: node.ts imports it, the browser entry does not.
import * as fs from "node:fs";

import type { ApiClient } from "./client.js";
import type { DownloadOptions } from "./download-options.js";
import { AnexoError } from "./errors.js";

/**
 * download saves a file (Node) at path. Bytes go to `<path>.part` first:
 * an interrupted download resumes from what it holds (an HTTP Range
 * request on a fresh presigned URL), and the file is renamed into place
 * when its size is the file's.
 */
export async function download(c: ApiClient, uuid: string, path: string, o: DownloadOptions = {}): Promise<void> {
  const file = await c.getFile(uuid, o.signal);
  const total = o.versionUUID ? undefined : file.size;
  const partial = `${path}.part`;
  let have = 0;
  try {
    have = (await fs.promises.stat(partial)).size;
  } catch {
    have = 0;
  }
  const url = await c.downloadURL(uuid, o.versionUUID, o.signal);
  const res = await c.fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: o.signal });
  if (res.status === 416 && total !== undefined && have === total) {
    await res.body?.cancel();
  } else if (res.status === 200 || res.status === 206) {
    if (res.status === 200) have = 0; // storage sent it whole: start over
    const size = total ?? have + Number(res.headers.get("Content-Length") ?? 0);
    let loaded = have;
    // Each chunk is written as it arrives, synchronously: the body never
    // backs up. (Node 22's fetch can throw an uncaught assertion when the
    // server ends a response whose body is paused by backpressure.)
    const fd = fs.openSync(partial, have > 0 ? "a" : "w");
    try {
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (let at = 0; at < value.length; ) at += fs.writeSync(fd, value, at);
        loaded += value.length;
        o.onProgress?.({ loaded, total: size });
      }
    } finally {
      fs.closeSync(fd);
    }
  } else {
    throw new AnexoError(res.status, { code: "storage_error", detail: `storage answered ${res.status}: ${(await res.text()).slice(0, 300)}` });
  }
  const got = (await fs.promises.stat(partial)).size;
  if (total !== undefined && got !== total) {
    throw new AnexoError(0, { code: "incomplete_download", detail: `${got} of ${total} bytes; download again to resume` });
  }
  await fs.promises.rename(partial, path);
}
