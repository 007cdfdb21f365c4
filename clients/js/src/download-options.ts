/** Options of a download (Node's `client.download`). */
export interface DownloadOptions {
  versionUUID?: string;
  signal?: AbortSignal;
  onProgress?: (p: { loaded: number; total: number }) => void;
}
