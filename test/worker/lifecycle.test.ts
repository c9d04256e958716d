import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { codebookFromJson, codebookToJson, createCodebook, decodeSid, encodeSid } from "../../core/codebook";
import { takeColdTimings } from "../../worker/cold-timing";
import worker, { runCron as runCronNow } from "../../worker/index";
import {
  encodeItemContent,
  itemEncoderFromJson,
  itemEncoderToJson,
  itemEncoderVersion,
  type ItemEncoder,
  type ItemEncoderJson,
} from "../../core/item-encoder";
import embeddedCodebookJson from "../../model/default/codebook.json";
import embeddedEncoderJson from "../../model/default/item-encoder.json";
import codebookJson from "../fixtures/codebook.json";
import nextManifest from "../fixtures/hpn-fixture-next.manifest.json";
import { catalog, FIXTURE, post, publishFixture, referenceLogProbs, referenceScore, resetToFixtureCatalog } from "./helpers";

const TOKEN = "test-admin-token"; // vitest.config.ts binds ADMIN_TOKEN to this
const admin = { authorization: `Bearer ${TOKEN}` };
const codebook = codebookFromJson(codebookJson);

async function put(items: unknown[], headers: Record<string, string> = admin): Promise<Response> {
  return exports.default.fetch("http://edge/v1/items", {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ items }),
  });
}

type Written = { items: { id: string; sid: number[]; collision: number }[]; codebook: string };

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/15 * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function activeVersion(): Promise<string> {
  return ((await (await exports.default.fetch("http://edge/v1/model")).json()) as { version: string }).version;
}

async function modelRow(version: string) {
  return env.DB.prepare("SELECT status, reason FROM model_versions WHERE version = ?")
    .bind(version)
    .first<{ status: string; reason: string | null }>();
}

/** A fresh API key, created through the admin route, as the Authorization header events need. */
async function apiKeyHeader(): Promise<Record<string, string>> {
  const res = await post("/v1/admin/keys", { name: "test client" }, admin);
  return { authorization: `Bearer ${((await res.json()) as { key: string }).key}` };
}

const features = (seed: number) => Array.from({ length: codebook.dim }, (_, j) => Math.sin(seed * 12.9898 + j * 78.233));

beforeEach(async () => {
  await resetToFixtureCatalog();
});

describe("admin auth", () => {
  it("answers 401 without a token, 403 with a wrong one, and never echoes the token", async () => {
    const none = await put([{ id: "x", features: features(1) }], {});
    expect(none.status).toBe(401);
    const wrong = await put([{ id: "x", features: features(1) }], { authorization: "Bearer nope" });
    expect(wrong.status).toBe(403);
    const ok = await put([{ id: "x", features: features(1) }]);
    expect(ok.status).toBe(200);
    for (const res of [none, wrong, ok]) expect(await res.text()).not.toContain(TOKEN);
    const rollback = await exports.default.fetch("http://edge/v1/admin/rollback", { method: "POST" });
    expect(rollback.status).toBe(401);
    const del = await exports.default.fetch("http://edge/v1/items/item-3", { method: "DELETE", headers: { authorization: "Bearer nope" } });
    expect(del.status).toBe(403);
  });

  it("rejects a request without a token on every route the OpenAPI document marks with security", async () => {
    const doc = (await (await exports.default.fetch("http://edge/openapi.json")).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    const secured = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => (op.security?.length ?? 0) > 0)
        .map(([method]) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, "item-3") })),
    );
    expect(secured.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        "PUT /v1/items",
        "DELETE /v1/items/item-3",
        "GET /v1/admin/models",
        "POST /v1/admin/rollback",
        "POST /v1/admin/models/item-3/promote",
        "POST /v1/admin/keys",
        "DELETE /v1/admin/keys/item-3",
        "POST /v1/events",
        "POST /v1/tokens",
      ]),
    );
    for (const { method, path } of secured) {
      // no body either: the check runs before validation, so a malformed request learns nothing
      const res = await exports.default.fetch(`http://edge${path}`, { method });
      const adminRoute = !["/v1/events", "/v1/tokens"].includes(path);
      expect({ route: `${method} ${path}`, status: res.status, body: await res.json() }).toEqual({
        route: `${method} ${path}`,
        status: 401,
        body: {
          error: "unauthorized",
          message: adminRoute
            ? "admin routes need an Authorization: Bearer <token> header"
            : expect.stringMatching(/Authorization: Bearer/),
          requestId: expect.any(String),
        },
      });
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
    }
    expect((await env.DB.prepare("SELECT status FROM items WHERE id = 'item-3'").first<{ status: string }>())?.status).toBe("active");
  });
});

