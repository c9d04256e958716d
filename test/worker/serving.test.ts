import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import {
  activateFixture,
  bumpCatalogVersion,
  catalog,
  FIXTURE,
  post,
  referenceLogProbs,
  referenceScore,
  seedItems,
  type SeedItem,
} from "./helpers";

type Ranked = { id: string; score: number | null; sid: number[]; collision: number; attributes?: Record<string, unknown> };
type RerankBody = {
  items: Ranked[];
  unknown: string[];
  retired: string[];
  unknownHistory: string[];
  model: string | null;
  fallback?: boolean;
  reason?: string;
};

const items = catalog(60);
const byId = new Map(items.map((i) => [i.id, i]));
const tokensOf = (ids: string[]) => ids.map((id) => byId.get(id)!.tokens);

beforeEach(async () => {
  await env.DB.exec("DELETE FROM items; DELETE FROM model_versions; DELETE FROM meta; DELETE FROM events;");
  await seedItems(items);
  await activateFixture();
});

describe("POST /v1/rerank", () => {
  it("orders candidates by Σ_l log p_l(z_l), matching a reference computed from the same model", async () => {
    const history = ["item-3", "item-10", "item-22"];
    const candidates = items.slice(20, 50).map((i) => i.id);
    const res = await post("/v1/rerank", { history, candidates });
    expect(res.status).toBe(200);
    const body = (await res.json()) as RerankBody;
    expect(body.model).toBe(FIXTURE.version);
    expect(body.unknown).toEqual([]);

    const lp = await referenceLogProbs(tokensOf(history));
    const expected = candidates
      .map((id) => ({ id, s: referenceScore(lp, byId.get(id)!.tokens) }))
      .sort((a, b) => b.s - a.s)
      .map((x) => x.id);
    expect(body.items.map((i) => i.id)).toEqual(expected);
    for (const it of body.items) {
      expect(it.sid).toEqual(byId.get(it.id)!.tokens);
      expect(it.score).toBeCloseTo(referenceScore(lp, it.sid), 4);
    }
  });

  it("returns the top k only, and breaks ties between colliding SIDs by collision index", async () => {
    const res = await post("/v1/rerank", { history: ["item-5"], candidates: ["item-1", "item-0", "item-7"], k: 2 });
    const body = (await res.json()) as RerankBody;
    expect(body.items).toHaveLength(2);
    const ids = body.items.map((i) => i.id);
    if (ids.includes("item-0") && ids.includes("item-1")) expect(ids.indexOf("item-0")).toBeLessThan(ids.indexOf("item-1"));
  });

  it("lists unknown and retired candidates instead of failing", async () => {
    // Retired the way a SID table for a new codebook retires items it no longer lists: off the SID space.
    await env.DB.prepare(
      "UPDATE items SET status = 'retired', sid = 'retired:' || id, updated_at = unixepoch('subsec') * 1000 WHERE id = 'item-9'",
    ).run();
    await bumpCatalogVersion();
    const res = await post("/v1/rerank", { history: [42, "nope", "item-9"], candidates: ["item-4", "ghost", "item-9", 7] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as RerankBody;
    expect(body.items.map((i) => i.id)).toEqual(["item-4"]);
    expect(body.unknown).toEqual(["ghost", "7"]);
    expect(body.retired).toEqual(["item-9"]);
    expect(body.unknownHistory).toEqual(["42", "nope"]);
  });

  it("sees catalog changes on the next request (the per-isolate cache follows the catalog version)", async () => {
    const req = { history: ["item-2"], candidates: ["item-30"] };
    const before = (await (await post("/v1/rerank", req)).json()) as RerankBody;
    expect(before.items[0].sid).toEqual(byId.get("item-30")!.tokens);
    await env.DB.prepare("UPDATE items SET sid = '15-15-15', updated_at = unixepoch('subsec') * 1000 WHERE id = 'item-30'").run();
    await bumpCatalogVersion();
    const after = (await (await post("/v1/rerank", req)).json()) as RerankBody;
    expect(after.items[0].sid).toEqual([15, 15, 15]);
  });

  it("uses a user's stored click history when given userId", async () => {
    const clicks = ["item-12", "item-40"];
    const stmt = env.DB.prepare("INSERT INTO events (user_id, item_id, type, ts) VALUES ('u1', ?, ?, ?)");
    const now = Date.now();
    await env.DB.batch([
      stmt.bind(clicks[0], "click", now - 3000),
      stmt.bind("item-13", "impression", now - 2500),
      stmt.bind(clicks[1], "click", now - 2000),
    ]);
    const candidates = items.slice(0, 20).map((i) => i.id);
    const viaUser = (await (await post("/v1/rerank", { userId: "u1", candidates })).json()) as RerankBody;
    const viaHistory = (await (await post("/v1/rerank", { history: clicks, candidates })).json()) as RerankBody;
    expect(viaUser.items.map((i) => i.id)).toEqual(viaHistory.items.map((i) => i.id));
  });

  it("degrades to the given order when the model cannot be loaded", async () => {
    await activateFixture({ corrupt: true });
    const candidates = ["item-8", "item-2", "ghost", "item-5"];
    const res = await post("/v1/rerank", { history: ["item-1"], candidates });
    expect(res.status).toBe(200);
    const body = (await res.json()) as RerankBody;
    expect(body.fallback).toBe(true);
    expect(body.reason).toBe("the model is unavailable; retry later"); // what failed is in the log, not the answer
    expect(body.model).toBeNull();
    expect(body.items.map((i) => i.id)).toEqual(["item-8", "item-2", "item-5"]);
    expect(body.items.every((i) => i.score === null)).toBe(true);
    expect(body.unknown).toEqual(["ghost"]);
  });
});

describe("POST /v1/recommend", () => {
  async function bruteForce(history: string[], k: number, exclude: string[], pool: SeedItem[]) {
    const lp = await referenceLogProbs(tokensOf(history));
    const skip = new Set([...history, ...exclude]);
    return pool
      .filter((i) => (i.status ?? "active") === "active" && !skip.has(i.id))
      .map((i) => ({ id: i.id, s: referenceScore(lp, i.tokens), c: i.collision ?? 0 }))
      .sort((a, b) => b.s - a.s || a.c - b.c)
      .slice(0, k);
  }

  it("decodes exactly the k best active items present in the catalog, excluding history and `exclude`", async () => {
    const history = ["item-3", "item-17"];
    const exclude = ["item-40", "item-41"];
    const res = await post("/v1/recommend", { history, k: 8, exclude });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Ranked[]; model: string };
    const want = await bruteForce(history, 8, exclude, items);
    expect(body.items.map((i) => i.score)).toEqual(want.map((w) => expect.closeTo(w.s, 4)));
    expect(new Set(body.items.map((i) => i.id))).toEqual(new Set(want.map((w) => w.id)));
    expect(body.items[0].attributes).toMatchObject({ title: expect.stringMatching(/^Item /) });
    for (const it of body.items) expect([...history, ...exclude]).not.toContain(it.id);
  });

  it("serves a cold user (empty history)", async () => {
    const res = await post("/v1/recommend", { history: [], k: 5 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Ranked[] };
    const want = await bruteForce([], 5, [], items);
    expect(body.items.map((i) => i.score)).toEqual(want.map((w) => expect.closeTo(w.s, 4)));
  });

  it("never recommends a retired item", async () => {
    const first = (await (await post("/v1/recommend", { history: [], k: 1 })).json()) as { items: Ranked[] };
    const top = first.items[0].id;
    await env.DB.prepare("UPDATE items SET status = 'retired', updated_at = unixepoch('subsec') * 1000 WHERE id = ?").bind(top).run();
    await bumpCatalogVersion();
    const again = (await (await post("/v1/recommend", { history: [], k: 10 })).json()) as { items: Ranked[] };
    expect(again.items.map((i) => i.id)).not.toContain(top);
    expect(again.items).toHaveLength(10);
  });

  it("a request that fails while a cache loads does not leave later requests hanging on it", async () => {
    // A history item whose tokens lie outside the model's vocabulary makes inference fail at once, while the same
    // request is still loading the catalog's prefix tree from D1 (workerd cannot settle that load after the request).
    await seedItems([{ id: "off-vocab", tokens: [FIXTURE.vocab + 3, 0, 0], attributes: { title: "Off vocabulary" } }]);
    const bad = await post("/v1/recommend", { history: ["off-vocab"], k: 3 });
    expect(bad.status).toBe(503);
    expect(await bad.json()).toMatchObject({ error: "model_unavailable" });
    const good = await post("/v1/recommend", { history: ["item-3"], k: 3 });
    expect(good.status).toBe(200);
    expect(((await good.json()) as { items: unknown[] }).items).toHaveLength(3);
  });

  it("answers 503 with JSON when the model cannot be loaded", async () => {
    await activateFixture({ corrupt: true });
    const res = await post("/v1/recommend", { history: [] });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "model_unavailable" });
  });
});

