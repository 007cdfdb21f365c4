// Drives the page a file request's link opens, in headless Chromium, as
// the person the link was sent to: an expired, a revoked and an unknown
// link refused; the passcode (a wrong one first); a wrong type and an
// over-size file refused with the page's words; two slots filled, one
// upload interrupted by a reload and resumed from what storage holds;
// the malware verdicts awaited; the page in Brazilian Portuguese; then the
// deal's Media tab in the console, with the sender's name. axe-core on
// each state, screenshots. Prints what it saw as JSON; exits 1 on the
// first step that did not go as it should. Run by console_test.go.
// Env: CHROMIUM, ANEXO_URL, ANEXO_TOKEN, SHOTS, WORK (rg.pdf, foto-grande.jpg,
// programa.exe, comprovante.pdf), LINK, PASSCODE, EXPIRED, REVOKED, DEAL.
import { join } from "node:path";

import { holdParts, recorder, session } from "./chromium.mjs";

const { ANEXO_URL: url, ANEXO_TOKEN: token, SHOTS: shots, WORK: work, LINK: link, PASSCODE: passcode, EXPIRED: expired, REVOKED: revoked, DEAL: deal } = process.env;
const { out, step, check, audit, watch } = await recorder(shots);

const slot = (page, name) => page.locator("section.slot", { has: page.getByRole("heading", { name }) });

await session(out, async (browser) => {
  const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1024, height: 900 } });
  const page = await ctx.newPage();
  watch(page);

  // links that open nothing, each with the page's words
  await page.goto(expired);
  await page.getByRole("alert").filter({ hasText: "This request has expired" }).waitFor();
  check(!(await page.evaluate(() => location.hash)), "the expired link's secret stayed in the address bar");
  await audit(page, "request-expired");
  await page.goto(revoked);
  await page.getByRole("alert").filter({ hasText: "withdrawn" }).waitFor();
  await page.goto(url + "/request.html#anr_" + "x".repeat(43));
  await page.getByRole("alert").filter({ hasText: "does not open any request" }).waitFor();
  step("an expired, a revoked and an unknown link: each refused with what it means");

  // the passcode: a wrong one, then the right one
  await page.goto(link);
  await page.getByRole("heading", { name: "This request is protected" }).waitFor();
  await audit(page, "request-passcode");
  await page.getByLabel("Passcode").fill("not-it");
  await page.getByRole("button", { name: "Open" }).click();
  await page.getByRole("alert").filter({ hasText: "4 attempts left" }).waitFor();
  await page.getByLabel("Passcode").fill(passcode);
  await page.getByRole("button", { name: "Open" }).click();
  await page.getByRole("heading", { name: "Documentos para a venda" }).waitFor();
  check(!(await page.evaluate(() => location.hash)), "the link's secret stayed in the address bar");
  await page.getByLabel("Your name (optional)").fill("Maria Silva");
  await page.getByLabel("Your e-mail (optional)").fill("maria@example.com");
  await audit(page, "request");
  step("the passcode: a wrong one refused (4 attempts left), the right one opens the request; the secret left the address bar");

  // refused before any byte moves, in the page's words
  const rg = slot(page, "RG");
  await rg.locator("input[type=file]").setInputFiles(join(work, "programa.exe"));
  await rg.getByRole("alert").filter({ hasText: "not of a type this item takes (.pdf, image/*)" }).waitFor();
  await rg.getByRole("button", { name: "Close" }).click();
  await rg.locator("input[type=file]").setInputFiles(join(work, "foto-grande.jpg"));
  await rg.getByRole("alert").filter({ hasText: "too large: this item takes files of up to 1 MB" }).waitFor();
  await audit(page, "request-refused");
  await rg.getByRole("button", { name: "Close" }).click();
  step("a .exe and a 2 MiB photo refused in the RG slot, each with its reason");

  await rg.locator("input[type=file]").setInputFiles(join(work, "rg.pdf"));
  await rg.locator("li", { hasText: "rg.pdf" }).waitFor();
  step("rg.pdf sent into RG");

  // the proof of address: interrupted by a reload after its first part, then resumed
  const held = await holdParts(page, 3000); // slow enough to reload first
  await slot(page, "Comprovante de residência").locator("input[type=file]").setInputFiles(join(work, "comprovante.pdf"));
  await held.waitPart1();
  await page.reload();
  const proof = slot(page, "Comprovante de residência");
  await proof.getByRole("status").filter({ hasText: "comprovante.pdf was interrupted" }).waitFor();
  held.parts = [];
  await page.getByLabel("Your name (optional)").fill("Maria Silva");
  await proof.locator("input[type=file]").setInputFiles(join(work, "comprovante.pdf"));
  await proof.locator("li", { hasText: "comprovante.pdf" }).waitFor({ timeout: 60000 });
  check(!held.parts.includes(1), `after the reload part 1 was sent again (parts ${held.parts})`);
  step(`comprovante.pdf (21 MiB): reloaded after its first part, chosen again, resumed with parts ${held.parts.sort((a, b) => a - b)}`);
  await page.unroute(() => true);

  // the verdicts: each file checked, then received; the request fulfilled
  await page.getByText("Everything required has been received").waitFor({ timeout: 30000 });
  check((await page.locator("li.receipt-attached").count()) === 2, "both files are not shown received");
  await audit(page, "request-fulfilled");
  step("both files received after their malware verdicts; the request says it is fulfilled");
  await ctx.close();

  // Brazilian Portuguese
  const pt = await browser.newContext({ locale: "pt-BR", viewport: { width: 360, height: 780 } });
  const ptPage = await pt.newPage();
  watch(ptPage);
  await ptPage.goto(link);
  await ptPage.getByRole("heading", { name: "Esta solicitação é protegida" }).waitFor();
  await ptPage.getByLabel("Senha").fill(passcode);
  await ptPage.getByRole("button", { name: "Abrir" }).click();
  await ptPage.getByText("Tudo o que era obrigatório foi recebido").waitFor();
  await audit(ptPage, "request-pt-BR");
  step("the page in Brazilian Portuguese on a phone-sized screen");
  await pt.close();

  // the deal's Media tab in the console: the files, with who sent them
  const con = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const cPage = await con.newPage();
  watch(cPage);
  await cPage.goto(`${url}/#token=${token}`);
  await cPage.locator("main h1").filter({ hasText: "Files" }).waitFor(); // signed in
  await cPage.evaluate((deal) => (location.hash = `#/entities/deal/${deal}`), deal);
  await cPage.locator("main h1").filter({ hasText: "Media" }).waitFor();
  const rows = cPage.locator("main table tbody tr");
  await rows.first().waitFor();
  await cPage.waitForFunction(() => document.querySelectorAll("main table tbody tr").length >= 2, null, { timeout: 10000 }).catch(() => undefined);
  const texts = await rows.allTextContents();
  for (const name of ["rg.pdf", "comprovante.pdf"]) {
    check(texts.some((x) => x.includes(name) && x.includes("Maria Silva (file request)")), `the Media tab lacks ${name} from Maria Silva: ${texts.join(" | ")}`);
  }
  await cPage.screenshot({ path: join(shots, "request-media-tab.png"), fullPage: true });
  step("the deal's Media tab lists both files, sent by Maria Silva");
  await con.close();
});
