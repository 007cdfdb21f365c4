import type { ApiClient } from "./client.js";
import { AnexoError } from "./errors.js";

export interface DownloadOptions {
  versionUUID?: string;
  signal?: AbortSignal;
  onProgress?: (p: { loaded: number; total: number }) => void;
}

/**
 * download saves a file (Node) at path. Bytes go to `<path>.part` first:
 * an interrupted download resumes from what it holds (an HTTP Range
 * request on a fresh presigned URL), and the file is renamed into place
 * when its size is the file's.
 */
export async function download(c: ApiClient, uuid: string, path: string, o: DownloadOptions = {}): Promise<void> {
  const fs = await import("node:fs");
  const { Readable } = await import("node:stream");
  const { pipeline } = await import("node:stream/promises");
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
    const counted = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    counted.on("data", (chunk: Buffer) => {
      loaded += chunk.length;
      o.onProgress?.({ loaded, total: size });
    });
    await pipeline(counted, fs.createWriteStream(partial, { flags: have > 0 ? "a" : "w" }), { signal: o.signal });
  } else {
    throw new AnexoError(res.status, { code: "storage_error", detail: `storage answered ${res.status}: ${(await res.text()).slice(0, 300)}` });
  }
  const got = (await fs.promises.stat(partial)).size;
  if (total !== undefined && got !== total) {
    throw new AnexoError(0, { code: "incomplete_download", detail: `${got} of ${total} bytes; download again to resume` });
  }
  await fs.promises.rename(partial, path);
}
