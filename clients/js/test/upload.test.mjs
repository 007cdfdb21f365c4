// Runs against a running Anexo (ANEXO_URL, ANEXO_TOKEN): the Go test in
// this directory starts one, with every API response checked against the
// OpenAPI document, and runs these.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, createReadStream } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { crc32, deflateSync } from "node:zlib";
import { join } from "node:path";
import { describe, test } from "node:test";

import { AnexoError, Client, FileChangedError, ResumeMismatchError, StorageError } from "../dist/node.js";

const endpoint = process.env.ANEXO_URL;
const token = process.env.ANEXO_TOKEN;
const MiB = 1 << 20;

const dir = await mkdtemp(join(tmpdir(), "anexo-js-"));
const sha = (b) => createHash("sha256").update(b).digest("hex");

async function fileOf(name, size) {
  const data = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, data);
  return { path, data };
}

// counting wraps fetch: storage PUTs and part signings, by kind
function counting(base = fetch) {
  const n = { put: 0, sign: 0 };
  const f = async (input, init) => {
    const req = new Request(input, init);
    if (req.method === "PUT" && req.url.includes("X-Amz-Signature")) n.put++;
    if (req.url.endsWith("/parts")) n.sign++;
    return base(req);
  };
  return { n, f };
}

// pngOf is a w × h grey PNG (its chunks' CRCs and its zlib stream made here)
function pngOf(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const rows = Buffer.alloc((w + 1) * h, 0x80);
  for (let y = 0; y < h; y++) rows[y * (w + 1)] = 0; // filter: none
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

async function usage(c) {
  return c.call(c.api.GET("/v1/usage"));
}

describe("the client against a server", { skip: !endpoint && "ANEXO_URL and ANEXO_TOKEN are not set (the Go test sets them)" }, () => {
  const c = new Client({ endpoint, token });

  for (const size of [0, 1, 5 * MiB + 1, 100 * MiB]) {
    test(`uploads and downloads ${size} bytes`, async () => {
      const { path, data } = await fileOf(`f-${size}.bin`, size);
      const progress = [];
      const file = await c.upload(path, { onProgress: (p) => progress.push(p) });
      assert.equal(file.size, size);
      assert.equal(file.name, `f-${size}.bin`);
      assert.deepEqual(progress.at(-1), { phase: "completing", loaded: size, total: size });
      const out = join(dir, `copy-${size}.bin`);
      await c.download(file.uuid, out);
      assert.equal(sha(await readFile(out)), sha(data));
    });
  }

  test("a Blob, with a name, attached at completion, and a new version", async () => {
    const entity = crypto.randomUUID();
    const file = await c.upload(new Blob(["olá, anexo"], { type: "text/plain" }), { name: "nota.txt", attach: [{ entity_type: "lead", entity_id: entity }] });
    const v2 = await c.upload(new Blob(["versão 2"]), { name: "nota.txt", versionOf: file.uuid });
    assert.equal(v2.uuid, file.uuid);
    assert.equal(v2.version_count, 2);
    const page = await c.call(c.api.GET("/v1/entities/{entity_type}/{entity_id}/files", { params: { path: { entity_type: "lead", entity_id: entity } } }));
    assert.equal(page._embedded.files[0].uuid, file.uuid);
  });

  test("a Blob of several parts, read by a stream that takes its buffer over, uploads byte for byte", async () => {
    // one part in flight: every part is read into the memory the one
    // before it was read into (and taken back from the stream)
    const { data } = await fileOf("blob-parts.bin", 3 * 5 * MiB + 7);
    const file = await c.upload(new Blob([data]), { name: "blob-parts.bin", parallel: 1 });
    const out = join(dir, "blob-parts.copy");
    await c.download(file.uuid, out);
    assert.equal(sha(await readFile(out)), sha(data));
  });

  test("an upload aborted mid-way resumes in the same session, without a second file", async () => {
    const { path, data } = await fileOf("resume.bin", 20 * MiB + 3);
    const before = await usage(c);
    const ctl = new AbortController();
    let session;
    const first = counting();
    const interrupted = new Client({ endpoint, token, fetch: first.f });
    const err = await interrupted
      .upload(path, { parallel: 1, signal: ctl.signal, onSession: (id) => (session = id), onProgress: (p) => p.loaded > 0 && ctl.abort() })
      .then(() => assert.fail("the upload was not interrupted"), (e) => e);
    assert.equal(err.name, "AbortError");
    assert.equal(err.sessionId, session);
    const held = (await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: session } } }))).uploaded_parts.length;
    const second = counting();
    const resumed = new Client({ endpoint, token, fetch: second.f });
    const file = await resumed.upload(path, { resume: session });
    const st = await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: session } } }));
    assert.equal(st.session.status, "completed");
    assert.equal(st.file.uuid, file.uuid);
    assert.ok(first.n.put >= 1 && second.n.put === st.session.part_count - held, `parts sent: ${first.n.put} (${held} held) then ${second.n.put} of ${st.session.part_count}`);
    const out = join(dir, "resume-copy.bin");
    await c.download(file.uuid, out);
    assert.equal(sha(await readFile(out)), sha(data));
    // resuming a completed session answers its file: no second copy
    assert.equal((await c.upload(path, { resume: session })).uuid, file.uuid);
    const after = await usage(c);
    assert.equal(after.file_count, before.file_count + 1);
    assert.equal(after.used_bytes, before.used_bytes + data.length);
  });

  test("a session of another file is refused before any byte is sent", async () => {
    const { path } = await fileOf("big.bin", 6 * MiB);
    let session;
    const done = await c.upload(path, { onSession: (id) => (session = id) });
    const cases = [
      [(await fileOf("small.bin", 1000)).path, "file_size"], // the bug: this answered the other file
      [(await fileOf("same-size.bin", 6 * MiB)).path, "file_name"],
    ];
    for (const [other, field] of cases) {
      const n = counting();
      const err = await new Client({ endpoint, token, fetch: n.f }).upload(other, { resume: session }).then(
        (f) => assert.fail(`answered ${f.uuid} (the session's file is ${done.uuid})`),
        (e) => e,
      );
      assert.ok(err instanceof ResumeMismatchError, String(err));
      assert.equal(err.field, field);
      assert.equal(err.sessionId, session);
      assert.equal(n.n.put + n.n.sign, 0);
    }
  });

  test("bytes, a Buffer and a Uint8Array, upload; anything else is refused before any request", async () => {
    const data = randomBytes(3000);
    const f1 = await c.upload(data, { name: "buffer.bin" });
    const f2 = await c.upload(new Uint8Array(data.buffer, data.byteOffset, 1000), { name: "view.bin" });
    assert.deepEqual([f1.size, f1.name, f2.size, f2.name], [3000, "buffer.bin", 1000, "view.bin"]);
    const out = join(dir, "buffer-copy.bin");
    await c.download(f1.uuid, out);
    assert.equal(sha(await readFile(out)), sha(data));
    const n = counting();
    await assert.rejects(new Client({ endpoint, token, fetch: n.f }).upload(42), TypeError);
    assert.equal(n.n.sign, 0);
  });

  test("streams of a known size upload: a Node Readable, a web ReadableStream; without the size, nothing is sent", async () => {
    const { path, data } = await fileOf("stream.bin", 17 * MiB + 9);
    const f1 = await c.upload(createReadStream(path, { highWaterMark: 100_000 }), { name: "readable.bin", size: data.length, parallel: 3 });
    const f2 = await c.upload(new Blob([data]).stream(), { name: "web.bin", size: data.length });
    for (const f of [f1, f2]) {
      assert.equal(f.size, data.length);
      const out = join(dir, `${f.name}.copy`);
      await c.download(f.uuid, out);
      assert.equal(sha(await readFile(out)), sha(data), f.name);
    }
    const n = counting();
    await assert.rejects(new Client({ endpoint, token, fetch: n.f }).upload(createReadStream(path)), /needs its size/);
    assert.equal(n.n.sign, 0);
    // a stream shorter than said fails, and makes no file
    const before = await usage(c);
    await assert.rejects(c.upload(new Blob([data.subarray(0, 9 * MiB)]).stream(), { name: "short.bin", size: data.length }), /ended after/);
    assert.equal((await usage(c)).file_count, before.file_count);
  });

  test("downloadURL answers a link fetch can follow (no redirect to read)", async () => {
    const data = randomBytes(2048);
    const file = await c.upload(data, { name: "link.bin" });
    const res = await fetch(await c.downloadURL(file.uuid));
    assert.equal(res.status, 200);
    assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(data));
  });

  test("a picture's previews come after its upload, with links that serve JPEGs", async () => {
    // a 2 × 1 PNG: its previews are 2 × 1 too (never enlarged)
    const file = await c.upload(pngOf(2, 1), { name: "pixels.png" });
    const previews = await c.previews(file.uuid, { wait: 20_000 });
    assert.deepEqual(previews.map((p) => [p.size, p.width, p.height, p.type]), [[64, 2, 1, "image/jpeg"], [256, 2, 1, "image/jpeg"], [1024, 2, 1, "image/jpeg"]]);
    const res = await fetch(previews[0].url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/jpeg");
    const text = await c.upload(new Blob(["no previews"]), { name: "nota.txt" });
    assert.deepEqual(await c.previews(text.uuid), []);
  });

  test("the same call goes on after a crash: the session remembered under the file's fingerprint", async () => {
    const { path, data } = await fileOf("crash.bin", 20 * MiB + 5);
    const ctl = new AbortController();
    const first = counting();
    let session;
    await new Client({ endpoint, token, fetch: first.f })
      .upload(path, { parallel: 1, signal: ctl.signal, onSession: (id) => (session = id), onProgress: (p) => p.loaded >= 8 * MiB && ctl.abort() })
      .then(() => assert.fail("not interrupted"), (e) => assert.equal(e.name, "AbortError"));
    const held = (await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: session } } }))).uploaded_parts.length;
    // a new process would call the same way: no resume given
    const second = counting();
    const up = new Client({ endpoint, token, fetch: second.f }).createUpload(path);
    let resumed;
    up.addEventListener("session", (e) => (resumed = e.detail));
    const file = await up.start();
    assert.equal(resumed, session, "the remembered session was not resumed");
    assert.equal(up.state, "completed");
    const st = await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: session } } }));
    assert.equal(st.file.uuid, file.uuid);
    assert.equal(second.n.put, st.session.part_count - held, `parts sent: ${first.n.put} (${held} held) then ${second.n.put}`);
    const out = join(dir, "crash-copy.bin");
    await c.download(file.uuid, out);
    assert.equal(sha(await readFile(out)), sha(data));
    // completed: forgotten, so the next upload of the path is a new file
    assert.notEqual((await c.upload(path)).uuid, file.uuid);
  });

  test("an Upload pauses, resumes and reports progress within parts", async () => {
    const { path, data } = await fileOf("pause.bin", 24 * MiB + 1);
    const n = counting();
    const up = new Client({ endpoint, token, fetch: n.f }).createUpload(path, { parallel: 2, remember: false });
    const seen = [];
    let paused = 0;
    up.addEventListener("progress", (e) => {
      seen.push(e.detail.loaded);
      if (paused === 0 && e.detail.loaded > 0) {
        paused++;
        up.pause();
      }
    });
    up.addEventListener("pause", () => {
      assert.equal(up.state, "paused");
      setTimeout(() => up.resume(), 50);
    });
    const file = await up.start();
    assert.equal(paused, 1);
    assert.equal(file.size, data.length);
    assert.ok(seen.some((b) => b % (8 * MiB) !== 0 && b !== data.length), "no progress within a part: " + seen.join(","));
    assert.ok(n.n.put <= 4 + 2, `${n.n.put} PUTs for 4 parts (2 in flight dropped at most)`);
    const out = join(dir, "pause-copy.bin");
    await c.download(file.uuid, out);
    assert.equal(sha(await readFile(out)), sha(data));
  });

  test("an aborted Upload aborts its session and forgets it", async () => {
    const { path } = await fileOf("abort.bin", 12 * MiB);
    const up = c.createUpload(path, { parallel: 1 });
    up.addEventListener("progress", (e) => e.detail.loaded > 0 && up.abort());
    await assert.rejects(up.start(), (e) => e.name === "AbortError");
    await up.abort();
    assert.equal(up.state, "aborted");
    const st = await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: up.sessionId } } }));
    assert.equal(st.session.status, "aborted");
    let again;
    const next = c.createUpload(path);
    next.addEventListener("session", (e) => (again = e.detail));
    await next.start();
    assert.notEqual(again, up.sessionId, "the aborted session was remembered");
  });

  test("a part storage refuses is signed again and sent", async () => {
    const { path, data } = await fileOf("refused.bin", 6 * MiB);
    let spoiled = 0;
    const counted = counting(async (req) => {
      if (req.method === "PUT" && spoiled === 0) {
        spoiled++;
        const u = new URL(req.url);
        u.searchParams.set("X-Amz-Signature", "0".repeat(64)); // as an expired or damaged URL
        return fetch(new Request(u, req));
      }
      return fetch(req);
    });
    const c2 = new Client({ endpoint, token, fetch: counted.f });
    const file = await c2.upload(path);
    assert.equal(spoiled, 1);
    assert.equal(counted.n.sign, 3, "two parts, one signed twice");
    assert.equal(counted.n.put, 3);
    const out = join(dir, "refused-copy.bin");
    await c.download(file.uuid, out);
    assert.equal(sha(await readFile(out)), sha(data));
  });

  test("a part storage keeps refusing fails the upload with the storage's answer", async () => {
    const { path } = await fileOf("never.bin", 10);
    const c2 = new Client({
      endpoint,
      token,
      fetch: (input, init) => {
        const req = new Request(input, init);
        if (req.method !== "PUT") return fetch(req);
        const u = new URL(req.url);
        u.searchParams.set("X-Amz-Signature", "0".repeat(64));
        return fetch(new Request(u, req));
      },
    });
    const err = await c2.upload(path).then(() => assert.fail("uploaded"), (e) => e);
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.status, 403);
    assert.ok(err.sessionId);
  });

  test("a whole-file checksum that does not match is the API's 422, and no file is made", async () => {
    const { path, data } = await fileOf("mismatch.bin", 9 * MiB);
    const before = await usage(c);
    const err = await c.upload(path, { checksum: "AAAAAA==" }).then(() => assert.fail("uploaded"), (e) => e);
    assert.ok(err instanceof AnexoError, String(err));
    assert.equal(err.status, 422);
    assert.equal(err.code, "checksum_mismatch");
    const st = await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: err.sessionId } } }));
    assert.notEqual(st.session.status, "completed");
    assert.equal((await usage(c)).file_count, before.file_count);
    // the right value, known beforehand, completes
    const { crc32c } = await import("../dist/node.js");
    const file = await c.upload(path, { checksum: crc32c(data) });
    assert.equal(file.size, data.length);
  });

  test("a file that changes during its upload is refused, and its session aborted", async () => {
    const { path } = await fileOf("changing.bin", 11 * MiB);
    const before = await usage(c);
    let changed = false;
    const err = await c
      .upload(path, { parallel: 1, onProgress: (p) => { if (p.loaded > 0 && !changed) { changed = true; appendFileSync(path, "more"); } } })
      .then(() => assert.fail("uploaded"), (e) => e);
    assert.ok(err instanceof FileChangedError, String(err));
    assert.ok(err.sessionId);
    const st = await c.call(c.api.GET("/v1/sessions/{id}", { params: { path: { id: err.sessionId } } }));
    assert.equal(st.session.status, "aborted");
    assert.equal((await usage(c)).file_count, before.file_count);
  });

  test("errors are typed problem documents naming the field", async () => {
    const err = await c.call(c.api.POST("/v1/sessions", { body: { file_name: "x", file_size: -1 } })).then(() => assert.fail(), (e) => e);
    assert.ok(err instanceof AnexoError);
    assert.equal(err.status, 400);
    assert.equal(err.field, "file_size");
    assert.ok(err.requestId);
    const bad = new Client({ endpoint, token: "anx_" + "A".repeat(43) });
    const denied = await bad.getFile(crypto.randomUUID()).then(() => assert.fail(), (e) => e);
    assert.equal(denied.status, 403);
  });

  test("a download interrupted resumes from its partial file", async () => {
    const { path, data } = await fileOf("partial.bin", 3 * MiB);
    const file = await c.upload(path);
    const out = join(dir, "partial-copy.bin");
    await writeFile(`${out}.part`, data.subarray(0, MiB + 5)); // what an interrupted run left
    let ranged;
    const c2 = new Client({
      endpoint,
      token,
      fetch: (input, init) => {
        const req = new Request(input, init);
        if (req.headers.get("Range")) ranged = req.headers.get("Range");
        return fetch(req);
      },
    });
    await c2.download(file.uuid, out);
    assert.equal(ranged, `bytes=${MiB + 5}-`);
    assert.equal(sha(await readFile(out)), sha(data));
  });
});
