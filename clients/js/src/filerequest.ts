// File requests' public side: what the person a request's link was sent
// to does with it, without a token — read what it asks for and send
// files into its slots, with the same resumable, checksummed upload as
// the account's (the session routes under the link).
import { ApiClient, type ClientOptions, type PartURL, type Schemas, type Session } from "./client.js";
import type { Opened } from "./source.js";
import type { Platform, Sessions, UploadOptions } from "./upload.js";
import { Upload } from "./uploader.js";

/** A request as its link shows it (never the entity, the account or who sent what). */
export type PublicFileRequest = Schemas["PublicFileRequest"];
/** A file the request received, as its link shows it. */
export type RequestReceipt = Schemas["PublicReceipt"];
/** Who sends a file (as they say: the request's account sees it with the file). */
export type Uploader = Schemas["Uploader"];

/** What sending a file into a request answers: the request as it stands, and the file's receipt. */
export interface Received {
  file_request: PublicFileRequest;
  receipt?: RequestReceipt;
}

/** Options of a FileRequest. */
export interface FileRequestOptions extends Omit<ClientOptions, "token"> {
  /** The link as it was sent (…#anr_…), or its secret alone (anr_…). */
  link: string;
  /** The request's passcode, when it has one. */
  passcode?: string;
}

/** Options of a file sent into a request. */
export interface RequestUploadOptions extends Omit<UploadOptions, "versionOf" | "attach"> {
  /** The slot it is for (required when the request has slots). */
  slot?: string;
  uploader?: Uploader;
}

/** linkSecret is the secret of a request's link (its fragment), or the secret given. */
export function linkSecret(link: string): string {
  const at = link.lastIndexOf("#");
  return decodeURIComponent(at >= 0 ? link.slice(at + 1) : link).trim();
}

const PATH = "/v1/public/file-request";

/** The headers that carry a request's link and passcode. */
type LinkHeaders = { "Anexo-File-Request": string; "Anexo-Passcode"?: string };

/** requestSessions are a request's public session routes, each opened into slot as uploader. */
function requestSessions(c: ApiClient, header: LinkHeaders, o: RequestUploadOptions): Sessions<Received> {
  const at = (id: string) => `${PATH}/uploads/${encodeURIComponent(id)}`;
  return {
    key: "request:" + (o.slot ?? ""),
    open: (body, signal) => {
      const { file_name, file_size, content_type, checksum } = body;
      return c.json<Session>("POST", `${PATH}/uploads`, { file_name, file_size, content_type, checksum, slot: o.slot, uploader: o.uploader }, signal, header);
    },
    status: async (id, signal) => {
      const st = await c.json<Schemas["SessionStateFields"] & { file_request?: PublicFileRequest }>("GET", at(id), undefined, signal, header);
      return { ...st, done: st.file_request ? { file_request: st.file_request } : undefined };
    },
    parts: async (id, body, signal) => (await c.json<{ parts: PartURL[] }>("POST", at(id) + "/parts", body, signal, header)).parts,
    complete: (id, body, signal) => c.json<Received>("POST", at(id) + "/complete", body, signal, header),
    abort: async (id) => {
      await c.json("DELETE", at(id), undefined, undefined, header);
    },
  };
}

/** A source a platform opens for an upload. */
export type Opener<S> = (source: S, o: UploadOptions) => Promise<Opened>;

/**
 * FileRequestClient is a request's link: `view` reads what it asks for,
 * `createUpload`/`upload` send a file into one of its slots. Each entry
 * (Node, browsers) gives it its platform.
 */
export class FileRequestClient<S> extends ApiClient {
  private readonly header: LinkHeaders;

  constructor(
    o: FileRequestOptions,
    private readonly platform: Platform,
    private readonly opener: Opener<S>,
  ) {
    super(o, platform.exchange);
    this.header = { "Anexo-File-Request": linkSecret(o.link), ...(o.passcode ? { "Anexo-Passcode": o.passcode } : {}) };
  }

  /** view reads the request: what each slot asks for and what it received. */
  view(signal?: AbortSignal): Promise<PublicFileRequest> {
    return this.json<PublicFileRequest>("GET", PATH, undefined, signal, this.header);
  }

  /** createUpload prepares a file's upload into the request (start() sends it). */
  createUpload(source: S, o: RequestUploadOptions = {}): Upload<Received> {
    return new Upload(this, Promise.resolve().then(() => this.opener(source, o)), o, this.platform, requestSessions(this, this.header, o));
  }

  /** upload sends a file into the request: createUpload(...).start(). */
  upload(source: S, o?: RequestUploadOptions): Promise<Received> {
    return this.createUpload(source, o).start();
  }
}
