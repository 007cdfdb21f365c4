// Upload: drop files or folders (or choose them), several at once, each
// with its progress, pause, resume and cancel. Every upload's session is
// remembered by the client under the file's fingerprint, so the same file
// chosen again after a reload or a crash sends only what storage lacks;
// the screen lists those interrupted uploads until they are done.
import type { Client, File as AnexoFile, Upload, UploadState } from "@anexo/client";
import { useEffect, useRef, useState } from "preact/hooks";

import { bytes, type Key, t } from "../i18n.js";
import { pendingList } from "../pending.js";
import { href } from "../route.js";
import { Problem } from "../ui.js";

interface Item {
  id: number;
  file: globalThis.File;
  path: string;
  state: UploadState;
  loaded: number;
  upload?: Upload;
  result?: string; // the file's uuid
  error?: unknown;
}

interface Interrupted {
  name: string;
  size: number;
  lastModified: number;
  loaded: number;
}

const pending = pendingList<Interrupted>("anexo:console:uploads");
const fp = (f: { name: string; size: number; lastModified: number }) => `${f.name}\0${f.size}\0${f.lastModified}`;
const readPending = pending.read;
const writePending = pending.write;

/** remember records an upload under way (or its progress), forget drops it. */
function remember(f: globalThis.File, loaded: number) {
  writePending([...readPending().filter((p) => fp(p) !== fp(f)), { name: f.name, size: f.size, lastModified: f.lastModified, loaded }]);
}
function forget(f: globalThis.File) {
  writePending(readPending().filter((p) => fp(p) !== fp(f)));
}

/** entries reads the files of dropped items, folders walked. */
async function entries(items: DataTransferItemList): Promise<{ file: globalThis.File; path: string }[]> {
  const out: { file: globalThis.File; path: string }[] = [];
  const walk = async (e: FileSystemEntry | null, prefix: string): Promise<void> => {
    if (!e) return;
    if (e.isFile) {
      const file = await new Promise<globalThis.File>((res, rej) => (e as FileSystemFileEntry).file(res, rej));
      out.push({ file, path: prefix + file.name });
    } else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const c of batch) await walk(c, `${prefix}${e.name}/`);
      }
    }
  };
  // entries first (reading them empties the list when the event ends); an
  // item without one (a drop a page made) gives its file
  const roots = [...items].filter((i) => i.kind === "file").map((i) => ({ entry: i.webkitGetAsEntry(), file: i.getAsFile() }));
  for (const r of roots) {
    if (r.entry) await walk(r.entry, "");
    else if (r.file) out.push({ file: r.file, path: r.file.name });
  }
  return out;
}

let next = 1;