describe("PUT /v1/items", () => {
  it("assigns each item the SID the shared encoder gives, and is idempotent", async () => {
    const batch = [1, 2, 3].map((s) => ({ id: `new-${s}`, features: features(s), attributes: { title: `New ${s}` } }));
    const first = (await (await put(batch)).json()) as Written;
    expect(first.codebook).toBe(codebook.version);
    first.items.forEach((it, i) => expect(it.sid).toEqual(encodeSid(codebook, batch[i].features)));
    const again = (await (await put(batch)).json()) as Written;
    expect(again.items).toEqual(first.items);
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM items WHERE id LIKE 'new-%'").first<{ n: number }>();
    expect(count?.n).toBe(3);
    const item = await (await exports.default.fetch("http://edge/v1/items/new-2")).json();
    expect(item).toMatchObject({ id: "new-2", sid: first.items[1].sid, status: "active", attributes: { title: "New 2" } });
  });

  it("encodes with the embedded default's codebook when the catalog has none yet", async () => {
    await env.DB.exec("DELETE FROM meta WHERE key = 'codebook_version'");
    const embedded = codebookFromJson(embeddedCodebookJson);
    const vec = Array.from({ length: embedded.dim }, (_, j) => Math.cos(j));
    const res = await put([{ id: "cold-start", features: vec }]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Written;
    expect(body.codebook).toBe(embedded.version);
    expect(body.items[0].sid).toEqual(encodeSid(embedded, vec));
    const meta = await env.DB.prepare("SELECT value FROM meta WHERE key = 'codebook_version'").first<{ value: string }>();
    expect(meta?.value).toBe(embedded.version);
  });

  it("derives features from content with the catalog's item encoder when none are given", async () => {
    await env.DB.exec("DELETE FROM meta WHERE key = 'codebook_version'"); // the embedded codebook, which ships an encoder
    const embedded = codebookFromJson(embeddedCodebookJson);
    const encoder = itemEncoderFromJson(embeddedEncoderJson);
    const genre = encoder.kind === "content" ? encoder.tokens.find((t) => t.startsWith("g:"))!.slice(2) : "";
    const attributes = { title: "Content Only", genres: [genre], year: 1995 };
    const res = await put([{ id: "content-only", attributes }]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Written;
    const features = encodeItemContent(encoder, { genres: [genre], tags: [], attributes });
    expect(body.items[0].sid).toEqual(encodeSid(embedded, features));

    const unknown = await put([{ id: "mystery", attributes: { genres: ["no-such-genre-anywhere"] } }]);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ issues: [{ path: "items.0.attributes" }] });
  });

  it("a catalog whose SIDs carry popularity: a new item from content gets the coordinate of no positives", async () => {
    // the embedded codebook and encoder, widened by the popularity coordinate as `hsrl sids --popularity` builds them
    const base = codebookFromJson(embeddedCodebookJson);
    const dim = base.dim + 1;
    const centroids = base.centroids.map((c) =>
      Float32Array.from({ length: base.size * dim }, (_, j) =>
        j % dim < base.dim ? c[Math.floor(j / dim) * base.dim + (j % dim)] : (Math.floor(j / dim) % 4) - 1.5,
      ),
    );
    const widened = createCodebook(base.levels, base.size, dim, centroids);
    const { version: _v, format: _f, ...body } = embeddedEncoderJson as ItemEncoderJson;
    const withPop = { ...body, popularity: { weight: 0.5, mean: 1.2, sd: 0.8 } } as Omit<ItemEncoder, "version">;
    const encoder = { ...withPop, version: itemEncoderVersion(withPop) } as ItemEncoder;
    await env.MODELS.put(`codebooks/${widened.version}.json`, JSON.stringify(codebookToJson(widened)));
    await env.MODELS.put(`item-encoders/${widened.version}.json`, JSON.stringify(itemEncoderToJson(encoder)));
    await env.DB.prepare("UPDATE meta SET value = ? WHERE key = 'codebook_version'").bind(widened.version).run();

    const genre = encoder.kind === "content" ? encoder.tokens.find((t) => t.startsWith("g:"))!.slice(2) : "";
    const attributes = { title: "Cold Arrival", genres: [genre] };
    const res = await put([{ id: "cold-arrival", attributes }]);
    expect(res.status).toBe(200);
    const vector = encodeItemContent(encoder, { genres: [genre], tags: [], attributes });
    expect(vector.length).toBe(dim);
    expect(vector[base.dim]).toBeCloseTo((Math.sqrt(0.5) * (0 - 1.2)) / 0.8, 6);
    expect(((await res.json()) as Written).items[0].sid).toEqual(encodeSid(widened, vector));
    const short = await put([{ id: "short", features: Array.from({ length: base.dim }, () => 0.1) }]);
    expect(short.status).toBe(400);
    expect(await short.json()).toMatchObject({
      issues: [{ path: "items.0.features", message: expect.stringMatching(new RegExp(`the codebook encodes ${dim}`)) }],
    });
  });

  it("requires features when the catalog's codebook has no item encoder", async () => {
    const res = await put([{ id: "bare", attributes: { genres: ["Drama"] } }]);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      issues: [{ path: "items.0.features", message: expect.stringMatching(/no content item encoder/) }],
    });
  });

  it("gives items with identical tokens distinct collision indices, even from concurrent writers", async () => {
    const same = features(9);
    const responses = await Promise.all([0, 1, 2, 3, 4].map((i) => put([{ id: `twin-${i}`, features: same }])));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const written = await Promise.all(responses.map(async (r) => ((await r.json()) as Written).items[0]));
    expect(new Set(written.map((w) => w.sid.join("-"))).size).toBe(1);
    expect(written.map((w) => w.collision).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("rejects features of the wrong length, naming the item", async () => {
    const res = await put([
      { id: "ok", features: features(1) },
      { id: "short", features: [1, 2] },
    ]);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_request", issues: [{ path: "items.1.features" }] });
    expect(await env.DB.prepare("SELECT id FROM items WHERE id = 'ok'").first()).toBeNull();
  });

  it("writes all of a batch or nothing", async () => {
    await env.DB.exec("CREATE TRIGGER boom BEFORE INSERT ON items WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;");
    const res = await put([
      { id: "first", features: features(1) },
      { id: "boom", features: features(2) },
    ]);
    expect(res.status).toBe(503);
    expect(await env.DB.prepare("SELECT id FROM items WHERE id = 'first'").first()).toBeNull();
    await env.DB.exec("DROP TRIGGER boom");
  });

  it("makes a new item recommendable on the next request, with no model change", async () => {
    const history = ["item-4", "item-11"];
    const lp = await referenceLogProbs(history.map((id) => catalog(40).find((i) => i.id === id)!.tokens));
    // The best SID this model can emit for that history, realised as features the codebook encodes back to it.
    const best = [0, 1, 2].map((l) => {
      const row = Array.from(lp.slice(l * FIXTURE.vocab, (l + 1) * FIXTURE.vocab));
      return row.indexOf(Math.max(...row));
    });
    const vec = Array.from(decodeSid(codebook, best));
    expect(encodeSid(codebook, vec)).toEqual(best);
    const before = (await (await post("/v1/recommend", { history, k: 1 })).json()) as { items: { id: string; score: number }[] };
    expect(before.items[0].id).not.toBe("fresh");
    expect((await put([{ id: "fresh", features: vec }])).status).toBe(200);
    const after = (await (await post("/v1/recommend", { history, k: 1 })).json()) as { items: { id: string; score: number }[] };
    expect(after.items[0].id).toBe("fresh");
    expect(after.items[0].score).toBeCloseTo(referenceScore(lp, best), 4);
  });
});

describe("DELETE /v1/items/:id", () => {
  it("retires an item: still resolvable, never recommended; unknown ids give 404", async () => {
    const top = ((await (await post("/v1/recommend", { history: [], k: 1 })).json()) as { items: { id: string }[] }).items[0].id;
    for (let i = 0; i < 2; i++) {
      const res = await exports.default.fetch(`http://edge/v1/items/${top}`, { method: "DELETE", headers: admin });
      expect(res.status).toBe(200);
    }
    expect(await (await exports.default.fetch(`http://edge/v1/items/${top}`)).json()).toMatchObject({ status: "retired" });
    const recs = (await (await post("/v1/recommend", { history: [top], k: 20 })).json()) as {
      items: { id: string }[];
      unknownHistory: string[];
    };
    expect(recs.items.map((i) => i.id)).not.toContain(top);
    expect(recs.unknownHistory).toEqual([]);
    const missing = await exports.default.fetch("http://edge/v1/items/ghost", { method: "DELETE", headers: admin });
    expect(missing.status).toBe(404);
  });
});

describe("POST /v1/events", () => {
  it("stores one row per (event, item), counted exactly, across D1's parameter limit", async () => {
    const now = Date.now();
    const events = Array.from({ length: 30 }, (_, i) => ({
      type: i % 3 === 0 ? "click" : "impression",
      userId: `u${i % 4}`,
      requestId: `r${i}`,
      itemIds: Array.from({ length: 7 }, (_, j) => `item-${(i + j) % 40}`),
      ts: now - 60_000 + i,
    }));
    const res = await post("/v1/events", { events }, await apiKeyHeader());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 210, refused: { ts: 0, unknownItem: 0 }, attributed: 0 });
    const rows = await env.DB.prepare("SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type").all<{
      type: string;
      n: number;
    }>();
    expect(rows.results).toEqual([
      { type: "click", n: 70 },
      { type: "impression", n: 140 },
    ]);
  });

  it("rejects bad events with a 400 naming the field", async () => {
    const res = await post("/v1/events", { events: [{ type: "like", userId: "u", itemIds: ["a"] }] }, await apiKeyHeader());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ issues: [{ path: "events.0.type" }] });
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM events").first<{ n: number }>()).toEqual({ n: 0 });
  });
});

