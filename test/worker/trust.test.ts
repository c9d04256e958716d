// Issue 16, trust and integrity: the attacks that used to succeed (or 5xx) against the Worker, each refused safely now.
import { createHmac } from "node:crypto";
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { codebookFromJson } from "../../core/codebook";
import { userHistoryQuery } from "../../worker/catalog";
import { signUserToken } from "../../worker/credentials";
import { database } from "../../worker/db/client";
import worker from "../../worker/index";
import { resetModelFailures } from "../../worker/model";
import codebookJson from "../fixtures/codebook.json";
import fixtureModel from "../fixtures/hpn-fixture.onnx";
import { activateFixture, FIXTURE, post, seedItems, resetToFixtureCatalog } from "./helpers";

const admin = { authorization: "Bearer test-admin-token" };
const SECRET = "test-user-token-secret"; // vitest.config.ts binds USER_TOKEN_SECRET to this
const codebook = codebookFromJson(codebookJson);
const fetchEdge = (path: string, init?: RequestInit) => exports.default.fetch(`http://edge${path}`, init);

async function newKey(name = "shop"): Promise<{ id: string; key: string }> {
  const res = await post("/v1/admin/keys", { name }, admin);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}
const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
const click = (userId: string, itemIds: string[], ts?: number) => ({ type: "click", userId, itemIds, ...(ts === undefined ? {} : { ts }) });

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/15 * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function put(items: unknown[]): Promise<Response> {
  return fetchEdge("/v1/items", {
    method: "PUT",
    headers: { "content-type": "application/json", ...admin },
    body: JSON.stringify({ items }),
  });
}
const features = (seed: number) => Array.from({ length: codebook.dim }, (_, j) => Math.sin(seed * 12.9898 + j * 78.233));

beforeEach(async () => {
  await resetToFixtureCatalog(40, ["api_keys"]);
  resetModelFailures();
});
afterEach(() => vi.restoreAllMocks());

