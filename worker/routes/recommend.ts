import { createRoute } from "@hono/zod-openapi";
import { attributesAndVersions, type CatalogItem, cachedAttributes, catalogFreshnessMs, sameVersions } from "../catalog";
import { sidIndexBytes } from "../../core/sid-index";
import { advanceCatalogIndex, catalogDeltaQuery, catalogIndex, catalogIndexIsCurrent, type DeltaRow, indexedItem } from "../catalog-index";
import { decodeCatalog } from "../decode";
import { d1RoundTrips } from "../errors";
import { type Context, contextOf, MAX_HISTORY, resolve, resolveFromCache, score, serverTiming } from "../inference";
import { settleAll } from "../isolate-cache";
import { d1Session } from "../db/session";
import { router } from "../router";
import { servedRequestId } from "../served";
import { errorResponses, json, RecommendRequest, RecommendResponse } from "../schemas";

const route = createRoute({
  method: "post",
  path: "/v1/recommend",
  summary: "Decode the best Semantic IDs present in the catalog and return their items",
  request: { body: { content: { "application/json": { schema: RecommendRequest } }, required: true } },
  responses: { 200: json(RecommendResponse, "the k best active items, best first"), ...errorResponses },
});

export const recommend = router();
recommend.use(route.path, d1Session("first-unconstrained")); // a read: any replica will do
recommend.openapi(route, async (c) => {
  const start = performance.now();
  const body = c.req.valid("json");
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const d1Start = d1RoundTrips.count;
  // `fresh`: the versions were read within the freshness window, or by this request; `known`: items it read
  const decode = async (ctx: Context, confirm?: string[], fresh = false, known?: Map<string, CatalogItem>) => {
    const [{ model, logProbs, beta, arm }, index] = await settleAll([
      score(c.env, ctx),
      catalogIndex(c.env, ctx.lookup.versions, waitUntil),
    ]);
    const excluded = new Set([...body.exclude, ...ctx.history.map((i) => i.id)]);
    const { levels, vocab } = model.manifest;
    const top = decodeCatalog(logProbs, levels, vocab, index, body.k, excluded, beta);
    const ids = top.map((t) => t.id);
    // fresh versions and the top k's attributes at hand: no round trip at all
    const cached = fresh ? cachedAttributes(ids, known) : null;
    if (cached) return { ctx, model, arm, index, top, attributes: cached, versions: ctx.lookup.versions, items: ctx.lookup.items };
    const t0 = performance.now();
    const read = await attributesAndVersions<DeltaRow[]>(c.env, ids, confirm, (db) => catalogDeltaQuery(db, index));
    ctx.timings.d1 += performance.now() - t0;
    // if the catalog moved, the same round trip brought the rows written since the index's cursor
    if (read.also) advanceCatalogIndex(index, read.versions, read.also);
    return { ctx, model, arm, index, top, ...read };
  };
  // On a warm isolate that can resolve the history without D1 (the item cache, else the prefix index at the cached
  // catalog version): decode under the cached versions. Read within the freshness window (CATALOG_FRESHNESS_MS), they
  // are trusted, and when the top k are cached too the answer takes no round trip. Otherwise one: the top k's
  // attributes together with the versions, the history's items and the index's delta. If the versions moved (a
  // catalog write, a promotion), decode again at the versions that round trip read, from what it brought: the index
  // has followed them, and when the new top k's attributes were read too (or are cached), no second trip. Only on a
  // warm index: a cold isolate would build one for versions that may be stale.
  const history = body.history ?? [];
  const guess = resolveFromCache(body, catalogFreshnessMs(c.env), indexedItem);
  let answer = guess && catalogIndexIsCurrent(guess.ctx.lookup.versions) ? await decode(guess.ctx, history, guess.fresh) : null;
  if (answer && !sameVersions(answer.versions, answer.ctx.lookup.versions)) {
    const lookup = { versions: answer.versions, items: answer.items, userHistory: null };
    // only what that round trip fetched is known at its versions (its cache hits were taken under the old ones)
    answer = await decode(contextOf(lookup, history, answer.ctx.timings, answer.ctx.unit), undefined, true, answer.items);
  }
  if (!answer) answer = await decode(await resolve(c.env, body, [], MAX_HISTORY));
  const { ctx, model, arm, index, top, attributes } = answer;
  ctx.timings.d1Start = d1Start;
  const items = top.map((t) => ({
    id: t.id,
    score: t.score,
    sid: t.tokens,
    collision: t.collision,
    attributes: attributes.get(t.id) ?? {},
  }));
  c.header("server-timing", serverTiming(ctx.timings, start));
  // where the prefix index came from and how much of it is overlay (the scale bench and the tests read it)
  c.header(
    "x-catalog-index",
    `${index.source} base=${index.base.size} overlay=${index.overlay.size} deltas=${index.deltaReads} bytes=${sidIndexBytes(index.base) + sidIndexBytes(index.overlayIndex)}`,
  );
  const requestId = servedRequestId(c.env.USER_TOKEN_SECRET, { version: model.version, arm }, c.get("requestId"));
  return c.json({ items, unknownHistory: ctx.unknownHistory, model: model.version, requestId, arm }, 200);
});
