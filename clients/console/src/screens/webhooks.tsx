// Webhooks: the account's endpoints; add one (its signing secret shown
// once), send a test event and see the attempt, switch it off or on again
// (on again may send what it missed), rotate its secret, remove it. Each
// webhook's deliveries: filtered by state and type, with their attempts,
// retried one by one, or every event since a time recovered.
import type { Client, Schemas } from "@anexo/client";
import { useEffect, useState } from "preact/hooks";

import { type Key, t, when } from "../i18n.js";
import { href } from "../route.js";
import { useLoad, useScreen } from "../screen.js";
import { Confirm, Problem, Secret, Status } from "../ui.js";

type Webhook = Schemas["Webhook"];
type Delivery = Schemas["Delivery"];
type EventType = Schemas["EventType"];

// the catalogue's types, read once per client (it changes with a deploy)
const catalogues = new WeakMap<Client, Promise<EventType[]>>();

/** useEventTypes is the catalogue's types (GET /v1/event-types). */
export function useEventTypes(client: Client): EventType[] {
  const [types, setTypes] = useState<EventType[]>([]);
  useEffect(() => {
    let got = catalogues.get(client);
    if (!got) {
      got = client.call(client.api.GET("/v1/event-types")).then((c) => c.event_types.map((e) => e.type));
      got.catch(() => catalogues.delete(client)); // asked again next time
      catalogues.set(client, got);
    }
    got.then(setTypes, () => setTypes([]));
  }, [client]);
  return types;
}

