import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin } from "../auth";
import { levelOneClusters } from "../catalog";
import { publishCatalogIndex } from "../catalog-index";
import { router } from "../router";
import { adminSecurity, authErrors, errorResponses, json } from "../schemas";

const Cluster = z
  .object({
    token: z.number().int(),
    items: z.number().int(),
    examples: z.array(z.object({ id: z.string(), title: z.string().nullable(), sid: z.array(z.number().int()) })),
  })
  .openapi("Cluster");

const route = createRoute({
  method: "get",
  path: "/v1/catalog/clusters",
  summary: "Level-1 SID clusters of the active catalog, with example items",
  request: { query: z.object({ examples: z.coerce.number().int().min(1).max(20).default(4) }) },
  responses: { 200: json(z.object({ clusters: z.array(Cluster) }), "one entry per level-1 token in use"), ...errorResponses },
});

const indexRoute = createRoute({
  method: "post",
  path: "/v1/admin/catalog/index",
  summary: "Build the catalog's prefix-index artifact from D1 now and point isolates at it (the cron does it when needed)",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  responses: {
    200: json(z.record(z.string(), z.unknown()), "what was published: R2 key, cursor, items, bytes, ms"),
    ...authErrors,
    ...errorResponses,
  },
});

export const catalogRoutes = router()
  .openapi(route, async (c) => {
    const { examples } = c.req.valid("query");
    return c.json({ clusters: await levelOneClusters(c.env, examples) }, 200);
  })
  .openapi(indexRoute, async (c) => c.json(await publishCatalogIndex(c.env), 200));
