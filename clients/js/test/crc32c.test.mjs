import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { combineAll, crc32c, decode, update } from "../dist/node.js";

test("CRC32C check value and S3's spelling", () => {
  assert.equal(update(0, new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), "AAAAAA==");
  assert.equal(decode(crc32c(new TextEncoder().encode("123456789"))), 0xe3069283);
  // a value S3 gave for 32 zero bytes (RFC 3720 B.4)
  assert.equal(update(0, new Uint8Array(32)), 0x8a9136aa);
});

test("combining pieces' CRCs gives the whole's, whatever the cuts", () => {
  const data = randomBytes(300_000);
  const whole = crc32c(data);
  for (const cuts of [[0], [1], [150_000], [0, 0, 7], [8, 1 << 16, 1 << 17, 299_999], [299_999, 300_000]]) {
    const pieces = [];
    let at = 0;
    for (const c of [...cuts, data.length]) {
      pieces.push({ value: crc32c(data.subarray(at, c)), size: c - at });
      at = c;
    }
    assert.equal(combineAll(pieces), whole, `cuts ${cuts}`);
  }
  // incremental updates agree with one pass
  let c = 0;
  for (let i = 0; i < data.length; i += 4099) c = update(c, data.subarray(i, i + 4099));
  assert.equal(decode(whole), c);
});

test("the hardware, WebAssembly and table CRC32Cs agree", async () => {
  const { tables, webAssembly } = await import("../dist/hashers.js");
  const { crc32c: hardware } = await import("@node-rs/crc32");
  const wasm = await webAssembly();
  assert.notEqual(wasm, tables, "hash-wasm did not load: the WebAssembly path fell back to the tables");
  for (const n of [0, 1, 7, 8, 9, 4095, 65536, 1_000_003]) {
    const b = randomBytes(n);
    const want = tables(b);
    assert.equal(wasm(b), want, `WebAssembly, ${n} bytes`);
    assert.equal(hardware(b) >>> 0, want, `hardware, ${n} bytes`);
    // a view into a larger buffer, as an upload's reused part buffer is
    const view = new Uint8Array(randomBytes(n + 16).buffer, 5, n);
    assert.equal(wasm(view), tables(view), `WebAssembly, a view of ${n} bytes`);
  }
});
