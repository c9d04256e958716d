// Promotion on evidence: served request ids, the replay gate on logged sessions, the canary and its automatic verdict.
// The logged sessions are synthetic but go through the API as a client's would: recommend for a user, log the slate's
// impressions and the click with the answer's requestId.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import nextManifest from "../fixtures/hpn-fixture-next.manifest.json";
import { canaryBucket, inCanary, verifyServedId } from "../../worker/served";
import worker from "../../worker/index";
import { post, publishFixture, resetToFixtureCatalog } from "./helpers";

const admin = { authorization: "Bearer test-admin-token" };
const NEXT = nextManifest.version; // other random weights: a candidate that learned nothing about these users

async function runCron(vars: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const ctx = createExecutionContext();
  const logged: string[] = [];
  const log = console.log;
  console.log = (line: unknown) => void logged.push(String(line));
  try {
    await worker.scheduled(createScheduledController({ cron: "*/15 * * * *", scheduledTime: Date.now() }), { ...env, ...vars }, ctx);
    await waitOnExecutionContext(ctx);
  } finally {
    console.log = log;
  }
  return JSON.parse(logged.find((l) => l.startsWith('{"cron"')) ?? "{}");
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let keyHeader: Record<string, string>;

async function apiKeyHeader(): Promise<Record<string, string>> {
  const res = await post("/v1/admin/keys", { name: "shop" }, admin);
  return { authorization: `Bearer ${((await res.json()) as { key: string }).key}` };
}

type Answer = { items: { id: string }[]; model: string; requestId: string; arm: "active" | "canary" };

async function recommend(userId: string, k = 5): Promise<Answer> {
  const res = await post("/v1/recommend", { userId, k });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

/**
 * Logs `steps` slates per user: recommend, impressions of the slate, and a click on one of its top items (the top one
 * 70% of the time), each with the answer's requestId. Users start from one click of their own.
 */
async function logSessions(users: number, steps: number, seed = 1): Promise<void> {
  const r = rng(seed);
  const t0 = Date.now() - 3_600_000;
  for (let u = 0; u < users; u++) {
    const userId = `user-${u}`;
    const first = { type: "click", userId, itemIds: [`item-${(u * 7) % 40}`], ts: t0 + u };
    expect((await post("/v1/events", { events: [first] }, keyHeader)).status).toBe(200);
    for (let s = 1; s <= steps; s++) {
      const answer = await recommend(userId);
      const pick = r() < 0.7 ? 0 : 1 + Math.floor(r() * 2);
      const ts = t0 + s * 60_000 + u;
      const events = [
        { type: "impression", userId, itemIds: answer.items.map((i) => i.id), requestId: answer.requestId, ts },
        { type: "click", userId, itemIds: [answer.items[pick].id], requestId: answer.requestId, ts: ts + 1 },
      ];
      expect((await post("/v1/events", { events }, keyHeader)).status).toBe(200);
    }
  }
}

async function row(version: string) {
  return env.DB.prepare("SELECT status, reason, gate, canary FROM model_versions WHERE version = ?")
    .bind(version)
    .first<{ status: string; reason: string | null; gate: string | null; canary: string | null }>();
}

async function statusCounts(): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare("SELECT status, count(*) AS n FROM model_versions GROUP BY status").all<{
    status: string;
    n: number;
  }>();
  return Object.fromEntries(results.map((r) => [r.status, r.n]));
}

async function metaValue(key: string): Promise<string | null> {
  return (await env.DB.prepare("SELECT value FROM meta WHERE key = ?").bind(key).first<{ value: string }>())?.value ?? null;
}

let active: string;

beforeEach(async () => {
  active = await resetToFixtureCatalog(40, ["api_keys"]);
  keyHeader = await apiKeyHeader();
});

describe("served request ids", () => {
  it("every rerank and recommend answer names its model with a signed request id; events store the version it verifies to", async () => {
    const rec = await recommend("someone");
    expect(rec.model).toBe(active);
    expect(rec.arm).toBe("active");
    expect(verifyServedId("test-user-token-secret", rec.requestId)).toEqual({ version: active, arm: "active" });
    const rerank = (await (await post("/v1/rerank", { history: ["item-3"], candidates: ["item-4", "item-5"] })).json()) as Answer;
    expect(verifyServedId("test-user-token-secret", rerank.requestId)).toEqual({ version: active, arm: "active" });

    const forged = rec.requestId.replace(`.${active}.`, `.${NEXT}.`);
    const res = await post(
      "/v1/events",
      {
        events: [
          { type: "impression", userId: "someone", itemIds: ["item-1", "item-2"], requestId: rec.requestId },
          { type: "click", userId: "someone", itemIds: ["item-1"], requestId: forged },
          { type: "click", userId: "someone", itemIds: ["item-2"], requestId: "my-own-id" },
        ],
      },
      keyHeader,
    );
    expect(await res.json()).toEqual({ accepted: 4, refused: { ts: 0, unknownItem: 0 }, attributed: 2 });
    const { results } = await env.DB.prepare("SELECT item_id, type, request_id, model_version FROM events ORDER BY id").all();
    expect(results).toEqual([
      { item_id: "item-1", type: "impression", request_id: rec.requestId, model_version: active },
      { item_id: "item-2", type: "impression", request_id: rec.requestId, model_version: active },
      { item_id: "item-1", type: "click", request_id: forged, model_version: null },
      { item_id: "item-2", type: "click", request_id: "my-own-id", model_version: null },
    ]);
  });
});

describe("the replay gate", () => {
  const vars = { GATE_MIN_SESSIONS: "10", CANARY_SHARE: "0.5" };

  it("rejects a candidate with random weights, with its figures, and keeps the active model", async () => {
    await logSessions(12, 6);
    await publishFixture({ name: "hpn-fixture-next", createdAt: Date.now() + 1000 });
    const record = await runCron(vars);
    expect(record).toMatchObject({ action: "rejected", version: NEXT });
    const r = await row(NEXT);
    expect(r?.status).toBe("rejected");
    expect(r?.reason).toMatch(/^replay gate on 12 sessions \(60 next clicks\): NDCG@10 /);
    const gate = JSON.parse(r?.gate ?? "{}");
    expect(gate).toMatchObject({ decision: "fail", sessions: 12, candidate: { version: NEXT }, active: { version: active } });
    expect(gate.predictions).toBeGreaterThanOrEqual(12);
    expect(gate.active.ndcg10).toBeGreaterThan(0.5); // the logged clicks followed the active model's slates
    expect(gate.candidate.ndcg10).toBeLessThan(gate.active.ndcg10);
    expect(gate.delta.ndcg10.hi).toBeLessThan(0);
    expect(gate.delta.ndcg10.lo).toBeLessThanOrEqual(gate.delta.ndcg10.mean);
    expect(gate.offPolicy).toMatchObject({ slates: 72, impressions: 360 });
    expect(gate.offPolicy.models.active.coverage).toBe(1); // it showed exactly these slates
    expect(gate.offPolicy.models.candidate.coverage).toBeLessThan(1);
    expect(gate.cpuMs).toBeGreaterThanOrEqual(0);
    expect(await metaValue("active_model")).toBe(active);
    expect(await metaValue("canary")).toBeNull();

    const listed = (await (await exports.default.fetch("http://edge/v1/admin/models", { headers: admin })).json()) as {
      models: { version: string; gate: { decision: string } | null; decision: string }[];
    };
    const mine = listed.models.find((m) => m.version === NEXT);
    expect(mine?.gate?.decision).toBe("fail");
    expect(mine?.decision).toMatch(/NDCG@10 .* vs active/);
  });

  it("passes a candidate equal to the active model (difference 0) and starts its canary", async () => {
    await logSessions(12, 6);
    const twin = await publishFixture({ version: "7e1170000000aaaa", createdAt: Date.now() + 1000 });
    const record = await runCron(vars);
    expect(record).toMatchObject({ action: "canary", state: "started", version: twin });
    const gate = JSON.parse((await row(twin))?.gate ?? "{}");
    expect(gate).toMatchObject({ decision: "pass", sessions: 12 });
    expect(gate.delta.ndcg10).toEqual({ mean: 0, lo: 0, hi: 0 });
    expect(gate.candidate.ndcg10).toBe(gate.active.ndcg10);
    expect(JSON.parse((await metaValue("canary")) ?? "{}")).toEqual({ version: twin, share: 0.5 });
  });

  it("with too few logged sessions says so and falls back to today's checks", async () => {
    await logSessions(3, 3);
    await publishFixture({ name: "hpn-fixture-next", createdAt: Date.now() + 1000 });
    await runCron({ CANARY_SHARE: "0" });
    const r = await row(NEXT);
    expect(r?.status).toBe("active");
    expect(JSON.parse(r?.gate ?? "{}")).toMatchObject({
      decision: "skipped",
      sessions: 3,
      reason: expect.stringMatching(/too few logged sessions \(3/),
    });
  });
});

describe("the replay gate's fallback", () => {
  it("with too few logged sessions scores the held-out set shipped with the candidate", async () => {
    await logSessions(2, 2);
    await publishFixture({ name: "hpn-fixture-next", createdAt: Date.now() + 1000 });
    // examples whose next item is the active model's first choice: the active model scores 1 on them
    const examples: { history: string[]; target: string }[] = [];
    for (let i = 0; i < 15; i++) {
      const history = [`item-${i}`, `item-${(i * 3 + 5) % 40}`, "not-in-the-catalog"];
      const top = ((await (await post("/v1/recommend", { history, k: 1 })).json()) as Answer).items[0].id;
      examples.push({ history, target: top });
    }
    await env.MODELS.put(`models/${NEXT}/heldout.json`, JSON.stringify({ format: "hsrl-heldout/1", source: "test split", examples }));
    expect(await runCron({ GATE_MIN_SESSIONS: "10", CANARY_SHARE: "0.5" })).toMatchObject({ action: "rejected", version: NEXT });
    const gate = JSON.parse((await row(NEXT))?.gate ?? "{}");
    expect(gate).toMatchObject({
      decision: "fail",
      source: "held-out set shipped with the candidate",
      sessions: 15,
      predictions: 15,
      active: { ndcg10: 1, recall10: 1 },
      reason: expect.stringMatching(/^replay gate on 15 held-out examples shipped with the candidate \(too few logged sessions\)/),
    });
    expect(gate.candidate.ndcg10).toBeLessThan(1);
  });
});

describe("the canary", () => {
  it("splits units deterministically by a stable hash, near the configured share", async () => {
    const share = 0.2;
    const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    const inside = keys.filter((k) => inCanary({ version: NEXT, share }, k)).length;
    expect(Math.abs(inside / keys.length - share)).toBeLessThan(0.015);
    expect(keys.map((k) => canaryBucket(NEXT, k))).toEqual(keys.map((k) => canaryBucket(NEXT, k)));
    // another canary draws other units
    const again = keys.filter((k) => inCanary({ version: "another", share }, k) && inCanary({ version: NEXT, share }, k)).length;
    expect(again / keys.length).toBeLessThan(0.06);

    // through the API: every answer's arm is the hash's, for userIds and anonymous client keys alike
    await publishFixture({ name: "hpn-fixture-next" });
    const started = await post(`/v1/admin/models/${NEXT}/canary`, { share: 0.3 }, admin);
    expect(started.status).toBe(200);
    let onCanary = 0;
    for (let i = 0; i < 120; i++) {
      const userId = `visitor-${i}`;
      const a = await recommend(userId);
      const expected = inCanary({ version: NEXT, share: 0.3 }, userId);
      expect({ i, arm: a.arm, model: a.model }).toEqual({ i, arm: expected ? "canary" : "active", model: expected ? NEXT : active });
      if (expected) onCanary++;
      expect((await recommend(userId)).arm).toBe(a.arm); // stable
    }
    expect(onCanary / 120).toBeGreaterThan(0.15);
    expect(onCanary / 120).toBeLessThan(0.45);
    const anon = (await (await post("/v1/rerank", { history: [], candidates: ["item-1"], clientKey: "visitor-7" })).json()) as Answer;
    expect(anon.arm).toBe(inCanary({ version: NEXT, share: 0.3 }, "visitor-7") ? "canary" : "active");
    const nobody = (await (await post("/v1/rerank", { history: [], candidates: ["item-1"] })).json()) as Answer;
    expect(nobody.arm).toBe("active"); // no unit to hash: the active model
  });

  /** One slate per user; clicks with the given probability per arm. */
  async function canaryTraffic(users: number, ctr: Record<"active" | "canary", number>, seed: number): Promise<void> {
    const r = rng(seed);
    for (let u = 0; u < users; u++) {
      const userId = `shopper-${seed}-${u}`;
      const a = await recommend(userId);
      const clicked = a.items.filter(() => r() < ctr[a.arm]).map((i) => i.id);
      const events = [{ type: "impression", userId, itemIds: a.items.map((i) => i.id), requestId: a.requestId }];
      if (clicked.length > 0) events.push({ type: "click", userId, itemIds: clicked, requestId: a.requestId });
      expect((await post("/v1/events", { events }, keyHeader)).status).toBe(200);
    }
  }

  it("rolls a canary with a worse click-through back automatically and records why", async () => {
    await publishFixture({ name: "hpn-fixture-next" });
    await post(`/v1/admin/models/${NEXT}/canary`, { share: 0.5 }, admin);
    const vars = { CANARY_MIN_IMPRESSIONS: "150" };
    await canaryTraffic(20, { active: 0.3, canary: 0.05 }, 1);
    const waiting = await runCron(vars);
    expect(waiting).toMatchObject({ action: "canary", state: "running", reason: expect.stringMatching(/waiting for 150 impressions/) });
    await canaryTraffic(100, { active: 0.3, canary: 0.05 }, 2);
    const verdict = await runCron(vars);
    expect(verdict).toMatchObject({ action: "rolled back", version: NEXT, reason: expect.stringMatching(/^worse click-through/) });
    const r = await row(NEXT);
    expect(r?.status).toBe("rejected");
    expect(r?.reason).toMatch(/^canary rolled back: worse click-through/);
    const state = JSON.parse(r?.canary ?? "{}");
    expect(state.verdict).toMatchObject({ action: "rolled back", by: "cron" });
    expect(state.figures.canary.impressions).toBeGreaterThanOrEqual(150);
    expect(state.figures.canary.ctr).toBeLessThan(state.figures.active.ctr);
    expect(await metaValue("canary")).toBeNull();
    expect(await metaValue("active_model")).toBe(active);
    for (let u = 0; u < 10; u++) expect((await recommend(`shopper-2-${u}`)).model).toBe(active);
    await runCron(vars); // never tried again
    expect((await row(NEXT))?.status).toBe("rejected");
  });

  it("completes a canary that is not worse: it becomes the active model", async () => {
    await publishFixture({ name: "hpn-fixture-next" });
    await post(`/v1/admin/models/${NEXT}/canary`, { share: 0.5 }, admin);
    await canaryTraffic(120, { active: 0.3, canary: 0.3 }, 3);
    const verdict = await runCron({ CANARY_MIN_IMPRESSIONS: "150", CANARY_CTR_MARGIN: "0.5" });
    expect(verdict).toMatchObject({ action: "completed", version: NEXT });
    expect(await statusCounts()).toEqual({ active: 1, retired: 1 });
    expect(await metaValue("active_model")).toBe(NEXT);
    expect((await recommend("anyone")).model).toBe(NEXT);
  });

  it("rolls back a canary whose bytes in R2 no longer verify", async () => {
    await publishFixture({ name: "hpn-fixture-next" });
    await post(`/v1/admin/models/${NEXT}/canary`, { share: 0.5 }, admin);
    await env.MODELS.put(`models/${NEXT}/hpn-fixture-next.onnx`, new Uint8Array(10));
    expect(await runCron()).toMatchObject({
      action: "rolled back",
      reason: expect.stringMatching(/^the canary failed verification: .*sha256/),
    });
    expect((await row(NEXT))?.status).toBe("rejected");
    expect(await metaValue("canary")).toBeNull();
  });

  it("admin routes start, stop, start again, complete and roll back by hand", async () => {
    await publishFixture({ name: "hpn-fixture-next" });
    const start = await post(`/v1/admin/models/${NEXT}/canary`, { share: 1 }, admin);
    expect(await start.json()).toMatchObject({ action: "canary", state: "started" });
    expect((await recommend("u")).model).toBe(NEXT);
    expect((await post(`/v1/admin/models/${NEXT}/canary`, { share: 2 }, admin)).status).toBe(400);
    const stop = await post("/v1/admin/canary/stop", {}, admin);
    expect(await stop.json()).toMatchObject({ action: "canary", state: "paused" });
    expect((await recommend("u")).model).toBe(active);
    expect(await runCron()).toMatchObject({ action: "canary", state: "paused" });
    expect(await (await post(`/v1/admin/models/${NEXT}/canary`, {}, admin)).json()).toMatchObject({ state: "resumed" });
    expect((await recommend("u")).model).toBe(NEXT);
    const rollback = await post("/v1/admin/canary/rollback", {}, admin);
    expect(await rollback.json()).toMatchObject({ action: "rolled back", version: NEXT, reason: "rolled back by hand" });
    expect((await recommend("u")).model).toBe(active);
    expect((await post("/v1/admin/canary/complete", {}, admin)).status).toBe(409);

    const twin = await publishFixture({ version: "7e1170000000bbbb" });
    await post(`/v1/admin/models/${twin}/canary`, { share: 0.5 }, admin);
    const complete = await post("/v1/admin/canary/complete", {}, admin);
    expect(await complete.json()).toMatchObject({ action: "completed", version: twin });
    expect(await metaValue("active_model")).toBe(twin);
    expect((await post("/v1/admin/models/nope/canary", {}, admin)).status).toBe(404);
  });

  it("concurrent crons never leave two active or two canary models", async () => {
    await logSessions(12, 4);
    const vars = { GATE_MIN_SESSIONS: "10", CANARY_SHARE: "0.5", CANARY_MIN_IMPRESSIONS: "50", CANARY_CTR_MARGIN: "0.5" };
    const a = await publishFixture({ version: "7e1170000000cccc", createdAt: Date.now() + 1000 });
    const b = await publishFixture({ version: "7e1170000000dddd", createdAt: Date.now() + 2000 });
    await Promise.all([runCron(vars), runCron(vars), runCron(vars), runCron(vars)]);
    expect(await statusCounts()).toEqual({ active: 1, canary: 1, candidate: 1 });
    expect(JSON.parse((await metaValue("canary")) ?? "{}").version).toBe(b); // the newest candidate
    expect((await row(a))?.status).toBe("candidate");

    await canaryTraffic(60, { active: 0.3, canary: 0.3 }, 4);
    await Promise.all([runCron(vars), runCron(vars), runCron(vars), post("/v1/admin/canary/complete", {}, admin)]);
    const counts = await statusCounts();
    expect(counts.active).toBe(1);
    expect(counts.canary ?? 0).toBeLessThanOrEqual(1);
    expect(await metaValue("active_model")).toBe(b);
    const pointer = await metaValue("canary");
    const canaryRows = await env.DB.prepare("SELECT version FROM model_versions WHERE status = 'canary'").all<{ version: string }>();
    // meta.canary names the canary row, or there is neither
    expect(pointer === null ? [] : [JSON.parse(pointer).version]).toEqual(canaryRows.results.map((r) => r.version));
  });
});
