import { createRoute } from "@hono/zod-openapi";
import { itemAttributes } from "../catalog";
import { sidIndexBytes } from "../../core/sid-index";
import { catalogIndex } from "../catalog-index";
import { decodeCatalog } from "../decode";
import { MAX_HISTORY, resolve, score, serverTiming } from "../inference";
import { settleAll } from "../isolate-cache";
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

export const recommend = router().openapi(route, async (c) => {
  const start = performance.now();
  const body = c.req.valid("json");
  const ctx = await resolve(c.env, body, [], MAX_HISTORY);
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const [{ model, logProbs, arm }, index] = await settleAll([score(c.env, ctx), catalogIndex(c.env, ctx.lookup.versions, waitUntil)]);
  const excluded = new Set([...body.exclude, ...ctx.history.map((i) => i.id)]);
  const { levels, vocab } = model.manifest;
  const top = decodeCatalog(logProbs, levels, vocab, index, body.k, excluded);
  const t0 = performance.now();
  const attributes = await itemAttributes(
    c.env,
    top.map((t) => t.id),
  );
  ctx.timings.d1 += performance.now() - t0;
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
