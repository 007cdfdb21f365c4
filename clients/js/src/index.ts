import { ApiClient, type ClientOptions } from "./client.js";
import { download, type DownloadOptions } from "./download.js";
import { upload, type Source, type UploadOptions } from "./upload.js";

export { ApiClient, sleep } from "./client.js";
export type { ClientOptions, File, PartURL, Schemas, Session, SessionState, Uploaded, VersionReceipt } from "./client.js";
export { AnexoError, StorageError } from "./errors.js";
export type { FieldError } from "./errors.js";
export { FileChangedError, PART_ATTEMPTS } from "./upload.js";
export type { AttachTo, Source, UploadOptions, UploadProgress } from "./upload.js";
export type { DownloadOptions } from "./download.js";
export { combine, combineAll, crc32c, decode, encode, update } from "./crc32c.js";
export type { components, paths } from "./schema.js";

/**
 * Client is Anexo's API (`api`: every route, typed from the OpenAPI
 * document) with the upload and download helpers.
 */
export class Client extends ApiClient {
  constructor(o: ClientOptions) {
    super(o);
  }

  /** upload sends a Blob, a File or (Node) a path; see UploadOptions. */
  upload(source: Source, o?: UploadOptions) {
    return upload(this, source, o);
  }

  /** download saves a file at path, resuming a partial one (Node). */
  download(uuid: string, path: string, o?: DownloadOptions) {
    return download(this, uuid, path, o);
  }
}
