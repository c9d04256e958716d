import { Hono } from "hono";
import type { AppEnv } from "../bindings";
import { activeModel } from "../model";

export const health = new Hono<AppEnv>().get("/healthz", async (c) => {
  try {
    const model = await activeModel();
    return c.json({ status: "ok", onnx: "ready", model: { version: model.version, kind: model.kind, source: model.source } });
  } catch (err) {
    return c.json({ status: "degraded", onnx: "error", error: String(err) }, 503);
  }
});
