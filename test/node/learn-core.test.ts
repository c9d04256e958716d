// Learning building blocks: episodes/splits, simulator arithmetic, TD target, critic weights, metrics, slates.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../scripts/model/backend";
import { buildEpisodes, itemHistoryBatch, nextPositiveExamples, positiveHistory, sidHistoryBatch } from "../../scripts/learn/episodes";
import { UserBatch, type ClickModel } from "../../scripts/learn/simulator";
import { Rng } from "../../core/rng";
import { MultiLevelCritic, softUpdate, tdTarget } from "../../scripts/model/critic";
import { auc, meanCi, ndcgAt, rankOf } from "../../scripts/learn/metrics";
import { selectSlates } from "../../scripts/learn/policies";
import { gatherRows } from "../../scripts/model/tfops";
import { plantedDataset } from "./learn-helpers";

beforeAll(async () => {
  await initBackend();
});

const fixedClicks = (p: number): ClickModel => ({ clickProbs: (_h, slates) => new Float32Array(slates.length).fill(p) });
const sim = { slateSize: 10, initialTemper: 20, nonClickReward: -0.1, historyLength: 5 };

describe("episodes", () => {
  const ds = plantedDataset(10, 20, 10);
  const ep = buildEpisodes(ds, { historyLength: 4, holdoutFraction: 0.2 });

  it("splits every user by time: train, then validation, then test (last 10% each, at least one)", () => {
    for (const t of ep.timelines) {
      expect(t.items.length).toBe(10);
      expect([t.trainEnd, t.valEnd]).toEqual([8, 9]);
    }
  });

  it("labels rating >= 4 as positive, and binary data by the 0/1 label", () => {
    const t = ep.timelines[0];
    const first = ds.interactions.filter((x) => x.user === 0);
    first.forEach((x, k) => expect(t.labels[k]).toBe(x.rating >= 4 ? 1 : 0));
    const bin = buildEpisodes({
      ...ds,
      ratingScale: null,
      interactions: ds.interactions.map((x) => ({ ...x, rating: x.rating >= 4 ? 1 : 0 })),
    });
    expect(Array.from(bin.timelines[0].labels)).toEqual(Array.from(t.labels));
  });

  it("holds out the requested share of items, reproducibly from the seed", () => {
    const n = ep.heldOut.reduce((a, b) => a + b, 0);
    expect(n).toBe(4);
    expect(Array.from(buildEpisodes(ds, { historyLength: 4, holdoutFraction: 0.2 }).heldOut)).toEqual(Array.from(ep.heldOut));
    const ex = nextPositiveExamples(ep, "train", true);
    for (const e of ex) {
      expect(ep.heldOut[e.target]).toBe(0);
      for (const h of e.history) expect(ep.heldOut[h]).toBe(0);
    }
  });

  it("histories are the positives before a position, newest last, at most H", () => {
    const t = ep.timelines[0];
    const h = positiveHistory(t, t.items.length, 4);
    const pos = Array.from(t.items).filter((_, k) => t.labels[k]);
    expect(h).toEqual(pos.slice(-4));
  });

  it("SID tensors are right-aligned with the newest item at H-1", () => {
    const sidTokens = Int32Array.from([10, 11, 20, 21, 30, 31]); // 3 items, L = 2
    const { sids, length } = sidHistoryBatch([[0, 2], []], sidTokens, 3, 2);
    expect(Array.from(length)).toEqual([2, 0]);
    expect(Array.from(sids.subarray(0, 6))).toEqual([0, 0, 10, 11, 30, 31]);
    expect(Array.from(sids.subarray(6))).toEqual([0, 0, 0, 0, 0, 0]);
    const { items } = itemHistoryBatch([[1]], 3, 99);
    expect(Array.from(items)).toEqual([99, 99, 1]);
  });
});

