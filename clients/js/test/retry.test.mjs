// The retry policy, against a fake fetch (no server): throttled answers
// wait for their Retry-After, lost requests are retried when that is
// safe, and what is left is a typed error.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, NetworkError, TimeoutError } from "../dist/node.js";
import { retryAfter } from "../dist/retry.js";

const ok = () => new Response(JSON.stringify({ used_bytes: 1, file_count: 1 }), { headers: { "Content-Type": "application/json" } });

// script answers each call with the next of steps: a status (with
// headers), "lost" (a network error), "hang" (no answer until aborted)
function script(...steps) {
  const calls = [];
  const f = async (input, init) => {
    const req = new Request(input, init);
    calls.push({ method: req.method, at: Date.now() });
    const step = steps.shift() ?? 200;
    if (step === "lost") throw new TypeError("fetch failed");
    if (step === "hang") {
      return new Promise((_, reject) => req.signal.addEventListener("abort", () => reject(req.signal.reason)));
    }
    if (typeof step === "object") return new Response("{}", { status: step.status, headers: step.headers });
    return step === 200 ? ok() : new Response("{}", { status: step });
  };
  return { calls, f };
}

const client = (f, retry) => new Client({ endpoint: "http://anexo.invalid", token: "anx_x", fetch: f, retry: { baseDelay: 1, ...retry } });
// both ways a client calls the API: api (openapi-fetch over fetch) and
// json (the helpers' calls), each retried by the same policy
const ways = [
  {
    way: "api",
    usage: (c, o) => c.call(c.api.GET("/v1/usage", o)),
    open: (c, headers) => c.call(c.api.POST("/v1/sessions", { body: { file_name: "a", file_size: 1 }, headers })),
  },
  {
    way: "json",
    usage: (c, o) => c.json("GET", "/v1/usage", undefined, o?.signal),
    open: (c, headers) => c.json("POST", "/v1/sessions", { file_name: "a", file_size: 1 }, undefined, headers),
  },
];

for (const { way, usage, open } of ways) {
  test(`${way}: a throttled answer is retried after its Retry-After`, async () => {
    const s = script({ status: 429, headers: { "Retry-After": "1" } }, 503, 200);
    const t0 = Date.now();
    assert.equal((await usage(client(s.f))).file_count, 1);
    assert.equal(s.calls.length, 3);
    assert.ok(Date.now() - t0 >= 950, "the Retry-After of 1 s was not waited for");
  });

  test(`${way}: a lost GET is retried; past the tries, a NetworkError`, async () => {
    const s = script("lost", "lost", 200);
    assert.equal((await usage(client(s.f))).file_count, 1);
    assert.equal(s.calls.length, 3);
    const lost = script("lost", "lost", "lost");
    await assert.rejects(usage(client(lost.f, { tries: 2 })), (e) => e instanceof NetworkError && e.cause instanceof TypeError);
    assert.equal(lost.calls.length, 2);
  });

  test(`${way}: a lost POST is not repeated unless it carries an Idempotency-Key`, async () => {
    const s = script("lost", 200);
    const c = client(s.f);
    await assert.rejects(open(c), NetworkError);
    assert.equal(s.calls.length, 1);
    const k = script("lost", 200);
    const ck = client(k.f);
    await open(ck, { "Idempotency-Key": "k1" });
    assert.equal(k.calls.length, 2);
  });

  test(`${way}: a request with no answer in time is a TimeoutError; the caller's abort stays an AbortError`, async (t) => {
    // AbortSignal.timeout does not keep Node's event loop alive; a real
    // request's socket would
    const alive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(alive));
    const s = script("hang", "hang");
    await assert.rejects(usage(client(s.f, { tries: 2, timeout: 50 })), TimeoutError);
    assert.equal(s.calls.length, 2);
    const h = script("hang");
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 20);
    await assert.rejects(usage(client(h.f), { signal: ctl.signal }), (e) => e.name === "AbortError");
    assert.equal(h.calls.length, 1);
  });
}

test("Retry-After as seconds or a date, capped by maxDelay", () => {
  const p = { tries: 5, baseDelay: 100, maxDelay: 5000, timeout: 1000 };
  const res = (v) => v || null; // the answer's Retry-After
  assert.equal(retryAfter(res("2"), p, 1), 2000);
  assert.equal(retryAfter(res("3600"), p, 1), 5000);
  const d = retryAfter(res(new Date(Date.now() + 3000).toUTCString()), p, 1);
  assert.ok(d > 1000 && d <= 3000, String(d));
  const j = retryAfter(res(""), p, 3);
  assert.ok(j >= 0 && j <= 400, String(j));
});

test("a download waits for a pending malware scan, not for an infected file", async () => {
  const pending = () => new Response(JSON.stringify({ status: 409, code: "scan_pending", retry_after_seconds: 1 }), { status: 409, headers: { "Content-Type": "application/problem+json", "Retry-After": "1" } });
  const link = () => new Response(JSON.stringify({ url: "https://bucket.example/o", expires_at: "2026-12-06T12:00:00Z" }), { headers: { "Content-Type": "application/json" } });
  let calls = 0;
  const c = client(async () => (++calls === 1 ? pending() : link()));
  const t0 = Date.now();
  assert.equal(await c.downloadURL("f"), "https://bucket.example/o");
  assert.equal(calls, 2);
  assert.ok(Date.now() - t0 >= 950, "the scan's wait of 1 s was not kept");
  const infected = client(async () => new Response(JSON.stringify({ status: 403, code: "file_infected" }), { status: 403, headers: { "Content-Type": "application/problem+json" } }));
  await assert.rejects(infected.downloadURL("f"), (e) => e.code === "file_infected");
  let tries = 0;
  const never = new Client({ endpoint: "http://anexo.invalid", token: "anx_x", fetch: async () => (tries++, pending()), scanWait: 1500 });
  await assert.rejects(never.downloadURL("f"), (e) => e.code === "scan_pending");
  assert.equal(tries, 3); // at 0, 1 and 1.5 s
});
