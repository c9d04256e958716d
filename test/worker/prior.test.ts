// The popularity prior through the serving path: a model whose manifest declares it (the prior fixture: the same
// log-probs as hpn-fixture plus a beta output) ranks by Σ_l logp + β(s)·g(i), with g from items.prior (null = 0);
// a model without one still ranks by the SIDs alone.
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { Rng } from "../../core/rng";
import codebookJson from "../fixtures/codebook.json";
import { activateFixture, catalog, post, referenceBeta, referenceLogProbs, referenceScore, type SeedItem, seedItems } from "./helpers";

type Ranked = { id: string; score: number | null };

const rng = new Rng(5);
// every fourth item has no prior (a new item: the catalog's prior 0)
const items: SeedItem[] = catalog(80).map((it, i) => ({ ...it, prior: i % 4 === 3 ? null : Math.fround(2 * rng.normal()) }));
const byId = new Map(items.map((i) => [i.id, i]));
const tokensOf = (ids: string[]) => ids.map((id) => byId.get(id)!.tokens);

async function expected(history: string[], pool: SeedItem[], withPrior: boolean) {
  const lp = await referenceLogProbs(tokensOf(history));
  const beta = withPrior ? await referenceBeta(tokensOf(history)) : 0;
  return {
    beta,
    scores: pool.map((i) => ({ id: i.id, s: referenceScore(lp, i.tokens) + beta * (i.prior ?? 0), base: referenceScore(lp, i.tokens) })),
  };
}

beforeEach(async () => {
  await env.DB.exec("DELETE FROM items; DELETE FROM model_versions; DELETE FROM meta; DELETE FROM events;");
  await seedItems(items);
});

describe("a model with a popularity prior", () => {
  beforeEach(async () => {
    await activateFixture({ name: "hpn-fixture-prior" });
  });

  it("rerank orders by Σ logp + β·g, which differs from the SIDs' order", async () => {
    const history = ["item-3", "item-10"];
    const candidates = items.slice(10, 50).map((i) => i.id);
    const res = await post("/v1/rerank", { history, candidates });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Ranked[] };
    const { beta, scores } = await expected(history, items.slice(10, 50), true);
    expect(Math.abs(beta)).toBeGreaterThan(0.5);
    const want = [...scores].sort((a, b) => b.s - a.s);
    expect(body.items.map((i) => i.id)).toEqual(want.map((w) => w.id));
    expect(body.items.map((i) => i.score)).toEqual(want.map((w) => expect.closeTo(w.s, 4)));
    const bySids = [...scores].sort((a, b) => b.base - a.base).map((w) => w.id);
    expect(body.items.map((i) => i.id)).not.toEqual(bySids);
  });

  it("recommend decodes exactly the brute-force top k of Σ logp + β·g, excluding history and `exclude`", async () => {
    for (const [history, exclude, k] of [
      [["item-3", "item-17"], ["item-40"], 8],
      [[], [], 12],
      [["item-5", "item-6", "item-7", "item-60"], ["item-1", "item-2", "item-20"], 5],
    ] as const) {
      const res = await post("/v1/recommend", { history, k, exclude });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { items: Ranked[] };
      const skip = new Set<string>([...history, ...exclude]);
      const { scores } = await expected([...history], items, true);
      const want = scores.filter((s) => !skip.has(s.id)).sort((a, b) => b.s - a.s);
      expect(body.items.map((i) => i.score)).toEqual(want.slice(0, k).map((w) => expect.closeTo(w.s, 4)));
      for (const it of body.items) expect(skip.has(it.id)).toBe(false);
    }
  });
});

describe("a model without a prior", () => {
  it("still serves, ranking by the SIDs alone whatever the items' priors", async () => {
    await activateFixture();
    const history = ["item-3", "item-10"];
    const res = await post("/v1/recommend", { history, k: 6 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Ranked[] };
    const { scores } = await expected(history, items, false);
    const want = scores.filter((s) => !history.includes(s.id)).sort((a, b) => b.base - a.base);
    expect(body.items.map((i) => i.score)).toEqual(want.slice(0, 6).map((w) => expect.closeTo(w.base, 4)));
  });
});

describe("PUT /v1/items with a popularity count", () => {
  const admin = (body: unknown) =>
    exports.default.fetch("http://edge/v1/items", {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: "Bearer test-admin-token" },
      body: JSON.stringify(body),
    });
  const features = (seed: number) => Array.from({ length: 4 }, (_, j) => Math.sin(seed * 12.9898 + j * 78.233));
  const prior = async (id: string) =>
    (await env.DB.prepare("SELECT prior FROM items WHERE id = ?").bind(id).first<{ prior: number | null }>())?.prior;

  beforeEach(async () => {
    await env.MODELS.put(`codebooks/${codebookJson.version}.json`, JSON.stringify(codebookJson));
    await env.DB.prepare("INSERT INTO meta (key, value) VALUES ('codebook_version', ?)").bind(codebookJson.version).run();
  });

  it("stores g with the catalog's statistics, keeps it on an update without one, and is a 400 without statistics", async () => {
    const refused = await admin({ items: [{ id: "p-1", features: features(1), popularity: 10 }] });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/items\.0\.popularity: .*popularity statistics/);
    await env.DB.prepare("INSERT INTO meta (key, value) VALUES ('popularity_stats', ?)")
      .bind(JSON.stringify({ mean: 1, sd: 0.5 }))
      .run();
    expect(
      (
        await admin({
          items: [
            { id: "p-1", features: features(1), popularity: 10 },
            { id: "p-2", features: features(2) },
          ],
        })
      ).status,
    ).toBe(200);
    expect(await prior("p-1")).toBeCloseTo((Math.log1p(10) - 1) / 0.5, 6);
    expect(await prior("p-2")).toBeNull(); // a new item: the catalog's prior
    expect((await admin({ items: [{ id: "p-1", features: features(3) }] })).status).toBe(200);
    expect(await prior("p-1")).toBeCloseTo((Math.log1p(10) - 1) / 0.5, 6);
  });
});
