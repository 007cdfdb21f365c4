// A page on its own origin (not the API's) that uploads a picked File with
// @anexo/client as a bundler builds it: progress within parts, the session
// remembered in localStorage, so the same File picked after a reload goes
// on; then it downloads the file through downloadURL and hashes it.
// crossorigin.mjs drives it in headless Chromium (TestPackageInBrowser).
import { Client } from "@anexo/client";

// the token comes in the fragment once, leaves the address bar at once and
// stays in this tab's sessionStorage (so a reload keeps it)
const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? sessionStorage.getItem("anexo-token");
sessionStorage.setItem("anexo-token", token);
history.replaceState(null, "", location.pathname + location.search);
const api = new URLSearchParams(location.search).get("api");
const anexo = new Client({ endpoint: api, token });
const state = (window.anexoState = { progress: [], sessions: [], ready: true, remembered: Object.keys(localStorage).filter((k) => k.startsWith("anexo:upload:")).length });

document.querySelector("#pick").addEventListener("change", async (e) => {
  const picked = e.target.files[0];
  const up = anexo.createUpload(picked, { parallel: 1 });
  up.addEventListener("session", (ev) => state.sessions.push(ev.detail));
  up.addEventListener("progress", (ev) => state.progress.push(ev.detail.loaded));
  try {
    const file = await up.start();
    const res = await fetch(await anexo.downloadURL(file.uuid));
    const digest = await crypto.subtle.digest("SHA-256", await res.arrayBuffer());
    state.done = { uuid: file.uuid, size: file.size, sha256: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("") };
  } catch (err) {
    state.error = `${err.name}: ${err.message}`;
  }
});
