// The whole comparison in one place: episodes -> response model (the simulator) -> every policy trained on the same
// data, simulator and budget (learner.ts) -> online (simulator) and offline (test split) metrics over several seeds.
// Everything that was trained is saved under <dir>/runs/, so an interrupted run resumes where it stopped.
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset";
import type { SidInputs } from "../sids/table";
import type { Progress } from "../util/progress";
import { Rng } from "../../core/rng";
import type { StepLog } from "./a2c";
import { simulatorConfig, type ExperimentConfig } from "./config";
import { comparableItems, type OfflineResult, type OnlineResult } from "./evaluate";
import type { PolicyName } from "./config";
import { runJobsInWorkers } from "./job-pool";
import { disposeLearner, evaluateLearner, trainLearner, type TrainedLearner } from "./learner";
import { ActorPolicy, OraclePolicy, PopularPolicy, RandomPolicy, type Policy } from "./policies";
import { compare, seedResult, type PairedDifference, type PolicySummary, type SeedResult } from "./seed-stats";
import { ResponseClickModel } from "./simulator";
import { buildWorld, type World } from "./world";

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

/** One (policy, seed) job of an experiment: its own seed, so its result does not depend on which process ran it. */
export interface JobSpec {
  name: PolicyName;
  seed: number;
}

export interface JobResult extends JobSpec {
  online: OnlineResult;
  offline: OfflineResult;
  trainSeconds: number;
  log?: StepLog[];
  msPerStep?: { bc: number; rl: number };
  levelWeights?: number[];
}

export interface ExperimentOptions {
  features?: Float32Array[];
  progress?: Progress;
  jobs?: number; // (policy, seed) jobs run at once, each in its own worker thread; 1 (default) = in this thread
  resume?: boolean; // continue interrupted trainings from <dir>/runs/seed-s/<policy>/progress
  checkpointEvery?: number; // with resume: save progress every n steps (default 100)
}

/** The jobs in report order: seeds, then policies. */
export const experimentJobs = (cfg: ExperimentConfig): JobSpec[] =>
  cfg.seeds.flatMap((seed) => cfg.policies.map((name) => ({ name, seed })));

/** Trains (or loads) and evaluates one job in a world. */
export function runJob(
  job: JobSpec,
  cfg: ExperimentConfig,
  sids: SidInputs,
  world: World,
  dir: string | null,
  o: { progress?: Progress; resume?: boolean; checkpointEvery?: number } = {},
): JobResult {
  const { name, seed } = job;
  let policy: Policy;
  let trained: TrainedLearner | null = null;
  if (name === "random") policy = new RandomPolicy(world.episodes.numItems, new Rng(seed * 7 + 1));
  else if (name === "popular") policy = new PopularPolicy(world.episodes.trainPositiveCount);
  else if (name === "oracle") {
    if (!world.response) throw new Error("experiment: the oracle needs a simulator");
    policy = new OraclePolicy(new ResponseClickModel(world.response));
  } else {
    const runDir = dir ? path.join(dir, "runs", `seed-${seed}`, name) : null;
    trained = trainLearner(
      {
        name,
        seed,
        dir: runDir,
        progress: o.progress,
        resume: o.resume,
        checkpointEvery: o.resume ? (o.checkpointEvery ?? 100) : undefined,
      },
      cfg,
      sids,
      world,
    );
    policy = new ActorPolicy(name, trained.actor);
  }
  try {
    const comparable = comparableItems(world.prior, world.trainCatalog, world.episodes.heldOut, sids.sidTokens, sids.levels);
    const { online, offline } = evaluateLearner(policy, cfg, world, {
      seed,
      episodes: cfg.episodesPerSeed,
      progress: o.progress,
      comparable,
    });
    if (!online) throw new Error("experiment: the world has no simulator");
    const out: JobResult = { name, seed, online, offline, trainSeconds: trained?.seconds ?? 0 };
    if (trained) Object.assign(out, { log: trained.log, msPerStep: trained.msPerStep, levelWeights: trained.levelWeights });
    return out;
  } finally {
    if (trained) disposeLearner(trained);
  }
}

