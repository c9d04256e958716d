// Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`; feedback needs an API key or a user token
// (credentials.ts). Each route lists its check as route middleware next to its OpenAPI `security`, so the document
// and the check cannot drift apart. The admin token is compared in constant time (over its SHA-256, so lengths leak
// nothing either); no credential is ever echoed or logged.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./bindings";
import { type Principal, verifyApiKey, verifyUserToken } from "./credentials";
import { errorJson } from "./errors";

const encoder = new TextEncoder();
const digest = (s: string) => crypto.subtle.digest("SHA-256", encoder.encode(s));

function bearer(c: Context<AppEnv>): string | null {
  return /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1].trim() ?? null;
}

const unauthorized = (c: Context<AppEnv>, message: string) =>
  c.json(errorJson(c, "unauthorized", message), 401, { "www-authenticate": "Bearer" });

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) return c.json(errorJson(c, "admin_disabled", "ADMIN_TOKEN is not configured for this Worker"), 503);
  const token = bearer(c);
  if (token === null) return unauthorized(c, "admin routes need an Authorization: Bearer <token> header");
  const [a, b] = await Promise.all([digest(token), digest(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) return c.json(errorJson(c, "forbidden", "the bearer token is not valid"), 403);
  await next();
});

/** An API key or a user token; the route reads who it is with c.get("principal"). */
export const requireClient = createMiddleware<AppEnv>(async (c, next) => {
  const credential = bearer(c);
  if (credential === null) return unauthorized(c, "events need an Authorization: Bearer <API key or user token> header");
  let principal: Principal | null = null;
  if (credential.startsWith("hk_")) {
    const keyId = await verifyApiKey(c.env, credential);
    if (keyId) principal = { kind: "key", keyId };
  } else if (credential.startsWith("ut.") && c.env.USER_TOKEN_SECRET) {
    const userId = verifyUserToken(c.env.USER_TOKEN_SECRET, credential, Date.now());
    if (userId !== null) principal = { kind: "user", userId };
  }
  if (!principal) return unauthorized(c, "the API key or user token is not valid (revoked, expired or forged)");
  c.set("principal", principal);
  await next();
});

/** An API key only (a site's backend): issuing user tokens. */
export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const credential = bearer(c);
  const keyId = credential?.startsWith("hk_") ? await verifyApiKey(c.env, credential) : null;
  if (!keyId) return unauthorized(c, "this route needs an Authorization: Bearer <API key> header with a live key");
  c.set("principal", { kind: "key", keyId });
  await next();
});
