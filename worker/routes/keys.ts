// Credentials for feedback: API keys (admin routes create, list and revoke them) and user tokens (a site's backend
// asks for one with its API key and hands it to its user's browser).
import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin, requireApiKey } from "../auth";
import { createApiKey, listApiKeys, revokeApiKey, signUserToken } from "../credentials";
import { ApiError, errorJson } from "../errors";
import { router } from "../router";
import { adminSecurity, authErrors, clientSecurity, ErrorBody, errorResponses, json } from "../schemas";

export const USER_TOKEN_MAX_TTL_SECONDS = 7 * 86_400;

const createKey = createRoute({
  method: "post",
  path: "/v1/admin/keys",
  summary: "Create an API key for a client backend (the key is shown only in this answer)",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  request: { body: { content: { "application/json": { schema: z.object({ name: z.string().min(1).max(100) }) } }, required: true } },
  responses: {
    201: json(z.object({ id: z.string(), name: z.string(), key: z.string() }), "the new key"),
    ...authErrors,
    ...errorResponses,
  },
});

const listKeys = createRoute({
  method: "get",
  path: "/v1/admin/keys",
  summary: "API keys (ids and names; secrets are never shown again)",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  responses: {
    200: json(
      z.object({
        keys: z.array(z.object({ id: z.string(), name: z.string(), createdAt: z.number(), revokedAt: z.number().nullable() })),
      }),
      "keys, newest first",
    ),
    ...authErrors,
    ...errorResponses,
  },
});

const revokeKey = createRoute({
  method: "delete",
  path: "/v1/admin/keys/{id}",
  summary: "Revoke an API key (its next request is refused)",
  middleware: [requireAdmin] as const,
  security: adminSecurity,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    200: json(z.object({ id: z.string(), revoked: z.literal(true) }), "revoked"),
    404: json(ErrorBody, "no such live key"),
    ...authErrors,
    ...errorResponses,
  },
});

const issueToken = createRoute({
  method: "post",
  path: "/v1/tokens",
  summary: "Issue a user token (for that user's browser to POST /v1/events), with the site's API key",
  middleware: [requireApiKey] as const,
  security: clientSecurity,
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.object({
            userId: z.string().min(1).max(128),
            ttlSeconds: z.number().int().min(60).max(USER_TOKEN_MAX_TTL_SECONDS).default(3600),
          }),
        },
      },
      required: true,
    },
  },
  responses: {
    200: json(z.object({ token: z.string(), userId: z.string(), expiresAt: z.number().int() }), "the token and its expiry (s)"),
    ...authErrors,
    ...errorResponses,
  },
});

export const keysRoutes = router();
keysRoutes
  .openapi(createKey, async (c) => c.json(await createApiKey(c.env, c.req.valid("json").name), 201))
  .openapi(listKeys, async (c) => c.json({ keys: await listApiKeys(c.env) }, 200))
  .openapi(revokeKey, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await revokeApiKey(c.env, id))) return c.json(errorJson(c, "not_found", `no live API key with id "${id}"`), 404);
    return c.json({ id, revoked: true as const }, 200);
  })
  .openapi(issueToken, async (c) => {
    const secret = c.env.USER_TOKEN_SECRET;
    if (!secret) throw new ApiError(503, "tokens_disabled", "USER_TOKEN_SECRET is not configured for this Worker");
    const { userId, ttlSeconds } = c.req.valid("json");
    const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
    return c.json({ token: signUserToken(secret, userId, expiresAt), userId, expiresAt }, 200);
  });