describe("feedback with an identity", () => {
  it("refuses events without a credential, with a forged or revoked one, and stores only hashes of keys", async () => {
    const body = { events: [click("alice", ["item-1"])] };
    expect((await post("/v1/events", body)).status).toBe(401);
    expect((await post("/v1/events", body, bearer("hk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))).status).toBe(401);
    expect((await post("/v1/events", body, bearer(signUserToken("not-the-secret", "alice", Date.now() / 1000 + 600)))).status).toBe(401);
    expect((await post("/v1/events", body, bearer(signUserToken(SECRET, "alice", Date.now() / 1000 - 1)))).status).toBe(401); // expired

    const { id, key } = await newKey();
    expect((await post("/v1/events", body, bearer(key))).status).toBe(200);
    const stored = await env.DB.prepare("SELECT * FROM api_keys").all();
    expect(JSON.stringify(stored.results)).not.toContain(key.split("_")[2]);
    const listed = await (await fetchEdge("/v1/admin/keys", { headers: admin })).json();
    expect(JSON.stringify(listed)).not.toContain(key.split("_")[2]);

    expect((await fetchEdge(`/v1/admin/keys/${id}`, { method: "DELETE", headers: admin })).status).toBe(200);
    expect((await post("/v1/events", body, bearer(key))).status).toBe(401);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM events").first()).toEqual({ n: 1 });
  });

  it("a user token writes only its own user's events; a site's backend gets one with its API key", async () => {
    const { key } = await newKey();
    const issued = await post("/v1/tokens", { userId: "alice", ttlSeconds: 600 }, bearer(key));
    expect(issued.status).toBe(200);
    const { token } = (await issued.json()) as { token: string };
    expect((await post("/v1/tokens", { userId: "alice" }, bearer(token))).status).toBe(401); // tokens do not mint tokens
    expect((await post("/v1/events", { events: [click("alice", ["item-1"])] }, bearer(token))).status).toBe(200);
    const other = await post("/v1/events", { events: [click("alice", ["item-2"]), click("bob", ["item-2"])] }, bearer(token));
    expect(other.status).toBe(403);
    expect(
      await env.DB.prepare("SELECT user_id, item_id FROM events")
        .all()
        .then((r) => r.results),
    ).toEqual([{ user_id: "alice", item_id: "item-1" }]);
  });

  it("accepts a token signed as the README shows (HMAC-SHA256 with node:crypto)", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const payload = `ut.${Buffer.from("carol").toString("base64url")}.${exp}`;
    const token = `${payload}.${createHmac("sha256", SECRET).update(payload).digest("base64url")}`;
    expect(token).toBe(signUserToken(SECRET, "carol", exp));
    expect((await post("/v1/events", { events: [click("carol", ["item-3"])] }, bearer(token))).status).toBe(200);
  });

  it("refuses and counts a ts outside the window and unknown items; far-future clicks cannot pin a user's history", async () => {
    const { key } = await newKey();
    const now = Date.now();
    const attack = await post(
      "/v1/events",
      {
        events: [
          click("victim", ["item-5", "item-6"], 2 ** 53 - 1),
          click("victim", ["item-7"], now - 30 * 86_400_000),
          click("victim", ["nope"]),
        ],
      },
      bearer(key),
    );
    expect(attack.status).toBe(200);
    expect(await attack.json()).toEqual({ accepted: 0, refused: { ts: 3, unknownItem: 1 }, attributed: 0 });
    const genuine = await post("/v1/events", { events: [click("victim", ["item-12", "item-20"])] }, bearer(key));
    expect(await genuine.json()).toEqual({ accepted: 2, refused: { ts: 0, unknownItem: 0 }, attributed: 0 });
    const viaUser = (await (await post("/v1/recommend", { userId: "victim", k: 5 })).json()) as { items: { id: string }[] };
    const viaHistory = (await (await post("/v1/recommend", { history: ["item-12", "item-20"], k: 5 })).json()) as {
      items: { id: string }[];
    };
    expect(viaUser.items.map((i) => i.id)).toEqual(viaHistory.items.map((i) => i.id));
  });

  it("rate limits per user in rows (Workers Rate Limiting binding: 60 units of 100 rows a minute), with 429 and Retry-After", async () => {
    const { key } = await newKey();
    const batch = (user: string, events: number) => ({
      events: Array.from({ length: events }, () =>
        click(
          user,
          Array.from({ length: 100 }, (_, j) => `item-${j % 40}`),
        ),
      ),
    });
    expect((await post("/v1/events", batch("flooder", 50), bearer(key))).status).toBe(200); // 5,000 rows: 50 units
    const res = await post("/v1/events", batch("flooder", 11), bearer(key)); // 1,100 more: 61 units in a minute
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("60");
    expect(await res.json()).toMatchObject({ error: "rate_limited" });
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM events").first()).toEqual({ n: 5000 });
    // another user of the same key is not held back by that one
    expect((await post("/v1/events", { events: [click("calm", ["item-1"])] }, bearer(key))).status).toBe(200);
  });

  it("the cron deletes events past the retention window, and userId reads ignore them before it runs", async () => {
    const old = Date.now() - 91 * 86_400_000;
    const stmt = env.DB.prepare("INSERT INTO events (user_id, item_id, type, ts) VALUES ('ancient', ?, 'click', ?)");
    await env.DB.batch([stmt.bind("item-9", old), stmt.bind("item-10", Date.now() - 1000)]);
    const viaUser = (await (await post("/v1/recommend", { userId: "ancient", k: 5 })).json()) as { items: { id: string }[] };
    const recent = (await (await post("/v1/recommend", { history: ["item-10"], k: 5 })).json()) as { items: { id: string }[] };
    expect(viaUser.items.map((i) => i.id)).toEqual(recent.items.map((i) => i.id));
    await runCron();
    expect(
      await env.DB.prepare("SELECT item_id FROM events")
        .all()
        .then((r) => r.results),
    ).toEqual([{ item_id: "item-10" }]);
  });

  it("reads a user's clicks through the (user_id, type, ts) index, never scanning impressions", async () => {
    const query = userHistoryQuery(database(env.DB), "u1", 50, 0).toSQL();
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
      .bind(...query.params)
      .all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail).join("\n");
    expect(details).toMatch(/events USING INDEX events_user_type_ts \(user_id=\? AND type=\? AND ts>\?\)/);
    expect(details).not.toMatch(/TEMP B-TREE/);
  });
});

describe("search, features and retired items", () => {
  it("a long title search, or one full of % and _, is a 200, not a 503", async () => {
    await seedItems([{ id: "long", tokens: [7, 7, 7], attributes: { title: `${"a".repeat(60)} 100%_sure` } }]);
    for (const q of ["a".repeat(60), "%".repeat(30), "_".repeat(40), "é".repeat(100), `${"a".repeat(60)} 100%_sure`]) {
      const res = await fetchEdge(`/v1/items?q=${encodeURIComponent(q)}`);
      expect({ q, status: res.status }).toEqual({ q, status: 200 });
    }
    const hit = (await (await fetchEdge(`/v1/items?q=${encodeURIComponent("100%_SURE")}`)).json()) as { items: { id: string }[] };
    expect(hit.items.map((i) => i.id)).toEqual(["long"]);
    expect((await fetchEdge("/v1/items?q=%25_")).status).toBe(200);
  });

  it("refuses feature values float32 cannot hold with a 400 naming the value", async () => {
    const f = features(1);
    f[3] = 3.5e38;
    const res = await put([{ id: "huge", features: f }]);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ issues: [{ path: "items.0.features.3" }] });
    f[3] = 3.4e38; // still a float32
    expect((await put([{ id: "big", features: f }])).status).toBe(200);
  });

  it("refuses a title that is not a string (the page renders titles)", async () => {
    const res = await put([{ id: "odd", features: features(2), attributes: { title: { toString: null } } }]);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ issues: [{ path: "items.0.attributes.title" }] });
  });

  it("a re-PUT of a retired id is a 409 (nothing written) unless it asks to revive", async () => {
    expect((await fetchEdge("/v1/items/item-7", { method: "DELETE", headers: admin })).status).toBe(200);
    const res = await put([
      { id: "brand-new", features: features(3) },
      { id: "item-7", features: features(4) },
    ]);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: "item_retired", retired: ["item-7"] });
    expect(await env.DB.prepare("SELECT id FROM items WHERE id = 'brand-new'").first()).toBeNull();
    expect(await env.DB.prepare("SELECT status, retired_by FROM items WHERE id = 'item-7'").first()).toEqual({
      status: "retired",
      retired_by: "delete",
    });
    expect((await put([{ id: "item-7", features: features(4), revive: true }])).status).toBe(200);
    expect(await env.DB.prepare("SELECT status, retired_by FROM items WHERE id = 'item-7'").first()).toEqual({
      status: "active",
      retired_by: null,
    });
  });
});

