import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin } from "../auth";
import { gateConfigOf } from "../../core/promotion";
import { replayGate } from "../gate";
import { canaryByHand, listModels, promote, rollback, startCanaryByHand } from "../registry";
import { ApiError, errorJson } from "../errors";
import { router } from "../router";
import { adminSecurity, authErrors, ErrorBody, errorResponses, json } from "../schemas";

const Outcome = z
  .object({
    action: z.enum(["promoted", "rejected", "none"]),
    version: z.string().optional(),
    reason: z.string().optional(),
    from: z.string().nullable().optional(),
  })
  .openapi("PromotionOutcome");

const CanaryOutcome = z
  .object({
    action: z.enum(["canary", "completed", "rolled back", "promoted", "rejected", "none"]),
    version: z.string().optional(),
    state: z.enum(["started", "resumed", "running", "paused"]).optional(),
    reason: z.string(),
    figures: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("CanaryOutcome");

const Version = z.object({ version: z.string().min(1).max(64) });

const startCanaryRoute = createRoute({
  method: "post",
  path: "/v1/admin/models/{version}/canary",
  summary: "Start a canary for a validated candidate by hand (no replay gate), or start a stopped canary again",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  request: {
    params: Version,
    body: {
      content: {
        "application/json": {
          schema: z.object({ share: z.number().gt(0).max(1).optional().openapi({ description: "of units (default CANARY_SHARE)" }) }),
        },
      },
      required: false,
    },
  },
  responses: {
    200: json(CanaryOutcome, "the canary runs"),
    404: json(ErrorBody, "not registered"),
    409: json(z.union([CanaryOutcome, ErrorBody]), "rejected by validation, or another canary runs"),
    ...authErrors,
    ...errorResponses,
  },
});

const canaryAction = (action: "stop" | "complete" | "rollback", summary: string) =>
  createRoute({
    method: "post",
    path: `/v1/admin/canary/${action}`,
    summary,
    middleware: [requireAdmin] as const,
    security: adminSecurity,
    responses: { 200: json(CanaryOutcome, "done"), 409: json(CanaryOutcome, "no canary is running"), ...authErrors, ...errorResponses },
  });

const gateRoute = createRoute({
  method: "post",
  path: "/v1/admin/models/{version}/gate",
  summary: "Run the replay gate for a registered model against the active one and show the figures (changes nothing)",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  request: {
    params: Version,
    query: z.object({
      maxSessions: z.coerce.number().int().min(1).max(2000).optional().openapi({ description: "sample size (default GATE_MAX_SESSIONS)" }),
    }),
  },
  responses: {
    200: json(z.record(z.string(), z.unknown()), "the gate's figures and the decision it would take"),
    404: json(ErrorBody, "not registered"),
    ...authErrors,
    ...errorResponses,
  },
});

const promoteRoute = createRoute({
  method: "post",
  path: "/v1/admin/models/{version}/promote",
  summary: "Validate a published model and make it active (as the cron would)",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  request: { params: z.object({ version: z.string().min(1).max(64) }) },
  responses: {
    200: json(Outcome, "promoted"),
    404: json(ErrorBody, "not registered"),
    409: json(z.union([Outcome, ErrorBody]), "rejected by validation, or not in a promotable state"),
    ...authErrors,
    ...errorResponses,
  },
});

const rollbackRoute = createRoute({
  method: "post",
  path: "/v1/admin/rollback",
  summary: "Put the previously active model back (or the embedded default)",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  responses: { 200: json(Outcome, "rolled back"), 409: json(Outcome, "nothing to roll back to"), ...authErrors, ...errorResponses },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/models",
  summary: "The model registry",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  responses: {
    200: json(z.object({ models: z.array(z.record(z.string(), z.unknown())) }), "registered models, newest first"),
    ...authErrors,
    ...errorResponses,
  },
});

export const adminRoutes = router();
adminRoutes
  .openapi(promoteRoute, async (c) => {
    const { version } = c.req.valid("param");
    // A manual promote may also bring back a retired model (that is how one restores an older version).
    const outcome = await promote(c.env, version, ["candidate", "retired"]);
    if (outcome.action === "promoted") return c.json(outcome, 200);
    if (outcome.action === "rejected") return c.json(outcome, 409);
    return c.json(errorJson(c, outcome.missing ? "not_found" : "not_promotable", outcome.reason), outcome.missing ? 404 : 409);
  })
  .openapi(rollbackRoute, async (c) => {
    const outcome = await rollback(c.env);
    return c.json(outcome, outcome.action === "promoted" ? 200 : 409);
  })
  .openapi(listRoute, async (c) => c.json({ models: await listModels(c.env) }, 200))
  .openapi(startCanaryRoute, async (c) => {
    const { version } = c.req.valid("param");
    const body = (await c.req.json().catch(() => ({}))) as { share?: unknown };
    if (body.share !== undefined && !(typeof body.share === "number" && body.share > 0 && body.share <= 1))
      throw new ApiError(400, "invalid_request", "share must be a number in (0, 1]", { issues: [{ path: "share", message: "(0, 1]" }] });
    const share = body.share as number | undefined;
    const outcome = await startCanaryByHand(c.env, version, share);
    if (outcome.action === "canary") return c.json(outcome, 200);
    if (outcome.action === "none" && "missing" in outcome && outcome.missing) return c.json(errorJson(c, "not_found", outcome.reason), 404);
    return c.json({ reason: "", ...outcome }, 409);
  })
  .openapi(canaryAction("stop", "Stop the canary: all traffic on the active model until it is started again"), async (c) => {
    const outcome = await canaryByHand(c.env, "stop");
    return c.json(outcome, outcome.action === "none" ? 409 : 200);
  })
  .openapi(canaryAction("complete", "Complete the canary now: it becomes the active model"), async (c) => {
    const outcome = await canaryByHand(c.env, "complete");
    return c.json(outcome, outcome.action === "none" ? 409 : 200);
  })
  .openapi(canaryAction("rollback", "Roll the canary back now: it is rejected, all traffic on the active model"), async (c) => {
    const outcome = await canaryByHand(c.env, "rollback");
    return c.json(outcome, outcome.action === "none" ? 409 : 200);
  })
  .openapi(gateRoute, async (c) => {
    const { version } = c.req.valid("param");
    const { maxSessions } = c.req.valid("query");
    const registered = (await listModels(c.env)).some((m) => m.version === version);
    if (!registered) return c.json(errorJson(c, "not_found", `model ${version} is not registered`), 404);
    const config = { ...gateConfigOf(c.env), ...(maxSessions ? { maxSessions } : {}) };
    return c.json({ version, ...(await replayGate(c.env, version, config)) }, 200);
  });
