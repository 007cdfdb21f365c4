// Drives the console in headless Chromium (Debian's chromium,
// playwright-core) as a person would, screen by screen, runs axe-core on
// each and saves screenshots. Prints what it saw as JSON; exits 1 on the
// first step that did not go as it should. Run by console_test.go, which
// starts the server and seeds the account (SEED: what it made).
// Env: CHROMIUM, ANEXO_URL, ANEXO_TOKEN, SHOTS (a directory), WORK (files
// to upload: nota.txt, gravação-longa.bin), SEED (JSON).
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { holdParts, recorder, session } from "./chromium.mjs";

const { ANEXO_URL: url, ANEXO_TOKEN: token, SHOTS: shots, WORK: work } = process.env;
const seed = JSON.parse(process.env.SEED);
const { out, step, check, audit, watch } = await recorder(shots);

const rows = (page) => page.locator("main table tbody tr");
/** only waits until the list shows one file, named name. */
const only = (page, name) =>
  page.waitForFunction((name) => {
    const rs = document.querySelectorAll("main table tbody tr");
    return rs.length === 1 && rs[0].textContent.includes(name);
  }, name);
const heading = (page) => page.locator("main h1");

await session(out, async (browser) => {
  const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  watch(page);

  // Sign in: a wrong token is refused with the API's word; the right one opens the files
  await page.goto(url + "/");
  await page.getByLabel("Token").waitFor();
  await audit(page, "signin");
  await page.getByLabel("Token").fill("anx_not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "not accepted" }).waitFor();
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading(page).filter({ hasText: "Files" }).waitFor();
  step("sign-in: a wrong token refused, the right one opens Files");

  // Files: the first page, its thumbnails, the next page, search as you type, a filter
  await page.getByLabel("Per page").selectOption("25");
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 25);
  const thumb = page.locator("main table tbody tr", { hasText: "foto.png" }).locator("img");
  await thumb.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await thumb.elementHandle());
  await page.getByRole("button", { name: "Next page" }).click();
  await page.getByText("Page 2").waitFor();
  await page.waitForFunction((n) => document.querySelectorAll("main table tbody tr").length === n, seed.files - 25);
  await page.getByRole("button", { name: "Previous page" }).click();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 25);
  await audit(page, "files");
  await page.getByLabel("Search by name").pressSequentially("relat", { delay: 40 });
  await only(page, "relatório-anual.pdf");
  await page.getByLabel("Search by name").fill("");
  await page.getByText("Filters", { exact: true }).click();
  await page.getByLabel("Extensions").fill("png");
  await only(page, "foto.png");
  await page.getByLabel("Extensions").fill("");
  await page.getByRole("checkbox", { name: "Infected" }).check();
  await only(page, "eicar.com.txt");
  check((await rows(page).first().textContent()).includes("Infected"), "the EICAR file's row does not say Infected");
  await audit(page, "files-filtered");
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 25);
  step(`files: 25 + ${seed.files - 25} over two pages, thumbnail loaded, search, extension and scan filters`);

  // Keyboard: the skip link first, then the file's link, Enter opens it with focus on its heading
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length > 0);
  await page.keyboard.press("Tab");
  check((await page.evaluate(() => document.activeElement.textContent)) === "Skip to content", "the first Tab does not reach the skip link");
  const link = page.getByRole("link", { name: "contrato.txt" });
  await link.focus();
  await page.keyboard.press("Enter");
  await heading(page).filter({ hasText: "contrato.txt" }).waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "screen-title");
  step("keyboard: skip link first; Enter on a file's link opens it, focus on its heading");

  // A file: two versions, the older made main again, a download, where it is attached
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 2);
  await page.getByText(seed.entity).waitFor();
  await audit(page, "file");
  const mainBefore = await page.locator("main table tbody tr.selected").textContent();
  await page.getByRole("button", { name: /^Make main/ }).click();
  await page.getByRole("status").filter({ hasText: "main one now" }).waitFor();
  await page.waitForFunction((before) => {
    const sel = document.querySelector("main table tbody tr.selected");
    return sel && sel.textContent !== before;
  }, mainBefore);
  const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download", exact: true }).click()]);
  const body = await readFile(await dl.path(), "utf8");
  check(body === "contrato, primeira versão\n", `the download after make-main holds ${JSON.stringify(body)}`);
  check(dl.suggestedFilename() === "contrato.txt", `download named ${dl.suggestedFilename()}`);
  step("file: make-main moved the main version; the download is the older version's bytes, named contrato.txt; attached to the lead");

  // Trash: trash a file from the list, restore it from the trash, purge the old one after confirming
  await page.goto(url + "/#/files");
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length > 0);
  await page.getByRole("checkbox", { name: "Select documento-00.txt" }).check();
  await page.getByRole("button", { name: "Move to trash" }).click();
  await page.getByRole("status").filter({ hasText: "1 moved to the trash" }).waitFor();
  await page.getByRole("link", { name: "Trash" }).click();
  await heading(page).filter({ hasText: "Trash" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 2);
  await audit(page, "trash");
  await page.getByRole("checkbox", { name: "Select documento-00.txt" }).check();
  await page.getByRole("button", { name: "Restore" }).click();
  await page.getByRole("status").filter({ hasText: "1 restored" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 1);
  await page.getByRole("checkbox", { name: "Select antigo.txt" }).check();
  await page.getByRole("button", { name: "Delete forever" }).click();
  const dialog = page.getByRole("dialog", { name: /Delete 1 files forever/ });
  await dialog.waitFor();
  await audit(page, "trash-confirm");
  await page.keyboard.press("Escape"); // cancel: nothing happens
  await dialog.waitFor({ state: "hidden" });
  check((await rows(page).count()) === 1, "Escape in the dialog purged");
  await page.getByRole("button", { name: "Delete forever" }).click();
  await dialog.getByRole("button", { name: "Delete forever" }).click();
  await page.getByRole("status").filter({ hasText: "1 deleted forever" }).waitFor();
  await page.getByText("The trash is empty.").waitFor();
  step("trash: trashed from Files, restored, purged after a confirmation (Escape cancels)");

  // Tokens: mint one and see its secret once, rotate it (the old secret ends at once), revoke it
  await page.getByRole("link", { name: "Tokens" }).click();
  await heading(page).filter({ hasText: "Tokens" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length >= 1);
  await page.getByLabel("Name").fill("CRM do cliente");
  await page.getByRole("checkbox", { name: "files:write" }).check();
  await page.getByLabel("Web origin").fill("https://crm.example.com");
  await page.getByRole("combobox", { name: /^Expires/ }).selectOption("month");
  await page.getByRole("button", { name: "Create token" }).click();
  const first = await page.getByTestId("secret").textContent();
  const works = async (secret) =>
    (await fetch(`${url}/v1/usage`, { headers: { Authorization: `Bearer ${secret}`, Origin: "https://crm.example.com" } })).status === 200;
  check(/^anx_/.test(first) && (await works(first)), `the new token's secret ${first.slice(0, 8)}… does not work`);
  check((await fetch(`${url}/v1/usage`, { headers: { Authorization: `Bearer ${first}`, Origin: "https://other.example.com" } })).status === 403, "the token answers another origin");
  await page.locator("main table tbody tr", { hasText: "CRM do cliente" }).getByText("https://crm.example.com").waitFor();
  await audit(page, "tokens");
  await page.getByRole("button", { name: "I have saved it" }).click();
  await page.getByTestId("secret").waitFor({ state: "detached" });
  await page.getByRole("combobox", { name: /^After a rotation/ }).selectOption("now");
  await page.getByRole("button", { name: "Rotate CRM do cliente" }).click();
  await page.waitForFunction((old) => {
    const el = document.querySelector("[data-testid=secret]");
    return el && el.textContent !== old;
  }, first);
  const second = await page.getByTestId("secret").textContent();
  check((await works(second)) && !(await works(first)), "after a rotation with no grace: the new secret must work and the old must not");
  await page.getByRole("button", { name: "I have saved it" }).click();
  await page.getByRole("button", { name: "Revoke CRM do cliente" }).click();
  await page.getByRole("dialog", { name: "Revoke CRM do cliente?" }).getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("status").filter({ hasText: "CRM do cliente is revoked" }).waitFor();
  await page.locator("main table tbody tr", { hasText: "CRM do cliente" }).getByText("Revoked").waitFor();
  check(!(await works(second)), "a revoked token's secret still works");
  step("tokens: minted for an origin (secret shown once, works from it, refused from another), rotated with no grace (old secret refused), revoked after a confirmation (refused)");

  // Webhooks: add one (its secret once), a test delivery, off and on again, its deliveries, one sent again
  await page.getByRole("link", { name: "Webhooks" }).click();
  await heading(page).filter({ hasText: "Webhooks" }).waitFor();
  await page.getByLabel("Endpoint URL (https)").fill("http://crm.example.com/hooks");
  await page.getByRole("button", { name: "Add webhook" }).click();
  await page.getByRole("alert").filter({ hasText: "Field url" }).waitFor(); // the API's problem, its field named
  await page.getByLabel("Endpoint URL (https)").fill(process.env.RECEIVER);
  await page.getByLabel("Description").fill("CRM");
  await page.getByRole("checkbox", { name: "file.created" }).check();
  await page.getByRole("checkbox", { name: "file.trashed" }).check();
  await page.getByRole("button", { name: "Add webhook" }).click();
  check(/^whsec_/.test(await page.getByTestId("secret").textContent()), "no whsec_ secret shown");
  await page.getByRole("button", { name: "I have saved it" }).click();
  await page.getByRole("button", { name: `Send a test ${process.env.RECEIVER}` }).click();
  await page.locator(".tested").filter({ hasText: "Test delivery: Delivered" }).filter({ hasText: "204" }).waitFor();
  await audit(page, "webhooks");
  await page.getByRole("button", { name: `Switch off ${process.env.RECEIVER}` }).click();
  await page.getByRole("status").filter({ hasText: "is off" }).waitFor();
  await page.getByRole("button", { name: `Switch on ${process.env.RECEIVER}` }).click();
  await page.getByRole("status").filter({ hasText: "is on" }).waitFor();
  // the list reloaded (a click during its render can land elsewhere on a busy machine)
  await page.getByRole("button", { name: `Switch off ${process.env.RECEIVER}` }).waitFor();
  await page.getByRole("link", { name: `Deliveries ${process.env.RECEIVER}` }).click();
  await heading(page).filter({ hasText: "Deliveries" }).waitFor();
  await page.getByRole("combobox", { name: /^State/ }).selectOption("delivered");
  const delivered = page.locator("ul.cards li", { hasText: "webhook.test" });
  await delivered.first().waitFor();
  await delivered.first().getByText(/attempts/).click();
  await audit(page, "deliveries");
  await delivered.first().getByRole("button", { name: /^Send again/ }).click();
  await page.getByRole("status").filter({ hasText: "webhook.test sent again: Delivered" }).waitFor();
  const hourAgo = new Date(Date.now() - 3600_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await page.getByLabel("Send again every event since").fill(hourAgo);
  await page.getByRole("button", { name: "Recover" }).click();
  await page.getByRole("status").filter({ hasText: "is on its way again" }).waitFor();
  step("webhooks: an http URL refused (the problem names the field url), added (whsec_ secret once), a test delivered (204), switched off and on, its deliveries filtered, one sent again, an hour recovered");

  // Events: the feed live; a file trashed elsewhere shows up within seconds
  await page.getByRole("link", { name: "Events" }).click();
  await heading(page).filter({ hasText: "Events" }).waitFor();
  await page.locator("ol.events li", { hasText: "file.created" }).first().waitFor();
  const victim = await (await fetch(`${url}/v1/files?filter[name]=documento-01.txt`, { headers: { Authorization: `Bearer ${token}` } })).json();
  const uuid = victim._embedded.files[0].uuid;
  const trashed = await fetch(`${url}/v1/files`, { method: "DELETE", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify([{ uuid }]) });
  check(trashed.ok, `trashing documento-01.txt: ${trashed.status}`);
  try {
    await page.locator("ol.events li").first().filter({ hasText: "file.trashed" }).filter({ hasText: "documento-01.txt" }).waitFor({ timeout: 15000 });
  } catch (e) {
    throw new Error(`the trash did not reach the tail: ${JSON.stringify(await page.locator("ol.events li").evaluateAll((ls) => ls.slice(0, 4).map((l) => l.textContent)))}`);
  }
  await audit(page, "events");
  step("events: the feed from an hour ago, then a file trashed through the API appears at the top within seconds");

  // The Media tab: a lead's files; attach one found by name, detach another
  await page.getByRole("link", { name: "Media tab" }).click();
  await heading(page).filter({ hasText: "Media tab" }).waitFor();
  await page.getByLabel("UUID or code").fill("9001");
  await page.getByRole("button", { name: "Open" }).click();
  await heading(page).filter({ hasText: `${seed.entity} · Media` }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 1);
  await page.getByLabel("Search by name").fill("foto");
  await page.getByRole("checkbox", { name: /foto\.png/ }).check();
  await page.getByRole("button", { name: "Attach 1 selected" }).click();
  await page.getByRole("status").filter({ hasText: "1 attached." }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 2);
  await audit(page, "entity");
  await page.getByRole("button", { name: "Detach contrato.txt" }).click();
  await page.getByRole("status").filter({ hasText: "contrato.txt detached." }).waitFor();
  await only(page, "foto.png");
  step("media tab: lead 9001 by its code; foto.png found by name and attached, contrato.txt detached");

  // File requests: one for lead 9001 (its link shown once), a new link (another), withdrawn after a confirmation
  await page.getByRole("link", { name: "File requests" }).click();
  await heading(page).filter({ hasText: "File requests" }).waitFor();
  await page.getByRole("combobox", { name: /^Type/ }).selectOption("lead");
  await page.getByLabel("UUID or code").fill("9001");
  await page.getByLabel("What you ask for").fill("Contrato assinado");
  await page.getByLabel("Document 1", { exact: true }).fill("Contrato");
  await page.getByLabel("Types of document 1 (empty: any)").fill(".pdf");
  await page.getByRole("button", { name: "Create the request" }).click();
  const firstLink = await page.getByTestId("secret").textContent();
  check(firstLink.startsWith(url + "/request.html#anr_"), `the request's link: ${firstLink}`);
  await page.locator("article", { hasText: "Contrato assinado" }).filter({ hasText: "Contrato * (0/1)" }).waitFor();
  await audit(page, "requests");
  await page.getByRole("button", { name: "I have saved it" }).click();
  await page.getByRole("button", { name: "New link Contrato assinado" }).click();
  const secondLink = await page.getByTestId("secret").textContent();
  check(secondLink !== firstLink && secondLink.startsWith(url + "/request.html#anr_"), "a new link is not another link");
  await page.getByRole("button", { name: "I have saved it" }).click();
  await page.getByRole("button", { name: "Withdraw Contrato assinado" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Withdraw" }).click();
  await page.getByRole("status").filter({ hasText: "Contrato assinado withdrawn" }).waitFor();
  await page.locator("article", { hasText: "Contrato assinado" }).filter({ hasText: "revoked" }).waitFor();
  step("file requests: one made for lead 9001 (link shown once), a new link, withdrawn after a confirmation");

  // Upload: two files at once; the big one paused after its first part, the page reloaded,
  // the same file chosen again: it goes on from what storage holds
  const held = await holdParts(page, 1500); // slow enough to pause
  await page.getByRole("link", { name: "Upload" }).click();
  await heading(page).filter({ hasText: "Upload" }).waitFor();
  await page.setInputFiles("input[data-testid=files]", [join(work, "nota.txt"), join(work, "gravação-longa.bin")]);
  await page.locator("li.upload.completed", { hasText: "nota.txt" }).waitFor();
  await held.waitPart1(2); // nota.txt's part, then the big file's first
  await page.getByRole("button", { name: "Pause gravação-longa.bin" }).click();
  await page.locator("li.upload.paused", { hasText: "gravação-longa.bin" }).waitFor();
  await audit(page, "upload");
  await page.reload();
  await page.getByRole("heading", { name: "Interrupted uploads" }).waitFor();
  check((await page.locator(".interrupted li").textContent()).includes("gravação-longa.bin"), "the interrupted upload is not listed after the reload");
  held.parts = [];
  await page.setInputFiles("input[data-testid=files]", [join(work, "gravação-longa.bin")]);
  await page.locator("li.upload.completed", { hasText: "gravação-longa.bin" }).waitFor({ timeout: 60000 });
  check(!held.parts.includes(1), `after the reload part 1 was sent again (parts ${held.parts})`);
  check((await page.locator(".interrupted").count()) === 0, "the interrupted list stays after the upload");
  step(`upload: nota.txt and a 21 MiB file in parallel; paused, reloaded, resumed with parts ${held.parts.sort((a, b) => a - b)} (part 1 was in storage)`);
  // a folder (its files with their paths) and a drop
  await page.setInputFiles("input[data-testid=folder]", join(work, "pasta"));
  await page.locator("li.upload.completed", { hasText: "pasta/a.txt" }).waitFor();
  await page.locator("li.upload.completed", { hasText: "pasta/sub/b.txt" }).waitFor();
  const dropped = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["solto\n"], "solto.txt", { type: "text/plain" }));
    return dt;
  });
  await page.dispatchEvent(".dropzone", "drop", { dataTransfer: dropped });
  await page.locator("li.upload.completed", { hasText: "solto.txt" }).waitFor();
  step("upload: a folder's files with their paths, and a dropped file");
  await page.unroute(() => true);
  await ctx.close();

  // Brazilian Portuguese, from the browser's language; the token from the link, cleared at once
  const pt = await browser.newContext({ locale: "pt-BR", viewport: { width: 1280, height: 900 } });
  const ptPage = await pt.newPage();
  watch(ptPage);
  await ptPage.goto(`${url}/#token=${encodeURIComponent(token)}`);
  await heading(ptPage).filter({ hasText: "Arquivos" }).waitFor();
  check(!ptPage.url().includes(token) && ptPage.url().endsWith("#/files"), `the token stays in the address bar: ${ptPage.url()}`);
  check((await ptPage.evaluate(() => document.documentElement.lang)) === "pt-BR", "html lang is not pt-BR");
  await ptPage.getByRole("link", { name: "Lixeira" }).waitFor();
  await ptPage.waitForFunction(() => document.querySelectorAll("main table tbody tr").length > 0);
  // how soon a person sees something, and their files (a fresh load, the API on this machine)
  const timing = await ptPage.evaluate(() => ({
    fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
    listed: performance.now(),
    script: performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js")).map((r) => r.transferSize || r.encodedBodySize)[0],
  }));
  step(`first render: first contentful paint ${Math.round(timing.fcp)} ms, files listed by ${Math.round(timing.listed)} ms (upper bound), script ${timing.script} B`);
  await audit(ptPage, "files-pt-BR");
  step("pt-BR: chosen from the browser; a #token= link signs in and leaves the address bar at once");
  await pt.close();

  // A phone: 360 px wide, nothing wider than the screen
  const phone = await browser.newContext({ locale: "en-US", viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const phonePage = await phone.newPage();
  watch(phonePage);
  await phonePage.goto(`${url}/#token=${encodeURIComponent(token)}`);
  await phonePage.waitForFunction(() => document.querySelectorAll("main table tbody tr").length > 0);
  const width = await phonePage.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 360, `at 360 px the page is ${width} px wide`);
  await audit(phonePage, "files-360");
  step(`360 px: the files screen fits (${width} px)`);

  // the console's own token revoked: the next screen asks to sign in again, saying why
  const auth = { Authorization: `Bearer ${token}` };
  const mine = (await (await fetch(`${url}/v1/tokens`, { headers: auth })).json()).tokens.find((tk) => tk.name === "console");
  check((await fetch(`${url}/v1/tokens/${mine.id}`, { method: "DELETE", headers: auth })).ok, "revoking the console's token");
  await phonePage.getByRole("link", { name: "Trash" }).click();
  await phonePage.getByRole("alert").filter({ hasText: "no longer accepted" }).waitFor();
  await phonePage.getByLabel("Token").waitFor();
  check((await phonePage.evaluate(() => sessionStorage.length)) === 0, "the refused token stays in sessionStorage");
  step("a revoked token: the next screen asks to sign in again, and the token is forgotten");
  await phone.close();

  // the strict CSP held: nothing was refused, nothing threw
  const refused = out.console.filter((l) => /Content Security Policy|pageerror/.test(l));
  check(refused.length === 0, `the page broke its policy or threw: ${refused.join(" | ")}`);
});
