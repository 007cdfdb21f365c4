// Upload: one file's upload as an object a page or a script drives —
// start, pause, resume, abort — with events, and the session remembered
// under the file's fingerprint so the same call goes on after a crash or
// a reload.
import type { ApiClient, Uploaded } from "./client.js";
import { AnexoError } from "./errors.js";
import { type Platform, ResumeMismatchError, send, type Sessions, tokenSessions, type UploadOptions, type UploadProgress } from "./upload.js";
import type { Opened } from "./source.js";

/**
 * ResumeStore remembers the session of an upload under its fingerprint
 * (endpoint, name, size, modification time). Node keeps it in the user's
 * cache directory, browsers in localStorage; give your own, or `false` in
 * UploadOptions.remember to keep nothing.
 */
export interface ResumeStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, session: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** How long a remembered session is tried: a session lives a day at most. */
export const REMEMBER_MS = 24 * 3600 * 1000;

export type UploadState = "idle" | "uploading" | "paused" | "completed" | "failed" | "aborted";

const PAUSED = Symbol("paused");

/**
 * Upload sends one file. Events (each a CustomEvent, its detail as said):
 * `session` (the session's id), `progress` (UploadProgress, as bytes are
 * handed to the network), `pause`, `resume`, `complete` (the file),
 * `error` (the error).
 */
export class Upload<R = Uploaded> extends EventTarget {
  state: UploadState = "idle";
  /** The session, once open (remembered under the fingerprint). */
  sessionId?: string;
  /** The last progress reported. */
  progress: UploadProgress = { phase: "uploading", loaded: 0, total: 0 };

  private ctl?: AbortController;
  private gate?: { promise: Promise<void>; open: () => void };
  private done?: Promise<R>;
  private aborted = false;

  constructor(
    private readonly c: ApiClient,
    private readonly opening: Promise<Opened>,
    private readonly o: UploadOptions,
    private readonly platform: Platform,
    private readonly routes: Sessions<R> = tokenSessions(c) as Sessions<R>,
  ) {
    super();
    this.store = o.remember === false ? undefined : typeof o.remember === "object" ? o.remember : platform.store;
  }

  private readonly store: ResumeStore | undefined;

  /** start sends the file (again the same promise if it was started). */
  start(): Promise<R> {
    this.done ??= this.run();
    return this.done;
  }

  /** pause stops sending: parts in flight are dropped and sent again on resume. */
  pause(): void {
    if (this.state !== "uploading") return;
    let open!: () => void;
    this.gate = { promise: new Promise((r) => (open = r)), open };
    this.ctl?.abort(PAUSED);
  }

  /** resume goes on with a paused upload, sending only what storage lacks. */
  resume(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  /** abort stops the upload for good: its session is aborted and forgotten. */
  async abort(): Promise<void> {
    this.aborted = true;
    this.ctl?.abort(new DOMException("the upload was aborted", "AbortError"));
    this.resume();
    await this.done?.catch(() => undefined);
    if (this.sessionId && this.state !== "completed") {
      await this.routes.abort(this.sessionId).catch(() => undefined);
    }
    const key = await this.key();
    if (key) await this.store?.delete(key);
    this.state = "aborted";
  }

  private emit(type: string, detail?: unknown) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private async key(): Promise<string | undefined> {
    if (!this.store) return undefined;
    const src = await this.opening;
    if (!src.fingerprint) return undefined;
    // what the session was opened with is part of it: another checksum,
    // another file to version, is another session
    const sum = typeof this.o.checksum === "string" ? this.o.checksum : this.o.checksum === false ? "none" : "crc32c";
    return [this.c.endpoint, this.o.name ?? src.name, src.size, src.fingerprint, this.o.versionOf ?? "", sum, this.routes.key].join("\0");
  }

  private async run(): Promise<R> {
    const src = await this.opening;
    const key = await this.key();
    let resume = this.o.resume ?? (key ? await this.store!.get(key) : undefined);
    let remembered = !this.o.resume && resume !== undefined;
    this.state = "uploading";
    try {
      for (;;) {
        if (this.aborted) throw new DOMException("the upload was aborted", "AbortError");
        this.ctl = new AbortController();
        const signal = this.o.signal ? AbortSignal.any([this.o.signal, this.ctl.signal]) : this.ctl.signal;
        try {
          const file = await send<R>(this.c, src, {
            ...this.o,
            resume,
            signal,
            onSession: (id) => {
              this.sessionId = resume = id;
              if (key) void this.store!.set(key, id);
              this.o.onSession?.(id);
              this.emit("session", id);
            },
            onProgress: (p) => {
              this.progress = p;
              this.o.onProgress?.(p);
              this.emit("progress", p);
            },
          }, this.platform, this.routes);
          if (key) await this.store!.delete(key);
          this.state = "completed";
          this.emit("complete", file);
          return file;
        } catch (e) {
          if (this.ctl.signal.reason === PAUSED && !this.aborted) {
            this.state = "paused";
            this.emit("pause");
            await this.gate?.promise;
            this.state = "uploading";
            this.emit("resume");
            continue;
          }
          if (remembered && e instanceof ResumeMismatchError) {
            // what the store remembered is not this file's: start afresh
            remembered = false;
            resume = undefined;
            continue;
          }
          throw e;
        }
      }
    } catch (e) {
      // a refusal the session cannot get past (the API's 4xx) forgets it
      if (key && e instanceof AnexoError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) await this.store!.delete(key);
      this.state = this.aborted ? "aborted" : "failed";
      this.emit("error", e);
      throw e;
    } finally {
      await src.close();
    }
  }
}

/** rememberIn is a ResumeStore over get/set/delete of strings (localStorage, a file). */
export function rememberIn(kv: { get(k: string): Promise<string | null | undefined>; set(k: string, v: string): Promise<void>; delete(k: string): Promise<void> }): ResumeStore {
  return {
    async get(key) {
      try {
        const v = JSON.parse((await kv.get(key)) ?? "null") as { session: string; at: number } | null;
        return v && Date.now() - v.at < REMEMBER_MS ? v.session : undefined;
      } catch {
        return undefined;
      }
    },
    set: (key, session) => kv.set(key, JSON.stringify({ session, at: Date.now() })).catch(() => undefined),
    delete: (key) => kv.delete(key).catch(() => undefined),
  };
}