export function UploadScreen({ client }: { client: Client }) {
  const [items, setItems] = useState<Item[]>([]);
  const [parallel, setParallel] = useState(3);
  const [pending, setPending] = useState<Interrupted[]>(readPending);
  const [over, setOver] = useState(false);
  const [error, setError] = useState<unknown>();
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const update = (id: number, patch: Partial<Item>) => setItems((list) => list.map((i) => (i.id === id ? { ...i, ...patch } : i)));

  // start what the limit allows, in the order added
  useEffect(() => {
    const running = items.filter((i) => i.upload && (i.state === "uploading" || i.state === "paused")).length;
    const waiting = items.filter((i) => !i.upload && i.state === "idle").slice(0, Math.max(0, parallel - running));
    for (const it of waiting) {
      const up = client.createUpload(it.file, { name: it.file.name, parallel: 4 });
      let last = 0;
      up.addEventListener("session", () => remember(it.file, 0));
      up.addEventListener("progress", (e) => {
        const loaded = (e as CustomEvent<{ loaded: number }>).detail.loaded;
        update(it.id, { loaded, state: up.state });
        if (loaded - last > 4 << 20) {
          last = loaded;
          remember(it.file, loaded);
        }
      });
      for (const ev of ["pause", "resume"]) up.addEventListener(ev, () => update(it.id, { state: up.state }));
      update(it.id, { upload: up, state: "uploading" });
      setPending((p) => p.filter((x) => fp(x) !== fp(it.file)));
      up.start().then(
        (f) => {
          forget(it.file);
          update(it.id, { state: "completed", loaded: it.file.size, result: (f as AnexoFile).uuid });
        },
        (e) => update(it.id, { state: up.state === "aborted" ? "aborted" : "failed", error: up.state === "aborted" ? undefined : e }),
      );
    }
  }, [items, parallel, client]);

  const add = (files: { file: globalThis.File; path: string }[]) => {
    setError(undefined);
    setItems((list) => [...list, ...files.map((f) => ({ id: next++, file: f.file, path: f.path, state: "idle" as UploadState, loaded: 0 }))]);
  };
  const fromInput = (input: HTMLInputElement | null) => {
    if (!input?.files) return;
    add([...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name })));
    input.value = "";
  };
  const abort = async (it: Item) => {
    await it.upload?.abort();
    forget(it.file);
    update(it.id, { state: "aborted" });
  };
  const active = items.filter((i) => i.state === "uploading" || i.state === "paused");

  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title" tabIndex={-1}>
        {t("upload.title")}
      </h1>
      <div
        class={over ? "dropzone over" : "dropzone"}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          if (e.dataTransfer) entries(e.dataTransfer.items).then(add, setError);
        }}
      >
        <p>{t("upload.drop")}</p>
        <p class="muted">{t("upload.or")}</p>
        <div class="toolbar center">
          <button type="button" class="primary" onClick={() => filesInput.current?.click()}>
            {t("upload.pickFiles")}
          </button>
          <button type="button" onClick={() => folderInput.current?.click()}>
            {t("upload.pickFolder")}
          </button>
        </div>
        <input ref={filesInput} type="file" multiple hidden data-testid="files" onChange={(e) => fromInput(e.currentTarget)} />
        <input ref={folderInput} type="file" multiple hidden data-testid="folder" {...{ webkitdirectory: true }} onChange={(e) => fromInput(e.currentTarget)} />
      </div>
      <div class="toolbar">
        <label>
          <span>{t("upload.parallel")}</span>
          <select value={String(parallel)} onChange={(e) => setParallel(Number(e.currentTarget.value))}>
            {[1, 2, 3, 4, 6].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <button type="button" disabled={!active.some((i) => i.state === "uploading")} onClick={() => active.forEach((i) => i.upload?.pause())}>
          {t("upload.pauseAll")}
        </button>
        <button type="button" disabled={!active.some((i) => i.state === "paused")} onClick={() => active.forEach((i) => i.upload?.resume())}>
          {t("upload.resumeAll")}
        </button>
      </div>
      <Problem error={error} />
      {pending.length > 0 && (
        <section aria-labelledby="interrupted" class="interrupted">
          <h2 id="interrupted">{t("upload.interrupted")}</h2>
          <p class="muted">{t("upload.interruptedHint")}</p>
          <ul>
            {pending.map((p) => (
              <li key={fp(p)}>
                {p.name} <span class="muted">{t("upload.progress", { done: bytes(p.loaded), total: bytes(p.size) })}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {items.length > 0 && (
        <section aria-labelledby="uploads">
          <h2 id="uploads">{t("upload.list")}</h2>
          <ul class="uploads">
            {items.map((it) => (
              <li key={it.id} class={`upload ${it.state}`}>
                <div class="upload-head">
                  <span class="name">{it.path}</span>
                  <span class="muted">{t(`upload.state.${it.state}` as Key)}</span>
                </div>
                <progress max={it.file.size || 1} value={it.state === "completed" ? it.file.size || 1 : it.loaded} aria-label={it.path} />
                <div class="upload-foot">
                  <span class="muted small">{t("upload.progress", { done: bytes(it.loaded), total: bytes(it.file.size) })}</span>
                  <span class="actions">
                    {it.state === "uploading" && (
                      <button type="button" onClick={() => it.upload?.pause()} aria-label={`${t("upload.pause")} ${it.path}`}>
                        {t("upload.pause")}
                      </button>
                    )}
                    {it.state === "paused" && (
                      <button type="button" onClick={() => it.upload?.resume()} aria-label={`${t("upload.resume")} ${it.path}`}>
                        {t("upload.resume")}
                      </button>
                    )}
                    {(it.state === "uploading" || it.state === "paused" || it.state === "idle") && (
                      <button type="button" onClick={() => abort(it)} aria-label={`${t("upload.abort")} ${it.path}`}>
                        {t("upload.abort")}
                      </button>
                    )}
                    {it.result && <a href={href({ name: "file", uuid: it.result })}>{t("upload.open")}</a>}
                  </span>
                </div>
                {it.error !== undefined && <Problem error={it.error} />}
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
