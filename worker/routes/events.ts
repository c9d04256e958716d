import { createRoute, z } from "@hono/zod-openapi";
import { requireClient } from "../auth";
import { ApiError } from "../errors";
import { type EventRow, eventsConfig, knownItemIds, recordEvents, withinRateLimit } from "../feedback";
import { router } from "../router";
import { verifyServedId } from "../served";
import { authErrors, clientSecurity, ErrorBody, errorResponses, ItemId, json } from "../schemas";

export const EVENT_LIMITS = { events: 500, rows: 5000, users: 100 } as const;
/** One rate-limit unit: wrangler.toml's [[ratelimits]] limits are in these (a request of 1-100 rows costs 1). */
export const ROWS_PER_UNIT = 100;

const Event = z
  .object({
    type: z.enum(["impression", "click"]),
    userId: z.string().min(1).max(128),
    itemIds: z.array(ItemId).min(1).max(100).openapi({ description: "the items shown (impression) or clicked" }),
    requestId: z
      .string()
      .max(128)
      .optional()
      .openapi({ description: "the requestId of the rerank/recommend answer that showed the slate: credits the event to its model" }),
    ts: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .openapi({ description: "client time, ms since epoch (default: now); outside the server's window it is refused" }),
  })
  .openapi("Event");

const EventsRequest = z
  .object({ events: z.array(Event).min(1).max(EVENT_LIMITS.events) })
  .refine((b) => b.events.reduce((n, e) => n + e.itemIds.length, 0) <= EVENT_LIMITS.rows, {
    message: `at most ${EVENT_LIMITS.rows} (event, item) pairs per request`,
    path: ["events"],
  })
  .refine((b) => new Set(b.events.map((e) => e.userId)).size <= EVENT_LIMITS.users, {
    message: `at most ${EVENT_LIMITS.users} distinct users per request`,
    path: ["events"],
  })
  .openapi("EventsRequest");

const Accepted = z
  .object({
    accepted: z.number().int().openapi({ description: "rows stored" }),
    refused: z.object({
      ts: z
        .number()
        .int()
        .openapi({ description: "rows whose ts was outside [now - EVENTS_TS_PAST_SECONDS, now + EVENTS_TS_FUTURE_SECONDS]" }),
      unknownItem: z.number().int().openapi({ description: "rows naming an item id the catalog does not have" }),
    }),
    attributed: z.number().int().openapi({ description: "stored rows whose requestId verified: they name the model that served them" }),
  })
  .openapi("EventsAccepted");

const route = createRoute({
  method: "post",
  path: "/v1/events",
  summary: "Record impressions and clicks (one row per event and item), with an API key or the user's token",
  middleware: [requireClient] as const,
  security: clientSecurity,
  request: { body: { content: { "application/json": { schema: EventsRequest } }, required: true } },
  responses: {
    200: json(Accepted, "the valid rows stored (one transaction), the others counted"),
    ...authErrors,
    403: json(ErrorBody, "a user token used for another user's events"),
    429: json(ErrorBody, "rate limited (per API key, per user); see Retry-After"),
    ...errorResponses,
  },
});

export const eventsRoutes = router().openapi(route, async (c) => {
  const principal = c.get("principal");
  const body = c.req.valid("json");
  if (principal.kind === "user" && body.events.some((e) => e.userId !== principal.userId))
    throw new ApiError(403, "forbidden", "a user token may only write its own user's events");

  // Limits count rows, not requests: every started 100 rows is one unit against the key's and each user's budget.
  const limited = (what: string) =>
    new ApiError(429, "rate_limited", `too many event rows for this ${what}; retry later`, {}, undefined, 60);
  const units = (rows: number) => Math.ceil(rows / ROWS_PER_UNIT);
  if (principal.kind === "key") {
    const rows = body.events.reduce((n, e) => n + e.itemIds.length, 0);
    if (!(await withinRateLimit(c.env.EVENTS_PER_KEY, principal.keyId, units(rows), "EVENTS_PER_KEY"))) throw limited("API key");
  }
  const rowsByUser = new Map<string, number>();
  for (const e of body.events) rowsByUser.set(e.userId, (rowsByUser.get(e.userId) ?? 0) + e.itemIds.length);
  for (const [user, rows] of rowsByUser)
    if (!(await withinRateLimit(c.env.EVENTS_PER_USER, user, units(rows), "EVENTS_PER_USER"))) throw limited("user");

  const now = Date.now();
  const { pastMs, futureMs } = eventsConfig(c.env);
  const known = await knownItemIds(
    c.env,
    body.events.flatMap((e) => e.itemIds),
  );
  const refused = { ts: 0, unknownItem: 0 };
  const rows: EventRow[] = [];
  // A slate's impressions and clicks share one request id: verify each id once.
  const verified = new Map<string, string | null>();
  const servedVersion = (id: string) => {
    if (!verified.has(id)) verified.set(id, verifyServedId(c.env.USER_TOKEN_SECRET, id)?.version ?? null);
    return verified.get(id) ?? null;
  };
  let attributed = 0;
  for (const e of body.events) {
    const ts = e.ts ?? now;
    // History is ordered by ts: one far-future row would sit on top of a user's history for good.
    if (ts < now - pastMs || ts > now + futureMs) {
      refused.ts += e.itemIds.length;
      continue;
    }
    // An id that does not verify is stored as sent, credited to no model.
    const modelVersion = e.requestId ? servedVersion(e.requestId) : null;
    for (const itemId of e.itemIds) {
      if (!known.has(itemId)) refused.unknownItem++;
      else {
        rows.push({ requestId: e.requestId ?? null, modelVersion, userId: e.userId, itemId, type: e.type, ts });
        if (modelVersion !== null) attributed++;
      }
    }
  }
  if (refused.ts + refused.unknownItem > 0)
    console.log(JSON.stringify({ level: "info", requestId: c.get("requestId"), events: "refused", ...refused, principal: principal.kind }));
  return c.json({ accepted: await recordEvents(c.env, rows), refused, attributed }, 200);
});
