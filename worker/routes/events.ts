import { createRoute, z } from "@hono/zod-openapi";
import { recordEvents, type EventRow } from "../feedback";
import { router } from "../router";
import { errorResponses, ItemId, json } from "../schemas";

export const EVENT_LIMITS = { events: 500, rows: 5000 } as const;

const Event = z
  .object({
    type: z.enum(["impression", "click"]),
    userId: z.string().min(1).max(128),
    itemIds: z.array(ItemId).min(1).max(100).openapi({ description: "the items shown (impression) or clicked" }),
    requestId: z.string().max(128).optional(),
    ts: z.number().int().nonnegative().optional().openapi({ description: "client time, ms since epoch (default: now)" }),
  })
  .openapi("Event");

const EventsRequest = z
  .object({ events: z.array(Event).min(1).max(EVENT_LIMITS.events) })
  .refine((b) => b.events.reduce((n, e) => n + e.itemIds.length, 0) <= EVENT_LIMITS.rows, {
    message: `at most ${EVENT_LIMITS.rows} (event, item) pairs per request`,
    path: ["events"],
  })
  .openapi("EventsRequest");

const route = createRoute({
  method: "post",
  path: "/v1/events",
  summary: "Record impressions and clicks (one row per event and item)",
  request: { body: { content: { "application/json": { schema: EventsRequest } }, required: true } },
  responses: { 200: json(z.object({ accepted: z.number().int() }), "all rows stored"), ...errorResponses },
});

export const eventsRoutes = router().openapi(route, async (c) => {
  const now = Date.now();
  const rows: EventRow[] = c.req
    .valid("json")
    .events.flatMap((e) =>
      e.itemIds.map((itemId) => ({ requestId: e.requestId ?? null, userId: e.userId, itemId, type: e.type, ts: e.ts ?? now })),
    );
  return c.json({ accepted: await recordEvents(c.env, rows) }, 200);
});
