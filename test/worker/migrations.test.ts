import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("D1 migrations", () => {
  it("creates the catalog, model registry, events and meta tables", async () => {
    const { results } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{ name: string }>();
    const names = results.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["events", "items", "meta", "model_versions"]));
  });

  it("refuses two items with the same full SID", async () => {
    const insert = "INSERT INTO items (id, sid, collision, codebook_version) VALUES (?, ?, ?, 'cb')";
    await env.DB.prepare(insert).bind("a", "1-2-3", 0).run();
    await expect(env.DB.prepare(insert).bind("b", "1-2-3", 0).run()).rejects.toThrow(/UNIQUE/);
    await env.DB.prepare(insert).bind("b", "1-2-3", 1).run();
  });

  it("allows at most one active model", async () => {
    const insert = "INSERT INTO model_versions (version, r2_key, sha256, codebook_version, status) VALUES (?, 'k', 's', 'cb', ?)";
    await env.DB.prepare(insert).bind("v1", "active").run();
    await env.DB.prepare(insert).bind("v2", "candidate").run();
    await expect(env.DB.prepare(insert).bind("v3", "active").run()).rejects.toThrow(/UNIQUE/);
  });

  it("allows at most one canary model", async () => {
    const insert = "INSERT INTO model_versions (version, r2_key, sha256, codebook_version, status) VALUES (?, 'k', 's', 'cb', ?)";
    await env.DB.prepare(insert).bind("c1", "canary").run();
    await expect(env.DB.prepare(insert).bind("c2", "canary").run()).rejects.toThrow(/UNIQUE/);
  });
});
