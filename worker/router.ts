// Every resource router is built here so all share one validation hook: a 400 whose JSON names the offending fields.
import { OpenAPIHono, type Hook } from "@hono/zod-openapi";
import type { AppEnv } from "./bindings";
import { errorJson } from "./errors";

const validationHook: Hook<unknown, AppEnv, string, unknown> = (result, c) => {
  if (result.success) return;
  const issues = result.error.issues.map((i) => ({ path: i.path.join(".") || "(body)", message: i.message }));
  return c.json(errorJson(c, "invalid_request", issues.map((i) => `${i.path}: ${i.message}`).join("; "), { issues }), 400);
};

export function router() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
