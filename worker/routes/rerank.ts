import { createRoute } from "@hono/zod-openapi";
import { scoreSid } from "../../core/score";
import { ModelUnavailable } from "../errors";
import { MAX_HISTORY, resolve, score, serverTiming } from "../inference";
import { d1Session } from "../db/session";
import { router } from "../router";
import { servedRequestId } from "../served";
import { errorResponses, json, RerankRequest, RerankResponse } from "../schemas";

const route = createRoute({
  method: "post",
  path: "/v1/rerank",
  summary: "Order candidate items for a user by the HPN's score Σ_l log p_l(z_l)",
  request: { body: { content: { "application/json": { schema: RerankRequest } }, required: true } },
  responses: { 200: json(RerankResponse, "candidates ranked best first"), ...errorResponses },
});

export const rerank = router();
rerank.use(route.path, d1Session("first-unconstrained")); // a read: any replica will do
rerank.openapi(route, async (c) => {
  const start = performance.now();
  const body = c.req.valid("json");
  const candidates = [...new Set(body.candidates)];
  const ctx = await resolve(c.env, body, candidates, MAX_HISTORY);
  const known = candidates.flatMap((id) => {
    const item = ctx.lookup.items.get(id);
    return item ? [item] : [];
  });
  const rankable = known.filter((i) => i.status === "active");
  const unknown = candidates.filter((id) => !ctx.lookup.items.has(id));
  const retired = known.filter((i) => i.status === "retired").map((i) => i.id);
  const k = body.k ?? rankable.length;
  const base = { unknown, retired, unknownHistory: ctx.unknownHistory };

  let scored: Awaited<ReturnType<typeof score>>;
  try {
    scored = await score(c.env, ctx);
  } catch (err) {
    if (!(err instanceof ModelUnavailable)) throw err;
    // Degrade, don't fail: the candidates in the order given.
    const items = rankable.slice(0, k).map((i) => ({ id: i.id, score: null, sid: i.tokens, collision: i.collision }));
    return c.json({ items, ...base, model: null, requestId: c.get("requestId"), arm: "active", fallback: true, reason: err.message }, 200);
  }
  const { model, logProbs, beta, arm } = scored;
  const { levels, vocab } = model.manifest;
  const ranked = rankable
    // the HPN's score plus the popularity prior β(s)·g(i) (β = 0 for a model without one)
    .map((i, order) => ({ i, order, s: scoreSid(logProbs, levels, vocab, i.tokens) + beta * i.prior }))
    // Best first; equal scores (shared tokens) by collision index, then by the order given.
    .sort((a, b) => b.s - a.s || a.i.collision - b.i.collision || a.order - b.order)
    .slice(0, k)
    .map(({ i, s }) => ({ id: i.id, score: Number.isFinite(s) ? s : null, sid: i.tokens, collision: i.collision }));
  c.header("server-timing", serverTiming(ctx.timings, start));
  const requestId = servedRequestId(c.env.USER_TOKEN_SECRET, { version: model.version, arm }, c.get("requestId"));
  return c.json({ items: ranked, ...base, model: model.version, requestId, arm }, 200);
});
