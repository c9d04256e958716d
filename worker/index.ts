// The Worker's composition root: routers per resource are mounted here, errors become JSON, cron redeploys models.
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv, Bindings } from "./bindings";
import { publishCatalogIndex } from "./catalog-index";
import { takeColdTimings } from "./cold-timing";
import { ApiError, causeMessage, errorJson, errorResponse, logError } from "./errors";
import { deleteExpiredEvents, eventsConfig } from "./feedback";
import { demoPage, demoPageCsp } from "./page";
import { healActive, promoteNewest } from "./registry";
import { adminRoutes } from "./routes/admin";
import { catalogRoutes } from "./routes/catalog";
import { eventsRoutes } from "./routes/events";
import { health } from "./routes/health";
import { itemsRoutes } from "./routes/items";
import { keysRoutes } from "./routes/keys";
import { modelRoutes } from "./routes/model";
import { recommend } from "./routes/recommend";
import { rerank } from "./routes/rerank";
import { LIMITS } from "./schemas";

export const app = new OpenAPIHono<AppEnv>();

// Every answer carries X-Request-Id (a client's own, if it sent a sane one); error bodies and logs carry it too.
app.use(requestId());
// A known path with a method it does not have: 405 with Allow, not 404.
app.use(
  methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json(errorJson(c, "method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}; allowed: ${methods.join(", ")}`), 405, {
        allow: methods.join(", "),
      }),
  }),
);
// Browsers on other origins may call the API only from the origins wrangler.toml's CORS_ORIGINS lists.
app.use(
  "/v1/*",
  cors({
    origin: (origin, c) => (allowedOrigins(c.env as Bindings).includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "PUT", "DELETE"],
    allowHeaders: ["content-type", "authorization", "x-request-id"],
    exposeHeaders: ["x-request-id", "retry-after", "server-timing"],
    maxAge: 600,
  }),
);
app.use(
  "/v1/*",
  bodyLimit({
    maxSize: LIMITS.bodyBytes,
    onError: (c) => c.json(errorJson(c, "payload_too_large", `request body exceeds ${LIMITS.bodyBytes} bytes`), 413),
  }),
);
app.get(
  "/",
  secureHeaders({
    // The page's one inline script and one inline style, by hash; everything else from this origin only.
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: [demoPageCsp.script],
      styleSrc: [demoPageCsp.style],
      connectSrc: ["'self'"],
      imgSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  }),
  (c) => c.html(demoPage),
);
app.route("/", health);
app.route("/", catalogRoutes);
app.route("/", rerank);
app.route("/", recommend);
app.route("/", itemsRoutes);
app.route("/", modelRoutes);
app.route("/", eventsRoutes);
app.route("/", keysRoutes);
app.route("/", adminRoutes);
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description: "ADMIN_TOKEN (admin routes); an API key or a user token (POST /v1/events)",
});

app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: { title: "hsrl-edge", version: "0.1.0", description: "HSRL re-ranking and recommendation at the edge" },
});

app.notFound((c) => c.json(errorJson(c, "not_found", `no route for ${c.req.method} ${c.req.path}`), 404));
app.onError((err, c) => {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) {
    // Hono's own 4xx (e.g. a body that is not JSON): keep the status, answer in JSON.
    return c.json(errorJson(c, err.status === 400 ? "invalid_request" : "http_error", err.message), err.status);
  }
  logError(c, { status: 500, code: "internal", detail: causeMessage(err), stack: err instanceof Error ? err.stack : undefined });
  return c.json(errorJson(c, "internal", "internal error"), 500);
});

function allowedOrigins(env: Bindings): string[] {
  return (env.CORS_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
}

// Rows changed since the last prefix-index artifact before the cron builds another (a full read of the catalog).
const CATALOG_INDEX_MIN_DELTA = 1000;

/**
 * One cron run: heal the active model if its bytes broke, promote the newest candidate, expire old events, and publish
 * a fresh prefix-index artifact once enough rows changed, so isolates' overlays stay small.
 */
export async function runCron(env: Bindings, cron: string): Promise<Record<string, unknown>> {
  const step = <T>(work: () => Promise<T>) => work().catch((err) => ({ action: "failed", reason: causeMessage(err) }));
  const healed = await step(() => healActive(env));
  const outcome = await step(() => promoteNewest(env));
  const expiredEvents = await step(() => deleteExpiredEvents(env, Date.now() - eventsConfig(env).retentionMs));
  const catalogIndex = await step(() => publishCatalogIndex(env, { minDelta: CATALOG_INDEX_MIN_DELTA }));
  // the one-off costs the cron paid (a candidate's fetch and session) are its own, not the next request's
  const coldTimings = takeColdTimings() || undefined;
  const record = { cron, ...outcome, heal: healed ?? "ok", expiredEvents, catalogIndex, coldTimings };
  console.log(JSON.stringify(record));
  return record;
}

export default {
  fetch: app.fetch,
  // Cron Trigger: the active model's bytes verified (rolled back if not), the newest candidate validated and promoted
  // or rejected (the active model keeps serving), events past the retention window deleted.
  async scheduled(controller: ScheduledController, env: Bindings, ctx: ExecutionContext) {
    ctx.waitUntil(runCron(env, controller.cron));
  },
} satisfies ExportedHandler<Bindings>;
