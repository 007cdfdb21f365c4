// Routes live in the URL's fragment (#/files, #/files/<uuid>, …): the
// console is static files, served from any path, with no server routes.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "files" }
  | { name: "file"; uuid: string }
  | { name: "trash" }
  | { name: "upload" }
  | { name: "tokens" }
  | { name: "webhooks" }
  | { name: "deliveries"; id: string }
  | { name: "events" }
  | { name: "requests" }
  | { name: "entity"; type?: string; id?: string };

export function parse(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "files":
      return parts[1] ? { name: "file", uuid: parts[1] } : { name: "files" };
    case "trash":
      return { name: "trash" };
    case "upload":
      return { name: "upload" };
    case "tokens":
      return { name: "tokens" };
    case "webhooks":
      return parts[1] && parts[2] === "deliveries" ? { name: "deliveries", id: parts[1] } : { name: "webhooks" };
    case "events":
      return { name: "events" };
    case "requests":
      return { name: "requests" };
    case "entities":
      return { name: "entity", type: parts[1] || undefined, id: parts[2] || undefined };
  }
  return { name: "files" };
}

export function href(r: Route): string {
  switch (r.name) {
    case "file":
      return `#/files/${encodeURIComponent(r.uuid)}`;
    case "deliveries":
      return `#/webhooks/${encodeURIComponent(r.id)}/deliveries`;
    case "entity":
      return r.type && r.id ? `#/entities/${encodeURIComponent(r.type)}/${encodeURIComponent(r.id)}` : "#/entities";
    default:
      return `#/${r.name}`;
  }
}

/** useRoute is the current route, following the fragment. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
