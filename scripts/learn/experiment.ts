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
import { disposeLearner, evaluateLearner, trainLearner, type TrainedLearner } from "./learner";
import { compare, seedResult, type PairedDifference, type PolicySummary, type SeedResult } from "./seed-stats";
import { ActorPolicy, OraclePolicy, PopularPolicy, RandomPolicy, type Policy } from "./policies";
import { ResponseClickModel } from "./simulator";
import { buildWorld } from "./world";

export interface EvalReport {
  policies: Record<string, PolicySummary>; // seed-level figures (learn/seed-stats.ts)
  paired: Record<string, PairedDifference>; // "hsrl-vs-<policy>": per-seed differences in total reward
  oracle?: PolicySummary; // the ceiling, when it ran
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
    paired: {},
    responseModelAUC: world.responseAuc,
    seconds: 0,
    config: {},
    curves: {},
    msPerStep: {},
    levelWeights: {},
  };
  const perSeed = new Map<string, SeedResult[]>();
  for (const seed of cfg.seeds) {
    for (const name of cfg.policies) {
      let policy: Policy;
      let trained: TrainedLearner | null = null;
      if (name === "random") policy = new RandomPolicy(world.episodes.numItems, new Rng(seed * 7 + 1));
      else if (name === "popular") policy = new PopularPolicy(world.episodes.trainPositiveCount);
      else if (name === "oracle") policy = new OraclePolicy(new ResponseClickModel(world.response!));
      else {
        trained = trainLearner({ name, seed, dir: dir ? path.join(dir, "runs", `seed-${seed}`, name) : null, progress }, cfg, sids, world);
        policy = new ActorPolicy(name, trained.actor);
      }
      const { online, offline } = evaluateLearner(policy, cfg, world, { seed, episodes: cfg.episodesPerSeed, progress });
      if (!perSeed.has(name)) perSeed.set(name, []);
      perSeed.get(name)!.push(seedResult(seed, online!, offline, trained?.seconds ?? 0));
      if (trained) {
        (report.curves[name] ??= []).push({ seed, log: trained.log });
        report.msPerStep[name] = trained.msPerStep;
        if (trained.levelWeights) (report.levelWeights[name] ??= []).push(trained.levelWeights);
        disposeLearner(trained);
      }
    }
  }
  const { policies, paired } = compare(perSeed);
  Object.assign(report, { policies, paired, oracle: policies.oracle });
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
