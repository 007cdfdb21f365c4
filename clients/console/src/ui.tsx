// Pieces every screen uses: the API's problems shown as they are, scan
// badges, previews, a confirmation dialog and a polite announcer.
import { AnexoError, NetworkError, type Schemas, TimeoutError } from "@anexo/client";
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

import { type Key, t } from "./i18n.js";

type Scan = Schemas["Scan"];

/** Problem shows an error: the API's problem detail, the field it names, the request id to report. */
export function Problem({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  let body: ComponentChildren;
  if (error instanceof AnexoError) {
    const fields = error.errors.length > 0 ? error.errors : error.field ? [{ field: error.field, detail: "" }] : [];
    body = (
      <>
        <p>
          {error.detail} <code>{error.code}</code>
        </p>
        {fields.length > 0 && (
          <ul>
            {fields.map((f) => (
              <li key={f.field}>
                {t("common.field")} <code>{f.field}</code>
                {f.detail && `: ${f.detail}`}
              </li>
            ))}
          </ul>
        )}
        {error.requestId && (
          <p class="muted">
            {t("common.request")}: <code>{error.requestId}</code>
          </p>
        )}
      </>
    );
  } else if (error instanceof NetworkError || error instanceof TimeoutError || error instanceof TypeError) {
    body = <p>{t("common.network")}</p>;
  } else {
    body = <p>{String((error as Error).message ?? error)}</p>;
  }
  return (
    <div class="problem" role="alert">
      <strong>{t("common.error")}</strong>
      {body}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t("common.retry")}
        </button>
      )}
    </div>
  );
}

/** failed is "name: detail" for a batch item the API refused. */
export function failed(name: string, error?: { detail?: unknown; code?: unknown }): string {
  return t("batch.failed", { name, detail: String(error?.detail ?? error?.code ?? "") });
}

/** ScanBadge is a version's malware verdict. */
export function ScanBadge({ scan }: { scan?: Scan }) {
  if (!scan) return <span class="muted">{t("common.none")}</span>;
  return <span class={`badge scan-${scan.status}`}>{t(`scan.${scan.status}` as Key)}</span>;
}

/** Thumb is a file's smallest preview at most px wide, or a placeholder with its extension. */
export function Thumb({ previews, ext, px }: { previews?: Schemas["Preview"][]; ext: string; px: number }) {
  const p = previews?.filter((x) => x.url).sort((a, b) => a.size - b.size).find((x) => x.size >= px) ?? previews?.find((x) => x.url);
  if (p?.url) return <img class="thumb" src={p.url} width={Math.min(px, p.width)} height={Math.round((Math.min(px, p.width) * p.height) / p.width)} alt="" loading="lazy" />;
  return (
    <span class="thumb placeholder" aria-hidden="true">
      {(ext || "?").slice(0, 4)}
    </span>
  );
}

/** Confirm asks before something that cannot be undone (a modal <dialog>: focus stays in it, Esc cancels). */
export function Confirm(props: { open: boolean; title: string; body: string; action: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={props.onCancel} onClose={() => props.open && props.onCancel()}>
      <h2 id="confirm-title">{props.title}</h2>
      <p>{props.body}</p>
      <div class="actions">
        <button type="button" onClick={props.onCancel} autofocus>
          {t("common.cancel")}
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.action}
        </button>
      </div>
    </dialog>
  );
}

/** Status announces a message politely (screen readers read it; it stays on screen). */
export function Status({ message }: { message: string }) {
  return (
    <p class="status" role="status" aria-live="polite">
      {message}
    </p>
  );
}

/** Secret shows a secret once, with a copy button. */
export function Secret({ name, secret, hint, onDone }: { name: string; secret: string; hint: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret" role="region" aria-labelledby="secret-title">
      <h2 id="secret-title">{t("secret.title", { name })}</h2>
      <p>{hint}</p>
      <p>
        <code data-testid="secret">{secret}</code>
      </p>
      <div class="toolbar">
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {t("secret.copy")}
        </button>
        <button type="button" class="primary" onClick={onDone}>
          {t("secret.saved")}
        </button>
        {copied && <span role="status">{t("secret.copied")}</span>}
      </div>
    </div>
  );
}
