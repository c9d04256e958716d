// The popularity prior through the serving path: a model whose manifest declares it (the prior fixture: the same
// log-probs as hpn-fixture plus a beta output) ranks by Σ_l logp + β(s)·g(i), with g from items.prior (null = 0);
// a model without one still ranks by the SIDs alone.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { Rng } from "../../core/rng";
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
