import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin } from "../auth";
import { listModels, promote, rollback } from "../registry";
import { errorJson } from "../errors";
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
  .openapi(listRoute, async (c) => c.json({ models: await listModels(c.env) }, 200));
