import type { ApiClient, Exchange, PartURL, Session, SessionState, Uploaded } from "./client.js";
import { sleep } from "./client.js";
import { attempt, backoff } from "./retry.js";
import { combineAll, encode } from "./crc32c.js";
import { AnexoError, StorageError } from "./errors.js";
import type { components } from "./schema.js";
import { type CRC32C, tables } from "./hashers.js";
import type { Opened } from "./source.js";
import type { ResumeStore } from "./uploader.js";

export type AttachTo = NonNullable<components["schemas"]["OpenSession"]["attach"]>[number];

/** Progress of an upload: bytes S3 holds, of the file's. */
export interface UploadProgress {
  phase: "uploading" | "completing";
  loaded: number;
  total: number;
}

export interface UploadOptions {
  /** The name to record (default: the File's or the path's). */
  name?: string;
  /** A stream's size in bytes (a stream needs it: it is checked before any request). */
  size?: number;
  contentType?: string;
  /** Upload a new version of this file (its uuid). */
  versionOf?: string;
  /** Attach the file at completion. */
  attach?: AttachTo[];
  /** Parts in flight (default 4). */
  parallel?: number;
  /**
   * true (default): each part's CRC32C is computed as it is read and
   * signed into its URL (S3 verifies the part), and the parts' combine
   * into the whole file's, which S3 verifies at completion — the file is
   * read once. false: no checksum. A string: the whole file's CRC32C you
   * already know (base64), which S3 verifies instead.
   */
  checksum?: boolean | string;
  /** Resume the session of an interrupted upload of the same file. */
  resume?: string;
  /**
   * Where the session is remembered under the file's fingerprint (an
   * Upload's): the platform's store by default (Node: the user's cache
   * directory; browsers: localStorage), false for none, or your own.
   */
  remember?: boolean | ResumeStore;
  /** Called with the session's id once it is open: keep it to resume. */
  onSession?: (id: string) => void;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
}


const ALG = "CRC32C";

class UploadGone extends Error {}

/** FileChangedError: the file changed during its upload; its session is aborted. */
export class FileChangedError extends Error {
  override name = "FileChangedError";
}

/**
 * send uploads a file through an upload session: parts go in parallel
 * straight to their presigned URLs; each URL is signed just before its
 * part is sent, with the part's CRC32C, and signed again when storage
 * refuses it (an expired signature, a network error: as the client's
 * retry policy says). An error carries `sessionId`: upload the same file with
 * `resume` set to it and only the parts storage does not hold are sent; a
 * session that completed meanwhile answers its file (never a second copy).
 * A session of another file is refused (ResumeMismatchError) before any
 * byte is sent.
 */
export function send<R = Uploaded>(c: ApiClient, src: Opened, o: UploadOptions, p: Platform, routes: Sessions<R> = tokenSessions(c) as Sessions<R>): Promise<R> {
  return run(c, routes, src, o, p.crc ?? (async () => tables), p.put ?? fetchPut(c));
}

type OpenBody = components["schemas"]["OpenSession"];
type PartsBody = components["schemas"]["PartsRequest"];
type CompleteBody = { checksum?: components["schemas"]["Checksum"] };

/** A session's state as an upload reads it to resume, with what a completed one answers. */
export interface SessionStatus<R> {
  session: Session;
  missing_parts: number[];
  uploaded_parts: { part_number: number; checksum?: string }[];
  /** a completed session's answer (what complete gives) */
  done?: R;
}

/**
 * Sessions are the routes an upload runs on: the account's
 * (/v1/sessions, under a token) or a file request's public ones (under
 * its link). R is what a completion answers.
 */
export interface Sessions<R> {
  /** names the routes in a remembered session's key */
  readonly key: string;
  open(body: OpenBody, signal?: AbortSignal): Promise<Session>;
  status(id: string, signal?: AbortSignal): Promise<SessionStatus<R>>;
  parts(id: string, body: PartsBody, signal?: AbortSignal): Promise<PartURL[]>;
  complete(id: string, body: CompleteBody, signal?: AbortSignal): Promise<R>;
  abort(id: string): Promise<void>;
}

