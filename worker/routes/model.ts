import { createRoute, z } from "@hono/zod-openapi";
import { readVersionsNow } from "../db/meta";
import { servingModel } from "../model";
import { router } from "../router";
import { errorResponses, json } from "../schemas";

const ModelInfo = z
  .object({ version: z.string(), source: z.enum(["embedded", "r2"]), manifest: z.record(z.string(), z.unknown()) })
  .openapi("ModelInfo");

const route = createRoute({
  method: "get",
  path: "/v1/model",
  summary: "The active model's manifest",
  responses: { 200: json(ModelInfo, "the model serving requests"), ...errorResponses },
});

export const modelRoutes = router().openapi(route, async (c) => {
  const model = await servingModel(c.env, (await readVersionsNow(c.env)).activeModel);
  return c.json({ version: model.version, source: model.source, manifest: model.manifest }, 200);
});
