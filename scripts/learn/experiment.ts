// The whole comparison in one place: episodes -> response model (the simulator) -> every policy trained on the same
// data, simulator and budget (learner.ts) -> online (simulator) and offline (test split) metrics over several seeds.
// Everything that was trained is saved under <dir>/runs/, so an interrupted run resumes where it stopped.
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset";
import type { SidInputs } from "../sids/table";
import type { Progress } from "../util/progress";
import { Rng } from "../util/rng";
import type { StepLog } from "./a2c";
import { simulatorConfig, type ExperimentConfig } from "./config";
import type { OfflineResult, OnlineResult } from "./evaluate";
import { disposeLearner, evaluateLearner, trainLearner, type TrainedLearner } from "./learner";
import type { MeanCi } from "./metrics";
import { ActorPolicy, PopularPolicy, RandomPolicy, type Policy } from "./policies";
import { buildWorld } from "./world";

export interface PolicyReport {
  totalReward: MeanCi;
  depth: MeanCi;
  clickRate: number;
  recall10: number;
  ndcg10: number;
  newItemShare: number;
  newItemClickShare: number;
  perSeed: { seed: number; online: OnlineResult; offline: OfflineResult; trainSeconds: number }[];
}

export interface EvalReport {
  policies: Record<string, PolicyReport>;
  responseModelAUC: number;
  seconds: number;
  config: Record<string, unknown>;
  curves: Record<string, { seed: number; log: StepLog[] }[]>;
  msPerStep: Record<string, { bc: number; rl: number }>;
  levelWeights: Record<string, number[][]>;
}

export function runExperiment(
  dataset: Dataset,
  sids: SidInputs,
  cfg: ExperimentConfig,
  dir: string | null,
  features?: Float32Array[],
  progress?: Progress,
): EvalReport {
  const t0 = performance.now();
  if (sids.sidTokens.length !== dataset.items.length * sids.levels) {
    throw new Error(`experiment: SID table has ${sids.sidTokens.length / sids.levels} items, dataset has ${dataset.items.length}`);
  }
  const world = buildWorld(dataset, cfg, { dir, features, progress });
  const report: EvalReport = {
    policies: {},
    responseModelAUC: world.responseAuc,
    seconds: 0,
    config: {},
    curves: {},
    msPerStep: {},
    levelWeights: {},
  };
  const perSeed = new Map<string, PolicyReport["perSeed"]>();
  for (const seed of cfg.seeds) {
    for (const name of cfg.policies) {
      let policy: Policy;
      let trained: TrainedLearner | null = null;
      if (name === "random") policy = new RandomPolicy(world.episodes.numItems, new Rng(seed * 7 + 1));
      else if (name === "popular") policy = new PopularPolicy(world.episodes.trainPositiveCount);
      else {
        trained = trainLearner({ name, seed, dir: dir ? path.join(dir, "runs", `seed-${seed}`, name) : null, progress }, cfg, sids, world);
        policy = new ActorPolicy(name, trained.actor);
      }
      const { online, offline } = evaluateLearner(policy, cfg, world, { seed, episodes: cfg.episodesPerSeed, progress });
      if (!perSeed.has(name)) perSeed.set(name, []);
      perSeed.get(name)!.push({ seed, online: online!, offline, trainSeconds: trained?.seconds ?? 0 });
      if (trained) {
        (report.curves[name] ??= []).push({ seed, log: trained.log });
        report.msPerStep[name] = trained.msPerStep;
        if (trained.levelWeights) (report.levelWeights[name] ??= []).push(trained.levelWeights);
        disposeLearner(trained);
      }
    }
  }
  for (const [name, runs] of perSeed) report.policies[name] = aggregate(runs);
  report.seconds = (performance.now() - t0) / 1000;
  report.config = {
    dataset: dataset.name,
    users: dataset.users.length,
    items: dataset.items.length,
    interactions: dataset.interactions.length,
    heldOutItems: world.episodes.heldOut.reduce((a, b) => a + b, 0),
    positiveRate: world.episodes.positiveRate,
    episodes: world.episodes.config,
    split: "per user, time-ordered: last testFraction test, valFraction before it validation, rest train",
    sids: { levels: sids.levels, vocab: sids.vocab, codebookVersion: sids.codebookVersion, popularityWeight: cfg.sidPopularity ?? 0 },
    response: { ...cfg.response, seed: cfg.seed },
    hpn: { historyLength: cfg.historyLength, ...cfg.hpn, residual: true },
    train: { ...cfg.train, seed: cfg.seed },
    hpnLoss: cfg.hpnLoss,
    simulator: simulatorConfig(cfg),
    seeds: cfg.seeds,
    episodesPerSeed: cfg.episodesPerSeed,
    backend: tf.getBackend(),
  };
  world.response?.dispose();
  return report;
}

function aggregate(runs: PolicyReport["perSeed"]): PolicyReport {
  // The CI is over all episodes of all seeds pooled (so it includes the spread between seeds' trained policies);
  // per-seed numbers are kept beside it.
  const mean = (f: (r: PolicyReport["perSeed"][number]) => number) => runs.reduce((a, r) => a + f(r), 0) / runs.length;
  const pooled = (k: "totalReward" | "depth"): MeanCi => {
    const n = runs.reduce((a, r) => a + r.online.episodes, 0);
    const m = runs.reduce((a, r) => a + r.online[k].mean * r.online.episodes, 0) / n;
    // per-seed variance back from its CI half-width: sd² = (h / 1.96)² · n_i
    const v =
      runs.reduce((a, r) => {
        const sd2 = ((r.online[k].ci95[1] - r.online[k].mean) / 1.96) ** 2 * r.online.episodes;
        return a + r.online.episodes * (sd2 + (r.online[k].mean - m) ** 2);
      }, 0) / n;
    const h = 1.96 * Math.sqrt(v / n);
    return { mean: m, ci95: [m - h, m + h] };
  };
  return {
    totalReward: pooled("totalReward"),
    depth: pooled("depth"),
    clickRate: mean((r) => r.online.clickRate),
    recall10: mean((r) => r.offline.recall10),
    ndcg10: mean((r) => r.offline.ndcg10),
    newItemShare: mean((r) => r.online.newItemShare),
    newItemClickShare: mean((r) => r.online.newItemClickShare),
    perSeed: runs,
  };
}
