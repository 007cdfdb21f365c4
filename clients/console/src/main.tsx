// Anexo's files console. The token of a #token=… link is taken (and
// cleared from the address bar) before anything renders.
import "./style.css";

import { render } from "preact";

import { App } from "./app.js";
import { takeFragmentToken } from "./session.js";

takeFragmentToken();
render(<App />, document.getElementById("app")!);
