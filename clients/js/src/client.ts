import createClient, { type Client as TypedClient, type Middleware } from "openapi-fetch";

import { problemError } from "./errors.js";
import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type File = Schemas["File"];
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
  /** An Anexo token (anx_…). */
  token: string;
  /** fetch to use (default: the platform's). */
  fetch?: typeof fetch;
  /** Retries of an answer 503 throttled, after its Retry-After (default 4). */
  throttled?: number;
}

/**
 * Client is Anexo's API: `api` calls every route, typed from the OpenAPI
 * document (paths, parameters, bodies, answers); the helpers on top upload
 * and download files.
 */
export class ApiClient {
  readonly endpoint: string;
  readonly api: TypedClient<paths>;
  /** fetch as the client calls the API (a 503 throttled is retried). */
  readonly fetch: typeof fetch;
  /** fetch as given: storage requests, whose retries the upload makes. */
  readonly rawFetch: typeof fetch;
  private readonly token: string;

  constructor(o: ClientOptions) {
    this.endpoint = o.endpoint.replace(/\/+$/, "");
    this.token = o.token;
    const base = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.rawFetch = base;
    const throttled = o.throttled ?? 4;
    // a 503 throttled is retried after its Retry-After, the request as it was
    this.fetch = async (input, init) => {
      for (let attempt = 0; ; attempt++) {
        const req = new Request(input, init);
        const res = await base(attempt < throttled ? req.clone() : req);
        if (res.status !== 503 || attempt >= throttled) return res;
        const wait = Number(res.headers.get("Retry-After") ?? "1");
        await res.body?.cancel();
        await sleep(Math.min(Number.isFinite(wait) ? wait : 1, 30) * 1000, req.signal);
      }
    };
    this.api = createClient<paths>({ baseUrl: this.endpoint, fetch: (req: Request) => this.fetch(req) });
    const auth: Middleware = {
      onRequest: ({ request }) => {
        request.headers.set("Authorization", `Bearer ${this.token}`);
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
   * downloadURL is a short-lived presigned GET of a file (or one version),
   * asked for as JSON, which fetch can read in a browser too (a redirect's
   * Location it cannot).
   */
  async downloadURL(uuid: string, versionUUID?: string, signal?: AbortSignal): Promise<string> {
    const link = await this.call(
      this.api.GET("/v1/files/{uuid}/download", {
        params: { path: { uuid }, query: versionUUID ? { version_uuid: versionUUID } : {}, header: { Accept: "application/json" } },
        signal,
      }),
    );
    return link.url;
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