/** tokenSessions are the account's own session routes. */
export function tokenSessions(c: ApiClient): Sessions<Uploaded> {
  const at = (id: string) => `/v1/sessions/${encodeURIComponent(id)}`;
  return {
    key: "",
    open: (body, signal) => c.json<Session>("POST", "/v1/sessions", body, signal),
    status: async (id, signal) => {
      const st = await c.json<SessionState>("GET", at(id), undefined, signal);
      return { ...st, done: st.file };
    },
    parts: async (id, body, signal) => (await c.json<{ parts: PartURL[] }>("POST", at(id) + "/parts", body, signal)).parts,
    complete: (id, body, signal) => c.json<Uploaded>("POST", at(id) + "/complete", body, signal),
    abort: async (id) => {
      await c.json("DELETE", at(id));
    },
  };
}

/** What an entry gives an upload: its fastest CRC32C, storage transport, API transport and store of sessions. */
export interface Platform {
  crc?: () => Promise<CRC32C>;
  put?: PutPart;
  exchange?: Exchange;
  store?: ResumeStore;
}

/** PutPart sends a part's bytes to its presigned URL: storage's status and, on a failure, its answer. */
export type PutPart = (
  url: string,
  method: string,
  headers: Record<string, string>,
  bytes: Uint8Array<ArrayBuffer>,
  signal: AbortSignal,
  /** sent reports the part's bytes handed to the network so far */
  sent: (bytes: number) => void,
  /** the same bytes as the source's own Blob, when it is one (see Opened.slice) */
  blob?: Blob,
) => Promise<{ status: number; text: string }>;

