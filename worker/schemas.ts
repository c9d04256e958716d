// Request and response schemas: they validate requests and generate /openapi.json, so the two never disagree.
import { z } from "@hono/zod-openapi";

export const LIMITS = {
  candidates: 1000,
  history: 500, // accepted; only the newest H (the model's history length) are used
  exclude: 1000,
  k: 100,
  bodyBytes: 1024 * 1024, // room for 500 item writes with 32-d features (about 370 KB as JSON)
} as const;

// Item ids are strings; integers are accepted (MovieLens-style ids) and normalised to strings.
export const ItemId = z
  .union([z.string().min(1).max(128), z.number().int()])
  .transform((v) => String(v))
  .openapi({ type: "string", example: "movie-42" });

const HistoryInput = {
  history: z
    .array(ItemId)
    .max(LIMITS.history)
    .optional()
    .openapi({ description: "item ids the user interacted with, newest last; [] for a cold user" }),
  userId: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .openapi({ description: "use the user's stored click history (POST /v1/events) instead of `history`" }),
  clientKey: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .openapi({ description: "an anonymous client's stable key (say, a first-party cookie): picks its canary arm as a userId does" }),
};
const oneHistory = (b: { history?: unknown; userId?: unknown }) => (b.history === undefined) !== (b.userId === undefined);
const oneHistoryMessage = { message: "give exactly one of `history` or `userId`", path: ["history"] };

export const RerankRequest = z
  .object({
    ...HistoryInput,
    candidates: z.array(ItemId).min(1).max(LIMITS.candidates),
    k: z.number().int().min(1).max(LIMITS.candidates).optional().openapi({ description: "how many to return (default: all candidates)" }),
  })
  .refine(oneHistory, oneHistoryMessage)
  .openapi("RerankRequest");

export const RecommendRequest = z
  .object({
    ...HistoryInput,
    k: z.number().int().min(1).max(LIMITS.k).default(10),
    exclude: z.array(ItemId).max(LIMITS.exclude).default([]),
  })
  .refine(oneHistory, oneHistoryMessage)
  .openapi("RecommendRequest");

const Sid = z.array(z.number().int()).openapi({ description: "SID tokens, coarse to fine", example: [12, 40, 3] });

export const ScoredItem = z
  .object({
    id: z.string(),
    score: z.number().nullable().openapi({ description: "Σ_l log p_l(z_l); null in fallback answers" }),
    sid: Sid,
    collision: z.number().int(),
  })
  .openapi("ScoredItem");

export const RerankResponse = z
  .object({
    items: z.array(ScoredItem),
    unknown: z.array(z.string()).openapi({ description: "candidate ids not in the catalog" }),
    retired: z.array(z.string()).openapi({ description: "candidate ids retired from the catalog (never ranked)" }),
    unknownHistory: z.array(z.string()),
    model: z.string().nullable(),
    requestId: z.string().openapi({
      description: "send it back with this slate's impressions and clicks (POST /v1/events): it names the model that answered (signed)",
    }),
    arm: z.enum(["active", "canary"]).openapi({ description: "which model of a running canary answered" }),
    fallback: z.boolean().optional(),
    reason: z.string().optional(),
  })
  .openapi("RerankResponse");

export const RecommendResponse = z
  .object({
    items: z.array(ScoredItem.extend({ attributes: z.record(z.string(), z.unknown()) })),
    unknownHistory: z.array(z.string()),
    model: z.string(),
    requestId: z.string().openapi({
      description: "send it back with this slate's impressions and clicks (POST /v1/events): it names the model that answered (signed)",
    }),
    arm: z.enum(["active", "canary"]).openapi({ description: "which model of a running canary answered" }),
  })
  .openapi("RecommendResponse");

export const Item = z
  .object({
    id: z.string(),
    sid: Sid,
    collision: z.number().int(),
    status: z.enum(["active", "retired"]),
    attributes: z.record(z.string(), z.unknown()),
  })
  .openapi("Item");

export const ErrorBody = z
  .object({
    error: z.string().openapi({ example: "invalid_request" }),
    message: z.string(),
    requestId: z.string().openapi({ description: "the X-Request-Id of this answer; the server's log has the details under it" }),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Error");

export const errorResponses = {
  400: { content: { "application/json": { schema: ErrorBody } }, description: "invalid request" },
  413: { content: { "application/json": { schema: ErrorBody } }, description: "request body too large" },
  503: { content: { "application/json": { schema: ErrorBody } }, description: "database or model unavailable" },
} as const;

/** What every admin route declares: the bearer scheme and its two failure answers. */
export const adminSecurity = [{ bearer: [] }];
/** POST /v1/events and /v1/tokens: the same bearer scheme, with an API key (or, for events, a user token). */
export const clientSecurity = [{ bearer: [] }];
export const authErrors = {
  401: { content: { "application/json": { schema: ErrorBody } }, description: "no bearer token, or an invalid one" },
  403: { content: { "application/json": { schema: ErrorBody } }, description: "wrong bearer token" },
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
