// The flags train, evaluate and pipeline share: one typed interface, one function that reads them into the
// experiment's configuration. Each value has one source (one --seed, one --history).
import { type Command, Option } from "commander";
import { DATASET_FORMATS, type DatasetFormat } from "../data/dataset";
import type { HpnLoss } from "../learn/actors";
import { DEFAULT_EPISODE_CONFIG } from "../learn/episodes";
import { defaultExperimentConfig, type ExperimentConfig } from "../learn/config";
import type { SidSource } from "../sids/table";
import { fraction, nonNegativeInt, num } from "./flags";

export interface LearningFlags {
  data: string;
  format: DatasetFormat;
  out: string;
  seed: number;
  steps: number;
  batch: number;
  warmStart: number;
  bcWeight: number;
  clickWeight: number;
  temperature: number;
  credit: "item" | "slate";
  levelLr: number;
  popularityPrior: boolean;
  actorLr: number;
  criticLr: number;
  entropy: number;
  gamma: number;
  slate: number;
  history: number;
  levels: number;
  vocab?: number;
  positive: number;
  sidPopularity: number;
  responseEpochs: number;
  hpnLoss: HpnLoss;
  threads: number;
}

export function addLearningOptions(c: Command): Command {
  // every default is the experiment config's own (learn/config.ts), so the flags and the library cannot disagree
  const d = defaultExperimentConfig();
  const t = d.train;
  return c
    .requiredOption("--data <path>", "dataset path (a directory for MovieLens formats, a spec for synthetic)")
    .addOption(new Option("--format <format>", "dataset format").choices(DATASET_FORMATS).makeOptionMandatory())
    .requiredOption("--out <dir>", "output directory")
    .option("--seed <n>", "seed (everything is reproducible from it)", nonNegativeInt("seed"), d.seed)
    .option("--steps <n>", "gradient steps per learned policy", nonNegativeInt("steps"), t.steps)
    .option("--batch <n>", "batch size (users per RL step, examples per BC step)", nonNegativeInt("batch"), t.batchSize)
    .option("--warm-start <x>", "share of the steps spent on behaviour cloning before A2C", num("warm-start"), t.warmStartFraction)
    .option("--bc-weight <x>", "weight of the BC auxiliary loss after the warm start", num("bc-weight"), t.bcWeight)
    .option("--click-weight <x>", "weight of the click loss on the shown items during A2C", num("click-weight"), t.clickWeight)
    .option(
      "--temperature <x>",
      "acting temperature of the training slates (Plackett–Luce of softmax(score/T))",
      num("temperature"),
      t.temperature,
    )
    .addOption(
      new Option("--credit <kind>", 'advantages per shown "item" (from its click) or one per "slate"')
        .choices(["item", "slate"])
        .default(t.credit),
    )
    .option("--level-lr <x>", "learning rate of the multi-level critic's level weights", num("level-lr"), t.levelLr)
    .option("--no-popularity-prior", "HPN scores without the learned popularity prior β(s)·g(pop)")
    .option("--actor-lr <x>", "actor learning rate", num("actor-lr"), t.actorLr)
    .option("--critic-lr <x>", "critic learning rate", num("critic-lr"), t.criticLr)
    .option("--entropy <x>", "entropy bonus coefficient", num("entropy"), t.entropyCoef)
    .option("--gamma <x>", "discount", num("gamma"), t.gamma)
    .option("--slate <n>", "slate size K", nonNegativeInt("slate"), d.sim.slateSize)
    .option("--history <n>", "history length H", nonNegativeInt("history"), d.historyLength)
    .option("--levels <n>", "SID levels L (when SIDs are built here)", nonNegativeInt("levels"), 3)
    .option("--vocab <n>", "codebook size V (when SIDs are built here; default from catalog size)", nonNegativeInt("vocab"))
    .option("--positive <x>", "rated data: positive iff rating >= this", num("positive"), DEFAULT_EPISODE_CONFIG.positiveThreshold)
    .option(
      "--sid-popularity <w>",
      "share of the SID features given to item popularity (log positives; 0 = content-only SIDs, the default)",
      fraction("sid-popularity"),
      d.sidPopularity,
    )
    .option("--response-epochs <n>", "response model epochs", nonNegativeInt("response-epochs"), d.response.epochs)
    .addOption(
      new Option("--hpn-loss <kind>", 'HPN losses over "catalog" (log π of the catalog policy) or "tokens" (per-level NLL)')
        .choices(["catalog", "tokens"])
        .default(d.hpnLoss),
    )
    .option("--threads <n>", "tfjs-wasm threads", nonNegativeInt("threads"), 1);
}

export function experimentConfigFrom(o: LearningFlags): ExperimentConfig {
  if (!(o.warmStart >= 0 && o.warmStart <= 1)) throw new Error(`--warm-start must be in [0, 1], got ${o.warmStart}`);
  if (!(o.temperature > 0)) throw new Error(`--temperature must be > 0, got ${o.temperature}`);
  if (o.steps < 1 || o.batch < 1 || o.slate < 1 || o.history < 1) throw new Error("--steps, --batch, --slate and --history must be >= 1");
  const cfg = defaultExperimentConfig();
  return {
    ...cfg,
    seed: o.seed,
    historyLength: o.history,
    episodes: { positiveThreshold: o.positive },
    response: { ...cfg.response, epochs: o.responseEpochs },
    train: {
      ...cfg.train,
      steps: o.steps,
      batchSize: o.batch,
      warmStartFraction: o.warmStart,
      bcWeight: o.bcWeight,
      clickWeight: o.clickWeight,
      temperature: o.temperature,
      credit: o.credit,
      levelLr: o.levelLr,
      actorLr: o.actorLr,
      criticLr: o.criticLr,
      entropyCoef: o.entropy,
      gamma: o.gamma,
    },
    hpnLoss: o.hpnLoss,
    popularityPrior: o.popularityPrior,
    sidPopularity: o.sidPopularity,
    sim: { ...cfg.sim, slateSize: o.slate },
  };
}

/** Where train and pipeline take their SIDs from (a given sid-table.json, or built with these flags). */
export function sidSourceFrom(o: LearningFlags & { sidTable?: string }): SidSource {
  return {
    sidTable: o.sidTable,
    levels: o.levels,
    vocab: o.vocab,
    seed: o.seed,
    popularityWeight: o.sidPopularity,
    positiveThreshold: o.positive,
  };
}
