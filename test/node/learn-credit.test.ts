// The second pass of the learning method: the exact Plackett–Luce slate log-prob of near-greedy acting, the click
// loss, the popularity prior (content SIDs + β(s)·g(pop)), the comparable-items yardstick, and the critic's knobs.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../scripts/model/backend";
import { clickLoss, plackettLuce } from "../../scripts/learn/a2c";
import { HpnActor } from "../../scripts/learn/actors";
import { comparableItems } from "../../scripts/learn/evaluate";
import { selectSlates } from "../../scripts/learn/policies";
import { MultiLevelCritic } from "../../scripts/model/critic";
import { pickColumns } from "../../scripts/model/tfops";
import { popularityPrior, popularityStats, priorOf } from "../../core/popularity-prior";
import { Rng } from "../../core/rng";

beforeAll(async () => {
  await initBackend();
});

describe("Plackett–Luce slate log-prob", () => {
  const scores = Float32Array.from([0.3, -1.2, 2.0, 0.1, -0.4]);
  const N = scores.length;
  const logp = () => tf.logSoftmax(tf.tensor2d(scores, [1, N])) as tf.Tensor2D;

  it("sums to 1 over every ordered slate of 2 out of the items not in the history", () => {
    const hist = new Float32Array(N);
    hist[3] = -1e9; // item 3 is in the user's history: never shown, no mass
    let total = 0;
    for (let a = 0; a < N; a++)
      for (let b = 0; b < N; b++) {
        if (a === b || a === 3 || b === 3) continue;
        const { logPos } = plackettLuce(logp(), hist, Int32Array.from([a, b]), 2, 0.5);
        total += Math.exp(logPos.sum().dataSync()[0]);
      }
    expect(total).toBeCloseTo(1, 4);
  });

  it("matches the frequency of Gumbel-top-K samples of score / T (the slates the trainer acts with)", () => {
    const T = 0.5;
    const rng = new Rng(7);
    const n = 20000;
    let hits = 0;
    const scaled = Float32Array.from(tf.logSoftmax(tf.tensor1d(scores)).dataSync(), (x) => x / T);
    for (let i = 0; i < n; i++) {
      const s = selectSlates(scaled, [[]], new Uint8Array(N).fill(1), 2, rng);
      if (s[0] === 2 && s[1] === 0) hits++;
    }
    const { logPos } = plackettLuce(logp(), new Float32Array(N), Int32Array.from([2, 0]), 2, T);
    const p = Math.exp(logPos.sum().dataSync()[0]);
    expect(Math.abs(hits / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n)); // 4 standard errors
  });

  it("pickColumns takes each row's entries and scatters the gradient back", () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const cols = Int32Array.from([2, 0, 1, 1]);
    expect([...pickColumns(x, cols, 2).dataSync()]).toEqual([3, 1, 5, 5]);
    const g = tf.grad((t: tf.Tensor) => pickColumns(t as tf.Tensor2D, cols, 2).sum())(x);
    expect([...g.dataSync()]).toEqual([1, 0, 1, 0, 2, 0]);
  });

  it("the click loss raises clicked items and lowers skipped ones", () => {
    const v = tf.variable(tf.zeros([1, N]));
    const slate = Int32Array.from([0, 1]);
    const clicks = Uint8Array.from([1, 0]);
    const catalog = new Uint8Array(N).fill(1);
    const g = tf
      .grad((t: tf.Tensor) => clickLoss(tf.logSoftmax(t) as tf.Tensor2D, slate, 2, clicks, catalog))(v)
      .dataSync();
    expect(g[0]).toBeLessThan(0); // descending the loss raises item 0's score
    expect(g[1]).toBeGreaterThan(0);
  });
});

