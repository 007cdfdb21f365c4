// A file: its details and preview, its versions (download any, make an
// older one main again), where it is attached; trash or restore it.
import type { Client, File, Schemas } from "@anexo/client";
import { useState } from "preact/hooks";

import { bytes, t, when } from "../i18n.js";
import { href } from "../route.js";
import { useLoad, useScreen } from "../screen.js";
import { Problem, ScanBadge, Status } from "../ui.js";

type Version = Schemas["Version"];
type Usage = Schemas["AttachmentFields"] & { entity?: Schemas["Entity"] };

/** download sends the browser to a version's short-lived link (a save, as Content-Disposition says). */
async function download(client: Client, uuid: string, version?: string) {
  const url = await client.downloadURL(uuid, version);
  const a = document.createElement("a");
  a.href = url;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
}

export function FileScreen({ client, uuid }: { client: Client; uuid: string }) {
  const [file, setFile] = useState<File>();
  const [versions, setVersions] = useState<Version[]>([]);
  const [usages, setUsages] = useState<Usage[]>([]);
  const { error, setError, message, reload, run, again } = useScreen();

  useLoad(
    (signal) =>
      Promise.all([
        client.call(client.api.GET("/v1/files/{uuid}", { params: { path: { uuid } }, signal })),
        client.call(client.api.GET("/v1/files/{uuid}/versions", { params: { path: { uuid } }, signal })),
        client.call(client.api.GET("/v1/files/{uuid}/usages", { params: { path: { uuid } }, signal })),
      ]),
    ([f, vs, us]) => {
      setFile(f);
      setVersions(vs._embedded.versions ?? []);
      setUsages((us._embedded.usages ?? []) as Usage[]);
    },
    setError,
    [client, uuid, reload],
  );

  const promote = (v: Version) =>
    run(async () => {
      await client.call(client.api.POST("/v1/files/{uuid}/versions/{version_uuid}/promote", { params: { path: { uuid, version_uuid: v.version_uuid } } }));
      return t("file.promoted");
    });
  const trash = (restore: boolean) =>
    run(async () => {
      const res = restore
        ? await client.call(client.api.POST("/v1/files/restore", { body: [{ uuid }] }))
        : await client.call(client.api.DELETE("/v1/files", { body: [{ uuid }] }));
      const r = res._embedded.files[0];
      if (r?.status === "error") throw new Error(String(r.error?.detail ?? r.error?.code));
      return restore ? t("trash.restored", { n: 1 }) : t("files.trashed", { n: 1 });
    });

  const big = file?.previews?.filter((p) => p.url).sort((a, b) => b.size - a.size)[0];
  return (
    <section aria-labelledby="screen-title">
      <p>
        <a href={href({ name: file?.is_trashed ? "trash" : "files" })}>← {file?.is_trashed ? t("trash.title") : t("file.back")}</a>
      </p>
      <h1 id="screen-title" tabIndex={-1}>
        {file?.name ?? t("file.title")}
      </h1>
      {message && <Status message={message} />}
      <Problem error={error} onRetry={again} />
      {file && (
        <>
          {file.is_trashed && <p class="notice">{t("file.trashed")}</p>}
          <div class="toolbar">
            {!file.is_trashed && (
              <button type="button" class="primary" onClick={() => download(client, uuid).catch(setError)}>
                {t("file.download")}
              </button>
            )}
            <button type="button" onClick={() => trash(file.is_trashed)}>
              {file.is_trashed ? t("file.restore") : t("file.trash")}
            </button>
          </div>
          <div class="file-grid">
            <figure class="preview">
              {big?.url ? <img src={big.url} width={big.width} height={big.height} alt={file.name} /> : <figcaption class="muted">{t("file.noPreview")}</figcaption>}
            </figure>
            <dl class="details" aria-label={t("file.details")}>
              <dt>{t("file.size")}</dt>
              <dd>{bytes(file.size)}</dd>
              <dt>{t("file.mime")}</dt>
              <dd>{file.mime_type}</dd>
              <dt>{t("file.scan")}</dt>
              <dd>
                <ScanBadge scan={file.scan} />
                {file.scan?.threats?.length ? ` ${t("file.threats")}: ${file.scan.threats.join(", ")}` : ""}
              </dd>
              <dt>{t("file.created")}</dt>
              <dd>{when(file.created_at)}</dd>
              <dt>{t("file.updated")}</dt>
              <dd>{when(file.updated_at)}</dd>
              <dt>{t("file.createdBy")}</dt>
              <dd>{file.created_by}</dd>
              <dt>{t("file.source")}</dt>
              <dd>{file.source}</dd>
              <dt>UUID</dt>
              <dd>
                <code>{file.uuid}</code>
              </dd>
            </dl>
          </div>
          <h2>{t("file.versions")}</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("file.version")}</th>
                  <th scope="col" class="num">{t("file.size")}</th>
                  <th scope="col">{t("file.scan")}</th>
                  <th scope="col" class="wide">{t("file.createdBy")}</th>
                  <th scope="col">
                    <span class="sr-only">{t("file.download")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.version_uuid} class={v.is_main ? "selected" : undefined}>
                    <td>
                      {v.name} <span class="muted small">{when(v.created_at)}</span>
                      {v.is_main && <span class="badge">{t("file.main")}</span>}
                    </td>
                    <td class="num">{bytes(v.size)}</td>
                    <td>
                      <ScanBadge scan={v.scan} />
                    </td>
                    <td class="wide">{v.created_by}</td>
                    <td class="actions">
                      {!file.is_trashed && (
                        <button type="button" onClick={() => download(client, uuid, v.version_uuid).catch(setError)} aria-label={`${t("file.download")} ${v.name} (${when(v.created_at)})`}>
                          {t("file.download")}
                        </button>
                      )}
                      {!v.is_main && !file.is_trashed && (
                        <button type="button" onClick={() => promote(v)} aria-label={`${t("file.makeMain")}: ${v.name} (${when(v.created_at)})`}>
                          {t("file.makeMain")}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>{t("file.usages")}</h2>
          {usages.length === 0 ? (
            <p class="muted">{t("file.noUsages")}</p>
          ) : (
            <ul class="usages">
              {usages.map((u, i) => (
                <li key={i}>
                  {u.entity ? (
                    <a href={href({ name: "entity", type: u.entity.type, id: u.entity.uuid })}>
                      <strong>{u.entity.title || `${u.entity.type} ${u.entity.code}`}</strong>
                    </a>
                  ) : (
                    <strong>{t("common.none")}</strong>
                  )}{" "}
                  <span class="muted">
                    {u.entity?.type} · {t("file.kind")}: {u.kind}
                    {u.version_uuid && ` · ${t("file.pinned")}: ${u.version_uuid}`}
                    {u.attached_at && ` · ${when(u.attached_at)}`}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