describe("scheduled model redeploys", () => {
  it("promotes a valid candidate; the next request is served by it", async () => {
    const current = await activeVersion();
    const next = await publishFixture({ name: "hpn-fixture-next" });
    expect(next).not.toBe(current);
    await runCron();
    expect(await activeVersion()).toBe(next);
    expect(await modelRow(next)).toMatchObject({ status: "active" });
    expect(await modelRow(current)).toMatchObject({ status: "retired" });
  });

  it("keeps the one-off costs it paid (the candidate's fetch) in its own record, out of the next request's timing", async () => {
    await publishFixture({ name: "hpn-fixture-next" });
    const record = await runCronNow(env, "*/15 * * * *");
    expect(record.coldTimings).toMatch(/model-fetch;dur=/);
    expect(takeColdTimings()).toBe("");
  });

  it("rejects corrupted bytes with the reason, and keeps the active model serving", async () => {
    const current = await activeVersion();
    const bad = await publishFixture({ name: "hpn-fixture-next", corrupt: true });
    await runCron();
    expect(await modelRow(bad)).toMatchObject({ status: "rejected", reason: expect.stringMatching(/sha256/) });
    expect(await activeVersion()).toBe(current);
    const res = await post("/v1/rerank", { history: ["item-1"], candidates: ["item-2", "item-3"] });
    expect(((await res.json()) as { model: string }).model).toBe(current);
  });

  it("rejects a model built on another codebook", async () => {
    const bad = await publishFixture({ name: "hpn-fixture-next", manifestPatch: { codebook: { version: "ffffffffffffffff" } } });
    await runCron();
    expect(await modelRow(bad)).toMatchObject({ status: "rejected", reason: expect.stringMatching(/codebook/) });
  });

  it("is safe to run twice at once", async () => {
    const next = await publishFixture({ name: "hpn-fixture-next" });
    await Promise.all([runCron(), runCron()]);
    const active = await env.DB.prepare("SELECT version FROM model_versions WHERE status = 'active'").all<{ version: string }>();
    expect(active.results).toEqual([{ version: next }]);
  });

  it("does nothing without candidates", async () => {
    const current = await activeVersion();
    await runCron();
    expect(await activeVersion()).toBe(current);
  });
});

