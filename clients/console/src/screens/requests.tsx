// File requests: ask someone outside the account for documents — an
// entity, named slots with the types and sizes they take, an expiry, a
// passcode — and get a link to send (shown once); see what each request
// received and from whom; give a request a new link, or withdraw it.
import type { Client, Schemas } from "@anexo/client";
import { useState } from "preact/hooks";

import { bytes, type Key, t, when } from "../i18n.js";
import { href } from "../route.js";
import { useLoad, useScreen } from "../screen.js";
import { Confirm, Problem, Secret, Status } from "../ui.js";
import { EntityFields } from "./entity.js";

type FileRequest = Schemas["FileRequest"];
type NewRequest = Schemas["NewFileRequest"];
type Receipt = FileRequest["received"][number];
const expiries: [string, number][] = [["day", 86400], ["week", 7 * 86400], ["month", 30 * 86400], ["quarter", 90 * 86400]];
const statuses = ["", "open", "fulfilled", "expired", "revoked"] as const;

interface SlotDraft {
  name: string;
  required: boolean;
  accept: string;
  maxMB: string;
}

const blank = (): SlotDraft => ({ name: "", required: true, accept: "", maxMB: "" });

function Receipts({ received }: { received: Receipt[] }) {
  if (received.length === 0) return <p class="muted">{t("requests.nothing")}</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{t("requests.slot")}</th>
            <th scope="col">{t("files.col.name")}</th>
            <th scope="col" class="num">{t("files.col.size")}</th>
            <th scope="col">{t("requests.from")}</th>
            <th scope="col">{t("requests.receipt")}</th>
            <th scope="col" class="wide">{t("requests.receivedAt")}</th>
          </tr>
        </thead>
        <tbody>
          {received.map((r) => (
            <tr key={r.version_uuid}>
              <td>{r.slot || t("common.none")}</td>
              <td class="name">
                <a href={href({ name: "file", uuid: r.file_uuid })}>{r.name}</a>
              </td>
              <td class="num">{bytes(r.size)}</td>
              <td>
                {r.uploader.name || t("common.none")}
                {r.uploader.email && <span class="muted small block">{r.uploader.email}</span>}
              </td>
              <td>
                <span class={`badge receipt-${r.status}`}>{t(`requests.receipt.${r.status}` as Key)}</span>
              </td>
              <td class="wide">{when(r.received_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function RequestsScreen({ client }: { client: Client }) {
  const [list, setList] = useState<FileRequest[]>([]);
  const { error, setError, message, reload, run } = useScreen();
  const [link, setLink] = useState<{ name: string; secret: string }>();
  const [revoking, setRevoking] = useState<FileRequest>();
  const [open, setOpen] = useState<string>();
  const [status, setStatus] = useState<(typeof statuses)[number]>("");
  const [entityType, setEntityType] = useState<string>("deal");
  const [entityID, setEntityID] = useState("");
  const [title, setTitle] = useState("");
  const [note, setNote] = useState("");
  const [slots, setSlots] = useState<SlotDraft[]>([blank()]);
  const [expiry, setExpiry] = useState("week");
  const [passcode, setPasscode] = useState("");

  useLoad(
    (signal) => client.call(client.api.GET("/v1/file-requests", { params: { query: { limit: 100, ...(status ? { status } : {}) } }, signal })),
    (r) => setList(r._embedded.file_requests),
    setError,
    [client, reload, status],
  );
  const setSlot = (i: number, patch: Partial<SlotDraft>) => setSlots(slots.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  const shown = (r: { file_request: FileRequest; link: { secret: string; url: string | null } }) =>
    setLink({ name: r.file_request.title, secret: r.link.url ?? r.link.secret });
  const create = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const body = {
        entity: { type: entityType as NewRequest["entity"]["type"], id: entityID.trim() },
        title: title.trim(),
        message: note.trim() || undefined,
        slots: slots
          .filter((s) => s.name.trim())
          .map((s) => ({
            name: s.name.trim(),
            required: s.required,
            accept: s.accept.split(",").map((a) => a.trim()).filter(Boolean),
            max_size: s.maxMB ? Math.round(Number(s.maxMB) * 1024 * 1024) : undefined,
          })),
        expires_in: expiries.find(([k]) => k === expiry)?.[1],
        passcode: passcode || undefined,
      };
      shown(await client.call(client.api.POST("/v1/file-requests", { body })));
      setTitle("");
      setNote("");
      setSlots([blank()]);
      setPasscode("");
    });
  };
  const relink = (r: FileRequest) => run(async () => shown(await client.call(client.api.POST("/v1/file-requests/{id}/link", { params: { path: { id: r.id } } }))));
  const revoke = (r: FileRequest) =>
    run(async () => {
      setRevoking(undefined);
      await client.call(client.api.POST("/v1/file-requests/{id}/revoke", { params: { path: { id: r.id } } }));
      return t("requests.revoked", { title: r.title });
    });

  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title" tabIndex={-1}>
        {t("requests.title")}
      </h1>
      <p class="muted">{t("requests.intro")}</p>
      {link && <Secret {...link} hint={t("requests.linkOnce")} onDone={() => setLink(undefined)} />}
      {message && <Status message={message} />}
      <Problem error={error} />
      <form class="card" onSubmit={create} aria-labelledby="new-request">
        <h2 id="new-request">{t("requests.new")}</h2>
        <div class="grid">
          <EntityFields type={entityType} id={entityID} onType={setEntityType} onID={setEntityID} placeholder="9001" />
          <label>
            <span>{t("requests.titleField")}</span>
            <input required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          </label>
          <label>
            <span>{t("requests.expires")}</span>
            <select value={expiry} onChange={(e) => setExpiry(e.currentTarget.value)}>
              {expiries.map(([k]) => (
                <option key={k} value={k}>
                  {t(`requests.expiry.${k}` as Key)}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>{t("requests.passcode")}</span>
            <input type="password" autocomplete="new-password" minLength={6} maxLength={64} value={passcode} onInput={(e) => setPasscode(e.currentTarget.value)} />
          </label>
        </div>
        <label>
          <span>{t("requests.message")}</span>
          <textarea maxLength={2000} rows={3} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
        <fieldset>
          <legend>{t("requests.slots")}</legend>
          {slots.map((s, i) => (
            <div class="grid" key={i}>
              <label>
                <span>{t("requests.slotName", { n: i + 1 })}</span>
                <input maxLength={100} value={s.name} onInput={(e) => setSlot(i, { name: e.currentTarget.value })} />
              </label>
              <label>
                <span>{t("requests.accept", { n: i + 1 })}</span>
                <input value={s.accept} placeholder=".pdf, image/*" onInput={(e) => setSlot(i, { accept: e.currentTarget.value })} />
              </label>
              <label>
                <span>{t("requests.maxMB", { n: i + 1 })}</span>
                <input type="number" min="1" value={s.maxMB} onInput={(e) => setSlot(i, { maxMB: e.currentTarget.value })} />
              </label>
              <label class="inline">
                <input type="checkbox" checked={s.required} onChange={(e) => setSlot(i, { required: e.currentTarget.checked })} />
                {t("requests.requiredN", { n: i + 1 })}
              </label>
            </div>
          ))}
          <button type="button" onClick={() => setSlots([...slots, blank()])}>
            {t("requests.addSlot")}
          </button>
        </fieldset>
        <button type="submit" class="primary" disabled={!title.trim() || !entityID.trim()}>
          {t("requests.create")}
        </button>
      </form>
      <h2>{t("requests.list")}</h2>
      <div class="toolbar">
        <label>
          <span>{t("requests.status")}</span>
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value as (typeof statuses)[number])}>
            {statuses.map((s) => (
              <option key={s} value={s}>
                {t(`requests.status.${s || "any"}` as Key)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {list.length === 0 ? (
        <p class="empty">{t("requests.empty")}</p>
      ) : (
        list.map((r) => (
          <article class="card" key={r.id} aria-labelledby={`req-${r.id}`}>
            <h3 id={`req-${r.id}`}>
              {r.title} <span class={`badge request-${r.status}`}>{t(`requests.status.${r.status}` as Key)}</span>
            </h3>
            <p class="muted">
              <a href={href({ name: "entity", type: r.entity.type, id: r.entity.uuid })}>
                {r.entity.type} {r.entity.code}
                {r.entity.title && ` · ${r.entity.title}`}
              </a>{" "}
              · {t("requests.until", { date: when(r.expires_at) })} · {t("requests.count", { n: r.received.length })}
              {r.passcode && ` · ${t("requests.withPasscode")}`}
            </p>
            <p>
              {r.slots.map((s) => (
                <span key={s.name} class={`badge ${s.received > 0 ? "scan-clean" : ""}`}>
                  {s.name}
                  {s.required ? " *" : ""} ({s.received}/{s.max_files})
                </span>
              ))}
            </p>
            <div class="toolbar">
              <button type="button" aria-expanded={open === r.id} onClick={() => setOpen(open === r.id ? undefined : r.id)}>
                {t("requests.received", { title: r.title })}
              </button>
              {(r.status === "open" || r.status === "fulfilled") && (
                <>
                  <button type="button" onClick={() => relink(r)} aria-label={`${t("requests.relink")} ${r.title}`}>
                    {t("requests.relink")}
                  </button>
                  <button type="button" class="danger" onClick={() => setRevoking(r)} aria-label={`${t("requests.revoke")} ${r.title}`}>
                    {t("requests.revoke")}
                  </button>
                </>
              )}
            </div>
            {open === r.id && <Receipts received={r.received} />}
          </article>
        ))
      )}
      <Confirm
        open={!!revoking}
        title={t("requests.revokeTitle", { title: revoking?.title ?? "" })}
        body={t("requests.revokeBody")}
        action={t("requests.revoke")}
        onConfirm={() => revoking && revoke(revoking)}
        onCancel={() => setRevoking(undefined)}
      />
    </section>
  );
}
