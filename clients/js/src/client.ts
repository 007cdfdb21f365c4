import createClient, { type Client as TypedClient, type Middleware } from "openapi-fetch";

import { AnexoError, NetworkError, problemError, TimeoutError } from "./errors.js";
import { attempt, backoff, defaultRetry, retryAfter, type RetryPolicy, throttled } from "./retry.js";
import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type File = Schemas["File"];
/** A version's preview: a JPEG at most `size` px on its long edge, `url` signed for a few minutes. */
export type Preview = Schemas["Preview"];
/** What a completion answers a token without files:read that uploaded a new version of a file it did not create. */
export type VersionReceipt = Schemas["VersionReceipt"];
/** What an upload answers: the file, or (without files:read, a new version) its receipt. */
export type Uploaded = File | VersionReceipt;
export type Session = Schemas["Session"];
export type SessionState = Schemas["SessionState"];
export type PartURL = Schemas["PartURL"];

/** Options of a client. */
export interface ClientOptions {
  /** The API's base URL, e.g. https://files.example.com or http://127.0.0.1:8080. */
  endpoint: string;
  /** An Anexo token (anx_…); none for the public routes (a file request's link). */
  token?: string;
  /** fetch to use (default: the platform's). */
  fetch?: typeof fetch;
  /**
   * How requests are retried (see RetryPolicy): a throttled answer (429,
   * 503) after its Retry-After, a request that did not reach the server
   * (safe methods, and POSTs with an Idempotency-Key) after a jittered,
   * doubling delay.
   */
  retry?: Partial<RetryPolicy>;
  /**
   * How long, in ms, downloadURL waits for a new version's malware
   * verdict (409 scan_pending) before it throws (default 120000).
   */
  scanWait?: number;
}

/**
 * Client is Anexo's API: `api` calls every route, typed from the OpenAPI
 * document (paths, parameters, bodies, answers); the helpers on top upload
 * and download files.
 */
export class ApiClient {
  readonly endpoint: string;
  readonly api: TypedClient<paths>;
  /** fetch as the client calls the API, retried as the policy says. */
  readonly fetch: typeof fetch;
  /** fetch as given: storage requests, whose retries the upload makes. */
  readonly rawFetch: typeof fetch;
  /** The retry policy, defaults filled in. */
  readonly retry: RetryPolicy;
  private readonly token?: string;
  private readonly scanWait: number;

  constructor(o: ClientOptions) {
    this.endpoint = o.endpoint.replace(/\/+$/, "");
    this.token = o.token;
    this.scanWait = o.scanWait ?? 120_000;
    const base = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.rawFetch = base;
    const p = (this.retry = { ...defaultRetry, ...o.retry });
    this.fetch = async (input, init) => {
      const req = new Request(input, init);
      const again = req.method === "GET" || req.method === "HEAD" || req.method === "PUT" || req.method === "DELETE" || req.headers.has("Idempotency-Key");
      for (let n = 1; ; n++) {
        const last = n >= p.tries;
        let res: Response;
        try {
          res = await attempt(p, req.signal, (signal) => base(new Request(last ? req : req.clone(), { signal })));
        } catch (e) {
          if (last || !again || !(e instanceof NetworkError || e instanceof TimeoutError)) throw e;
          await sleep(backoff(p, n), req.signal);
          continue;
        }
        if (last || !throttled(res.status)) return res;
        await res.body?.cancel();
        await sleep(retryAfter(res, p, n), req.signal);
      }
    };
    this.api = createClient<paths>({ baseUrl: this.endpoint, fetch: (req: Request) => this.fetch(req) });
    const auth: Middleware = {
      onRequest: ({ request }) => {
        if (this.token) request.headers.set("Authorization", `Bearer ${this.token}`);
        return request;
      },
    };
    this.api.use(auth);
  }

  /** call unwraps an answer of `api`: its data, or an AnexoError. */
  async call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    const { data, error, response } = await p;
    if (error !== undefined || !response.ok) throw problemError(response.status, error);
    return data as T;
  }

  /** file reads a file's record. */
  getFile(uuid: string, signal?: AbortSignal): Promise<File> {
    return this.call(this.api.GET("/v1/files/{uuid}", { params: { path: { uuid } }, signal }));
  }

  /**
   * previews are a file's previews (its main version's, or one version's),
   * their links signed for a few minutes. A version has none until they are
   * rendered, after its upload and its malware verdict: `wait` ms asks again
   * until they are there (a format without previews never gets any).
   */
  async previews(uuid: string, o: { versionUUID?: string; wait?: number; signal?: AbortSignal } = {}): Promise<Preview[]> {
    const until = Date.now() + (o.wait ?? 0);
    for (;;) {
      const got = o.versionUUID
        ? await this.call(this.api.GET("/v1/files/{uuid}/versions/{version_uuid}", { params: { path: { uuid, version_uuid: o.versionUUID } }, signal: o.signal }))
        : await this.getFile(uuid, o.signal);
      const ps = got.previews ?? [];
      const left = until - Date.now();
      if (ps.length > 0 || left <= 0) return ps;
      await sleep(Math.min(250, left), o.signal);
    }
  }

  /**
   * downloadURL is a short-lived presigned GET of a file (or one version),
   * asked for as JSON, which fetch can read in a browser too (a redirect's
   * Location it cannot). A version whose malware scan has not reported
   * (409 scan_pending) is asked for again after the wait the problem
   * names, for up to `scanWait` ms; an infected one throws file_infected.
   */
  async downloadURL(uuid: string, versionUUID?: string, signal?: AbortSignal): Promise<string> {
    const until = Date.now() + this.scanWait;
    for (;;) {
      try {
        const link = await this.call(
          this.api.GET("/v1/files/{uuid}/download", {
            params: { path: { uuid }, query: versionUUID ? { version_uuid: versionUUID } : {}, header: { Accept: "application/json" } },
            signal,
          }),
        );
        return link.url;
      } catch (e) {
        const left = until - Date.now();
        if (!(e instanceof AnexoError) || e.code !== "scan_pending" || left <= 0) throw e;
        const secs = Number(e.problem.retry_after_seconds);
        await sleep(Math.min(secs > 0 ? secs * 1000 : 1000, 30_000, left), signal);
      }
    }
  }
}

/** sleep waits ms, or rejects with the signal's reason. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}