async function run<R>(c: ApiClient, routes: Sessions<R>, src: Opened, o: UploadOptions, crc: () => Promise<CRC32C>, put: PutPart): Promise<R> {
  const { name, size: total } = src;
  const signal = o.signal;
  // the hasher loads (a native module, WebAssembly) while the session opens
  const hasher = o.checksum === false ? undefined : crc();
  hasher?.catch(() => undefined);
  const sums = new Map<number, string>();
  let sess: Session | undefined;
  let missing: number[] = [];
  if (o.resume) {
    const st = await routes.status(o.resume, signal).catch((e) => {
      if (e instanceof AnexoError && (e.status === 404 || e.status === 410)) return undefined;
      throw e;
    });
    if (st) checkResumed(o.resume, st.session, { name: o.name ?? name, size: total });
    if (st?.session.status === "completed" && st.done) return st.done;
    if (st?.session.status === "open" && Date.parse(st.session.expires_at) - Date.now() > 60_000) {
      sess = st.session;
      missing = st.missing_parts;
      for (const p of st.uploaded_parts) if (p.checksum) sums.set(p.part_number, p.checksum);
    }
  }
  if (!sess) {
    const body: OpenBody = { file_name: o.name ?? name, file_size: total };
    if (o.contentType) body.content_type = o.contentType;
    if (o.versionOf) body.file_uuid = o.versionOf;
    if (o.attach) body.attach = o.attach;
    // the value comes with completion, combined from the parts' — or, when
    // the caller knows it, declared now: then no path completes the
    // session with another
    if (o.checksum !== false) body.checksum = typeof o.checksum === "string" ? { algorithm: ALG, value: o.checksum } : { algorithm: ALG };
    sess = await routes.open(body, signal);
    missing = Array.from({ length: sess.part_count }, (_, i) => i + 1);
  }
  const s = sess;
  o.onSession?.(s.id);
  const alg = s.checksum?.algorithm;
  if (alg && alg !== ALG) throw new Error(`session ${s.id} verifies ${alg}; this client computes ${ALG}`);
  const crc32c = alg ? await (hasher ?? crc()) : undefined;
  const partLen = (n: number) => (n === s.part_count ? total - (n - 1) * s.part_size : s.part_size);
  let loaded = total - missing.reduce((a, n) => a + partLen(n), 0);
  // the bytes of the parts in flight, as the transport hands them on
  const inFlight = new Map<number, number>();
  const report = (phase: UploadProgress["phase"]) => {
    let sending = 0;
    for (const b of inFlight.values()) sending += b;
    o.onProgress?.({ phase, loaded: loaded + sending, total });
  };
  report("uploading");
  // each worker reuses one buffer: a part is read once, hashed in it and
  // sent from it (fresh memory for every part costs more than the copy)
  const free: Uint8Array<ArrayBuffer>[] = [];
  try {
    await pool(missing, o.parallel ?? 4, async (n) => {
      let buf = free.pop() ?? new Uint8Array(s.part_size);
      try {
        const bytes = await src.read((n - 1) * s.part_size, partLen(n), buf);
        // a reader that took the buffer over (a BYOB stream) gives it back in bytes
        if (bytes.buffer !== buf.buffer && bytes.buffer.byteLength >= s.part_size) buf = new Uint8Array(bytes.buffer, 0, s.part_size);
        const sum = crc32c ? encode(crc32c(bytes)) : undefined;
        await sendPart(c, routes, put, s.id, n, bytes, src.slice?.((n - 1) * s.part_size, bytes.length), sum, signal, (b) => {
          inFlight.set(n, b);
          report("uploading");
        });
        if (sum) sums.set(n, sum);
        inFlight.delete(n);
        loaded += bytes.length;
        report("uploading");
      } finally {
        inFlight.delete(n);
        free.push(buf);
      }
    }, signal);
    try {
      await src.unchanged();
    } catch (e) {
      // its parts mix two contents: nothing may complete it
      await routes.abort(s.id).catch(() => undefined);
      throw e;
    }
    report("completing");
    let checksum: components["schemas"]["Checksum"] | undefined;
    if (alg && !s.checksum?.value && sums.size === s.part_count) {
      checksum = { algorithm: ALG, value: combineAll(Array.from({ length: s.part_count }, (_, i) => ({ value: sums.get(i + 1)!, size: partLen(i + 1) }))) };
    }
    return await routes.complete(s.id, checksum ? { checksum } : {}, signal);
  } catch (err) {
    // an answer lost, storage's upload gone: the session may have
    // completed after all (the API's own refusals stand)
    const definite = signal?.aborted || err instanceof FileChangedError || (err instanceof AnexoError && err.status < 500);
    const file = definite ? undefined : await completedMeanwhile(routes, s.id);
    if (file) return file;
    if (err && typeof err === "object") (err as { sessionId?: string }).sessionId = s.id;
    throw err;
  }
}

/**
 * ResumeMismatchError: the session given to resume is another file's (its
 * name, size or part plan differ from the file's): nothing was sent.
 */
export class ResumeMismatchError extends Error {
  override name = "ResumeMismatchError";
  readonly sessionId: string;
  readonly field: "file_name" | "file_size" | "part_size";
  constructor(sessionId: string, field: ResumeMismatchError["field"], detail: string) {
    super(`session ${sessionId} is not this file's: ${detail}`);
    this.sessionId = sessionId;
    this.field = field;
  }
}

/** checkResumed refuses a session opened for another file. */
function checkResumed(id: string, s: Session, file: { name: string; size: number }): void {
  if (s.file_size !== file.size) throw new ResumeMismatchError(id, "file_size", `it uploads ${s.file_size} bytes, the file has ${file.size}`);
  if (s.file_name !== file.name) throw new ResumeMismatchError(id, "file_name", `it uploads ${JSON.stringify(s.file_name)}, the file is ${JSON.stringify(file.name)}`);
  const parts = s.part_size > 0 ? Math.ceil(file.size / s.part_size) : 0;
  if (parts !== s.part_count) throw new ResumeMismatchError(id, "part_size", `its plan of ${s.part_count} parts of ${s.part_size} bytes does not cover ${file.size} bytes`);
}