describe("manual promote and rollback", () => {
  it("promotes by hand, rolls back to the previous model, then to the embedded default", async () => {
    const first = await activeVersion();
    const next = await publishFixture({ name: "hpn-fixture-next" });
    const promoted = await exports.default.fetch(`http://edge/v1/admin/models/${next}/promote`, { method: "POST", headers: admin });
    expect(promoted.status).toBe(200);
    expect(await activeVersion()).toBe(next);

    const back = await exports.default.fetch("http://edge/v1/admin/rollback", { method: "POST", headers: admin });
    expect(await back.json()).toMatchObject({ action: "promoted", version: first, from: next });
    expect(await activeVersion()).toBe(first);
    expect(await modelRow(next)).toMatchObject({ status: "retired", reason: "rolled back" });

    // The cron never re-promotes a rolled-back model: it is not a candidate.
    await runCron();
    expect(await activeVersion()).toBe(first);

    // The embedded default reads only the embedded codebook's SIDs: not while the catalog is on the fixture codebook.
    const refused = await exports.default.fetch("http://edge/v1/admin/rollback", { method: "POST", headers: admin });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      action: "rejected",
      version: "embedded",
      reason: expect.stringMatching(new RegExp(`the catalog is on ${codebook.version}`)),
    });
    expect(await activeVersion()).toBe(first);
    await env.DB.exec("DELETE FROM meta WHERE key = 'codebook_version'"); // a catalog without a codebook yet
    await exports.default.fetch("http://edge/v1/admin/rollback", { method: "POST", headers: admin });
    const model = (await (await exports.default.fetch("http://edge/v1/model")).json()) as { source: string };
    expect(model.source).toBe("embedded");
  });

  it("answers 404 for an unknown version and 409 when validation fails", async () => {
    const unknown = await exports.default.fetch("http://edge/v1/admin/models/0123456789abcdef/promote", { method: "POST", headers: admin });
    expect(unknown.status).toBe(404);
    const bad = await publishFixture({ name: "hpn-fixture-next", corrupt: true, version: (nextManifest as { version: string }).version });
    const res = await exports.default.fetch(`http://edge/v1/admin/models/${bad}/promote`, { method: "POST", headers: admin });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ action: "rejected" });
  });
});
