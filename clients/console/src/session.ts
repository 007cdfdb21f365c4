// The signed-in session: the API's address and a token, kept in this
// tab's sessionStorage (closing the tab forgets it). A token given in the
// URL's fragment (#token=anx_…, as make run prints it) is taken and
// cleared from the address bar before anything renders, so it stays out of
// the history, bookmarks and screenshots.
import { Client } from "@anexo/client";

export interface Session {
  endpoint: string;
  token: string;
}

const KEY = "anexo:console:session";

/**
 * apiEndpoint is where the API answers: config.json's endpoint beside the
 * page (the stack writes it when the console has its own origin), or the
 * page's own origin (make run, or the console under the API's edge).
 */
export let apiEndpoint = location.origin;

/** loadConfig reads config.json; a console without one talks to its own origin. */
export async function loadConfig(): Promise<void> {
  try {
    const res = await fetch("config.json", { cache: "no-cache" });
    if (!res.ok) return;
    const c = (await res.json()) as { endpoint?: unknown };
    if (typeof c.endpoint === "string" && c.endpoint) apiEndpoint = c.endpoint.replace(/\/+$/, "");
  } catch {
    // no configuration: the page's origin
  }
}

function storage(): Storage | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined;
  }
}

/** takeFragmentToken keeps the token of a #token=… fragment (main cleared it from the address bar). */
export function takeFragmentToken(fragment: string): void {
  const m = /^#token=([^&]+)(?:&(.*))?$/.exec(fragment);
  if (m) save({ endpoint: apiEndpoint, token: decodeURIComponent(m[1]) });
}

export function load(): Session | undefined {
  const raw = storage()?.getItem(KEY);
  if (!raw) return undefined;
  try {
    const s = JSON.parse(raw) as Session;
    return typeof s.token === "string" && typeof s.endpoint === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

export function save(s: Session): void {
  storage()?.setItem(KEY, JSON.stringify(s));
}

export function clear(): void {
  storage()?.removeItem(KEY);
}

/**
 * connect makes the client of a session. A refusal of the token itself —
 * 401, or the gateway's own 403 (the authorizer's: unknown, expired or
 * revoked), not a function's problem — calls onRefused, so the console
 * asks for a token again instead of failing screen by screen.
 */
export function connect(s: Session, onRefused?: () => void): Client {
  const c = new Client({ endpoint: s.endpoint, token: s.token, scanWait: 0 });
  if (onRefused) {
    c.api.use({
      onResponse({ response }) {
        if ((response.status === 401 || response.status === 403) && !response.headers.get("Content-Type")?.includes("problem+json")) onRefused();
        return undefined;
      },
    });
  }
  return c;
}