/** completedMeanwhile is the file of a session that completed after all
 * (its status call, the sweeper, or a completion whose answer was lost). */
async function completedMeanwhile<R>(routes: Sessions<R>, id: string): Promise<R | undefined> {
  try {
    const st = await routes.status(id);
    return st.session.status === "completed" ? st.done : undefined;
  } catch {
    return undefined;
  }
}

async function sendPart<R>(
  c: ApiClient,
  routes: Sessions<R>,
  put: PutPart,
  id: string,
  n: number,
  bytes: Uint8Array<ArrayBuffer>,
  blob: Blob | undefined,
  sum: string | undefined,
  signal: AbortSignal | undefined,
  sent: (bytes: number) => void,
): Promise<void> {
  let last: unknown;
  const p = c.retry;
  for (let tried = 0; tried < p.tries; tried++) {
    if (tried > 0) await sleep(backoff(p, tried), signal);
    let part;
    try {
      const body = { part_numbers: [n], ...(sum ? { checksums: { [String(n)]: sum } } : {}) };
      part = (await routes.parts(id, body, signal))[0];
    } catch (e) {
      if (signal?.aborted || (e instanceof AnexoError && [400, 401, 403, 404, 409, 410, 422].includes(e.status))) throw e;
      last = e;
      continue;
    }
    let res: { status: number; text: string };
    try {
      // a part's PUT gets a second more per MiB it carries
      sent(0);
      res = await attempt({ ...p, timeout: p.timeout + bytes.length / 1048.576 }, signal, (s) => put(part.url, part.method, part.headers, bytes, s, sent, blob));
    } catch (e) {
      if (signal?.aborted) throw e;
      last = e;
      continue;
    }
    if (res.status >= 200 && res.status < 300) return;
    if (res.status === 404) throw new UploadGone(`part ${n}: storage no longer has this upload`);
    last = new StorageError(n, res.status, res.text);
  }
  throw last;
}

const isNode = typeof process === "object" && typeof process.versions?.node === "string";

/** fetchPut sends parts with the client's fetch (as given: the upload makes the retries). */
function fetchPut(c: ApiClient): PutPart {
  return async (url, method, headers, bytes, signal, sent, blob) => {
    const res = await c.rawFetch(url, { method, ...body(bytes, headers, sent, blob), signal });
    if (res.ok) {
      await res.body?.cancel();
      return { status: res.status, text: "" };
    }
    return { status: res.status, text: await res.text().catch(() => "") };
  };
}

/**
 * body is a part's request body. Node's fetch (undici) sends a typed
 * array several times slower than a stream of it (measured: 167 against
 * 1,179 MiB/s on loopback), so Node gets a stream in 1 MiB slices with its
 * length declared (the URL signs it). Chromium sends a typed array at a
 * few MiB/s too, so browsers send a Blob: the source's own slice when it
 * is a File (straight from the file), else one of the bytes.
 */
function body(bytes: Uint8Array<ArrayBuffer>, headers: Record<string, string>, sent: (bytes: number) => void, blob?: Blob): RequestInit {
  if (!isNode) return { headers, body: blob ?? new Blob([bytes]) };
  if (bytes.length === 0) return { headers, body: bytes };
  const slice = 1 << 20;
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(ctl) {
      ctl.enqueue(bytes.subarray(at, at + slice));
      at = Math.min(at + slice, bytes.length);
      sent(at);
      if (at >= bytes.length) ctl.close();
    },
  });
  return { headers: { ...headers, "Content-Length": String(bytes.length) }, body: stream, duplex: "half" } as RequestInit;
}

/** pool runs f over items, at most size at once; the first error stops it. */
async function pool<T>(items: T[], size: number, f: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      if (signal?.aborted) throw signal.reason;
      const item = items[next++];
      try {
        await f(item);
      } catch (e) {
        failed ??= e;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
  if (failed !== undefined) throw failed;
  for (const r of results) if (r.status === "rejected") throw r.reason;
}
