// A file request's link from Node, against a running Anexo (ANEXO_URL,
// ANEXO_TOKEN: the Go test starts one): the request made with the token,
// then read and filled with the link alone.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";

import { AnexoError, Client, FileRequest, linkSecret } from "../dist/node.js";

const endpoint = process.env.ANEXO_URL;
const token = process.env.ANEXO_TOKEN;
const MiB = 1 << 20;

describe("a file request's link", { skip: !endpoint && "ANEXO_URL and ANEXO_TOKEN are not set (the Go test sets them)" }, () => {
  const c = new Client({ endpoint, token });

  test("reads the request, refuses a wrong type and a wrong passcode, and sends files into slots, resumed after a crash", async () => {
    await c.call(c.api.PUT("/v1/entities/{entity_type}/{entity_id}", { params: { path: { entity_type: "deal", entity_id: "4242" } }, body: { title: "Node" } }));
    const made = await c.call(c.api.POST("/v1/file-requests", {
      body: {
        entity: { type: "deal", id: "4242" }, title: "Contratos", passcode: "segredo-1",
        slots: [{ name: "Contrato", required: true, accept: [".pdf"] }, { name: "Anexos", max_files: 2 }],
      },
    }));
    assert.equal(linkSecret(made.link.url ?? made.link.secret), made.link.secret);
    const wrong = new FileRequest({ endpoint, link: made.link.url ?? made.link.secret, passcode: "not-it" });
    await assert.rejects(wrong.view(), (e) => e instanceof AnexoError && e.code === "passcode_wrong" && e.status === 401);
    const req = new FileRequest({ endpoint, link: made.link.secret, passcode: "segredo-1" });
    const view = await req.view();
    assert.equal(view.title, "Contratos");
    assert.deepEqual(view.slots.map((s) => s.name), ["Contrato", "Anexos"]);

    const dir = await mkdtemp(join(tmpdir(), "anexo-js-req-"));
    await writeFile(join(dir, "contrato.exe"), randomBytes(10));
    await assert.rejects(req.upload(join(dir, "contrato.exe"), { slot: "Contrato" }),
      (e) => e instanceof AnexoError && e.code === "type_not_accepted" && e.field === "file_name");

    // a crash after the first part: the same call goes on in the same session
    const path = join(dir, "contrato.pdf");
    await writeFile(path, randomBytes(20 * MiB + 3));
    const ctl = new AbortController();
    let session;
    await req.upload(path, { slot: "Contrato", parallel: 1, signal: ctl.signal, onSession: (id) => (session = id), onProgress: (p) => p.loaded >= 8 * MiB && ctl.abort() })
      .then(() => assert.fail("not interrupted"), (e) => assert.equal(e.name, "AbortError"));
    const up = new FileRequest({ endpoint, link: made.link.secret, passcode: "segredo-1" }).createUpload(path, { slot: "Contrato", uploader: { name: "Ana" } });
    let resumed;
    up.addEventListener("session", (e) => (resumed = e.detail));
    const got = await up.start();
    assert.equal(resumed, session, "the remembered session was not resumed");
    assert.equal(got.receipt.name, "contrato.pdf");
    assert.equal(got.file_request.slots[0].received.length, 1);

    const extra = await req.upload(randomBytes(1000), { slot: "Anexos", name: "nota.txt", uploader: { name: "Ana", email: "ana@example.com" } });
    assert.equal(extra.receipt.size, 1000);
    const adm = await c.call(c.api.GET("/v1/file-requests/{id}", { params: { path: { id: made.file_request.id } } }));
    assert.equal(adm.received.length, 2);
    assert.equal(adm.status, "fulfilled");
  });
});
