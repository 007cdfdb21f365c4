// The page a file request's link opens (request.html#anr_…): no token, no
// sign-in. It shows what the request asks for, takes the person's name
// and e-mail, and sends each file straight to storage into its slot with
// the client's resumable upload (a file chosen again after a reload sends
// only what storage lacks). The link's secret leaves the address bar
// before anything renders and is kept in this tab only.
import "./style.css";

import { AnexoError, FileRequest, type PublicFileRequest, type Upload, type Received } from "@anexo/client";
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";

import { bytes, type Key, lang, t, when } from "./i18n.js";
import { pendingList } from "./pending.js";
import { apiEndpoint, loadConfig } from "./session.js";
import { Problem, Status } from "./ui.js";

const LINK = "anexo:request:link";
const PASSCODE = "anexo:request:passcode";
const PENDING = "anexo:request:uploads";

function store(): Storage | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined;
  }
}

type Slot = PublicFileRequest["slots"][number];
type Receipt = PublicFileRequest["received"][number];

/** An upload under way (or stopped) in a slot. */
interface Sending {
  id: number;
  name: string;
  size: number;
  loaded: number;
  upload?: Upload<Received>;
  error?: unknown;
}

/** An upload a reload interrupted: the same file chosen again resumes it. */
interface Interrupted {
  slot: string;
  name: string;
  size: number;
}

const { read: readPending, write: writePending } = pendingList<Interrupted>(PENDING);

const same = (a: Interrupted, b: Interrupted) => a.slot === b.slot && a.name === b.name && a.size === b.size;

/** message is what a refusal means for the person sending, in their language. */
function message(e: unknown): string | undefined {
  if (!(e instanceof AnexoError)) return undefined;
  const known: Record<string, Key> = {
    type_not_accepted: "request.err.type",
    file_too_large: "request.err.size",
    slot_full: "request.err.slotFull",
    request_full: "request.err.full",
    request_revoked: "request.err.revoked",
    request_expired: "request.err.expired",
    request_not_found: "request.err.unknown",
    passcode_locked: "request.err.locked",
  };
  const k = known[e.code];
  if (!k) return undefined;
  const max = Number(e.problem.max_size);
  const accept = Array.isArray(e.problem.accept) ? (e.problem.accept as string[]).join(", ") : "";
  return t(k, { max: max > 0 ? bytes(max) : "", accept, minutes: Math.ceil(Number(e.problem.retry_after_seconds ?? 60) / 60) });
}

function Refusal({ error }: { error: unknown }) {
  const m = message(error);
  if (!m) return <Problem error={error} />;
  return (
    <div class="problem" role="alert">
      <p>{m}</p>
    </div>
  );
}

function receiptStatus(r: Receipt): string {
  return t(`request.receipt.${r.status}` as Key);
}

