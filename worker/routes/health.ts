import { Hono } from "hono";
import type { AppEnv } from "../bindings";
import { readVersionsNow } from "../db/meta";
import { ApiError, causeMessage, logError } from "../errors";
import { servingModel } from "../model";

// Liveness plus readiness: loads the active model (lazily, once per isolate) and says whether ORT is ready. What failed
// is logged under the request id; the public answer says only which part is degraded.
export const health = new Hono<AppEnv>().get("/healthz", async (c) => {
  let activeVersion: string | null = null;
  let database = "ok";
  try {
    activeVersion = (await readVersionsNow(c.env)).activeModel;
  } catch (err) {
    database = "unavailable";
    logError(c, { status: 503, code: "database_unavailable", detail: causeMessage(err) });
  }
  try {
    const model = await servingModel(c.env, activeVersion);
    const status = database === "ok" ? "ok" : "degraded";
    const { training } = model.manifest;
    return c.json(
      { status, onnx: "ready", database, model: { version: model.version, source: model.source, dataset: training.dataset } },
      database === "ok" ? 200 : 503,
      database === "ok" ? {} : { "retry-after": "5" },
    );
  } catch (err) {
    logError(c, { status: 503, code: "model_unavailable", detail: causeMessage(err) });
    const retryAfter = err instanceof ApiError && err.retryAfter !== undefined ? err.retryAfter : 30;
    return c.json({ status: "degraded", onnx: "error", database, error: "model_unavailable", requestId: c.get("requestId") }, 503, {
      "retry-after": String(retryAfter),
    });
  }
});
