// The console's frame: sign-in, the navigation, and the screen the
// fragment names. Focus moves to each new screen's heading, as a page load
// would put it, so keyboard and screen-reader users know where they are.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { lang, t } from "./i18n.js";
import { href, type Route, useRoute } from "./route.js";
import { FileScreen } from "./screens/file.js";
import { FilesScreen } from "./screens/files.js";
import { SignIn } from "./screens/signin.js";
import { EntityScreen } from "./screens/entity.js";
import { EventsScreen } from "./screens/events.js";
import { RequestsScreen } from "./screens/requests.js";
import { TokensScreen } from "./screens/tokens.js";
import { DeliveriesScreen, WebhooksScreen } from "./screens/webhooks.js";
import { UploadScreen } from "./screens/upload.js";
import { clear, connect, load, save, type Session } from "./session.js";

const nav: { route: Route; label: () => string }[] = [
  { route: { name: "files" }, label: () => t("nav.files") },
  { route: { name: "upload" }, label: () => t("nav.upload") },
  { route: { name: "trash" }, label: () => t("nav.trash") },
  { route: { name: "entity" }, label: () => t("nav.entity") },
  { route: { name: "requests" }, label: () => t("nav.requests") },
  { route: { name: "events" }, label: () => t("nav.events") },
  { route: { name: "webhooks" }, label: () => t("nav.webhooks") },
  { route: { name: "tokens" }, label: () => t("nav.tokens") },
];

export function App() {
  const [session, setSession] = useState<Session | undefined>(load);
  const [refused, setRefused] = useState(false);
  const route = useRoute();
  const client = useMemo(
    () =>
      session &&
      connect(session, () => {
        clear();
        setSession(undefined);
        setRefused(true);
      }),
    [session],
  );

  useEffect(() => {
    document.documentElement.lang = lang;
  }, []);
  const loaded = useRef(false);
  useEffect(() => {
    document.title = `${t("app.title")} · ${nav.find((n) => n.route.name === route.name)?.label() ?? t("file.title")}`;
    // a page load starts at the top (the skip link); a new screen at its heading
    if (loaded.current) document.getElementById("screen-title")?.focus({ preventScroll: true });
    loaded.current = true;
  }, [route]);

  if (!session || !client) {
    return (
      <SignIn
        refused={refused}
        onSignIn={(s) => {
          save(s);
          setRefused(false);
          setSession(s);
        }}
      />
    );
  }
  const current = route.name === "file" ? "files" : route.name === "deliveries" ? "webhooks" : route.name;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        {t("app.skip")}
      </a>
      <header class="top">
        <a class="brand" href={href({ name: "files" })}>
          {t("app.title")}
        </a>
        <nav aria-label={t("nav.label")}>
          <ul>
            {nav.map((n) => (
              <li key={n.route.name}>
                <a href={href(n.route)} aria-current={current === n.route.name ? "page" : undefined}>
                  {n.label()}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="link"
          onClick={() => {
            clear();
            setSession(undefined);
          }}
        >
          {t("nav.signout")}
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.name === "files" && <FilesScreen key="files" client={client} trash={false} />}
        {route.name === "trash" && <FilesScreen key="trash" client={client} trash />}
        {route.name === "file" && <FileScreen key={route.uuid} client={client} uuid={route.uuid} />}
        {route.name === "upload" && <UploadScreen client={client} />}
        {route.name === "tokens" && <TokensScreen client={client} />}
        {route.name === "webhooks" && <WebhooksScreen client={client} />}
        {route.name === "deliveries" && <DeliveriesScreen key={route.id} client={client} id={route.id} />}
        {route.name === "events" && <EventsScreen client={client} />}
        {route.name === "requests" && <RequestsScreen client={client} />}
        {route.name === "entity" && <EntityScreen key={`${route.type}/${route.id}`} client={client} type={route.type} id={route.id} />}
      </main>
    </>
  );
}
