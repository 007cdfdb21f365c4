// @anexo/client for Node: the package's "node" export. Besides what the
// browser entry does, it uploads a file by its path and downloads to one.
import * as fsp from "node:fs/promises";
import { basename } from "node:path";

import { ApiClient } from "./client.js";
import { download } from "./download.js";
import { type CRC32C, webAssembly } from "./hashers.js";
import type { DownloadOptions } from "./download-options.js";
import { type Opened, type Readable, openReadable } from "./source.js";
import { FileChangedError, upload, type UploadOptions } from "./upload.js";

export * from "./common.js";
export type { DownloadOptions } from "./download-options.js";

/** What Node uploads: a file's path, a Blob or File, or bytes (a Buffer). */
export type Source = string | Readable;

/**
 * Client is Anexo's API (`api`: every route, typed from the OpenAPI
 * document) with the upload and download helpers.
 */
export class Client extends ApiClient {
  /** upload sends a path, a Blob, a File or bytes; see UploadOptions. */
  async upload(source: Source, o?: UploadOptions) {
    return upload(this, typeof source === "string" ? await openPath(source) : openReadable(source, o?.name), o, { crc: native });
  }

  /** download saves a file at path, resuming a partial one. */
  download(uuid: string, path: string, o?: DownloadOptions) {
    return download(this, uuid, path, o);
  }
}

/** openPath reads a file with positioned reads, refusing one that changes. */
async function openPath(path: string): Promise<Opened> {
  const fh = await fsp.open(path);
  const st = await fh.stat();
  return {
    name: basename(path),
    size: st.size,
    async read(offset, length, buf) {
      const out = buf.subarray(0, length);
      for (let got = 0; got < length; ) {
        const { bytesRead } = await fh.read(out, got, length - got, offset + got);
        if (bytesRead === 0) throw new Error(`${path} shrank while it was being uploaded; upload it again`);
        got += bytesRead;
      }
      return out;
    },
    async unchanged() {
      const now = await fh.stat();
      if (now.size !== st.size || now.mtimeMs !== st.mtimeMs) {
        throw new FileChangedError(`${path} changed while it was being uploaded; upload it again`);
      }
    },
    close: () => fh.close(),
  };
}

let hardware: Promise<CRC32C> | undefined;

/** native is @node-rs/crc32's CRC32C (CPU instructions), or WebAssembly without it. */
function native(): Promise<CRC32C> {
  hardware ??= import("@node-rs/crc32").then(
    ({ crc32c }): CRC32C =>
      (bytes) => crc32c(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) >>> 0,
    () => webAssembly(),
  );
  return hardware;
}