function checkInputs(dataset: Dataset, sids: SidInputs): void {
  if (sids.sidTokens.length !== dataset.items.length * sids.levels) {
    throw new Error(`experiment: SID table has ${sids.sidTokens.length / sids.levels} items, dataset has ${dataset.items.length}`);
  }
}

/** Every policy and seed, one after another in this thread (the same numbers as runExperimentJobs at any jobs). */
export function runExperiment(
  dataset: Dataset,
  sids: SidInputs,
  cfg: ExperimentConfig,
  dir: string | null,
  features?: Float32Array[],
  progress?: Progress,
): EvalReport {
  const t0 = performance.now();
  checkInputs(dataset, sids);
  const world = buildWorld(dataset, cfg, { dir, features, progress });
  try {
    const results = experimentJobs(cfg).map((j) => runJob(j, cfg, sids, world, dir, { progress }));
    return assemble(dataset, sids, cfg, world, results, t0);
  } finally {
    world.response?.dispose();
  }
}

/**
 * Every policy and seed as (policy, seed) jobs, `jobs` at a time in worker threads (job-pool.ts); jobs 1 runs them in
 * this thread. The world (episodes, response model) is built once here and handed to the workers, and every job has
 * its own seed, so the report's numbers are the same whatever `jobs` is. A failed job stops the run with its error.
 */
export async function runExperimentJobs(
  dataset: Dataset,
  sids: SidInputs,
  cfg: ExperimentConfig,
  dir: string | null,
  o: ExperimentOptions = {},
): Promise<EvalReport> {
  const t0 = performance.now();
  checkInputs(dataset, sids);
  const world = buildWorld(dataset, cfg, { dir, features: o.features, progress: o.progress, reuse: true });
  try {
    const specs = experimentJobs(cfg);
    const jobs = Math.max(1, Math.min(o.jobs ?? 1, specs.length));
    const jobOpts = { resume: o.resume, checkpointEvery: o.checkpointEvery };
    const results =
      jobs === 1
        ? specs.map((j) => runJob(j, cfg, sids, world, dir, { ...jobOpts, progress: o.progress }))
        : await runJobsInWorkers(
            specs,
            jobs,
            {
              dataset,
              sids,
              cfg,
              dir,
              features: o.features,
              response: world.response
                ? { config: world.response.config, weights: world.response.getWeights(), valAuc: world.responseAuc }
                : null,
              ...jobOpts,
            },
            o.progress,
          );
    return assemble(dataset, sids, cfg, world, results, t0);
  } finally {
    world.response?.dispose();
  }
}

function assemble(dataset: Dataset, sids: SidInputs, cfg: ExperimentConfig, world: World, results: JobResult[], t0: number): EvalReport {
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
  for (const r of results) {
    const { name, seed } = r;
    if (!perSeed.has(name)) perSeed.set(name, []);
    perSeed.get(name)!.push(seedResult(seed, r.online, r.offline, r.trainSeconds));
    if (r.log) {
      (report.curves[name] ??= []).push({ seed, log: r.log });
      if (r.msPerStep) report.msPerStep[name] = r.msPerStep;
      if (r.levelWeights) (report.levelWeights[name] ??= []).push(r.levelWeights);
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
    popularityPrior: cfg.popularityPrior,
    comparableItems: comparableItems(world.prior, world.trainCatalog, world.episodes.heldOut, sids.sidTokens, sids.levels).reduce(
      (a, c) => a + c,
      0,
    ),
    response: { ...cfg.response, seed: cfg.seed },
    hpn: { historyLength: cfg.historyLength, ...cfg.hpn, residual: true },
    train: { ...cfg.train, seed: cfg.seed },
    hpnLoss: cfg.hpnLoss,
    simulator: simulatorConfig(cfg),
    seeds: cfg.seeds,
    episodesPerSeed: cfg.episodesPerSeed,
    backend: tf.getBackend(),
  };
  return report;
}
