// Files and Trash: every filter of GET /v1/files, search as you type,
// cursor pages (one page in the page at a time, so 10,000 files cost what
// 100 do), selection and the batch actions of each list.
import type { Client, File } from "@anexo/client";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { bytes, type Key, t, when } from "../i18n.js";
import { href } from "../route.js";
import { useScreen } from "../screen.js";
import { Confirm, failed, Problem, ScanBadge, Status, Thumb } from "../ui.js";

export interface Filters {
  term: string;
  extensions: string;
  sizeFrom: string;
  sizeTo: string;
  unit: "B" | "KB" | "MB" | "GB" | "TB";
  dateType: "created_at" | "updated_at";
  preset: string;
  dateFrom: string;
  dateTo: string;
  createdBy: string;
  source: "" | "api" | "wegly";
  scan: string[];
  order: "desc" | "asc";
  limit: number;
}

export const noFilters: Filters = {
  term: "", extensions: "", sizeFrom: "", sizeTo: "", unit: "MB", dateType: "created_at", preset: "",
  dateFrom: "", dateTo: "", createdBy: "", source: "", scan: [], order: "desc", limit: 50,
};

const presets = ["today", "yesterday", "current_week", "last_week", "current_month", "last_month", "last_7_days", "last_30_days"] as const;
const scans = ["pending", "clean", "infected", "unsupported", "failed", "off"] as const;

const list = (s: string) => s.split(",").map((x) => x.trim().replace(/^\./, "")).filter(Boolean);
const iso = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** query is the listing's query string for f (trash: the trashed files). */
export function query(f: Filters, trash: boolean, cursor?: string) {
  const sized = f.sizeFrom || f.sizeTo;
  return {
    limit: f.limit,
    cursor,
    with: "previews" as const,
    "filter[deleted]": trash || undefined,
    "filter[term]": f.term.trim() || undefined,
    "filter[extensions][]": list(f.extensions).length ? list(f.extensions) : undefined,
    "filter[size][from]": f.sizeFrom || undefined,
    "filter[size][to]": f.sizeTo || undefined,
    "filter[size][unit]": sized ? f.unit : undefined,
    "filter[date][type]": f.preset || f.dateFrom || f.dateTo ? f.dateType : undefined,
    "filter[date][date_preset]": (f.preset || undefined) as (typeof presets)[number] | undefined,
    "filter[date][from]": f.preset ? undefined : iso(f.dateFrom),
    "filter[date][to]": f.preset ? undefined : iso(f.dateTo),
    "filter[created_by][]": list(f.createdBy).length ? list(f.createdBy) : undefined,
    "filter[source]": f.source || undefined,
    "filter[scan]": f.scan.length ? f.scan.join(",") : undefined,
    "order[created_at]": f.order === "asc" ? ("asc" as const) : undefined,
  };
}

/** useDebounced follows value after ms without change. */
function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