describe("simulator", () => {
  it("all clicks: reward 1 per step, temper drops by 1, the user leaves after 20 steps", () => {
    const u = new UserBatch(1, sim, fixedClicks(1), new Rng(1));
    u.reset(0, 0, []);
    let steps = 0;
    while (!u.done[0]) {
      const r = u.step(Int32Array.from({ length: 10 }, (_, k) => steps * 10 + k));
      expect(r.reward[0]).toBeCloseTo(1, 6);
      steps++;
    }
    expect(steps).toBe(20);
    expect(u.depth[0]).toBe(20);
    expect(u.totalReward[0]).toBeCloseTo(20, 5);
    expect(u.histories[0]).toEqual([195, 196, 197, 198, 199]); // clicked items appended, trimmed to H = 5
  });

  it("no clicks: reward -0.1, temper drops by (1 + 0.1)·K + 1 = 12, so the user leaves after 2 steps", () => {
    const u = new UserBatch(1, sim, fixedClicks(0), new Rng(1));
    u.reset(0, 0, [7]);
    const r1 = u.step(Int32Array.from({ length: 10 }, (_, k) => k));
    expect(r1.reward[0]).toBeCloseTo(-0.1, 6);
    expect(u.temper[0]).toBeCloseTo(8, 5);
    expect(r1.done[0]).toBe(0);
    const r2 = u.step(Int32Array.from({ length: 10 }, (_, k) => k));
    expect(r2.done[0]).toBe(1);
    expect(u.depth[0]).toBe(2);
    expect(u.histories[0]).toEqual([7]);
  });

  it("mixed clicks: reward = (clicks - 0.1 non-clicks) / K and temper -= (1 - reward)·K + 1", () => {
    const half: ClickModel = { clickProbs: (_h, s) => Float32Array.from(s, (_, i) => (i % 2 === 0 ? 1 : 0)) };
    const u = new UserBatch(2, sim, half, new Rng(1));
    u.reset(0, 0, []);
    u.reset(1, 1, []);
    const r = u.step(Int32Array.from({ length: 20 }, (_, k) => k));
    expect(r.reward[0]).toBeCloseTo((5 - 0.5) / 10, 6);
    expect(u.temper[0]).toBeCloseTo(20 - (1.1 * 5 + 1), 5);
    expect(u.histories[0]).toEqual([0, 2, 4, 6, 8]);
  });

  it("is reproducible from the seed with Bernoulli clicks", () => {
    const run = (seed: number) => {
      const u = new UserBatch(8, sim, fixedClicks(0.4), new Rng(seed));
      for (let b = 0; b < 8; b++) u.reset(b, b, []);
      return Array.from(u.step(Int32Array.from({ length: 80 }, (_, k) => k)).clicks);
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });
});

describe("critic and TD target", () => {
  it("TD target bootstraps only when not done: r + gamma (1 - done) V'", () => {
    const y = tdTarget(tf.tensor1d([1, 1]), tf.tensor1d([1, 0]), tf.tensor1d([5, 5]), 0.9);
    const v = Array.from(y.dataSync());
    expect(v[0]).toBeCloseTo(1, 6);
    expect(v[1]).toBeCloseTo(1 + 0.9 * 5, 5);
  });

  it("level weights are a softmax and V is the weighted sum of the per-level MLP values", () => {
    const c = new MultiLevelCritic({ dim: 4, contexts: 3, hidden: [8, 4] }, 1);
    const w = c.getWeights();
    w.levelLogits = { shape: [3], data: Float32Array.from([0, 1, 2]) };
    c.setWeights(w);
    const lw = Array.from(c.levelWeights().dataSync());
    expect(lw.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const e = [1, Math.E, Math.E ** 2];
    lw.forEach((x, i) => expect(x).toBeCloseTo(e[i] / (1 + Math.E + Math.E ** 2), 5));
    const ctx = tf.randomNormal([2, 3, 4], 0, 1, "float32", 3) as tf.Tensor3D;
    const v = Array.from(c.value(ctx).dataSync());
    // per-level values through a one-context critic with the same MLP
    const one = new MultiLevelCritic({ dim: 4, contexts: 1, hidden: [8, 4] }, 1);
    one.setWeights({ ...w, levelLogits: { shape: [1], data: Float32Array.from([0]) } });
    const per = [0, 1, 2].map((l) => Array.from(one.value(tf.slice(ctx, [0, l, 0], [2, 1, 4]) as tf.Tensor3D).dataSync()));
    for (let b = 0; b < 2; b++)
      expect(v[b]).toBeCloseTo(
        per.reduce((a, p, l) => a + lw[l] * p[b], 0),
        5,
      );
  });

  it("soft update moves targets by tau toward the online weights", () => {
    const a = tf.variable(tf.tensor1d([0, 0]));
    const b = tf.variable(tf.tensor1d([1, 2]));
    softUpdate([a], [b], 0.01);
    expect(Array.from(a.dataSync()).map((x) => +x.toFixed(6))).toEqual([0.01, 0.02]);
  });
});

describe("metrics, slates, ops", () => {
  it("AUC by ranks, with ties", () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 6);
    expect(auc([1, 1], [0, 1])).toBeCloseTo(0.5, 6);
  });

  it("rank, NDCG and CI", () => {
    expect(rankOf([0.1, 0.9, 0.5], 2)).toBe(1);
    expect(rankOf([0.1, -Infinity], 1)).toBe(Infinity);
    expect(ndcgAt(0, 10)).toBe(1);
    expect(ndcgAt(10, 10)).toBe(0);
    const m = meanCi([1, 2, 3, 4]);
    expect(m.mean).toBe(2.5);
    expect(m.ci95[0]).toBeLessThan(2.5);
  });

  it("slates are the top-K active items not in the history; Gumbel sampling is seeded", () => {
    const scores = Float32Array.from([5, 4, 3, 2, 1, 0]);
    const catalog = Uint8Array.from([1, 1, 0, 1, 1, 1]);
    expect(Array.from(selectSlates(scores, [[0]], catalog, 3))).toEqual([1, 3, 4]);
    const s1 = Array.from(selectSlates(scores, [[]], catalog, 3, new Rng(4)));
    expect(Array.from(selectSlates(scores, [[]], catalog, 3, new Rng(4)))).toEqual(s1);
    expect(s1).not.toContain(2);
    expect(() => selectSlates(scores, [[0, 1]], catalog, 4)).toThrow(/only 3 recommendable/);
  });

  it("gatherRows has the one-hot gradient (wasm has none for gather)", () => {
    const table = tf.variable(
      tf.tensor2d([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    );
    const idx = tf.tensor2d(
      [
        [2, 0],
        [2, 2],
      ],
      [2, 2],
      "int32",
    );
    const { grads } = tf.variableGrads(
      () =>
        tf.sum(
          tf.mul(
            gatherRows(table, idx),
            tf.tensor3d([
              [
                [1, 1],
                [2, 2],
              ],
              [
                [1, 0],
                [0, 1],
              ],
            ]),
          ),
        ) as tf.Scalar,
      [table],
    );
    expect(Array.from(grads[table.name].dataSync())).toEqual([2, 2, 0, 0, 2, 2]);
  });
});