describe("errors without internals", () => {
  it("a corrupted model: 503 with a code, a message, a request id and Retry-After; the details only in the log", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await activateFixture({ corrupt: true });
    for (const path of ["/v1/recommend", "/healthz"]) {
      const res = path === "/healthz" ? await fetchEdge(path) : await post(path, { history: [] });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      const text = await res.text();
      expect(text).not.toMatch(/sha256|models\/|[0-9a-f]{32}|manifest/);
      const body = JSON.parse(text) as { requestId: string };
      expect(body.requestId).toBe(res.headers.get("x-request-id"));
      const line = logged.mock.calls.map((c) => String(c[0])).find((l) => l.includes(body.requestId));
      expect(JSON.parse(line!)).toMatchObject({
        requestId: body.requestId,
        code: "model_unavailable",
        detail: expect.stringMatching(/sha256/),
      });
    }
  });

  it("a D1 failure: 503 database_unavailable without the D1 error text", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await env.DB.exec("ALTER TABLE items RENAME TO items_gone");
    try {
      const res = await post("/v1/rerank", { history: ["item-1"], candidates: ["item-2"] });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      const body = await res.json();
      expect(body).toEqual({ error: "database_unavailable", message: expect.any(String), requestId: expect.any(String) });
      expect(JSON.stringify(body)).not.toMatch(/no such table|SQLITE|items/);
    } finally {
      await env.DB.exec("ALTER TABLE items_gone RENAME TO items");
    }
  });
});