export function FilesScreen({ client, trash }: { client: Client; trash: boolean }) {
  const [filters, setFilters] = useState<Filters>(noFilters);
  const applied = useDebounced(filters, 250);
  // cursors[i] is the cursor of page i (page 0 has none)
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<{ files: File[]; next: string | null } | undefined>();
  const { error, setError, message, reload, run, again } = useScreen();
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirm, setConfirm] = useState(false);
  const at = cursors.length - 1;
  const heading = useRef<HTMLHeadingElement>(null);

  // a change of filters starts again at the first page
  useEffect(() => setCursors([undefined]), [applied]);
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    setError(undefined);
    client
      .call(client.api.GET("/v1/files", { params: { query: query(applied, trash, cursors[at]) }, signal: ctl.signal }))
      .then((p) => {
        setPage({ files: p._embedded.files, next: p._page.next_cursor });
        setSelected(new Set());
      })
      .catch((e) => ctl.signal.aborted || setError(e))
      .finally(() => ctl.signal.aborted || setLoading(false));
    return () => ctl.abort();
  }, [client, applied, cursors, trash, reload]);

  const set = <K extends keyof Filters>(k: K, v: Filters[K]) => setFilters((f) => ({ ...f, [k]: v }));
  const files = page?.files ?? [];
  const allSelected = files.length > 0 && files.every((f) => selected.has(f.uuid));
  const toggle = (uuid: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (!n.delete(uuid)) n.add(uuid);
      return n;
    });

  const act = (path: "/v1/files" | "/v1/files/restore" | "/v1/files/purge", done: Key) => {
    setConfirm(false);
    const body = [...selected].map((uuid) => ({ uuid }));
    return run(async () => {
      const res = await client.call(path === "/v1/files" ? client.api.DELETE(path, { body }) : client.api.POST(path, { body }));
      const refused = res._embedded.files.filter((r) => r.status === "error");
      const names = new Map(files.map((f) => [f.uuid, f.name]));
      return [t(done, { n: res._embedded.files.length - refused.length }), ...refused.map((r) => failed(names.get(r.uuid) ?? r.uuid, r.error))].join(" ");
    });
  };

  const title = trash ? t("trash.title") : t("files.title");
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title" ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {trash && <p class="muted">{t("trash.intro")}</p>}
      <FilterForm filters={filters} set={set} clear={() => setFilters((f) => ({ ...noFilters, limit: f.limit, order: f.order }))} />
      <div class="toolbar">
        <span>{selected.size > 0 ? t("files.selected", { n: selected.size }) : t("files.count", { n: files.length })}</span>
        {!trash && (
          <button type="button" disabled={selected.size === 0} onClick={() => act("/v1/files", "files.trashed")}>
            {t("files.trash")}
          </button>
        )}
        {trash && (
          <>
            <button type="button" disabled={selected.size === 0} onClick={() => act("/v1/files/restore", "trash.restored")}>
              {t("trash.restore")}
            </button>
            <button type="button" class="danger" disabled={selected.size === 0} onClick={() => setConfirm(true)}>
              {t("trash.purge")}
            </button>
          </>
        )}
      </div>
      {message && <Status message={message} />}
      <Problem error={error} onRetry={again} />
      <div class="table-wrap">
        <table aria-busy={loading} aria-describedby="screen-title">
          <thead>
            <tr>
              <th scope="col" class="check">
                <input
                  type="checkbox"
                  aria-label={t("files.selectAll")}
                  checked={allSelected}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(files.map((f) => f.uuid)))}
                />
              </th>
              <th scope="col" class="thumbcol">
                <span class="sr-only">{t("files.col.preview")}</span>
              </th>
              <th scope="col">{t("files.col.name")}</th>
              <th scope="col" class="num">{t("files.col.size")}</th>
              <th scope="col" class="wide">{trash ? t("files.col.deleted") : t("files.col.created")}</th>
              {trash ? <th scope="col" class="wide">{t("files.col.purge")}</th> : <th scope="col">{t("files.col.scan")}</th>}
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.uuid} class={selected.has(f.uuid) ? "selected" : undefined}>
                <td class="check">
                  <input type="checkbox" aria-label={t("files.selectOne", { name: f.name })} checked={selected.has(f.uuid)} onChange={() => toggle(f.uuid)} />
                </td>
                <td class="thumbcol">
                  <Thumb previews={f.previews} ext={f.extension} px={64} />
                </td>
                <td class="name">
                  <a href={href({ name: "file", uuid: f.uuid })}>{f.name}</a>
                  <span class="muted small">{f.mime_type}</span>
                </td>
                <td class="num">{bytes(f.size)}</td>
                <td class="wide">{when(trash ? f.deleted_at : f.created_at)}</td>
                {trash ? <td class="wide">{when(f.purge_at)}</td> : <td><ScanBadge scan={f.scan} /></td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!loading && files.length === 0 && !error && <p class="empty">{trash ? t("trash.empty") : t("files.empty")}</p>}
      {loading && <p class="muted">{t("common.loading")}</p>}
      <nav class="pager" aria-label={t("files.pages")}>
        <button type="button" disabled={at === 0 || loading} onClick={() => setCursors((c) => c.slice(0, -1))}>
          {t("files.previous")}
        </button>
        <span>{t("files.page", { n: at + 1 })}</span>
        <button type="button" disabled={!page?.next || loading} onClick={() => page?.next && setCursors((c) => [...c, page.next!])}>
          {t("files.next")}
        </button>
      </nav>
      <Confirm
        open={confirm}
        title={t("trash.confirmTitle", { n: selected.size })}
        body={t("trash.confirmBody")}
        action={t("trash.purge")}
        onConfirm={() => act("/v1/files/purge", "trash.purged")}
        onCancel={() => setConfirm(false)}
      />
    </section>
  );
}

