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
  /** unchanged throws if the source changed since it was opened. */
  unchanged(): Promise<void>;
  close(): Promise<void>;
}

/** A source every platform reads: a Blob (a File is one) or bytes (a Node Buffer is a Uint8Array). */
export type Readable = Blob | Uint8Array;

/** openReadable opens a Blob or bytes; it throws a TypeError for anything else. */
export function openReadable(source: unknown, name?: string): Opened {
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    const lastModified = (source as { lastModified?: number }).lastModified;
    return {
      name: name ?? ((source as { name?: string }).name || "upload"),
      size: source.size,
      // a File has a date; a bare Blob, like bytes, has nothing to know it again by
      fingerprint: lastModified === undefined ? undefined : `file:${lastModified}`,
      read: async (offset, length) => new Uint8Array(await source.slice(offset, offset + length).arrayBuffer()),
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
  throw new TypeError(`upload: cannot read a ${describe(source)}; give a Blob, a File or a Uint8Array${"process" in globalThis ? ", or a path" : ""}`);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}
