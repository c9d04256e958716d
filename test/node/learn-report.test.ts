// The experiment runner end to end on tiny data: eval.json has the shape, eval.md and the SVG curves are
// written, a rerun resumes from the saved policies, and the response model's slate scoring matches per-item scoring.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../scripts/model/backend";
import { defaultExperimentConfig } from "../../scripts/learn/config";
import { runExperiment } from "../../scripts/learn/experiment";
import { writeReport } from "../../scripts/learn/report";
import { ResponseModel } from "../../scripts/model/response";
import { plantedDataset, plantedSids } from "./learn-helpers";

beforeAll(async () => {
  await initBackend();
});

describe("evaluation report", () => {
  it("writes eval.json in the issue's shape, eval.md and SVG curves; resumes trained policies", () => {
    const ds = plantedDataset(40, 60, 20);
    const cfg = defaultExperimentConfig();
    cfg.historyLength = 8;
    cfg.hpn = { ...cfg.hpn, dModel: 16, heads: 2, layers: 1, ff: 32 };
    cfg.sim = { ...cfg.sim, slateSize: 5 };
    cfg.response = { ...cfg.response, dim: 16, hidden: 16, epochs: 1 };
    cfg.train = { ...cfg.train, steps: 10, batchSize: 16, warmStartFraction: 0.3 };
    cfg.episodes = { holdoutFraction: 0.2 };
    cfg.seeds = [1, 2];
    cfg.episodesPerSeed = 20;
    cfg.policies = ["random", "oracle", "popular", "sl", "hsrl"];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsrl-eval-"));
    const r = runExperiment(ds, { ...plantedSids(60), codebookVersion: "test" }, cfg, path.join(dir, "work"));
    writeReport(dir, r, "Budget: test");
    const json = JSON.parse(fs.readFileSync(path.join(dir, "eval.json"), "utf8"));
    expect(Object.keys(json.policies)).toEqual(["random", "oracle", "popular", "sl", "hsrl"]);
    for (const p of Object.values(json.policies) as Record<string, { mean: number; ci95: number[] }>[]) {
      expect(p.totalReward.ci95).toHaveLength(2);
      expect(p.totalReward.ci95[0]).toBeLessThanOrEqual(p.totalReward.mean);
      expect(p.depth.mean).toBeGreaterThan(0);
      for (const k of ["clickRate", "recall10", "ndcg10", "newItemShare"]) expect(typeof p[k]).toBe("number");
    }
    // seeds are the unit: per-seed rows, a t-interval over their means, paired differences on the same seeds
    expect(json.policies.hsrl.perSeed.map((s: { seed: number }) => s.seed)).toEqual([1, 2]);
    const hs = json.policies.hsrl.perSeed.map((s: { totalReward: number }) => s.totalReward);
    expect(json.policies.hsrl.totalReward.mean).toBeCloseTo((hs[0] + hs[1]) / 2, 10);
    const sl = json.policies.sl.perSeed.map((s: { totalReward: number }) => s.totalReward);
    const d = [hs[0] - sl[0], hs[1] - sl[1]];
    const h = 12.706 * (Math.abs(d[0] - d[1]) / Math.sqrt(2) / Math.sqrt(2));
    expect(json.paired["hsrl-vs-sl"].mean).toBeCloseTo((d[0] + d[1]) / 2, 10);
    expect(json.paired["hsrl-vs-sl"].ci95[1] - json.paired["hsrl-vs-sl"].mean).toBeCloseTo(h, 8);
    // the floor and the ceiling: random normalises to 0, the oracle to 1, and the oracle out-clicks random
    expect(json.policies.random.normalisedReward).toBeCloseTo(0, 10);
    expect(json.policies.oracle.normalisedReward).toBeCloseTo(1, 10);
    expect(json.oracle.totalReward.mean).toBeGreaterThan(json.policies.random.totalReward.mean);
    expect(json.policies.oracle.clickRate).toBeGreaterThan(json.policies.popular.clickRate);
    expect(json.responseModelAUC).toBeGreaterThan(0);
    expect(json.responseModelAUC).toBeLessThanOrEqual(1);
    expect(json.seconds).toBeGreaterThan(0);
    expect(json.config.heldOutItems).toBe(12);
    // flat output spaces cannot recommend held-out items; popular never saw them; HSRL can (via their SIDs)
    expect(json.policies.sl.newItemShare).toBe(0);
    expect(json.policies.popular.newItemShare).toBe(0);
    expect(fs.readFileSync(path.join(dir, "eval.md"), "utf8")).toMatch(/\| hsrl \|/);
    expect(fs.readFileSync(path.join(dir, "curves-reward.svg"), "utf8")).toMatch(/^<svg[\s\S]*polyline[\s\S]*<\/svg>\n$/);
    // resume: a rerun loads the saved policies instead of training them again
    const again = runExperiment(ds, { ...plantedSids(60), codebookVersion: "test" }, cfg, path.join(dir, "work"));
    expect(again.policies.hsrl.totalReward.mean).toBeCloseTo(r.policies.hsrl.totalReward.mean, 10);
    expect(again.seconds).toBeLessThan(r.seconds);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the response model scores a slate per user exactly as item by item", () => {
    const m = new ResponseModel({ numItems: 10, featureDim: 0, dim: 8, hidden: 8, historyLength: 4 }, 1);
    const hist = tf.tensor2d(
      [
        [10, 10, 1, 2],
        [3, 4, 5, 6],
      ],
      [2, 4],
      "int32",
    );
    const len = tf.tensor1d([2, 4], "int32");
    const slate = Array.from(
      m
        .slateLogits(
          hist,
          len,
          tf.tensor2d(
            [
              [7, 8, 9],
              [0, 1, 2],
            ],
            [2, 3],
            "int32",
          ),
        )
        .dataSync(),
    );
    const single = [7, 8, 9, 0, 1, 2].map((it, j) => {
      const b = j < 3 ? 0 : 1;
      return m
        .logits(tf.slice(hist, [b, 0], [1, 4]) as tf.Tensor2D, tf.slice(len, [b], [1]) as tf.Tensor1D, tf.tensor1d([it], "int32"))
        .dataSync()[0];
    });
    slate.forEach((v, j) => expect(v).toBeCloseTo(single[j], 5));
    m.dispose();
  });
});