function SlotCard(props: {
  slot: Slot | undefined;
  received: Receipt[];
  req: FileRequest;
  who: { name: string; email: string };
  closed: boolean;
  maxBytes: number;
  onDone: (r: Received) => void;
}) {
  const { slot, received } = props;
  const name = slot?.name ?? "";
  const accept = slot?.accept ?? [];
  const maxFiles = slot?.max_files ?? 1;
  const [sending, setSending] = useState<Sending[]>([]);
  const [interrupted, setInterrupted] = useState(() => readPending().filter((p) => p.slot === name));
  const update = (id: number, f: (s: Sending) => Sending) => setSending((l) => l.map((s) => (s.id === id ? f(s) : s)));
  const full = slot ? received.filter((r) => r.status !== "refused" && r.status !== "deleted").length >= maxFiles : false;
  const pick = (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) {
      const id = Date.now() + Math.random();
      const mark: Interrupted = { slot: name, name: file.name, size: file.size };
      const up = props.req.createUpload(file, {
        slot: slot ? name : undefined,
        uploader: { name: props.who.name || undefined, email: props.who.email || undefined },
      });
      up.addEventListener("progress", (e) => update(id, (s) => ({ ...s, loaded: (e as CustomEvent).detail.loaded })));
      up.addEventListener("session", () => writePending([...readPending().filter((p) => !same(p, mark)), mark]));
      setSending((l) => [...l, { id, name: file.name, size: file.size, loaded: 0, upload: up }]);
      setInterrupted((l) => l.filter((p) => !same(p, mark)));
      up.start().then(
        (r) => {
          writePending(readPending().filter((p) => !same(p, mark)));
          setSending((l) => l.filter((s) => s.id !== id));
          props.onDone(r);
        },
        (error) => {
          if (error instanceof AnexoError && error.status < 500) writePending(readPending().filter((p) => !same(p, mark)));
          update(id, (s) => ({ ...s, error, upload: undefined }));
        },
      );
    }
  };
  const inputId = `file-${name || "any"}`.replace(/[^A-Za-z0-9_-]/g, "_");
  return (
    <section class="slot" aria-labelledby={`${inputId}-title`}>
      <h2 id={`${inputId}-title`}>
        {slot ? name : t("request.files")} {slot?.required && <span class="badge">{t("request.required")}</span>}
      </h2>
      <p class="muted">
        {accept.length > 0 && <>{t("request.accepts", { accept: accept.join(", ") })} · </>}
        {t("request.maxSize", { max: bytes(slot?.max_size ?? props.maxBytes) })}
        {slot && maxFiles > 1 && <> · {t("request.maxFiles", { n: maxFiles })}</>}
      </p>
      {received.length > 0 && (
        <ul class="received">
          {received.map((r) => (
            <li key={r.name + r.received_at} class={`receipt-${r.status}`}>
              {r.name} <span class="muted">({bytes(r.size)})</span> — {receiptStatus(r)}
            </li>
          ))}
        </ul>
      )}
      {interrupted.map((p) => (
        <p key={p.name} class="status" role="status">
          {t("request.interrupted", { name: p.name })}
        </p>
      ))}
      {sending.map((s) => (
        <div key={s.id} class="sending">
          <label>
            {s.name}
            <progress max={s.size || 1} value={s.loaded} aria-label={t("request.progress", { name: s.name })} />
          </label>
          {s.error ? <Refusal error={s.error} /> : null}
          {s.error ? (
            <button type="button" onClick={() => setSending((l) => l.filter((x) => x.id !== s.id))}>
              {t("common.close")}
            </button>
          ) : null}
        </div>
      ))}
      {!props.closed && !full && (
        <p>
          <label for={inputId}>{slot ? t("request.choose", { slot: name }) : t("request.chooseAny")}</label>{" "}
          <input
            id={inputId}
            type="file"
            multiple={!slot || maxFiles > 1}
            accept={accept.join(",") || undefined}
            onChange={(e) => {
              const input = e.currentTarget as HTMLInputElement;
              pick(input.files);
              input.value = "";
            }}
          />
        </p>
      )}
    </section>
  );
}

function Passcode({ error, onSubmit }: { error?: unknown; onSubmit: (code: string) => void }) {
  const [code, setCode] = useState("");
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(code);
      }}
    >
      <h1>{t("request.passcodeTitle")}</h1>
      <p>{t("request.passcodeIntro")}</p>
      {error instanceof AnexoError && error.code === "passcode_wrong" ? (
        <div class="problem" role="alert">
          <p>{t("request.err.passcode", { n: Number(error.problem.attempts_left ?? 0) })}</p>
        </div>
      ) : error ? (
        <Refusal error={error} />
      ) : null}
      <label for="passcode">{t("request.passcode")}</label>
      <input id="passcode" type="password" autocomplete="off" required value={code} onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value)} />
      <button type="submit">{t("request.open")}</button>
    </form>
  );
}

