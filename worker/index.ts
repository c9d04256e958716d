// The Worker's composition root: routers per resource are mounted here, errors become JSON, cron redeploys models.
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { AppEnv, Bindings } from "./bindings";
import { ApiError } from "./errors";
import { publishCatalogIndex } from "./catalog-index";
import { promoteNewest } from "./registry";
import { adminRoutes } from "./routes/admin";
import { eventsRoutes } from "./routes/events";
import { catalogRoutes } from "./routes/catalog";
import { health } from "./routes/health";
import { demoPage } from "./page";
import { itemsRoutes } from "./routes/items";
import { modelRoutes } from "./routes/model";
import { recommend } from "./routes/recommend";
import { rerank } from "./routes/rerank";
import { LIMITS } from "./schemas";

export const app = new OpenAPIHono<AppEnv>();

app.use(
  "/v1/*",
  bodyLimit({
    maxSize: LIMITS.bodyBytes,
    onError: (c) => c.json({ error: "payload_too_large", message: `request body exceeds ${LIMITS.bodyBytes} bytes` }, 413),
  }),
);
app.get("/", (c) => c.html(demoPage));
app.route("/", health);
app.route("/", catalogRoutes);
app.route("/", rerank);
app.route("/", recommend);
app.route("/", itemsRoutes);
app.route("/", modelRoutes);
app.route("/", eventsRoutes);
app.route("/", adminRoutes);
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "ADMIN_TOKEN" });

app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: { title: "hsrl-edge", version: "0.1.0", description: "HSRL re-ranking and recommendation at the edge" },
});

app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404));
app.onError((err, c) => {
  if (err instanceof ApiError) return c.json({ error: err.code, message: err.message, ...err.details }, err.status);
  if (err instanceof HTTPException) {
    // Hono's own 4xx (e.g. a body that is not JSON): keep the status, answer in JSON.
    return c.json({ error: err.status === 400 ? "invalid_request" : "http_error", message: err.message }, err.status);
  }
  console.error(err);
  return c.json({ error: "internal", message: "internal error" }, 500);
});

// Rows changed since the last artifact before the cron builds another (a full read of the catalog).
const CATALOG_INDEX_MIN_DELTA = 1000;

export default {
  fetch: app.fetch,
  // Cron Trigger: validate the newest published candidate; promote it or reject it (the active model keeps serving).
  async scheduled(controller: ScheduledController, env: Bindings, ctx: ExecutionContext) {
    ctx.waitUntil(promoteNewest(env).then((outcome) => console.log(JSON.stringify({ cron: controller.cron, ...outcome }))));
    // A fresh prefix-index artifact once enough rows changed since the last, so isolates' overlays stay small.
    ctx.waitUntil(
      publishCatalogIndex(env, { minDelta: CATALOG_INDEX_MIN_DELTA }).then((outcome) =>
        console.log(JSON.stringify({ cron: controller.cron, ...outcome })),
      ),
    );
  },
} satisfies ExportedHandler<Bindings>;
