// Errors the routes turn into HTTP answers (see onError in index.ts). Every answer is JSON naming the problem.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** D1 failed or timed out: a 503, never a 500, and never a partial write (batches are transactions). */
export class DatabaseUnavailable extends ApiError {
  constructor(cause: unknown) {
    super(503, "database_unavailable", `the catalog database is unavailable: ${causeMessage(cause)}`);
  }
}

/** The serving model could not be loaded; rerank degrades, other routes answer 503. */
export class ModelUnavailable extends ApiError {
  constructor(reason: string) {
    super(503, "model_unavailable", reason);
  }
}

// drizzle wraps D1 errors; the D1 message (e.g. "UNIQUE constraint failed") is in err.cause.
export function causeMessage(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Runs a D1 call, turning any failure into DatabaseUnavailable. */
export async function d1<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new DatabaseUnavailable(err);
  }
}