describe("validation and limits", () => {
  it.each([
    [{ candidates: ["a"] }, "history"],
    [{ history: [], userId: "u", candidates: ["a"] }, "history"],
    [{ history: [], candidates: [] }, "candidates"],
    [{ history: [], candidates: Array.from({ length: 1001 }, (_, i) => `c${i}`) }, "candidates"],
    [{ history: [], candidates: ["a"], k: 0 }, "k"],
    [{ history: [{}], candidates: ["a"] }, "history.0"],
  ])("rejects a bad body with a 400 naming the field (%#)", async (body, field) => {
    const res = await post("/v1/rerank", body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; issues: { path: string }[] };
    expect(json.error).toBe("invalid_request");
    expect(json.issues.map((i) => i.path)).toContain(field);
  });

  it("rejects k above the recommend limit", async () => {
    const res = await post("/v1/recommend", { history: [], k: 101 });
    expect(res.status).toBe(400);
  });

  it("answers malformed JSON with a JSON 400", async () => {
    const res = await post("/v1/rerank", "{not json");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_request" });
  });

  it("refuses bodies over the size limit with 413", async () => {
    const res = await post("/v1/rerank", { history: [], candidates: ["a"], pad: "x".repeat(1100 * 1024) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: "payload_too_large" });
  });
});

