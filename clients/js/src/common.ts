// What both entries (node.ts, browser.ts) export besides their Client.
export { ApiClient, sleep } from "./client.js";
export type { ClientOptions, File, PartURL, Preview, Schemas, Session, SessionState, Uploaded, VersionReceipt } from "./client.js";
export { AnexoError, NetworkError, StorageError, TimeoutError } from "./errors.js";
export type { FieldError } from "./errors.js";
export { FileChangedError, ResumeMismatchError } from "./upload.js";
export { defaultRetry } from "./retry.js";
export { REMEMBER_MS, rememberIn, Upload } from "./uploader.js";
export type { ResumeStore, UploadState } from "./uploader.js";
export type { RetryPolicy } from "./retry.js";
export type { AttachTo, UploadOptions, UploadProgress } from "./upload.js";
export { combine, combineAll, crc32c, decode, encode, update } from "./crc32c.js";
export type { components, paths } from "./schema.js";
export { linkSecret } from "./filerequest.js";
export type { FileRequestOptions, PublicFileRequest, Received, RequestReceipt, RequestUploadOptions, Uploader } from "./filerequest.js";
