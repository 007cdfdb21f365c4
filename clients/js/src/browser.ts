// @anexo/client for browsers (and any runtime without node:): the
// package's "browser" and "default" export. Nothing here reaches node:.
import { ApiClient, type ClientOptions } from "./client.js";
import { FileRequestClient, type FileRequestOptions } from "./filerequest.js";
import { webAssembly } from "./hashers.js";
import { type Readable, openReadable } from "./source.js";
import { type Platform, type PutPart, type UploadOptions } from "./upload.js";
import { rememberIn, type ResumeStore, Upload } from "./uploader.js";

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
  private readonly platform: Platform;

  constructor(o: ClientOptions) {
    super(o);
    // parts go out by XMLHttpRequest, whose upload events give progress
    // within a part (fetch has none), unless a fetch was given
    this.platform = { crc: webAssembly, put: !o.fetch && typeof XMLHttpRequest !== "undefined" ? xhrPut : undefined, store: localStore() };
  }

  /**
   * createUpload prepares the upload of a File, a Blob or bytes: start()
   * sends it; pause(), resume() and abort() drive it; events tell its
   * progress. A File's session is remembered in localStorage (`remember`:
   * false keeps nothing, or give a ResumeStore), so the same File picked
   * again after a reload sends only what storage lacks.
   */
  createUpload(source: Source, o: UploadOptions = {}): Upload {
    return new Upload(this, Promise.resolve().then(() => openReadable(source, o.name, o.size)), o, this.platform);
  }

  /** upload sends a File, a Blob or bytes: createUpload(...).start(). */
  upload(source: Source, o?: UploadOptions) {
    return this.createUpload(source, o).start();
  }
}

/**
 * FileRequest is a file request's link, as a page opened from it holds
 * it: `view` reads what it asks for; `upload` sends a File into a slot,
 * resumable after a reload like any upload.
 */
export class FileRequest extends FileRequestClient<Source> {
  constructor(o: FileRequestOptions) {
    super(o, { crc: webAssembly, put: !o.fetch && typeof XMLHttpRequest !== "undefined" ? xhrPut : undefined, store: localStore() },
      async (source, u) => openReadable(source, u.name, u.size));
  }
}

/** localStore keeps sessions in localStorage, when the page may use it. */
function localStore(): ResumeStore | undefined {
  let ls: Storage;
  try {
    ls = globalThis.localStorage;
    if (!ls) return undefined;
  } catch {
    return undefined; // storage denied (a sandboxed frame, a privacy setting)
  }
  const k = (key: string) => "anexo:upload:" + key;
  return rememberIn({
    get: async (key) => ls.getItem(k(key)),
    set: async (key, v) => ls.setItem(k(key), v),
    delete: async (key) => ls.removeItem(k(key)),
  });
}

/** xhrPut sends a part by XMLHttpRequest, reporting its upload progress. */
const xhrPut: PutPart = (url, method, headers, bytes, signal, sent, blob) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== "content-length") xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => sent(e.loaded);
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.status >= 200 && xhr.status < 300 ? "" : xhr.responseText });
    xhr.onerror = () => reject(new TypeError(`network error sending to storage`));
    xhr.ontimeout = xhr.onerror;
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => {
      xhr.abort();
      reject(signal.reason);
    }, { once: true });
    // a Blob, as fetch's body() sends in browsers: Chromium sends a typed
    // array at a few MiB/s; the File's own slice goes from the file
    // (8 MiB: 68 ms, against 152 ms as a Blob of the bytes read)
    xhr.send(blob ?? new Blob([bytes]));
  });