describe("reads", () => {
  it("GET /v1/items/:id gives the item with its SID, 404 otherwise", async () => {
    const res = await exports.default.fetch("http://edge/v1/items/item-1");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: "item-1",
      sid: byId.get("item-1")!.tokens,
      collision: 1,
      status: "active",
      attributes: { title: "Item 1" },
    });
    const missing = await exports.default.fetch("http://edge/v1/items/ghost");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "not_found" });
  });

  it("GET /v1/model gives the active manifest", async () => {
    const res = await exports.default.fetch("http://edge/v1/model");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ version: FIXTURE.version, source: "r2", manifest: { levels: 3, vocab: FIXTURE.vocab } });
  });

  it("GET /openapi.json documents the routes from the same schemas", async () => {
    const doc = (await (await exports.default.fetch("http://edge/openapi.json")).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/rerank", "/v1/recommend", "/v1/items/{id}", "/v1/model"]));
    expect(doc.components.schemas).toHaveProperty("RerankRequest");
  });
});

describe("catalog browsing", () => {
  it("GET /v1/items?q= finds active items by title, case-insensitively, with LIKE wildcards taken literally", async () => {
    const res = await exports.default.fetch("http://edge/v1/items?q=item%201&limit=50");
    expect(res.status).toBe(200);
    const { items: found } = (await res.json()) as { items: { id: string; sid: number[] }[] };
    expect(found.map((i) => i.id).sort()).toEqual([
      "item-1",
      "item-10",
      "item-11",
      "item-12",
      "item-13",
      "item-14",
      "item-15",
      "item-16",
      "item-17",
      "item-18",
      "item-19",
    ]);
    const none = (await (await exports.default.fetch("http://edge/v1/items?q=%25")).json()) as { items: unknown[] };
    expect(none.items).toEqual([]);
    expect((await exports.default.fetch("http://edge/v1/items?q=")).status).toBe(400);
  });

  it("GET /v1/catalog/clusters groups active items by their first SID token", async () => {
    const res = await exports.default.fetch("http://edge/v1/catalog/clusters?examples=2");
    const { clusters } = (await res.json()) as { clusters: { token: number; items: number; examples: { sid: number[] }[] }[] };
    const expected = new Map<number, number>();
    for (const it of items) expected.set(it.tokens[0], (expected.get(it.tokens[0]) ?? 0) + 1);
    expect(new Map(clusters.map((c) => [c.token, c.items]))).toEqual(expected);
    for (const c of clusters) {
      expect(c.examples.length).toBeLessThanOrEqual(2);
      for (const e of c.examples) expect(e.sid[0]).toBe(c.token);
    }
  });

  it("GET / serves the demo page", async () => {
    const res = await exports.default.fetch("http://edge/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('<label for="search">');
    expect(html).not.toMatch(/<script[^>]+src="https?:/); // no external CDNs
  });
});

// Last in the file: it drops a table, and D1 state carries over between the tests of a file.
describe("database failures", () => {
  it("answer 503 with a JSON body", async () => {
    await env.DB.exec("DROP TABLE items");
    const res = await post("/v1/rerank", { history: ["item-1"], candidates: ["item-2"] });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "database_unavailable" });
  });
});
