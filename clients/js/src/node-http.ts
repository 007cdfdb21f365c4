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

import type { Exchange } from "./client.js";
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

/**
 * NodeHTTP is what a Node client sends with: a fetch for the API, an
 * Exchange for the helpers' JSON calls (no fetch classes: loading undici
 * costs a process 20 ms, a tenth of a small upload), a PutPart for storage.
 */
export interface NodeHTTP {
  fetch: typeof fetch;
  exchange: Exchange;
  put: PutPart;
}

export function nodeHTTP(): NodeHTTP {
  const agents = new Agents();
  return { fetch: httpFetch(agents), exchange: httpExchange(agents), put: httpPut(agents) };
}

/** httpExchange sends a JSON call and reads its answer whole. */
function httpExchange(agents: Agents): Exchange {
  return async (url, method, headers, body, signal) => {
    const res = await exchange(agents, new URL(url), method, headers, body === undefined ? undefined : Buffer.from(body, "utf8"), signal);
    const text = (await whole(res)).toString("utf8");
    return { status: res.statusCode ?? 0, header: (n) => header(res.headers[n.toLowerCase()]), text };
  };
}

/** header is a header's value as fetch gives it (repeated ones joined). */
function header(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
}

/**
 * httpFetch is fetch over node:http: the request's body is buffered (the
 * API's are small JSON), the answer's streamed; redirects are followed
 * unless the request says "manual" or "error", as fetch does.
 */
function httpFetch(agents: Agents): typeof fetch {
  return async (input, init) => {
    const req = await plain(input, init);
    let body = req.body;
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
      if (next.origin !== url.origin) delete req.headers.authorization;
      url = next;
    }
  };
}

/** A request as node:http sends it: headers by lower-case name, the body buffered. */
interface Plain {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  redirect: RequestRedirect;
  signal: AbortSignal;
}

/** plain reads a fetch's arguments as fetch reads them (through a Request). */
async function plain(input: string | URL | Request, init?: RequestInit): Promise<Plain> {
  const req = new Request(input, init);
  const headers: Record<string, string> = {};
  req.headers.forEach((v, k) => (headers[k] = v));
  const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
  return { url: req.url, method: req.method, headers, body, redirect: req.redirect, signal: req.signal };
}

/** exchange sends one request and waits for the answer's head. */
function exchange(agents: Agents, url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body) h["content-length"] = String(body.length);
    const r = agents.request(url, { method, headers: h, signal }, resolve);
    r.on("error", (e) => reject(signal.aborted ? signal.reason : network(e)));
    r.end(body);
  });
}

/** An answer up to this long is read whole before its Response is made (the API's JSON). */
const SMALL = 64 << 10;

/** answer is a Response of res: a small body read whole, any other streamed. */
async function answer(res: http.IncomingMessage, url: URL): Promise<Response> {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  const status = res.statusCode ?? 0;
  const empty = status === 204 || status === 205 || status === 304;
  const length = Number(res.headers["content-length"] ?? NaN);
  let body: BodyInit | null;
  if (empty) {
    res.resume();
    body = null;
  } else if (length <= SMALL) {
    body = new Uint8Array(await whole(res));
  } else {
    body = Readable.toWeb(res) as ReadableStream<Uint8Array>;
  }
  const out = new Response(body, { status, statusText: res.statusMessage, headers });
  Object.defineProperty(out, "url", { value: url.href });
  return out;
}

/** whole reads an answer's body. */
function whole(res: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks)));
    res.on("error", (e) => reject(network(e)));
  });
}

/**
 * httpPut sends a part straight from its buffer. Progress counts the bytes
 * the socket took.
 */
function httpPut(agents: Agents): PutPart {
  return (url, method, headers, bytes, signal, sent) =>
    new Promise((resolve, reject) => {
      const req = agents.request(new URL(url), { method, signal, headers: { ...headers, "Content-Length": String(bytes.length) } }, (res) => {
        const status = res.statusCode ?? 0;
        // the body is read whole (the connection is kept); a success's is dropped
        whole(res).then((b) => resolve({ status, text: status >= 200 && status < 300 ? "" : b.toString("utf8") }), reject);
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
