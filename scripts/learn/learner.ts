// One training path and one evaluation path for every learned policy: `evaluate`, `train`, `pipeline` and
// `default-model` all come through trainLearner and evaluateLearner.
//   trainLearner: a finished run saved in <dir> on the same inputs is loaded; with `resume`, <dir>/progress continues;
//     otherwise the learner trains from its seed. Checkpoints go through model/checkpoint.ts (write, then rename).
//   evaluateLearner: episodes in the simulator (greedy top-K over the full catalog) and the test split's ranking.
import path from "node:path";
import { MultiLevelCritic } from "../model/critic";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from "../model/checkpoint";
import type { SidInputs } from "../sids/table";
import type { Progress } from "../util/progress";
import { trainPolicy, type StepLog, type TrainConfig } from "./a2c";
import { FlatActor, HpnActor, type Actor, type HpnPrefix } from "./actors";
import { hpnConfig, POLICY_NAMES, simulatorConfig, type ExperimentConfig, type PolicyName } from "./config";
import { evaluationStarts, offlineMetrics, runEpisodes, type OfflineResult, type OnlineResult } from "./evaluate";
import type { Policy } from "./policies";
import { ResponseClickModel } from "./simulator";
import { featureFingerprint, trainContext, type World } from "./world";

/** A fresh actor (+ critic) and its training mode for a learned policy. */
export function makeLearner(
  name: PolicyName,
  cfg: ExperimentConfig,
  sids: SidInputs,
  world: World,
  seed: number,
): { actor: Actor; critic: MultiLevelCritic | null; mode: TrainConfig["mode"] } {
  const hpnCfg = hpnConfig(cfg, sids.levels, sids.vocab, name !== "hsrl-no-residual");
  // the popularity prior rides on the catalog policy (prefix "expected", loss "catalog"); the AR variant has none
  const withPrior = (prefix: HpnPrefix) => cfg.popularityPrior && prefix === "expected" && cfg.hpnLoss === "catalog";
  const hpnActor = (prefix: HpnPrefix = "expected") =>
    HpnActor.create(hpnCfg, seed, sids.sidTokens, {
      loss: cfg.hpnLoss,
      prefix,
      catalog: world.trainCatalog,
      prior: withPrior(prefix) ? world.prior : undefined,
    });
  const critic = (contexts: number) => new MultiLevelCritic({ dim: cfg.hpn.dModel, contexts, hidden: [256, 64] }, seed + 17);
  switch (name) {
    case "hsrl-ar":
      return { actor: hpnActor("chosen"), critic: critic(sids.levels + 1), mode: "a2c" };
    case "hpn-sl-ar":
      return { actor: hpnActor("chosen"), critic: null, mode: "supervised" };
    case "hsrl":
    case "hsrl-no-residual":
      return { actor: hpnActor(), critic: critic(sids.levels + 1), mode: "a2c" };
    case "hsrl-no-mlc":
      return { actor: hpnActor(), critic: critic(1), mode: "a2c" };
    case "hpn-sl":
      return { actor: hpnActor(), critic: null, mode: "supervised" };
    case "flat-a2c":
      return { actor: FlatActor.create(hpnCfg, seed, sids.sidTokens, world.trainCatalog), critic: critic(1), mode: "a2c" };
    case "sl":
      return { actor: FlatActor.create(hpnCfg, seed, sids.sidTokens, world.trainCatalog), critic: null, mode: "supervised" };
    default:
      throw new Error(`no learner for policy "${name}"`);
  }
}

export interface LearnerRun {
  name: PolicyName;
  seed: number; // init seed; the trainer's stream derives from it and the policy's name unless streamSeed is given
  dir: string | null; // where the finished run (actor, critic) and its progress are saved; null = nothing saved
  resume?: boolean; // continue from <dir>/progress when it was saved on the same inputs
  checkpointEvery?: number; // save <dir>/progress every n steps
  streamSeed?: number;
  progress?: Progress;
}

export interface TrainedLearner {
  actor: Actor;
  critic: MultiLevelCritic | null;
  log: StepLog[];
  seconds: number;
  msPerStep: { bc: number; rl: number };
  levelWeights?: number[];
}

interface RunMeta {
  policy: PolicyName;
  seed: number;
  log: StepLog[];
  seconds: number;
  msPerStep: { bc: number; rl: number };
  levelWeights?: number[];
  inputs: string;
}

/** The trainer's stream per (policy, seed). The ×31 is the stream the committed reports were trained on. */
export const streamSeedOf = (name: PolicyName, seed: number): number => (seed * 1000 + POLICY_NAMES.indexOf(name)) * 31;

