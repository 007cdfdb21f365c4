// @anexo/client for Node: the package's "node" export. Besides what the
// browser entry does, it uploads a file by its path and downloads to one.
import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";

import { ApiClient, type ClientOptions } from "./client.js";
import { FileRequestClient, type FileRequestOptions } from "./filerequest.js";
import { download } from "./download.js";
import { type CRC32C, webAssembly } from "./hashers.js";
import type { DownloadOptions } from "./download-options.js";
import { nodeHTTP } from "./node-http.js";
import { type Opened, type Readable, openReadable } from "./source.js";
import { FileChangedError, type PutPart, type UploadOptions } from "./upload.js";
import { rememberIn, type ResumeStore, Upload } from "./uploader.js";

export * from "./common.js";
export type { DownloadOptions } from "./download-options.js";

/** What Node uploads: a file's path, a Blob or File, or bytes (a Buffer). */
export type Source = string | Readable;

/**
 * Client is Anexo's API (`api`: every route, typed from the OpenAPI
 * document) with the upload and download helpers.
 */
export class Client extends ApiClient {
  /** How parts go to storage: node:http, unless the caller gave its own fetch (then that). */
  readonly #put: PutPart | undefined;

  /**
   * A Node client calls the API and storage with node:http (keep-alive
   * connections), unless `fetch` is given: then everything goes through it
   * (a proxy's dispatcher, a mock).
   */
  constructor(o: ClientOptions) {
    const own = o.fetch ? undefined : nodeHTTP();
    super(own ? { ...o, fetch: own.fetch } : o, own?.exchange);
    this.#put = own?.put;
  }

  /**
   * createUpload prepares the upload of a path, a Blob, a File or bytes:
   * start() sends it; pause(), resume() and abort() drive it; events tell
   * its progress. A path's session is remembered in the user's cache
   * directory (`remember`: false keeps nothing, or give a ResumeStore), so
   * the same call after a crash sends only what storage lacks.
   */
  createUpload(source: Source, o: UploadOptions = {}): Upload {
    const opening = typeof source === "string" ? openPath(source) : Promise.resolve().then(() => openReadable(source, o.name, o.size));
    return new Upload(this, opening, o, { crc: native, put: this.#put, store: cacheStore });
  }

  /** upload sends a path, a Blob, a File or bytes: createUpload(...).start(). */
  upload(source: Source, o?: UploadOptions) {
    return this.createUpload(source, o).start();
  }

  /** download saves a file at path, resuming a partial one. */
  download(uuid: string, path: string, o?: DownloadOptions) {
    return download(this, uuid, path, o);
  }
}

/**
 * FileRequest is a file request's link: `view` reads what it asks for;
 * `upload` sends a path, a Blob, a File or bytes into a slot, remembered
 * and resumable as any upload.
 */
export class FileRequest extends FileRequestClient<Source> {
  constructor(o: FileRequestOptions) {
    const own = o.fetch ? undefined : nodeHTTP();
    super(own ? { ...o, fetch: own.fetch } : o, { crc: native, put: own?.put, exchange: own?.exchange, store: cacheStore },
      (source, u) => (typeof source === "string" ? openPath(source) : Promise.resolve().then(() => openReadable(source, u.name, u.size))));
  }
}

/** cacheDir is the user's cache directory, as Go's os.UserCacheDir finds it. */
function cacheDir(): string {
  const env = process.env;
  if (process.platform === "win32") return env.LocalAppData ?? join(homedir(), "AppData", "Local");
  if (process.platform === "darwin") return join(homedir(), "Library", "Caches");
  return env.XDG_CACHE_HOME || join(homedir(), ".cache");
}

/** sessionsDir holds the sessions Node remembers, a file per fingerprint. */
const sessionsDir = () => join(cacheDir(), "anexo", "js-uploads");
const sessionFile = (key: string) => join(sessionsDir(), createHash("sha256").update(key).digest("hex").slice(0, 32) + ".json");

/** cacheStore keeps sessions under <cache>/anexo/js-uploads. */
const cacheStore: ResumeStore = rememberIn({
  get: (key) => fsp.readFile(sessionFile(key), "utf8").catch(() => undefined),
  async set(key, v) {
    await fsp.mkdir(sessionsDir(), { recursive: true, mode: 0o700 });
    await fsp.writeFile(sessionFile(key), v, { mode: 0o600 });
  },
  delete: (key) => fsp.rm(sessionFile(key), { force: true }),
});

/** openPath reads a file with positioned reads, refusing one that changes. */
async function openPath(path: string): Promise<Opened> {
  const fh = await fsp.open(path);
  const st = await fh.stat();
  return {
    name: basename(path),
    size: st.size,
    fingerprint: `path:${resolve(path)}:${st.mtimeMs}`,
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
