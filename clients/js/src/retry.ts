// How the client retries: the caller's policy, delays with full jitter,
// a throttled answer's Retry-After honoured, each request bounded in time.
import { NetworkError, TimeoutError } from "./errors.js";

/** RetryPolicy is how requests are retried; every field has a default. */
export interface RetryPolicy {
  /** Tries of one request or one part, the first included (default 5). */
  tries: number;
  /** The first retry's delay bound, in ms; it doubles each try (default 250). */
  baseDelay: number;
  /** The longest wait, in ms, a Retry-After included (default 20,000). */
  maxDelay: number;
  /** A request's time limit, in ms (default 120,000); a part's PUT gets a second more per MiB. */
  timeout: number;
}

export const defaultRetry: RetryPolicy = { tries: 5, baseDelay: 250, maxDelay: 20_000, timeout: 120_000 };

/** backoff is the wait before retry number attempt (1, 2, …): full jitter. */
export function backoff(p: RetryPolicy, attempt: number): number {
  return Math.random() * Math.min(p.maxDelay, p.baseDelay * 2 ** (attempt - 1));
}

/** retryAfter is the wait a throttled answer's Retry-After asks for (seconds or a date), capped; else backoff. */
export function retryAfter(h: string | null, p: RetryPolicy, attempt: number): number {
  if (h) {
    const s = Number(h);
    const ms = Number.isFinite(s) ? s * 1000 : Date.parse(h) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), p.maxDelay);
  }
  return backoff(p, attempt);
}

/** throttled: an answer that asks to come back later (nothing was done). */
export function throttled(status: number): boolean {
  return status === 429 || status === 503;
}

/**
 * attempt runs one request under the policy's time limit and the caller's
 * signal (none when it is aborted already); a failure to reach the server becomes a NetworkError, the time
 * limit a TimeoutError, and the caller's abort its own reason.
 */
export async function attempt<T>(p: RetryPolicy, signal: AbortSignal | null | undefined, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // aborted already (a pause, an abort, by a progress listener say): no
  // request is started
  signal?.throwIfAborted();
  const limit = AbortSignal.timeout(Math.ceil(p.timeout));
  const both = signal ? AbortSignal.any([signal, limit]) : limit;
  try {
    return await f(both);
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    if (limit.aborted) throw new TimeoutError(`no answer in ${p.timeout} ms`, { cause: e });
    if (e instanceof TypeError) throw new NetworkError(e.message, { cause: e });
    throw e;
  }
}