/** TypeSelect picks one event type, or any. */
export function TypeSelect(p: { label: string; types: EventType[]; value: "" | EventType; onChange: (v: "" | EventType) => void }) {
  return (
    <label>
      <span>{p.label}</span>
      <select value={p.value} onChange={(e) => p.onChange(e.currentTarget.value as "" | EventType)}>
        <option value="">{t("deliveries.anyType")}</option>
        {p.types.map((ty) => (
          <option key={ty} value={ty}>
            {ty}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Attempt is one delivery attempt: the endpoint's status, latency and answer. */
function Attempt({ a }: { a: Delivery["attempts"][number] }) {
  return (
    <li>
      <span class={a.status !== null && a.status >= 200 && a.status < 300 ? "ok" : "bad"}>{a.status ?? t("webhooks.noAnswer")}</span> · {a.latency_ms} ms ·{" "}
      {when(a.at)}
      {a.error && <span class="muted"> · {a.error}</span>}
      {a.response && (
        <pre class="excerpt" tabIndex={0}>
          {a.response}
        </pre>
      )}
    </li>
  );
}

export function WebhooksScreen({ client }: { client: Client }) {
  const [hooks, setHooks] = useState<Webhook[]>([]);
  const types = useEventTypes(client);
  const { error, setError, message, reload, run } = useScreen();
  const [secret, setSecret] = useState<{ name: string; secret: string }>();
  const [tested, setTested] = useState<{ id: string; delivery: Delivery }>();
  const [removing, setRemoving] = useState<Webhook>();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [chosen, setChosen] = useState<EventType[]>([]);
  const [recover, setRecover] = useState(true);

  useLoad((signal) => client.call(client.api.GET("/v1/webhooks", { signal })), (r) => setHooks(r.webhooks), setError, [client, reload]);
  const add = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const r = await client.call(client.api.POST("/v1/webhooks", { body: { url: url.trim(), description: description.trim() || undefined, types: chosen } }));
      setSecret({ name: r.webhook.url, secret: r.secret });
      setUrl("");
      setDescription("");
      setChosen([]);
    });
  };
  const path = (id: string) => ({ params: { path: { id } } });
  const test = (h: Webhook) =>
    run(async () => {
      const d = await client.call(client.api.POST("/v1/webhooks/{id}/test", path(h.id)));
      setTested({ id: h.id, delivery: d });
    });
  const toggle = (h: Webhook) =>
    run(async () => {
      await client.call(
        client.api.PATCH("/v1/webhooks/{id}", { ...path(h.id), body: h.enabled ? { enabled: false } : { enabled: true, recover: recover && !!h.disabled_at } }),
      );
      return h.enabled ? t("webhooks.disabledNow", { url: h.url }) : t("webhooks.enabledNow", { url: h.url });
    });
  const rotate = (h: Webhook) =>
    run(async () => {
      const r = await client.call(client.api.POST("/v1/webhooks/{id}/rotate", { ...path(h.id), body: {} }));
      setSecret({ name: h.url, secret: r.secret });
    });
  const remove = (h: Webhook) =>
    run(async () => {
      setRemoving(undefined);
      await client.call(client.api.DELETE("/v1/webhooks/{id}", path(h.id)));
      return t("webhooks.removed", { url: h.url });
    });

  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title" tabIndex={-1}>
        {t("webhooks.title")}
      </h1>
      {secret && <Secret {...secret} hint={t("webhooks.secretOnce")} onDone={() => setSecret(undefined)} />}
      {message && <Status message={message} />}
      <Problem error={error} />
      <form class="card" onSubmit={add} aria-labelledby="new-webhook">
        <h2 id="new-webhook">{t("webhooks.new")}</h2>
        <div class="grid">
          <label>
            <span>{t("webhooks.url")}</span>
            <input type="url" required value={url} placeholder="https://crm.example.com/hooks/anexo" onInput={(e) => setUrl(e.currentTarget.value)} />
          </label>
          <label>
            <span>{t("webhooks.description")}</span>
            <input maxLength={256} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </label>
        </div>
        <fieldset>
          <legend>{t("webhooks.types")}</legend>
          {types.map((ty) => (
            <label key={ty} class="inline">
              <input type="checkbox" checked={chosen.includes(ty)} onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, ty] : chosen.filter((x) => x !== ty))} />
              <code>{ty}</code>
            </label>
          ))}
        </fieldset>
        <p class="muted small">{t("webhooks.typesHint")}</p>
        <button type="submit" class="primary">
          {t("webhooks.add")}
        </button>
      </form>
      <h2>{t("webhooks.list")}</h2>
      {hooks.length === 0 && <p class="muted">{t("webhooks.none")}</p>}
      <label class="inline">
        <input type="checkbox" checked={recover} onChange={(e) => setRecover(e.currentTarget.checked)} />
        {t("webhooks.recoverOnEnable")}
      </label>
      <ul class="cards">
        {hooks.map((h) => (
          <li key={h.id} class="card">
            <h3>
              <code>{h.url}</code>
            </h3>
            {h.description && <p>{h.description}</p>}
            <p>
              <span class={`badge ${h.enabled ? "token-active" : "token-revoked"}`}>{h.enabled ? t("webhooks.enabled") : t("webhooks.disabled")}</span>{" "}
              <span class="muted">{h.types.length ? h.types.join(", ") : t("webhooks.allTypes")}</span>
            </p>
            {h.disabled_reason && <p class="notice">{t("webhooks.disabledBecause", { reason: h.disabled_reason, at: when(h.disabled_at) })}</p>}
            {h.failing_since && <p class="notice">{t("webhooks.failingSince", { at: when(h.failing_since) })}</p>}
            <div class="toolbar">
              <button type="button" onClick={() => test(h)} aria-label={`${t("webhooks.test")} ${h.url}`}>
                {t("webhooks.test")}
              </button>
              <button type="button" onClick={() => toggle(h)} aria-label={`${h.enabled ? t("webhooks.disable") : t("webhooks.enable")} ${h.url}`}>
                {h.enabled ? t("webhooks.disable") : t("webhooks.enable")}
              </button>
              <button type="button" onClick={() => rotate(h)} aria-label={`${t("webhooks.rotate")} ${h.url}`}>
                {t("webhooks.rotate")}
              </button>
              <a class="button" href={href({ name: "deliveries", id: h.id })} aria-label={`${t("webhooks.deliveries")} ${h.url}`}>
                {t("webhooks.deliveries")}
              </a>
              <button type="button" class="danger" onClick={() => setRemoving(h)} aria-label={`${t("webhooks.remove")} ${h.url}`}>
                {t("webhooks.remove")}
              </button>
            </div>
            {tested?.id === h.id && (
              <div class="tested" role="status">
                <strong>{t("webhooks.testResult", { state: t(`deliveries.state.${tested.delivery.state}` as Key) })}</strong>
                <ul class="attempts">
                  {tested.delivery.attempts.map((a, i) => (
                    <Attempt key={i} a={a} />
                  ))}
                </ul>
              </div>
            )}
          </li>
        ))}
      </ul>
      <Confirm
        open={!!removing}
        title={t("webhooks.removeTitle")}
        body={t("webhooks.removeBody", { url: removing?.url ?? "" })}
        action={t("webhooks.remove")}
        onConfirm={() => removing && remove(removing)}
        onCancel={() => setRemoving(undefined)}
      />
    </section>
  );
}