function Page({ secret }: { secret: string }) {
  const [passcode, setPasscode] = useState(() => store()?.getItem(PASSCODE) ?? "");
  const [view, setView] = useState<PublicFileRequest>();
  const [error, setError] = useState<unknown>();
  const [who, setWho] = useState({ name: "", email: "" });
  const [note, setNote] = useState("");
  const req = useMemo(() => new FileRequest({ endpoint: apiEndpoint, link: secret, passcode: passcode || undefined }), [secret, passcode]);
  const load = () =>
    req.view().then(
      (v) => {
        setView(v);
        setError(undefined);
        if (passcode) store()?.setItem(PASSCODE, passcode);
      },
      (e) => {
        setError(e);
        setView(undefined);
      },
    );
  useEffect(() => {
    void load();
  }, [passcode]);
  // a file waiting for its malware verdict: ask again until it is settled
  const scanning = view?.slots.some((s) => s.received.some((r) => r.status === "scanning")) || view?.received.some((r) => r.status === "scanning");
  useEffect(() => {
    if (!scanning) return;
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [scanning, passcode]);

  if (error instanceof AnexoError && (error.code === "passcode_required" || error.code === "passcode_wrong" || error.code === "passcode_locked")) {
    return <Passcode error={error.code === "passcode_required" ? undefined : error} onSubmit={setPasscode} />;
  }
  if (error) {
    return (
      <div class="card">
        <h1>{t("request.unavailable")}</h1>
        <Refusal error={error} />
      </div>
    );
  }
  if (!view) return <p role="status">{t("common.loading")}</p>;
  const closed = view.status === "expired" || view.status === "revoked";
  const done = (r: Received) => {
    setView(r.file_request);
    if (r.receipt) setNote(t("request.sent", { name: r.receipt.name }));
  };
  return (
    <>
      <header class="card">
        <h1>{view.title}</h1>
        {view.message && <p class="message">{view.message}</p>}
        <p class="muted">
          {t("request.until", { date: when(view.expires_at) })} · {t("request.totalMax", { max: bytes(view.max_bytes) })}
        </p>
        {view.status === "fulfilled" && <p class="status">{t("request.fulfilled")}</p>}
      </header>
      <section class="card" aria-labelledby="who-title">
        <h2 id="who-title">{t("request.who")}</h2>
        <label for="who-name">{t("request.name")}</label>
        <input id="who-name" autocomplete="name" maxLength={100} value={who.name} onInput={(e) => setWho({ ...who, name: (e.currentTarget as HTMLInputElement).value })} />
        <label for="who-email">{t("request.email")}</label>
        <input id="who-email" type="email" autocomplete="email" maxLength={254} value={who.email} onInput={(e) => setWho({ ...who, email: (e.currentTarget as HTMLInputElement).value })} />
      </section>
      {view.slots.length > 0
        ? view.slots.map((s) => <SlotCard key={s.name} slot={s} received={s.received} req={req} who={who} closed={closed} maxBytes={view.max_bytes} onDone={done} />)
        : <SlotCard slot={undefined} received={view.received} req={req} who={who} closed={closed} maxBytes={view.max_bytes} onDone={done} />}
      {note && <Status message={note} />}
    </>
  );
}

// the link's secret leaves the address bar first; a reload finds it in
// this tab's storage
const fragment = decodeURIComponent(location.hash.slice(1));
if (fragment.startsWith("anr_")) {
  store()?.setItem(LINK, fragment);
  store()?.removeItem(PASSCODE);
  history.replaceState(null, "", location.pathname + location.search);
}
// another link opened in this tab changes only the fragment: take it
window.addEventListener("hashchange", () => {
  if (location.hash.startsWith("#anr_")) location.reload();
});
document.documentElement.lang = lang;
await loadConfig();
const secret = store()?.getItem(LINK);
render(
  <main id="content" class="request">
    {secret ? (
      <Page secret={secret} />
    ) : (
      <div class="card">
        <h1>{t("request.unavailable")}</h1>
        <p>{t("request.noLink")}</p>
      </div>
    )}
  </main>,
  document.getElementById("app")!,
);
