// Events: the account's feed as it happens (the feed serves an event once
// its order is final, about 30 s after it; the screen says so). The screen asks GET /v1/events
// from a starting time, then again every 2 seconds after the last cursor
// (the feed's own paging: nothing is missed or shown twice), newest first,
// filtered by type; pause stops asking. It keeps the last 500 on screen.
import type { Client, Schemas } from "@anexo/client";
import { useEffect, useRef, useState } from "preact/hooks";

import { t, when } from "../i18n.js";
import { href } from "../route.js";
import { Problem } from "../ui.js";
import { TypeSelect, useEventTypes } from "./webhooks.js";

type Event = Schemas["Event"];
type EventType = Schemas["EventType"];
const KEEP = 500;
const EVERY = 2000;
const windows: [string, number][] = [["now", 0], ["hour", 3600], ["day", 86400]];

export function EventsScreen({ client }: { client: Client }) {
  const types = useEventTypes(client);
  const [events, setEvents] = useState<Event[]>([]);
  const [chosen, setChosen] = useState<"" | EventType>("");
  const [from, setFrom] = useState("hour");
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState<unknown>();
  const cursor = useRef<string | undefined>(undefined);

  // a new type or starting time starts the tail again
  useEffect(() => {
    cursor.current = undefined;
    setEvents([]);
  }, [chosen, from]);
  useEffect(() => {
    if (paused) return;
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout>;
    const since = new Date(Date.now() - (windows.find(([k]) => k === from)?.[1] ?? 0) * 1000).toISOString();
    const poll = async () => {
      try {
        for (;;) {
          const p = await client.call(
            client.api.GET("/v1/events", {
              params: { query: { after: cursor.current, since: cursor.current ? undefined : since, limit: 100, "type[]": chosen ? [chosen] : undefined } },
              signal: ctl.signal,
            }),
          );
          cursor.current = p._page.next_cursor;
          const got = p._embedded.events;
          if (got.length) setEvents((es) => [...got.slice().reverse(), ...es].slice(0, KEEP));
          setError(undefined);
          if (got.length < 100) break; // caught up
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
        setError(e);
      }
      timer = setTimeout(poll, EVERY);
    };
    void poll();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [client, chosen, from, paused]);

  // the file an event is about (its data's file, or an attachment's), linked unless purged
  const fileOf = (e: Event) => {
    const d = e.data as { file?: { uuid: string; name: string }; file_uuid?: string };
    const uuid = d.file?.uuid ?? d.file_uuid;
    if (!uuid) return null;
    const name = d.file?.name ?? uuid;
    return e.type === "file.purged" ? name : <a href={href({ name: "file", uuid })}>{name}</a>;
  };

  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title" tabIndex={-1}>
        {t("events.title")}
      </h1>
      <p class="muted">{t("events.lag")}</p>
      <div class="toolbar">
        <TypeSelect label={t("events.type")} types={types} value={chosen} onChange={setChosen} />
        <label>
          <span>{t("events.from")}</span>
          <select value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
            {windows.map(([k]) => (
              <option key={k} value={k}>
                {t(`events.from.${k}` as "events.from.now")}
              </option>
            ))}
          </select>
        </label>
        <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? t("events.resume") : t("events.pause")}
        </button>
        <span class="muted" role="status">
          {paused ? t("events.paused") : t("events.live")}
        </span>
      </div>
      <Problem error={error} />
      {events.length === 0 && <p class="empty">{t("events.none")}</p>}
      <ol class="events" aria-label={t("events.title")}>
        {events.map((e) => (
          <li key={e.id}>
            <code class="type">{e.type}</code> <span class="muted small">{when(e.time)}</span> {fileOf(e)}
            <details>
              <summary>{t("events.data")}</summary>
              <pre class="excerpt" tabIndex={0}>
                {JSON.stringify(e.data, null, 2)}
              </pre>
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}
