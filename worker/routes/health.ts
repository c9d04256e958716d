import { Hono } from "hono";
import type { AppEnv } from "../bindings";
import { readVersionsNow } from "../db/meta";
import { causeMessage } from "../errors";
import { servingModel } from "../model";

// Liveness plus readiness: loads the active model (lazily, once per isolate) and says whether ORT is ready.
export const health = new Hono<AppEnv>().get("/healthz", async (c) => {
  let activeVersion: string | null = null;
  let database = "ok";
  try {
    activeVersion = (await readVersionsNow(c.env)).activeModel;
  } catch (err) {
    database = `error: ${causeMessage(err)}`;
  }
  try {
    const model = await servingModel(c.env, activeVersion);
    const status = database === "ok" ? "ok" : "degraded";
    const { training } = model.manifest;
    return c.json(
      { status, onnx: "ready", database, model: { version: model.version, source: model.source, dataset: training.dataset } },
      database === "ok" ? 200 : 503,
    );
  } catch (err) {
    return c.json({ status: "degraded", onnx: "error", database, error: causeMessage(err) }, 503);
  }
});