/** Trains one learned policy, or loads it from run.dir when it was trained there on the same inputs. */
export function trainLearner(run: LearnerRun, cfg: ExperimentConfig, sids: SidInputs, world: World): TrainedLearner {
  const { name, seed, dir } = run;
  const { actor, critic, mode } = makeLearner(name, cfg, sids, world, seed);
  const tc: TrainConfig = { ...cfg.train, mode, seed: run.streamSeed ?? streamSeedOf(name, seed) };
  // reuse saved weights only if they were trained on these SIDs, this simulator and this config
  const simulator = world.response ? featureFingerprint([world.response.getWeights().itemEmb.data]) : "none";
  const sidPrint = featureFingerprint([Float32Array.from(sids.sidTokens)]);
  const inputs = `${sidPrint}/${simulator}/${JSON.stringify(tc)}/${JSON.stringify(hpnConfig(cfg, sids.levels, sids.vocab))}/${cfg.hpnLoss}/prior:${cfg.popularityPrior ? featureFingerprint([world.prior]) : "none"}`;
  const restore = (from: string): RunMeta => {
    const a = loadCheckpoint<RunMeta>(from, "actor");
    actor.setWeights(a.weights);
    if (critic) critic.setWeights(loadCheckpoint(from, "critic").weights);
    return a.meta;
  };
  const savedInputs = (from: string) => (from && hasCheckpoint(from, "actor") ? loadCheckpoint<RunMeta>(from, "actor").meta.inputs : null);

  if (dir && savedInputs(dir) === inputs) {
    const meta = restore(dir);
    return { actor, critic, log: meta.log, seconds: meta.seconds, msPerStep: meta.msPerStep, levelWeights: meta.levelWeights };
  }
  const save = (to: string, meta: RunMeta) => {
    saveCheckpoint(to, "actor", { ...meta }, actor.getWeights());
    if (critic) saveCheckpoint(to, "critic", { config: critic.config }, critic.getWeights());
  };
  const progressDir = dir ? path.join(dir, "progress") : null;
  let startStep = 0;
  let prevLog: StepLog[] = [];
  let prevSeconds = 0;
  if (run.resume && progressDir && hasCheckpoint(progressDir, "actor")) {
    if (savedInputs(progressDir) === inputs) {
      const meta = restore(progressDir);
      prevLog = meta.log;
      startStep = meta.log.length;
      prevSeconds = meta.seconds;
      process.stderr.write(`${name} seed ${seed}: resuming at step ${startStep} from ${progressDir}\n`);
    } else process.stderr.write(`${name} seed ${seed}: ${progressDir} was saved on other inputs: training from the start\n`);
  }
  const t0 = performance.now();
  const seconds = () => prevSeconds + (performance.now() - t0) / 1000;
  const res = trainPolicy(
    actor,
    critic,
    trainContext(world, cfg),
    tc,
    (l) =>
      run.progress?.(
        `train ${name} seed ${seed}`,
        l.step + 1,
        tc.steps,
        l.phase === "bc" ? `bc ${l.bcLoss.toFixed(3)}` : `R ${l.episodeReward?.toFixed(2) ?? "-"}`,
      ),
    startStep,
    progressDir && run.checkpointEvery
      ? {
          every: run.checkpointEvery,
          save: (_done, log) =>
            save(progressDir, {
              policy: name,
              seed,
              log: [...prevLog, ...log],
              seconds: seconds(),
              msPerStep: { bc: NaN, rl: NaN },
              inputs,
            }),
        }
      : undefined,
  );
  const log = [...prevLog, ...res.log];
  const trained = { actor, critic, log, seconds: seconds(), msPerStep: res.msPerStep, levelWeights: res.levelWeights };
  if (dir)
    save(dir, { policy: name, seed, log, seconds: trained.seconds, msPerStep: res.msPerStep, levelWeights: res.levelWeights, inputs });
  return trained;
}

export interface LearnerEvaluation {
  online: OnlineResult | null; // null without a simulator
  offline: OfflineResult;
}

/**
 * A policy in the simulator (`episodes` seeded starts, greedy top-K over `catalog`, the full catalog by default) and
 * on the test split. The same starts and click streams for every policy of one seed.
 */
export function evaluateLearner(
  policy: Policy,
  cfg: ExperimentConfig,
  world: World,
  o: { seed: number; episodes: number; catalog?: Uint8Array; progress?: Progress; comparable?: Uint8Array },
): LearnerEvaluation {
  const catalog = o.catalog ?? world.fullCatalog;
  const online = world.response
    ? runEpisodes(
        policy,
        new ResponseClickModel(world.response),
        simulatorConfig(cfg),
        evaluationStarts(world.episodes, o.episodes, o.seed),
        catalog,
        world.episodes.heldOut,
        o.seed * 101 + 5,
        100,
        (d, t) => o.progress?.(`simulate ${policy.name} seed ${o.seed}`, d, t),
        o.comparable,
      )
    : null;
  return { online, offline: offlineMetrics(policy, world.episodes, catalog) };
}

/** Releases a trained learner's tensors. */
export function disposeLearner(t: TrainedLearner): void {
  t.critic?.dispose();
  t.actor.dispose();
}
