import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /healthz", () => {
  it("reports the active model and a ready ONNX session", async () => {
    const res = await exports.default.fetch("http://edge/healthz");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { onnx: string; model: { version: string; kind: string; source: string } };
    expect(body.onnx).toBe("ready");
    expect(body.model.source).toBe("embedded");
    expect(body.model.version).toMatch(/\S/);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await exports.default.fetch("http://edge/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});
