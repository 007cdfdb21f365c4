// CRC32C (Castagnoli), as S3 spells it (the base64 of the big-endian
// value), computed with slicing-by-8 tables; and the combination of the
// CRCs of consecutive pieces into the CRC of the whole (zlib's
// crc32_combine), so an upload hashes each part as it reads it and never
// reads the file a second time.

const POLY = 0x82f63b78; // reflected Castagnoli polynomial

const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >>> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
})();

/** update continues a CRC32C (start with 0) over bytes. */
export function update(crc: number, bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[bytes[i + 4]] ^
      t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^
      t0[bytes[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** encode is the value as S3 spells it: base64 of its 4 big-endian bytes. */
export function encode(crc: number): string {
  const b = new Uint8Array([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
  return btoa(String.fromCharCode(...b));
}

/** decode reads a value S3 spelled. */
export function decode(s: string): number {
  const b = atob(s);
  if (b.length !== 4) throw new Error(`not a CRC32C: ${s}`);
  return ((b.charCodeAt(0) << 24) | (b.charCodeAt(1) << 16) | (b.charCodeAt(2) << 8) | b.charCodeAt(3)) >>> 0;
}

/** crc32c is the encoded CRC32C of bytes. */
export function crc32c(bytes: Uint8Array): string {
  return encode(update(0, bytes));
}

// multiply two reflected polynomials modulo POLY
function mult(a: number, b: number): number {
  let m = 0x80000000;
  let r = 0;
  while (a !== 0) {
    if (a & m) {
      r ^= b;
      a = (a & ~m) >>> 0;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return r >>> 0;
}

// X2N[k] is x^(2^k) modulo POLY
const X2N: number[] = (() => {
  const t = [0x40000000]; // x^1
  for (let k = 1; k < 64; k++) t.push(mult(t[k - 1], t[k - 1]));
  return t;
})();

// x^(8n) modulo POLY: the product of X2N[k] for the bits k of 8n
function xPow8n(n: number): number {
  let r = 0x80000000; // x^0
  for (let k = 3; n > 0 && k < X2N.length; k++) {
    if (n % 2 === 1) r = mult(X2N[k], r);
    n = Math.floor(n / 2);
  }
  return r;
}

/** combine is the CRC of A‖B from crc(A), crc(B) and B's length. */
export function combine(a: number, b: number, lenB: number): number {
  return (mult(xPow8n(lenB), a) ^ b) >>> 0;
}

/** combineAll folds consecutive pieces' encoded CRCs into the whole's. */
export function combineAll(pieces: { value: string; size: number }[]): string {
  if (pieces.length === 0) return encode(0);
  let sum = decode(pieces[0].value);
  for (const p of pieces.slice(1)) sum = combine(sum, decode(p.value), p.size);
  return encode(sum);
}
