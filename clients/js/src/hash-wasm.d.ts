// hash-wasm ships types for its index only; its per-algorithm bundle is
// typed where it is imported (hashers.ts).
declare module "hash-wasm/dist/crc32.umd.min.js";