const states = ["pending", "delivered", "failed"] as const;

export function DeliveriesScreen({ client, id }: { client: Client; id: string }) {
  const [hook, setHook] = useState<Webhook>();
  const types = useEventTypes(client);
  const [state, setState] = useState<"" | (typeof states)[number]>("");
  const [type, setType] = useState<"" | EventType>("");
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<{ deliveries: Delivery[]; next?: string | null }>();
  const { error, setError, message, reload, run } = useScreen();
  const [since, setSince] = useState("");
  const at = cursors.length - 1;

  useLoad((signal) => client.call(client.api.GET("/v1/webhooks/{id}", { params: { path: { id } }, signal })), setHook, setError, [client, id]);
  useEffect(() => setCursors([undefined]), [state, type]);
  useLoad(
    (signal) =>
      client.call(
        client.api.GET("/v1/webhooks/{id}/deliveries", {
          params: { path: { id }, query: { limit: 20, after: cursors[at], state: state || undefined, type: type || undefined } },
          signal,
        }),
      ),
    (p) => setPage({ deliveries: p._embedded.deliveries, next: p._page.next_cursor }),
    setError,
    [client, id, cursors, state, type, reload],
  );
  const retry = (d: Delivery) =>
    run(async () => {
      const r = await client.call(client.api.POST("/v1/webhooks/{id}/deliveries/{delivery}/retry", { params: { path: { id, delivery: d.id } } }));
      return t("deliveries.retried", { type: d.event_type, state: t(`deliveries.state.${r.state}` as Key) });
    });
  const recover = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const r = await client.call(client.api.POST("/v1/webhooks/{id}/recover", { params: { path: { id } }, body: { since: new Date(since).toISOString() } }));
      return t("deliveries.recovering", { since: when(r.since) });
    });
  };

  return (
    <section aria-labelledby="screen-title">
      <p>
        <a href={href({ name: "webhooks" })}>← {t("webhooks.title")}</a>
      </p>
      <h1 id="screen-title" tabIndex={-1}>
        {t("deliveries.title")}
      </h1>
      {hook && (
        <p>
          <code>{hook.url}</code>
        </p>
      )}
      {message && <Status message={message} />}
      <Problem error={error} />
      <div class="toolbar">
        <label>
          <span>{t("deliveries.state")}</span>
          <select value={state} onChange={(e) => setState(e.currentTarget.value as typeof state)}>
            <option value="">{t("deliveries.anyState")}</option>
            {states.map((s) => (
              <option key={s} value={s}>
                {t(`deliveries.state.${s}` as Key)}
              </option>
            ))}
          </select>
        </label>
        <TypeSelect label={t("deliveries.type")} types={types} value={type} onChange={setType} />
      </div>
      <form class="toolbar" onSubmit={recover}>
        <label>
          <span>{t("deliveries.recoverSince")}</span>
          <input type="datetime-local" required value={since} onInput={(e) => setSince(e.currentTarget.value)} />
        </label>
        <button type="submit">{t("deliveries.recover")}</button>
      </form>
      {page && page.deliveries.length === 0 && <p class="empty">{t("deliveries.none")}</p>}
      <ul class="cards">
        {page?.deliveries.map((d) => (
          <li key={d.id} class="card">
            <p>
              <code>{d.event_type}</code> <span class={`badge delivery-${d.state}`}>{t(`deliveries.state.${d.state}` as Key)}</span>{" "}
              <span class="muted small">
                {when(d.created_at)} · webhook-id <code>{d.id}</code>
              </span>
            </p>
            <details>
              <summary>{t("deliveries.attempts", { n: d.attempts.length })}</summary>
              <ul class="attempts">
                {d.attempts.map((a, i) => (
                  <Attempt key={i} a={a} />
                ))}
              </ul>
            </details>
            <button type="button" onClick={() => retry(d)} aria-label={`${t("deliveries.retry")} ${d.event_type} ${d.id}`}>
              {t("deliveries.retry")}
            </button>
          </li>
        ))}
      </ul>
      <nav class="pager" aria-label={t("files.pages")}>
        <button type="button" disabled={at === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
          {t("deliveries.newer")}
        </button>
        <button type="button" disabled={!page?.next} onClick={() => page?.next && setCursors((c) => [...c, page.next!])}>
          {t("deliveries.older")}
        </button>
      </nav>
    </section>
  );
}
