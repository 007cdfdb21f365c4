// What an upload reads: the platform-neutral sources (Blob, File, bytes).
// A Node path is opened in node.ts, so that nothing here imports node:.

/** Opened is a source being read. */
export interface Opened {
  name: string;
  size: number;
  /** What identifies this content between runs (a path and its modification time; a File's), if anything. */
  fingerprint?: string;
  /** read returns length bytes at offset, in buf when it can. */
  read(offset: number, length: number, buf: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>>;
  /**
   * slice is the source's own Blob of length bytes at offset, when it is a
   * Blob: a browser sends it as it is, straight from the file, rather than
   * the bytes read to hash it (which would cross into the network process
   * a second time).
   */
  slice?(offset: number, length: number): Blob;
  /** unchanged throws if the source changed since it was opened. */
  unchanged(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A source every platform reads: a Blob (a File is one), bytes (a Node
 * Buffer is a Uint8Array), or a stream of bytes — a web ReadableStream, a
 * Node Readable, any async iterable of Uint8Array — whose size is given.
 */
export type Readable = Blob | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** openReadable opens a Blob, bytes or a stream (of size bytes); it throws a TypeError for anything else. */
export function openReadable(source: unknown, name?: string, size?: number): Opened {
  if (isStream(source)) {
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
      throw new TypeError("upload: a stream needs its size in bytes (the size option)");
    }
    return openStream(source, name ?? "upload", size);
  }
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    const lastModified = (source as { lastModified?: number }).lastModified;
    return {
      name: name ?? ((source as { name?: string }).name || "upload"),
      size: source.size,
      // a File has a date; a bare Blob, like bytes, has nothing to know it again by
      fingerprint: lastModified === undefined ? undefined : `file:${lastModified}`,
      read: (offset, length, buf) => readBlob(source.slice(offset, offset + length), length, buf),
      slice: (offset, length) => source.slice(offset, offset + length),
      unchanged: async () => {},
      close: async () => {},
    };
  }
  if (source instanceof Uint8Array) {
    return {
      name: name ?? "upload",
      size: source.byteLength,
      read: async (offset, length, buf) => {
        const out = buf.subarray(0, length);
        out.set(source.subarray(offset, offset + length));
        return out;
      },
      unchanged: async () => {},
      close: async () => {},
    };
  }
  throw new TypeError(`upload: cannot read a ${describe(source)}; give a Blob, a File, a Uint8Array or a stream${"process" in globalThis ? ", or a path" : ""}`);
}

/**
 * readBlob reads a Blob of length bytes into buf's memory, through a
 * byte stream's BYOB reader: in Chromium 3–4 times as fast as
 * arrayBuffer() (64 MiB of a picked file in 124–175 ms, against 460–700 ms
 * as 8 MiB arrayBuffer() calls). The reader takes buf's memory over (buf
 * is detached), so the bytes come back in a view of it. Without BYOB
 * streams, arrayBuffer().
 */
async function readBlob(blob: Blob, length: number, buf: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  let r: ReadableStreamBYOBReader;
  try {
    r = blob.stream().getReader({ mode: "byob" });
  } catch {
    return new Uint8Array(await blob.arrayBuffer());
  }
  let mem = buf.buffer;
  const at = buf.byteOffset; // a detached view's is 0
  let got = 0;
  try {
    while (got < length) {
      const { done, value } = await r.read(new Uint8Array(mem, at + got, length - got));
      if (!value) throw new Error("the file's read was cancelled");
      mem = value.buffer as ArrayBuffer;
      if (done) break;
      got += value.byteLength;
    }
  } finally {
    r.releaseLock();
  }
  if (got !== length) throw new Error(`the file gave ${got} of ${length} bytes: it changed or shrank; upload it again`);
  return new Uint8Array(mem, at, length);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}

function isStream(v: unknown): v is ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> {
  return (typeof ReadableStream !== "undefined" && v instanceof ReadableStream) || (typeof v === "object" && v !== null && Symbol.asyncIterator in v);
}

/**
 * openStream reads a stream once, in order: parts are read one after the
 * other whatever the order workers ask in (each read waits for the one
 * before it), and the parts a resumed session holds are read and skipped.
 * A stream that ends before size bytes, or goes past it, fails the upload.
 */
function openStream(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, name: string, size: number): Opened {
  const it: AsyncIterator<Uint8Array> =
    typeof ReadableStream !== "undefined" && source instanceof ReadableStream && !(Symbol.asyncIterator in source)
      ? (() => {
          const r = source.getReader();
          return { next: () => r.read() as Promise<IteratorResult<Uint8Array>>, return: async () => (await r.cancel(), { done: true, value: undefined }) };
        })()
      : (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  let at = 0; // bytes consumed
  let rest: Uint8Array = new Uint8Array(0); // read past the last part asked for
  let turn: Promise<unknown> = Promise.resolve();
  const take = async (out: Uint8Array | undefined, length: number) => {
    for (let got = 0; got < length; ) {
      if (rest.length === 0) {
        const { done, value } = await it.next();
        if (done) throw new Error(`the stream ended after ${at} of ${size} bytes`);
        rest = value;
      }
      const n = Math.min(length - got, rest.length);
      out?.set(rest.subarray(0, n), got);
      rest = rest.subarray(n);
      got += n;
      at += n;
    }
  };
  return {
    name,
    size,
    read(offset, length, buf) {
      const out = buf.subarray(0, length);
      const mine = turn.then(async () => {
        if (offset < at) throw new Error(`a stream cannot be read again (bytes ${offset}…): upload it from the start`);
        await take(undefined, offset - at); // parts storage already holds
        await take(out, length);
        return out;
      });
      turn = mine.catch(() => undefined);
      return mine;
    },
    async unchanged() {
      await turn;
      await take(undefined, size - at); // the parts at the end storage already held
      if (rest.length === 0 && (await it.next()).done) return;
      throw new Error(`the stream holds more than the ${size} bytes given`);
    },
    close: async () => {
      await it.return?.();
    },
  };
}
