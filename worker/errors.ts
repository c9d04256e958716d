// Errors the routes turn into HTTP answers (see onError in index.ts). Every answer is JSON naming the problem: a code,
// a public message and the request id. What went wrong inside (D1 text, R2 keys, hashes) goes to the structured log
// under the same request id, never into a public body.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    /** for the log only */
    readonly internal?: string,
    /** seconds, sent as Retry-After (503 answers) */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** D1 failed or timed out: a 503, never a 500, and never a partial write (batches are transactions). */
export class DatabaseUnavailable extends ApiError {
  constructor(cause: unknown) {
    super(503, "database_unavailable", "the catalog database is unavailable; retry later", undefined, causeMessage(cause), 5);
  }
}

/** The serving model could not be loaded; rerank degrades, other routes answer 503. */
export class ModelUnavailable extends ApiError {
  constructor(reason: string, retryAfter = 30) {
    super(503, "model_unavailable", "the model is unavailable; retry later", undefined, reason, retryAfter);
  }
}

// drizzle wraps D1 errors; the D1 message (e.g. "UNIQUE constraint failed") is in err.cause. For our own errors, the
// internal detail (what the registry records as a rejection reason) rather than the public message.
export function causeMessage(err: unknown): string {
  if (err instanceof ApiError) return err.internal ?? err.message;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Runs a D1 call, turning any failure into DatabaseUnavailable. */
/** D1 round trips of this isolate so far (Server-Timing reports a request's share; exact for sequential requests). */
export const d1RoundTrips = { count: 0 };

export async function d1<T>(work: () => Promise<T>): Promise<T> {
  d1RoundTrips.count++;
  try {
    return await work();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new DatabaseUnavailable(err);
  }
}

/** One structured log line (console.error JSON), keyed by the request id the public body also carries. */
export function logError(c: Context, fields: Record<string, unknown>): void {
  console.error(JSON.stringify({ level: "error", requestId: requestIdOf(c), method: c.req.method, path: c.req.path, ...fields }));
}

export function requestIdOf(c: Context): string {
  return (c.get("requestId" as never) as string | undefined) ?? "unknown";
}

/** The public error body: code, message, request id (plus e.g. the 400's issues). */
export function errorJson(c: Context, code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: code, message, requestId: requestIdOf(c), ...extra };
}

/** The answer for an ApiError: logged with its internal detail when it is the server's fault (5xx). */
export function errorResponse(c: Context, err: ApiError): Response {
  if (err.status >= 500) logError(c, { status: err.status, code: err.code, detail: err.internal ?? err.message });
  const headers: Record<string, string> = err.retryAfter !== undefined ? { "retry-after": String(err.retryAfter) } : {};
  return c.json(errorJson(c, err.code, err.message, err.details), err.status, headers);
}
