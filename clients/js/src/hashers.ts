// Where an upload's CRC32C comes from: the fastest implementation the
// platform has, found once. Node: @node-rs/crc32 (SSE4.2/ARMv8 CRC
// instructions, 3.5 GB/s here), an optional dependency; browsers and
// Node without it: hash-wasm's WebAssembly (1.5 GB/s); where WebAssembly
// is refused (a Content-Security-Policy without 'wasm-unsafe-eval'): the
// tables of crc32c.ts (0.3 GB/s), on the thread that feeds the sockets.
import { update } from "./crc32c.js";

/** A CRC32C of bytes, as an unsigned 32-bit value. */
export type CRC32C = (bytes: Uint8Array) => number;

/** tables is the portable implementation. */
export const tables: CRC32C = (bytes) => update(0, bytes);

let wasm: Promise<CRC32C> | undefined;

interface HashWasmCRC32 {
  createCRC32(polynomial: number): Promise<{ init(): unknown; update(b: Uint8Array): unknown; digest(f: "binary"): Uint8Array }>;
}

/** webAssembly is hash-wasm's CRC32C, or the tables where WebAssembly is refused. */
export function webAssembly(): Promise<CRC32C> {
  // hash-wasm's CRC32 alone (7 KiB; its index holds every algorithm,
  // 270 KiB), a UMD module: named exports through a bundler, the
  // default's under Node
  wasm ??= import("hash-wasm/dist/crc32.umd.min.js")
    .then((m: HashWasmCRC32 & { default?: HashWasmCRC32 }) => (m.createCRC32 ?? m.default!.createCRC32)(0x82f63b78))
    .then(
      (h): CRC32C =>
        (bytes) => {
          h.init();
          h.update(bytes);
          const d = h.digest("binary");
          return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
        },
      () => tables,
    );
  return wasm;
}
