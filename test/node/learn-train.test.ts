// Training behaviour on a planted signal (tiny, fast): the response model finds it (AUC), and HSRL trained briefly
// (BC warm start + A2C with the multi-level critic) beats random in the simulator.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../scripts/model/backend";
import { buildEpisodes, nextPositiveExamples, positiveHistory } from "../../scripts/learn/episodes";
import { trainResponseModel } from "../../scripts/learn/response-trainer";
import { ResponseClickModel } from "../../scripts/learn/simulator";
import { HpnActor } from "../../scripts/learn/actors";
import { MultiLevelCritic } from "../../scripts/model/critic";
import { DEFAULT_TRAIN, trainPolicy } from "../../scripts/learn/a2c";
import { evaluationStarts, offlineMetrics, runEpisodes } from "../../scripts/learn/evaluate";
import { ActorPolicy, RandomPolicy } from "../../scripts/learn/policies";
import { Rng } from "../../core/rng";
import { plantedDataset, plantedSids } from "./learn-helpers";

const H = 10;
const sim = { slateSize: 5, initialTemper: 20, nonClickReward: -0.1, historyLength: H };
const hpnCfg = { historyLength: H, dModel: 16, heads: 2, layers: 1, ff: 32, dropout: 0, tau: 1, residual: true };

beforeAll(async () => {
  await initBackend();
});

describe("learning on a planted signal", () => {
  const ds = plantedDataset(80, 60, 30);
  const ep = buildEpisodes(ds, { historyLength: H, holdoutFraction: 0 });
  let response: ReturnType<typeof trainResponseModel>;

  // What trainPolicy needs: the simulator, BC examples, and episode starts at a random user's train-split history.
  const trainingContext = (clickModel: ResponseClickModel, catalog: Uint8Array) => ({
    clickModel,
    sim,
    catalog,
    bcExamples: nextPositiveExamples(ep, "train", true),
    starts: {
      sample: (rng: Rng) => {
        const u = rng.int(ep.numUsers);
        const t = ep.timelines[u];
        return { user: u, history: positiveHistory(t, t.trainEnd, H) };
      },
    },
  });

  it("the response model reaches validation AUC > 0.6 (BCE on logits)", () => {
    response = trainResponseModel(ep, { dim: 16, hidden: 32, epochs: 4, batchSize: 128, lr: 5e-3, negatives: 1, seed: 1 });
    expect(response.trainLoss[response.trainLoss.length - 1]).toBeLessThan(response.trainLoss[0]);
    expect(response.valAuc).toBeGreaterThan(0.6);
    expect(response.steps).toBe(4 * response.stepsPerEpoch);
  });

  it("the response trainer stops after maxSteps (benches on large logs), part-way through an epoch", () => {
    const r = trainResponseModel(ep, { dim: 16, hidden: 32, epochs: 4, batchSize: 128, lr: 5e-3, negatives: 1, seed: 1, maxSteps: 3 });
    expect(r.stepsPerEpoch).toBeGreaterThan(3);
    expect(r.steps).toBe(3);
    expect(r.trainLoss).toHaveLength(1);
    r.model.dispose();
  });

  it("HSRL trained for a few steps beats random in the simulator, and is reproducible from the seed", () => {
    const { sidTokens, levels, vocab } = plantedSids(60);
    const catalog = new Uint8Array(60).fill(1);
    const clickModel = new ResponseClickModel(response.model);
    const ctx = trainingContext(clickModel, catalog);
    const train = (seed: number) => {
      const actor = HpnActor.create({ ...hpnCfg, levels, vocab }, seed, sidTokens);
      const critic = new MultiLevelCritic({ dim: 16, contexts: levels + 1, hidden: [32, 16] }, seed + 1);
      const res = trainPolicy(actor, critic, ctx, {
        ...DEFAULT_TRAIN,
        steps: 40,
        batchSize: 32,
        actorLr: 5e-3,
        warmStartFraction: 0.5,
        seed,
      });
      return { actor, res };
    };
    const { actor, res } = train(1);
    expect(res.log.filter((l) => l.phase === "rl").length).toBe(20);
    expect(res.log.every((l) => (l.phase === "bc" ? Number.isFinite(l.bcLoss) : Number.isFinite(l.criticLoss!)))).toBe(true);
    const starts = evaluationStarts(ep, 60, 9);
    const hsrl = runEpisodes(new ActorPolicy("hsrl", actor), clickModel, sim, starts, catalog, new Uint8Array(60), 3);
    const random = runEpisodes(new RandomPolicy(60, new Rng(2)), clickModel, sim, starts, catalog, new Uint8Array(60), 3);
    expect(hsrl.totalReward.mean).toBeGreaterThan(random.totalReward.mean);
    expect(hsrl.totalReward.ci95[0]).toBeGreaterThan(random.totalReward.ci95[1]);
    expect(hsrl.clickRate).toBeGreaterThan(random.clickRate);
    const off = offlineMetrics(new ActorPolicy("hsrl", actor), ep, catalog);
    expect(off.users).toBeGreaterThan(0);
    // same seed, same weights
    const again = train(1).actor.getWeights();
    const w = actor.getWeights();
    expect(Array.from(again["head.0.w"].data)).toEqual(Array.from(w["head.0.w"].data));
  });

  it("the catalog policy with the popularity prior trains on-policy with per-item or per-slate credit", () => {
    const { sidTokens, levels, vocab } = plantedSids(60);
    const catalog = new Uint8Array(60).fill(1);
    const prior = Float32Array.from({ length: 60 }, (_, i) => ((i * 7) % 11) / 5 - 1);
    const clickModel = new ResponseClickModel(response.model);
    const ctx = trainingContext(clickModel, catalog);
    for (const credit of ["item", "slate"] as const) {
      const actor = HpnActor.create({ ...hpnCfg, levels, vocab }, 2, sidTokens, { loss: "catalog", catalog, prior });
      const critic = new MultiLevelCritic({ dim: 16, contexts: levels + 1, hidden: [32, 16] }, 3);
      const before = actor.priorWeights()!.b.data[0];
      const res = trainPolicy(actor, critic, ctx, { ...DEFAULT_TRAIN, steps: 30, batchSize: 16, warmStartFraction: 0.3, credit, seed: 4 });
      const rl = res.log.filter((l) => l.phase === "rl");
      expect(rl.length).toBe(21);
      expect(rl.every((l) => Number.isFinite(l.actorLoss!) && Number.isFinite(l.criticLoss!))).toBe(true);
      expect(actor.priorWeights()!.b.data[0]).not.toBe(before); // β learns with the actor
      // the level weights have their own learning rate: they leave 1/(L+1)
      expect(Math.max(...res.levelWeights!.map((x) => Math.abs(x - 1 / (levels + 1))))).toBeGreaterThan(0.01);
      actor.dispose();
      critic.dispose();
    }
  });
});
