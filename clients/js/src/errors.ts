/** A field the API named in a 400. */
export interface FieldError {
  field: string;
  detail: string;
}

/**
 * AnexoError is an RFC 9457 problem document the API answered: its
 * status, stable code, detail, the field at fault and the request id to
 * report. A failed upload carries its session's id, to resume it.
 */
export class AnexoError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly field?: string;
  readonly errors: FieldError[];
  readonly requestId?: string;
  readonly problem: Record<string, unknown>;
  sessionId?: string;

  constructor(status: number, problem: Record<string, unknown>) {
    const code = typeof problem.code === "string" ? problem.code : `http_${status}`;
    const detail = typeof problem.detail === "string" ? problem.detail : String(problem.title ?? `HTTP ${status}`);
    super(`${code}: ${detail}${typeof problem.field === "string" ? ` (field ${problem.field})` : ""}`);
    this.name = "AnexoError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.field = typeof problem.field === "string" ? problem.field : undefined;
    this.errors = Array.isArray(problem.errors) ? (problem.errors as FieldError[]) : [];
    this.requestId = typeof problem.request_id === "string" ? problem.request_id : undefined;
    this.problem = problem;
  }
}

/** StorageError is a part that storage (S3) refused past its retries. */
export class StorageError extends Error {
  readonly status: number;
  readonly partNumber: number;
  sessionId?: string;

  constructor(partNumber: number, status: number, body: string) {
    super(`part ${partNumber}: storage answered ${status}${body ? `: ${body.slice(0, 300)}` : ""}`);
    this.name = "StorageError";
    this.status = status;
    this.partNumber = partNumber;
  }
}

/** NetworkError: the request did not reach the server, or its answer was lost (after the retries). */
export class NetworkError extends Error {
  override name = "NetworkError";
}

/** TimeoutError: no answer within the retry policy's timeout (after the retries). */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** problemError is the error of an answer whose body (parsed) was body. */
export function problemError(status: number, body: unknown): AnexoError {
  let problem: Record<string, unknown> = body && typeof body === "object" ? (body as Record<string, unknown>) : { detail: String(body ?? "") };
  // API Gateway's own refusals answer {"message": "Unauthorized"}
  if (problem.code === undefined && typeof problem.message === "string") {
    const code = status === 401 ? "unauthorized" : status === 403 ? "forbidden" : `http_${status}`;
    problem = { ...problem, code, detail: problem.message };
  }
  return new AnexoError(status, problem);
}
