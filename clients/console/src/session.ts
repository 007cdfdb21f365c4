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

function storage(): Storage | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined;
  }
}

/** takeFragmentToken moves a #token=… into the session and clears it from the address bar. */
export function takeFragmentToken(): void {
  const m = /^#token=([^&]+)(?:&(.*))?$/.exec(location.hash);
  if (!m) return;
  save({ endpoint: location.origin, token: decodeURIComponent(m[1]) });
  history.replaceState(null, "", location.pathname + location.search + "#/files");
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

/** connect makes the client of a session. */
export function connect(s: Session): Client {
  return new Client({ endpoint: s.endpoint, token: s.token, scanWait: 0 });
}
