// Sign in: the API's address (this page's origin by default) and a token,
// checked against the API before the console opens.
import { AnexoError } from "@anexo/client";
import { useState } from "preact/hooks";

import { t } from "../i18n.js";
import { apiEndpoint, connect, type Session } from "../session.js";
import { Problem } from "../ui.js";

export function SignIn({ onSignIn, refused }: { onSignIn: (s: Session) => void; refused?: boolean }) {
  const [endpoint, setEndpoint] = useState(apiEndpoint);
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const s = { endpoint: endpoint.trim(), token: token.trim() };
    const c = connect(s);
    try {
      await c.call(c.api.GET("/v1/usage"));
      onSignIn(s);
    } catch (err) {
      // a token without files:read is still the account's: its other screens work
      if (err instanceof AnexoError && err.code === "insufficient_scope") onSignIn(s);
      // the gateway refuses an unknown, expired or revoked token (401, or 403 from the authorizer)
      else setError(err instanceof AnexoError && (err.status === 401 || err.code === "forbidden") ? new Error(t("signin.invalid")) : err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>{t("signin.title")}</h1>
      {refused && (
        <p class="notice" role="alert">
          {t("signin.refused")}
        </p>
      )}
      <p class="muted">{t("signin.intro")}</p>
      <form onSubmit={submit}>
        <label>
          <span>{t("signin.endpoint")}</span>
          <input type="url" required value={endpoint} onInput={(e) => setEndpoint(e.currentTarget.value)} />
        </label>
        <label>
          <span>{t("signin.token")}</span>
          <input type="password" required autocomplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        </label>
        <Problem error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {t("signin.submit")}
        </button>
      </form>
    </main>
  );
}
