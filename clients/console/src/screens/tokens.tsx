// Tokens: the account's integration tokens; mint one (scopes, the web
// origin it is bound to, a lifetime) and see its secret once; rotate a
// secret with a grace period; revoke after a confirmation.
import type { Client, Schemas } from "@anexo/client";
import { useState } from "preact/hooks";

import { type Key, t, when } from "../i18n.js";
import { useLoad, useScreen } from "../screen.js";
import { Confirm, Problem, Secret, Status } from "../ui.js";

type Token = Schemas["Token"];
const scopes = ["files:read", "files:write", "files:delete", "tokens:admin", "webhooks:admin", "requests:admin"] as const;
type TokenScope = (typeof scopes)[number];
const lifetimes: [string, number | undefined][] = [["never", undefined], ["day", 86400], ["month", 30 * 86400], ["quarter", 90 * 86400], ["year", 365 * 86400]];
const graces: [string, number][] = [["now", 0], ["hour", 3600], ["day", 86400], ["week", 7 * 86400]];

export function TokensScreen({ client }: { client: Client }) {
  const [tokens, setTokens] = useState<Token[]>([]);
  const { error, setError, message, reload, run } = useScreen();
  const [secret, setSecret] = useState<{ name: string; secret: string }>();
  const [revoking, setRevoking] = useState<Token>();
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<TokenScope[]>(["files:read"]);
  const [origin, setOrigin] = useState("");
  const [lifetime, setLifetime] = useState("never");
  const [grace, setGrace] = useState("day");

  useLoad((signal) => client.call(client.api.GET("/v1/tokens", { signal })), (r) => setTokens(r.tokens), setError, [client, reload]);
  const create = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const ttl = lifetimes.find(([k]) => k === lifetime)?.[1];
      const r = await client.call(
        client.api.POST("/v1/tokens", { body: { name: name.trim(), scopes: chosen, allowed_domain: origin.trim() || undefined, ttl_seconds: ttl } }),
      );
      setSecret({ name: r.token.name, secret: r.secret });
      setName("");
      setOrigin("");
    });
  };
  const rotate = (tk: Token) =>
    run(async () => {
      const r = await client.call(
        client.api.POST("/v1/tokens/{id}/rotate", { params: { path: { id: tk.id } }, body: { grace_seconds: graces.find(([k]) => k === grace)?.[1] } }),
      );
      setSecret({ name: r.token.name, secret: r.secret });
    });
  const revoke = (tk: Token) =>
    run(async () => {
      setRevoking(undefined);
      await client.call(client.api.DELETE("/v1/tokens/{id}", { params: { path: { id: tk.id } } }));
      return t("tokens.revoked", { name: tk.name });
    });

  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title" tabIndex={-1}>
        {t("tokens.title")}
      </h1>
      {secret && <Secret {...secret} hint={t("tokens.secretOnce")} onDone={() => setSecret(undefined)} />}
      {message && <Status message={message} />}
      <Problem error={error} />
      <form class="card" onSubmit={create} aria-labelledby="new-token">
        <h2 id="new-token">{t("tokens.new")}</h2>
        <div class="grid">
          <label>
            <span>{t("tokens.name")}</span>
            <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            <span>{t("tokens.origin")}</span>
            <input value={origin} placeholder="https://app.example.com" aria-describedby="origin-hint" onInput={(e) => setOrigin(e.currentTarget.value)} />
            <small id="origin-hint">{t("tokens.originHint")}</small>
          </label>
          <label>
            <span>{t("tokens.lifetime")}</span>
            <select value={lifetime} onChange={(e) => setLifetime(e.currentTarget.value)}>
              {lifetimes.map(([k]) => (
                <option key={k} value={k}>
                  {t(`tokens.life.${k}` as Key)}
                </option>
              ))}
            </select>
          </label>
          <fieldset>
            <legend>{t("tokens.scopes")}</legend>
            {scopes.map((s) => (
              <label key={s} class="inline">
                <input type="checkbox" checked={chosen.includes(s)} onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, s] : chosen.filter((x) => x !== s))} />
                <code>{s}</code>
              </label>
            ))}
          </fieldset>
        </div>
        <button type="submit" class="primary" disabled={!name.trim() || chosen.length === 0}>
          {t("tokens.create")}
        </button>
      </form>
      <h2>{t("tokens.list")}</h2>
      <div class="toolbar">
        <label>
          <span>{t("tokens.grace")}</span>
          <select value={grace} onChange={(e) => setGrace(e.currentTarget.value)}>
            {graces.map(([k]) => (
              <option key={k} value={k}>
                {t(`tokens.grace.${k}` as Key)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("tokens.name")}</th>
              <th scope="col">{t("tokens.scopes")}</th>
              <th scope="col" class="wide">{t("tokens.origin")}</th>
              <th scope="col">{t("tokens.status")}</th>
              <th scope="col" class="wide">{t("tokens.lastUsed")}</th>
              <th scope="col" class="wide">{t("tokens.expires")}</th>
              <th scope="col">
                <span class="sr-only">{t("tokens.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((tk) => (
              <tr key={tk.id}>
                <td>
                  <strong>{tk.name}</strong>
                  <span class="muted small block">{when(tk.created_at)}</span>
                </td>
                <td>{tk.scopes.join(" ")}</td>
                <td class="wide">{tk.allowed_domain ?? t("common.none")}</td>
                <td>
                  <span class={`badge token-${tk.status}`}>{t(`tokens.status.${tk.status}` as Key)}</span>
                  {tk.previous_secrets.length > 0 && <span class="muted small block">{t("tokens.previous", { n: tk.previous_secrets.length })}</span>}
                </td>
                <td class="wide">{when(tk.last_used_at)}</td>
                <td class="wide">{when(tk.expires_at)}</td>
                <td class="actions">
                  {tk.status === "active" && (
                    <>
                      <button type="button" onClick={() => rotate(tk)} aria-label={`${t("tokens.rotate")} ${tk.name}`}>
                        {t("tokens.rotate")}
                      </button>
                      <button type="button" class="danger" onClick={() => setRevoking(tk)} aria-label={`${t("tokens.revoke")} ${tk.name}`}>
                        {t("tokens.revoke")}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Confirm
        open={!!revoking}
        title={t("tokens.revokeTitle", { name: revoking?.name ?? "" })}
        body={t("tokens.revokeBody")}
        action={t("tokens.revoke")}
        onConfirm={() => revoking && revoke(revoking)}
        onCancel={() => setRevoking(undefined)}
      />
    </section>
  );
}
