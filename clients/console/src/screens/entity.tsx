// An entity's Media tab: the files attached to a lead, deal, contact or
// another CRM record (by its UUID or numeric code); attach files found by
// name, detach one.
import type { Client, File, Schemas } from "@anexo/client";
import { useEffect, useState } from "preact/hooks";

import { bytes, t, when } from "../i18n.js";
import { href } from "../route.js";
import { useLoad, useScreen } from "../screen.js";
import { failed, Problem, ScanBadge, Status, Thumb } from "../ui.js";

type Entity = Schemas["Entity"];
const entityTypes = ["lead", "deal", "contact", "company", "customer", "opportunity", "case"] as const;
type EntityType = (typeof entityTypes)[number];

/** EntityFields names an entity: its type, and its UUID or CRM code. */
export function EntityFields(p: { type: string; id: string; onType: (v: string) => void; onID: (v: string) => void; placeholder?: string }) {
  return (
    <>
      <label>
        <span>{t("entity.type")}</span>
        <select value={p.type} onChange={(e) => p.onType(e.currentTarget.value)}>
          {entityTypes.map((x) => (
            <option key={x} value={x}>
              {x}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>{t("entity.id")}</span>
        <input required value={p.id} placeholder={p.placeholder} onInput={(e) => p.onID(e.currentTarget.value)} />
      </label>
    </>
  );
}

/** EntityPicker goes to an entity's Media tab. */
function EntityPicker({ type, id }: { type?: string; id?: string }) {
  const [ty, setTy] = useState(type ?? "lead");
  const [ident, setIdent] = useState(id ?? "");
  return (
    <form
      class="toolbar"
      onSubmit={(e) => {
        e.preventDefault();
        if (ident.trim()) location.hash = href({ name: "entity", type: ty, id: ident.trim() });
      }}
    >
      <EntityFields type={ty} id={ident} onType={setTy} onID={setIdent} />
      <button type="submit">{t("entity.open")}</button>
    </form>
  );
}

export function EntityScreen({ client, type, id }: { client: Client; type?: string; id?: string }) {
  const [entity, setEntity] = useState<Entity>();
  const [files, setFiles] = useState<File[]>([]);
  const { error, setError, message, reload, run } = useScreen();
  const [term, setTerm] = useState("");
  const [found, setFound] = useState<File[]>([]);
  const [picked, setPicked] = useState<Set<string>>(new Set());

  const p = type && id ? { params: { path: { entity_type: type, entity_id: id } } } : undefined;
  useLoad(
    (signal) =>
      p
        ? Promise.all([
            client.call(client.api.GET("/v1/entities/{entity_type}/{entity_id}", { ...p, signal })),
            client.call(client.api.GET("/v1/entities/{entity_type}/{entity_id}/files", { params: { ...p.params, query: { with: "previews", limit: 100 } }, signal })),
          ])
        : Promise.resolve(undefined),
    (got) => {
      if (!got) return;
      setEntity(got[0]);
      setFiles((got[1]._embedded.files ?? []) as File[]);
    },
    setError,
    [client, type, id, reload],
  );
  useEffect(() => {
    if (!term.trim()) return setFound([]);
    const ctl = new AbortController();
    const timer = setTimeout(() => {
      client
        .call(client.api.GET("/v1/files", { params: { query: { "filter[term]": term.trim(), limit: 10 } }, signal: ctl.signal }))
        .then((r) => setFound(r._embedded.files))
        .catch((e) => ctl.signal.aborted || setError(e));
    }, 250);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [client, term]);

  const change = (method: "POST" | "DELETE", uuids: string[], done: string) =>
    p &&
    run(async () => {
      const body = { file_uuids: uuids };
      const r = method === "POST" ? await client.call(client.api.POST("/v1/entities/{entity_type}/{entity_id}/files", { ...p, body })) : await client.call(client.api.DELETE("/v1/entities/{entity_type}/{entity_id}/files", { ...p, body }));
      setPicked(new Set());
      setTerm("");
      return [done, ...r._embedded.attachments.filter((a) => a.status === "error").map((a) => failed(a.attachment.file_uuid, a.error))].join(" ");
    });

  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title" tabIndex={-1}>
        {entity ? `${entity.title || entity.code} · ${t("entity.media")}` : t("entity.title")}
      </h1>
      <EntityPicker key={`${type}/${id}`} type={type} id={id} />
      {message && <Status message={message} />}
      <Problem error={error} />
      {entity && (
        <>
          <p class="muted">
            {entity.type} · {t("entity.code")} {entity.code} · <code>{entity.uuid}</code>
          </p>
          <div class="card">
            <h2>{t("entity.attach")}</h2>
            <label>
              <span>{t("files.search")}</span>
              <input type="search" value={term} onInput={(e) => setTerm(e.currentTarget.value)} autocomplete="off" />
            </label>
            {found.length > 0 && (
              <ul class="picks">
                {found.map((f) => (
                  <li key={f.uuid}>
                    <label class="inline">
                      <input
                        type="checkbox"
                        checked={picked.has(f.uuid)}
                        onChange={(e) => {
                          const n = new Set(picked);
                          if (e.currentTarget.checked) n.add(f.uuid);
                          else n.delete(f.uuid);
                          setPicked(n);
                        }}
                      />
                      {f.name} <span class="muted small">{bytes(f.size)}</span>
                    </label>
                  </li>
                ))}
              </ul>
            )}
            <button type="button" class="primary" disabled={picked.size === 0} onClick={() => change("POST", [...picked], t("entity.attached", { n: picked.size }))}>
              {t("entity.attachSelected", { n: picked.size })}
            </button>
          </div>
          {files.length === 0 ? (
            <p class="empty">{t("entity.empty")}</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col" class="thumbcol">
                      <span class="sr-only">{t("files.col.preview")}</span>
                    </th>
                    <th scope="col">{t("files.col.name")}</th>
                    <th scope="col" class="num">{t("files.col.size")}</th>
                    <th scope="col" class="wide">{t("files.col.created")}</th>
                    <th scope="col">{t("files.col.by")}</th>
                    <th scope="col">{t("files.col.scan")}</th>
                    <th scope="col">
                      <span class="sr-only">{t("entity.detach")}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {files.map((f) => (
                    <tr key={f.uuid}>
                      <td class="thumbcol">
                        <Thumb previews={f.previews} ext={f.extension} px={64} />
                      </td>
                      <td class="name">
                        <a href={href({ name: "file", uuid: f.uuid })}>{f.name}</a>
                      </td>
                      <td class="num">{bytes(f.size)}</td>
                      <td class="wide">{when(f.created_at)}</td>
                      <td>{f.created_by}</td>
                      <td>
                        <ScanBadge scan={f.scan} />
                      </td>
                      <td class="actions">
                        <button type="button" onClick={() => change("DELETE", [f.uuid], t("entity.detached", { name: f.name }))} aria-label={`${t("entity.detach")} ${f.name}`}>
                          {t("entity.detach")}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

export type { EntityType };
