import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin } from "../auth";
import { getItem, retireItem, searchItems, upsertItems } from "../catalog";
import { encodeItemContent, knowsContent } from "../../core/item-encoder";
import { loadCodebook, loadItemEncoder } from "../codebook";
import { priorOf } from "../../core/popularity-prior";
import { popularityStatsOf, readVersionsNow } from "../db/meta";
import { ApiError, errorJson } from "../errors";
import { d1Session } from "../db/session";
import { router } from "../router";
import { adminSecurity, authErrors, ErrorBody, errorResponses, Item, ItemId, json } from "../schemas";

export const ITEM_WRITE_LIMIT = 500;
const IdParam = z.object({ id: z.string().min(1).max(128) });

const getRoute = createRoute({
  method: "get",
  path: "/v1/items/{id}",
  summary: "One catalog item with its Semantic ID",
  request: { params: IdParam },
  responses: { 200: json(Item, "the item"), 404: json(ErrorBody, "no such item"), ...errorResponses },
});

const searchRoute = createRoute({
  method: "get",
  path: "/v1/items",
  summary: "Search active items by title",
  request: {
    query: z.object({
      q: z.string().min(1).max(100).openapi({
        description: "substring of the title, case-insensitive for ASCII; 1-100 characters (at most 400 bytes of UTF-8), any characters",
      }),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
  },
  responses: { 200: json(z.object({ items: z.array(Item) }), "matching items, by title"), ...errorResponses },
});

const ItemsWrite = z
  .object({
    items: z
      .array(
        z.object({
          id: ItemId,
          // Stored and encoded as float32: a value float32 cannot hold (|x| > 3.4e38) is refused here, not at the encoder.
          features: z
            .array(z.number().refine((x) => Number.isFinite(Math.fround(x)), { message: "must be a finite float32 (|x| <= 3.4028235e38)" }))
            .min(1)
            .optional()
            .openapi({
              description:
                "feature vector of the codebook's dimension (the manifest's featureDim); omit it to derive features from the content in `attributes` with the catalog's item encoder",
            }),
          attributes: z
            .object({ title: z.string().max(500).optional(), genres: z.array(z.string()).optional(), tags: z.array(z.string()).optional() })
            .catchall(z.unknown())
            .optional()
            .openapi({
              description: "free-form; genres, tags and short attributes (year, key=value) are the content the item encoder reads",
            }),
          popularity: z.number().int().nonnegative().optional().openapi({
            description:
              "training positives of the item: stored as its popularity prior g (the catalog's popularity_stats); omit it for a new item (prior null = the catalog's prior 0), or to keep the stored one",
          }),
          revive: z
            .boolean()
            .optional()
            .openapi({ description: "bring back an item retired with DELETE (without it, a retired id is a 409)" }),
        }),
      )
      .min(1)
      .max(ITEM_WRITE_LIMIT),
  })
  .refine((b) => new Set(b.items.map((i) => i.id)).size === b.items.length, {
    message: "item ids must be unique within a batch",
    path: ["items"],
  })
  .openapi("ItemsWrite");

const putRoute = createRoute({
  method: "put",
  path: "/v1/items",
  summary: "Add or update items; each gets its SID from the catalog's codebook at the edge",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  request: { body: { content: { "application/json": { schema: ItemsWrite } }, required: true } },
  responses: {
    200: json(
      z.object({
        items: z.array(z.object({ id: z.string(), sid: z.array(z.number().int()), collision: z.number().int() })),
        codebook: z.string(),
      }),
      "all items written (one transaction)",
    ),
    409: json(ErrorBody, "the batch names retired items without revive: nothing was written"),
    ...authErrors,
    ...errorResponses,
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/items/{id}",
  summary: "Retire an item: kept for history lookups, never recommended",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  request: { params: IdParam },
  responses: {
    200: json(z.object({ id: z.string(), status: z.literal("retired") }), "retired"),
    404: json(ErrorBody, "no such item"),
    ...authErrors,
    ...errorResponses,
  },
});

export const itemsRoutes = router();
// reads may go to a replica; writes start at the primary, and answer the bookmark a client can read them back with
itemsRoutes.use("/v1/items", d1Session());
itemsRoutes.use("/v1/items/*", d1Session());
itemsRoutes
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    const item = await getItem(c.env, id);
    if (!item) return c.json(errorJson(c, "not_found", `no item with id "${id}"`), 404);
    return c.json({ id: item.id, sid: item.tokens, collision: item.collision, status: item.status, attributes: item.attributes }, 200);
  })
  .openapi(searchRoute, async (c) => {
    const { q, limit } = c.req.valid("query");
    const found = await searchItems(c.env, q, limit);
    return c.json(
      { items: found.map((i) => ({ id: i.id, sid: i.tokens, collision: i.collision, status: i.status, attributes: i.attributes })) },
      200,
    );
  })
  .openapi(putRoute, async (c) => {
    const { items } = c.req.valid("json");
    const codebook = await loadCodebook(c.env, (await readVersionsNow(c.env)).codebook);
    const stats = items.some((i) => i.popularity !== undefined) ? await popularityStatsOf(c.env) : null;
    const needsEncoder = items.some((i) => i.features === undefined);
    const encoder = needsEncoder ? await loadItemEncoder(c.env, codebook.version) : null;
    const failAt = (n: number, path: string, problem: string): never => {
      const message = `items.${n}.${path}: ${problem}`;
      throw new ApiError(400, "invalid_request", message, { issues: [{ path: `items.${n}.${path}`, message }] });
    };
    const priorFor = (popularity: number | undefined, n: number): number | undefined => {
      if (popularity === undefined) return undefined;
      if (!stats) return failAt(n, "popularity", "this catalog has no popularity statistics (load a SID table exported with a prior)");
      return priorOf(popularity, stats);
    };
    // the item's feature vector: given (checked against the codebook) or encoded from its content
    const featuresOf = (item: (typeof items)[number], at: number): number[] => {
      const fail = (path: string, problem: string): never => failAt(at, path, problem);
      if (item.features !== undefined) {
        if (item.features.length !== codebook.dim)
          fail("features", `has ${item.features.length} values, the codebook encodes ${codebook.dim}`);
        return item.features;
      }
      if (encoder?.kind !== "content") return fail("features", "required: this catalog has no content item encoder");
      const meta = { genres: item.attributes?.genres ?? [], tags: item.attributes?.tags ?? [], attributes: item.attributes ?? {} };
      if (!knowsContent(encoder, meta))
        fail("attributes", "none of its genres, tags or attributes are known to the item encoder; give features instead");
      return Array.from(encodeItemContent(encoder, meta));
    };
    const writes = items.map((item, at) => {
      const features = featuresOf(item, at);
      return { ...item, features, prior: priorFor(item.popularity, at) };
    });
    return c.json({ items: await upsertItems(c.env, codebook, writes), codebook: codebook.version }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await retireItem(c.env, id))) return c.json(errorJson(c, "not_found", `no item with id "${id}"`), 404);
    return c.json({ id, status: "retired" as const }, 200);
  });
