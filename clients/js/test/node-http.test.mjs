// Node's default transport (node:http, no fetch given) against plain
// local servers: what fetch would do (redirects, credentials, empty
// answers), the client's typed failures, and a part's PUT (its bytes,
// progress, refusal and abort).
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http from "node:http";
import { test } from "node:test";

import { Client, NetworkError, TimeoutError } from "../dist/node.js";
import { nodeHTTP } from "../dist/node-http.js";

// serve starts a server on 127.0.0.1 answering with handle; it is closed after the test.
async function serve(t, handle) {
  const s = http.createServer(handle);
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  t.after(() => new Promise((r) => (s.closeAllConnections(), s.close(r))));
  return `http://127.0.0.1:${s.address().port}`;
}

const usage = (c, o) => c.call(c.api.GET("/v1/usage", o));
const json = (res, v) => (res.writeHead(200, { "Content-Type": "application/json" }), res.end(JSON.stringify(v)));

test("a redirect is followed; the token goes to the API's origin only", async (t) => {
  const seen = [];
  const other = await serve(t, (req, res) => (seen.push(["other", req.headers.authorization]), json(res, { used_bytes: 2, file_count: 2 })));
  const api = await serve(t, (req, res) => {
    seen.push([req.url, req.headers.authorization]);
    if (req.url === "/v1/usage") return res.writeHead(302, { Location: "/v1/moved" }).end();
    res.writeHead(307, { Location: `${other}/elsewhere` }).end();
  });
  const c = new Client({ endpoint: api, token: "anx_secret" });
  assert.equal((await usage(c)).file_count, 2);
  assert.deepEqual(seen, [
    ["/v1/usage", "Bearer anx_secret"],
    ["/v1/moved", "Bearer anx_secret"],
    ["other", undefined],
  ]);
  const manual = await c.fetch(`${api}/v1/usage`, { redirect: "manual" });
  assert.equal(manual.status, 302);
  assert.equal(manual.headers.get("location"), "/v1/moved");
});

test("an answer without a body reads as empty; a streamed one whole", async (t) => {
  const big = "x".repeat(3 << 20);
  const api = await serve(t, (req, res) => (req.url === "/empty" ? res.writeHead(204).end() : res.end(big)));
  const c = new Client({ endpoint: api, token: "anx_x" });
  const empty = await c.fetch(`${api}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(await empty.text(), "");
  assert.equal((await (await c.fetch(`${api}/big`)).text()).length, big.length);
});

test("the helpers' JSON calls: the token and the body sent, a throttled answer waited for, a problem typed", async (t) => {
  const seen = [];
  let throttled = false;
  const api = await serve(t, async (req, res) => {
    let body = "";
    for await (const c of req) body += c;
    seen.push([req.method, req.url, req.headers.authorization, req.headers["content-type"], body]);
    if (req.url === "/v1/sessions" && !throttled) return (throttled = true), res.writeHead(429, { "Retry-After": "0" }).end();
    if (req.url === "/v1/sessions") return json(res, { id: "s1" });
    if (req.url === "/v1/text") return res.writeHead(502).end("bad gateway");
    res.writeHead(404, { "Content-Type": "application/problem+json" }).end(JSON.stringify({ status: 404, code: "file_not_found", detail: "no such file" }));
  });
  const c = new Client({ endpoint: api, token: "anx_secret" });
  assert.deepEqual(await c.json("POST", "/v1/sessions", { file_name: "a é", file_size: 1 }), { id: "s1" });
  assert.deepEqual(seen[1], ["POST", "/v1/sessions", "Bearer anx_secret", "application/json", JSON.stringify({ file_name: "a é", file_size: 1 })]);
  assert.equal(seen.length, 2, "the 429 was not retried");
  await assert.rejects(c.getFile("f 1"), (e) => e.status === 404 && e.code === "file_not_found" && seen.at(-1)[1] === "/v1/files/f%201");
  await assert.rejects(c.json("GET", "/v1/text"), (e) => e.status === 502 && /bad gateway/.test(e.message));
});

test("a server that cannot be reached is a NetworkError, after the policy's tries", async (t) => {
  let calls = 0;
  const api = await serve(t, (req) => (calls++, req.socket.destroy()));
  const c = new Client({ endpoint: api, token: "anx_x", retry: { tries: 3, baseDelay: 1 } });
  await assert.rejects(usage(c), NetworkError);
  assert.equal(calls, 3);
  const closed = new Client({ endpoint: "http://127.0.0.1:1", token: "anx_x", retry: { tries: 1 } });
  await assert.rejects(usage(closed), (e) => e instanceof NetworkError && /ECONNREFUSED/.test(e.message));
});

test("no answer in time is a TimeoutError; the caller's abort is its own reason", async (t) => {
  const api = await serve(t, () => {}); // never answers
  const c = new Client({ endpoint: api, token: "anx_x", retry: { tries: 2, baseDelay: 1, timeout: 50 } });
  await assert.rejects(usage(c), TimeoutError);
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(new Error("stop")), 20);
  await assert.rejects(usage(new Client({ endpoint: api, token: "anx_x" }), { signal: ctl.signal }), /stop/);
});

test("a part's PUT sends its bytes with their length, reports progress, and returns a refusal's text", async (t) => {
  const got = [];
  const url = await serve(t, async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    got.push({ method: req.method, length: req.headers["content-length"], sum: req.headers["x-amz-checksum-crc32c"], body: Buffer.concat(chunks) });
    if (req.url === "/refuse") return res.writeHead(403).end("<Error><Code>SignatureDoesNotMatch</Code></Error>");
    res.writeHead(200, { ETag: '"e"' }).end();
  });
  const { put } = nodeHTTP();
  const bytes = new Uint8Array(5 * (1 << 20) + 3).map((_, i) => i % 251);
  const progress = [];
  const ok = await put(`${url}/part`, "PUT", { "x-amz-checksum-crc32c": "AAAAAA==" }, bytes, new AbortController().signal, (n) => progress.push(n));
  assert.deepEqual(ok, { status: 200, text: "" });
  assert.equal(got[0].length, String(bytes.length));
  assert.equal(got[0].sum, "AAAAAA==");
  assert.ok(Buffer.from(bytes).equals(got[0].body), "the part's bytes differ");
  assert.equal(progress.at(-1), bytes.length);
  assert.ok(progress.length >= 5 && progress.every((n, i) => i === 0 || n > progress[i - 1]), `progress ${progress}`);
  const refused = await put(`${url}/refuse`, "PUT", {}, bytes.subarray(0, 10), new AbortController().signal, () => {});
  assert.equal(refused.status, 403);
  assert.match(refused.text, /SignatureDoesNotMatch/);
});

test("an aborted PUT stops with the abort's reason", async (t) => {
  const url = await serve(t, (req) => req.pause()); // reads nothing: the sender blocks
  const { put } = nodeHTTP();
  const ctl = new AbortController();
  const sending = put(`${url}/part`, "PUT", {}, new Uint8Array(64 << 20), ctl.signal, () => {});
  setTimeout(() => ctl.abort(new Error("paused")), 50);
  await assert.rejects(sending, /paused/);
});
