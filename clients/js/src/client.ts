import createClient, { type Client as TypedClient } from "openapi-fetch";

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
  /** fetch as the client calls the API, retried as the policy says. */
  readonly fetch: typeof fetch;
  /** fetch as given: storage requests, whose retries the upload makes. */
  readonly rawFetch: typeof fetch;
  /** The retry policy, defaults filled in. */
  readonly retry: RetryPolicy;
  private readonly scanWait: number;

  /** The headers of every call (the token's). */
  private readonly headers: Record<string, string>;
  /** How JSON calls of the API go out: the platform's fastest (Node: node:http), else fetch. */
  private readonly exchange: Exchange;
  private typed?: TypedClient<paths>;

  constructor(o: ClientOptions, exchange?: Exchange) {
    this.endpoint = o.endpoint.replace(/\/+$/, "");
    this.scanWait = o.scanWait ?? 120_000;
    const base = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.rawFetch = base;
    this.exchange = exchange ?? fetchExchange(base);
    this.headers = o.token ? { Authorization: `Bearer ${o.token}` } : {};
    const p = (this.retry = { ...defaultRetry, ...o.retry });
    this.fetch = async (input, init) => {
      const req = input instanceof Request && init === undefined ? input : new Request(input, init);
      // the body (the API's are small) is read once and sent by every try
      const body = req.body ? await req.arrayBuffer() : undefined;
      const sent: RequestInit = { method: req.method, headers: req.headers, body, redirect: req.redirect, credentials: req.credentials, cache: req.cache };
      return retried(p, idempotent(req.method, req.headers.has("Idempotency-Key")), req.signal, (signal) => base(req.url, { ...sent, signal }), {
        retryAfter: (res) => res.headers.get("Retry-After"),
        drop: async (res) => void (await res.body?.cancel()),
      });
    };
  }

  /**
   * api calls every route, typed from the OpenAPI document. It is made on
   * first use: in Node, making it loads fetch's classes (undici), which
   * the helpers (upload, download) do without.
   */
  get api(): TypedClient<paths> {
    // the token is every call's header (a middleware would cost each call
    // its own pass over the request)
    this.typed ??= createClient<paths>({ baseUrl: this.endpoint, headers: this.headers, fetch: (req: Request) => this.fetch(req) });
    return this.typed;
  }

  /**
   * json calls a route of the API with a JSON body (or none), retried as
   * fetch is, and answers its JSON; a refusal throws its AnexoError. The
   * helpers' calls take this path, lighter than \`api\`'s.
   */
  async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, headers?: Record<string, string>): Promise<T> {
    const h: Record<string, string> = { ...this.headers, ...headers, Accept: "application/json" };
    if (body !== undefined) h["Content-Type"] = "application/json";
    const text = body === undefined ? undefined : JSON.stringify(body);
    const again = idempotent(method, "Idempotency-Key" in h);
    const res = await retried(this.retry, again, signal, (s) => this.exchange(this.endpoint + path, method, h, text, s), {
      retryAfter: (answer) => answer.header("retry-after"),
      drop: async () => {}, // read whole already
    });
    let data: unknown = res.text;
    try {
      data = res.text ? JSON.parse(res.text) : undefined;
    } catch {
      // not JSON: the text, as the problem's detail
    }
    if (res.status < 200 || res.status >= 300) throw problemError(res.status, data);
    return data as T;
  }

  /** call unwraps an answer of `api`: its data, or an AnexoError. */
  async call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    const { data, error, response } = await p;
    if (error !== undefined || !response.ok) throw problemError(response.status, error);
    return data as T;
  }

  /** file reads a file's record. */
  getFile(uuid: string, signal?: AbortSignal): Promise<File> {
    return this.json<File>("GET", `/v1/files/${encodeURIComponent(uuid)}`, undefined, signal);
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
        ? await this.json<{ previews?: Preview[] }>("GET", `/v1/files/${encodeURIComponent(uuid)}/versions/${encodeURIComponent(o.versionUUID)}`, undefined, o.signal)
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
        const query = versionUUID ? `?version_uuid=${encodeURIComponent(versionUUID)}` : "";
        const link = await this.json<{ url: string }>("GET", `/v1/files/${encodeURIComponent(uuid)}/download${query}`, undefined, signal);
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

/** An answer to a JSON call: its status, a header by name, its body. */
export interface Answer {
  status: number;
  header(name: string): string | null;
  text: string;
}

/** Exchange sends one JSON request (a body of text or none) and reads its answer whole. */
export type Exchange = (url: string, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal) => Promise<Answer>;

/** fetchExchange is an Exchange over fetch. */
function fetchExchange(f: typeof fetch): Exchange {
  return async (url, method, headers, body, signal) => {
    const res = await f(url, { method, headers, body, signal });
    return { status: res.status, header: (n) => res.headers.get(n), text: await res.text() };
  };
}

/** idempotent: a request the client may send again when it is not known to have arrived. */
function idempotent(method: string, idempotencyKey: boolean): boolean {
  return method === "GET" || method === "HEAD" || method === "PUT" || method === "DELETE" || idempotencyKey;
}

/**
 * retried runs a request under the policy: a throttled answer (429, 503)
 * again after its Retry-After, a request that did not reach the server
 * (when again) after a jittered, doubling delay; the last try's answer or
 * failure stands.
 */
async function retried<A extends { status: number }>(
  p: RetryPolicy,
  again: boolean,
  signal: AbortSignal | null | undefined,
  once: (signal: AbortSignal) => Promise<A>,
  a: { retryAfter: (answer: A) => string | null; drop: (answer: A) => Promise<void> },
): Promise<A> {
  for (let n = 1; ; n++) {
    const last = n >= p.tries;
    let res: A;
    try {
      res = await attempt(p, signal, once);
    } catch (e) {
      if (last || !again || !(e instanceof NetworkError || e instanceof TimeoutError)) throw e;
      await sleep(backoff(p, n), signal);
      continue;
    }
    if (last || !throttled(res.status)) return res;
    await a.drop(res);
    await sleep(retryAfter(a.retryAfter(res), p, n), signal);
  }
}