describe("popularity prior", () => {
  it("standardises log(1 + positives) over trained items; items without counts sit at the catalog's prior, 0", () => {
    const pos = Float64Array.from([0, 3, 10, 100, 0]);
    const trained = Uint8Array.from([1, 1, 1, 1, 0]);
    const g = popularityPrior(pos, trained);
    const s = popularityStats(pos, trained);
    expect(g[4]).toBe(0);
    expect(priorOf(null, s)).toBe(0);
    expect(g[0]).toBeLessThan(g[1]);
    expect(g[3]).toBeGreaterThan(g[2]);
    expect(g[0] + g[1] + g[2] + g[3]).toBeCloseTo(0, 5);
  });

  it("the HPN's ranking scores add β(s)·g(pop) and agree with its catalog log π; β trains with the actor", () => {
    const cfg = { levels: 2, vocab: 3, historyLength: 4, dModel: 8, heads: 2, layers: 1, ff: 16, dropout: 0, tau: 1, residual: true };
    const sids = Int32Array.from([0, 0, 0, 1, 1, 2, 2, 2, 1, 1, 0, 2]);
    const N = 6;
    const prior = Float32Array.from([-1, 2, 0, 0.5, -0.5, 1]);
    const catalog = new Uint8Array(N).fill(1);
    const actor = HpnActor.create(cfg, 1, sids, { loss: "catalog", catalog, prior });
    const w = actor.getWeights();
    w["prior.b"] = { shape: [1], data: Float32Array.from([3]) };
    actor.setWeights(w);
    const out = actor.forward([[0, 1], [4]], false);
    const scores = actor.scoresFrom(out);
    const lp = actor.catalogLogProbs(out)!.dataSync();
    for (let b = 0; b < 2; b++)
      for (let i = 1; i < N; i++) expect(scores[b * N + i] - scores[b * N]).toBeCloseTo(lp[b * N + i] - lp[b * N], 3); // same policy up to a constant
    const plain = HpnActor.create(cfg, 1, sids, { loss: "catalog", catalog });
    const plainScores = plain.scoresFrom(plain.forward([[0, 1], [4]], false));
    expect(scores[1] - plainScores[1] - (scores[0] - plainScores[0])).toBeCloseTo(3 * (prior[1] - prior[0]), 3);
    expect(actor.variables().length).toBe(plain.variables().length + 2);
    expect(() => plain.setWeights(actor.getWeights())).toThrow(/popularity prior/);
    actor.dispose();
    plain.dispose();
  });

  it("comparable items: trained, in the prior decile new items start in, in a first-level cluster a new item is in", () => {
    const N = 40;
    const prior = Float32Array.from({ length: N }, (_, i) => (i < 30 ? (i - 15) / 10 : 0));
    const train = Uint8Array.from({ length: N }, (_, i) => (i < 30 ? 1 : 0));
    const held = Uint8Array.from({ length: N }, (_, i) => (i >= 30 ? 1 : 0));
    const sids = Int32Array.from({ length: N }, (_, i) => (i >= 30 ? 1 : i % 2)); // new items all in cluster 1 (L = 1)
    const c = comparableItems(prior, train, held, sids, 1);
    const picked = [...c.keys()].filter((i) => c[i]);
    expect(picked.length).toBeGreaterThan(0);
    for (const i of picked) {
      expect(train[i]).toBe(1);
      expect(sids[i]).toBe(1);
      expect(Math.abs(prior[i])).toBeLessThanOrEqual(0.2 + 1e-6);
    }
  });
});

describe("multi-level critic", () => {
  it("starts at a given value and exposes its level logits apart from the MLP", () => {
    const critic = new MultiLevelCritic({ dim: 4, contexts: 3, hidden: [8, 4] }, 1);
    critic.setValueBias(2.5);
    const v = critic.value(tf.zeros([2, 3, 4]) as tf.Tensor3D).dataSync();
    expect(v[0]).toBeCloseTo(2.5, 5);
    expect(critic.levelVariables().length).toBe(1);
    expect(critic.mlpVariables().length + 1).toBe(critic.variables().length);
    critic.dispose();
  });
});
