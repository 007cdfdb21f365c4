// How Node talks HTTP: node:http(s) on keep-alive connections, for the
// API's calls (a fetch) and for the parts' PUTs. Only the node entry
// imports this file (browsers never reach node:).
//
// Why not Node's fetch (undici): it parses answers with llhttp compiled to
// WebAssembly, and V8 compiling it took a sixth of the CPU of a 256 MiB
// upload; and it copies a request body through web streams. node:http
// hands a part's buffer to the socket as it is (BenchmarkNodeVsCLI).
import * as http from "node:http";
import * as https from "node:https";
import { Readable } from "node:stream";

import { NetworkError } from "./errors.js";
import type { PutPart } from "./upload.js";

/** The slice written at a time: a part's progress moves by at most this much. */
const SLICE = 1 << 20;

/** Redirects a fetch follows (as fetch's default "follow" does). */
const MAX_REDIRECTS = 20;

/** Agents keeps one keep-alive connection pool per protocol. */
class Agents {
  private readonly pools = {
    "http:": new http.Agent({ keepAlive: true }),
    "https:": new https.Agent({ keepAlive: true }),
  };

  /** request starts a request to url (http or https). */
  request(url: URL, o: http.RequestOptions, answer: (res: http.IncomingMessage) => void): http.ClientRequest {
    const agent = this.pools[url.protocol as keyof Agents["pools"]];
    if (!agent) throw new TypeError(`cannot reach a ${url.protocol} URL`);
    return (url.protocol === "https:" ? https : http).request(url, { ...o, agent }, answer);
  }
}

/** NodeHTTP is what a Node client sends with: a fetch for the API, a PutPart for storage. */
export interface NodeHTTP {
  fetch: typeof fetch;
  put: PutPart;
}

export function nodeHTTP(): NodeHTTP {
  const agents = new Agents();
  return { fetch: httpFetch(agents), put: httpPut(agents) };
}

/**
 * httpFetch is fetch over node:http: the request's body is buffered (the
 * API's are small JSON), the answer's streamed; redirects are followed
 * unless the request says "manual" or "error", as fetch does.
 */
function httpFetch(agents: Agents): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    let body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    let method = req.method;
    let url = new URL(req.url);
    for (let hop = 0; ; hop++) {
      const res = await exchange(agents, url, method, req.headers, body, req.signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (![301, 302, 303, 307, 308].includes(status) || !location || req.redirect === "manual") return answer(res, url);
      res.resume();
      if (req.redirect === "error") throw new NetworkError(`${url} redirects to ${location}`);
      if (hop >= MAX_REDIRECTS) throw new NetworkError(`more than ${MAX_REDIRECTS} redirects from ${req.url}`);
      const next = new URL(location, url);
      if (status === 303 || ((status === 301 || status === 302) && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = undefined;
      }
      // credentials are the origin's: another origin does not get them
      if (next.origin !== url.origin) req.headers.delete("Authorization");
      url = next;
    }
  };
}

/** exchange sends one request and waits for the answer's head. */
function exchange(agents: Agents, url: URL, method: string, headers: Headers, body: Buffer | undefined, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = {};
    headers.forEach((v, k) => (h[k] = v));
    if (body) h["content-length"] = String(body.length);
    const r = agents.request(url, { method, headers: h, signal }, resolve);
    r.on("error", (e) => reject(signal.aborted ? signal.reason : network(e)));
    r.end(body);
  });
}

/** answer is a Response of res, its body streamed. */
function answer(res: http.IncomingMessage, url: URL): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  const status = res.statusCode ?? 0;
  const empty = status === 204 || status === 205 || status === 304;
  if (empty) res.resume();
  const out = new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage, headers });
  Object.defineProperty(out, "url", { value: url.href });
  return out;
}

/**
 * httpPut sends a part straight from its buffer. Progress counts the bytes
 * the socket took.
 */
function httpPut(agents: Agents): PutPart {
  return (url, method, headers, bytes, signal, sent) =>
    new Promise((resolve, reject) => {
      const req = agents.request(new URL(url), { method, signal, headers: { ...headers, "Content-Length": String(bytes.length) } }, (res) => {
        const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
        const chunks: Buffer[] = [];
        // a success's body is read and dropped (the connection is kept)
        res.on("data", (c: Buffer) => ok || chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (e) => reject(network(e)));
      });
      req.on("error", (e) => reject(signal.aborted ? signal.reason : network(e)));
      let at = 0;
      const write = () => {
        while (at < bytes.length) {
          const end = Math.min(at + SLICE, bytes.length);
          const more = req.write(bytes.subarray(at, end), (err) => err || sent(end));
          at = end;
          if (!more) return void req.once("drain", write);
        }
        req.end();
      };
      write();
    });
}

/** network is a failure to reach a server, as the client types it. */
function network(e: Error): Error {
  return e.name === "AbortError" ? e : new NetworkError(e.message, { cause: e });
}