function FilterForm({ filters: f, set, clear }: { filters: Filters; set: <K extends keyof Filters>(k: K, v: Filters[K]) => void; clear: () => void }) {
  // the filters stay open while a person uses them, and open up when some are set
  const active = useMemo(() => JSON.stringify({ ...f, term: "", limit: 0, order: "" }) !== JSON.stringify({ ...noFilters, term: "", limit: 0, order: "" }), [f]);
  const [open, setOpen] = useState(active);
  return (
    <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
      <div class="row">
        <label class="grow">
          <span>{t("files.search")}</span>
          <input type="search" value={f.term} onInput={(e) => set("term", e.currentTarget.value)} autocomplete="off" />
        </label>
        <label>
          <span>{t("files.order")}</span>
          <select value={f.order} onChange={(e) => set("order", e.currentTarget.value as Filters["order"])}>
            <option value="desc">{t("files.newest")}</option>
            <option value="asc">{t("files.oldest")}</option>
          </select>
        </label>
        <label>
          <span>{t("files.perPage")}</span>
          <select value={String(f.limit)} onChange={(e) => set("limit", Number(e.currentTarget.value))}>
            {[25, 50, 100, 250].map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      <details open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary>{t("files.filters")}</summary>
        <div class="grid">
          <label>
            <span>{t("files.extensions")}</span>
            <input value={f.extensions} placeholder="pdf, jpg" aria-describedby="ext-hint" onInput={(e) => set("extensions", e.currentTarget.value)} />
            <small id="ext-hint">{t("files.extensionsHint")}</small>
          </label>
          <fieldset>
            <legend>{t("files.col.size")}</legend>
            <label>
              <span>{t("files.sizeFrom")}</span>
              <input inputMode="decimal" value={f.sizeFrom} onInput={(e) => set("sizeFrom", e.currentTarget.value)} />
            </label>
            <label>
              <span>{t("files.sizeTo")}</span>
              <input inputMode="decimal" value={f.sizeTo} onInput={(e) => set("sizeTo", e.currentTarget.value)} />
            </label>
            <label>
              <span>{t("files.unit")}</span>
              <select value={f.unit} onChange={(e) => set("unit", e.currentTarget.value as Filters["unit"])}>
                {["B", "KB", "MB", "GB", "TB"].map((u) => (
                  <option key={u}>{u}</option>
                ))}
              </select>
            </label>
          </fieldset>
          <fieldset>
            <legend>{t("files.dateType")}</legend>
            <label>
              <span>{t("files.dateType")}</span>
              <select value={f.dateType} onChange={(e) => set("dateType", e.currentTarget.value as Filters["dateType"])}>
                <option value="created_at">{t("files.dateCreated")}</option>
                <option value="updated_at">{t("files.dateUpdated")}</option>
              </select>
            </label>
            <label>
              <span>{t("files.preset")}</span>
              <select value={f.preset} onChange={(e) => set("preset", e.currentTarget.value)}>
                <option value="">{t("files.presetAny")}</option>
                {presets.map((p) => (
                  <option key={p} value={p}>
                    {t(`files.preset.${p}` as Key)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span>{t("files.dateFrom")}</span>
              <input type="datetime-local" value={f.dateFrom} disabled={!!f.preset} onInput={(e) => set("dateFrom", e.currentTarget.value)} />
            </label>
            <label>
              <span>{t("files.dateTo")}</span>
              <input type="datetime-local" value={f.dateTo} disabled={!!f.preset} onInput={(e) => set("dateTo", e.currentTarget.value)} />
            </label>
          </fieldset>
          <label>
            <span>{t("files.createdBy")}</span>
            <input value={f.createdBy} onInput={(e) => set("createdBy", e.currentTarget.value)} />
          </label>
          <label>
            <span>{t("files.source")}</span>
            <select value={f.source} onChange={(e) => set("source", e.currentTarget.value as Filters["source"])}>
              <option value="">{t("files.sourceAny")}</option>
              <option value="api">API</option>
              <option value="wegly">Wegly</option>
            </select>
          </label>
          <fieldset>
            <legend>{t("files.scan")}</legend>
            {scans.map((s) => (
              <label key={s} class="inline">
                <input
                  type="checkbox"
                  checked={f.scan.includes(s)}
                  onChange={(e) => set("scan", e.currentTarget.checked ? [...f.scan, s] : f.scan.filter((x) => x !== s))}
                />
                {t(`scan.${s}` as Key)}
              </label>
            ))}
          </fieldset>
        </div>
        <button type="button" onClick={clear}>
          {t("files.clear")}
        </button>
      </details>
    </form>
  );
}