describe("model state that heals", () => {
  it("caches a failed load with backoff: the next request does not download and hash the model again", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const version = await activateFixture({ corrupt: true });
    expect((await post("/v1/recommend", { history: [] })).status).toBe(503);
    // the bytes are repaired, but this isolate waits out its backoff before it tries again
    await env.MODELS.put(
      `models/${version}/${(await import("../fixtures/hpn-fixture.manifest.json")).serving}`,
      new Uint8Array(fixtureModel),
    );
    await env.DB.prepare("UPDATE model_versions SET sha256 = ? WHERE version = ?")
      .bind((await import("../fixtures/hpn-fixture.manifest.json")).files.fp32.sha256, version)
      .run();
    expect((await post("/v1/recommend", { history: [] })).status).toBe(503);
    resetModelFailures(); // the backoff has passed
    expect((await post("/v1/recommend", { history: [] })).status).toBe(200);
  });

  it("the cron rolls back from an active model whose bytes broke, to the last good one, and records why", async () => {
    const good = FIXTURE.version;
    const broken = await activateFixture({ name: "hpn-fixture-next" });
    const manifest = (await (await env.MODELS.get(`models/${broken}/manifest.json`))!.json()) as { serving: string };
    await env.MODELS.put(`models/${broken}/${manifest.serving}`, new Uint8Array(100)); // bit rot, a bad overwrite
    await runCron();
    expect(
      await env.DB.prepare("SELECT version, status, reason FROM model_versions ORDER BY version")
        .all()
        .then((r) => r.results),
    ).toEqual(
      expect.arrayContaining([
        { version: good, status: "active", reason: null },
        {
          version: broken,
          status: "retired",
          reason: expect.stringMatching(/^rolled back: the active model failed verification: .*sha256/),
        },
      ]),
    );
    const res = await post("/v1/recommend", { history: [], k: 3 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(good);
  });

  it("with no good version left, the cron rolls back to the embedded default", async () => {
    await env.DB.exec("DELETE FROM meta WHERE key = 'codebook_version'; DELETE FROM model_versions"); // no earlier model
    const only = await activateFixture({ version: "00000000000000aa" });
    await env.MODELS.delete(`models/${only}/manifest.json`);
    await runCron();
    expect(await env.DB.prepare("SELECT status, reason FROM model_versions WHERE version = ?").bind(only).first()).toEqual({
      status: "retired",
      reason: expect.stringMatching(/^rolled back: .*missing/),
    });
    const health = (await (await fetchEdge("/healthz")).json()) as { model: { source: string } };
    expect(health.model.source).toBe("embedded");
  });
});

describe("browser-facing basics", () => {
  it("CORS: allowed origins from CORS_ORIGINS get the headers, others do not", async () => {
    const preflight = (origin: string) =>
      fetchEdge("/v1/recommend", {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    const ok = await preflight("https://shop.example");
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(ok.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    const simple = await fetchEdge("/v1/model", { headers: { origin: "https://other.example" } });
    expect(simple.headers.get("access-control-allow-origin")).toBe("https://other.example");
  });

  it("the page carries security headers, with a CSP that admits exactly its inline script and style", async () => {
    const res = await fetchEdge("/");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/unsafe-inline/);
    const html = await res.text();
    const script = /<script[^>]*>([\s\S]*?)<\/script>/.exec(html)![1];
    const digest = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(script)))));
    expect(csp).toContain(`'sha256-${digest}'`);
  });

  it("a known path with a wrong method is a 405 with Allow; an unknown path stays a 404", async () => {
    const wrong = await fetchEdge("/v1/events");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect(await wrong.json()).toMatchObject({ error: "method_not_allowed", requestId: expect.any(String) });
    const items = await fetchEdge("/v1/items/item-1", { method: "POST" });
    expect(items.status).toBe(405);
    expect(items.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "HEAD"]);
    expect((await fetchEdge("/v1/nothing-here")).status).toBe(404);
    expect((await fetchEdge("/v1/items/ghost")).status).toBe(404); // a route's own 404 stays one
  });
});
