// Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`. Each one lists requireAdmin as its route middleware next to
// its OpenAPI `security`, so the document and the check cannot drift apart. Tokens are compared in constant time (over
// their SHA-256, so lengths leak nothing either) and never echoed or logged.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./bindings";

const encoder = new TextEncoder();
const digest = (s: string) => crypto.subtle.digest("SHA-256", encoder.encode(s));

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) return c.json({ error: "admin_disabled", message: "ADMIN_TOKEN is not configured for this Worker" }, 503);
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match)
    return c.json({ error: "unauthorized", message: "admin routes need an Authorization: Bearer <token> header" }, 401, {
      "www-authenticate": "Bearer",
    });
  const [a, b] = await Promise.all([digest(match[1].trim()), digest(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) return c.json({ error: "forbidden", message: "the bearer token is not valid" }, 403);
  await next();
});
