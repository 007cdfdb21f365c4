// Anexo's files console. The token of a #token=… link is taken (and
// cleared from the address bar) before anything renders.
import "./style.css";

import { render } from "preact";

import { App } from "./app.js";
import { loadConfig, takeFragmentToken } from "./session.js";

// the token leaves the address bar before the configuration is read
const fragment = location.hash;
history.replaceState(null, "", location.pathname + location.search + (/^#token=/.test(fragment) ? "#/files" : fragment));
await loadConfig();
takeFragmentToken(fragment);
render(<App />, document.getElementById("app")!);
