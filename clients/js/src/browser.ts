// @anexo/client for browsers (and any runtime without node:): the
// package's "browser" and "default" export. Nothing here reaches node:.
import { ApiClient } from "./client.js";
import { webAssembly } from "./hashers.js";
import { type Readable, openReadable } from "./source.js";
import { upload, type UploadOptions } from "./upload.js";

export * from "./common.js";
export type { DownloadOptions } from "./download-options.js";

/** What a browser uploads: a File, a Blob or bytes. */
export type Source = Readable;

/**
 * Client is Anexo's API (`api`: every route, typed from the OpenAPI
 * document) with the upload helper; `downloadURL` gives a link to fetch
 * or to navigate to.
 */
export class Client extends ApiClient {
  /** upload sends a File, a Blob or bytes; see UploadOptions. */
  upload(source: Source, o?: UploadOptions) {
    return upload(this, openReadable(source, o?.name), o, { crc: webAssembly });
  }
}
