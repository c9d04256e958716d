import { createRoute, z } from "@hono/zod-openapi";
import { getItem } from "../catalog";
import { router } from "../router";
import { ErrorBody, errorResponses, Item, json } from "../schemas";

const route = createRoute({
  method: "get",
  path: "/v1/items/{id}",
  summary: "One catalog item with its Semantic ID",
  request: { params: z.object({ id: z.string().min(1).max(128) }) },
  responses: { 200: json(Item, "the item"), 404: json(ErrorBody, "no such item"), ...errorResponses },
});

export const itemsRoutes = router().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const item = await getItem(c.env, id);
  if (!item) return c.json({ error: "not_found", message: `no item with id "${id}"` }, 404);
  return c.json({ id: item.id, sid: item.tokens, collision: item.collision, status: item.status, attributes: item.attributes }, 200);
});
