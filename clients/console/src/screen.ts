// What every screen does around the API: read (again after each action),
// act, show the error, announce the outcome.
import { useEffect, useState } from "preact/hooks";

/** useScreen is a screen's error, message and reload count; run does an action. */
export function useScreen() {
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState("");
  const [reload, setReload] = useState(0);
  /** run does f, announces the message it returns, and reads the screen again; or shows its error. */
  const run = async (f: () => Promise<string | void>) => {
    setError(undefined);
    setMessage("");
    try {
      const m = await f();
      if (m) setMessage(m);
      setReload((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };
  return { error, setError, message, reload, run, again: () => setReload((n) => n + 1) };
}

/** useLoad reads with load when deps change (the read before aborted), handing the result to done. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, done: (v: T) => void, failed: (e: unknown) => void, deps: unknown[]) {
  useEffect(() => {
    const ctl = new AbortController();
    load(ctl.signal).then(
      (v) => ctl.signal.aborted || done(v),
      (e) => ctl.signal.aborted || failed(e),
    );
    return () => ctl.abort();
  }, deps);
}
