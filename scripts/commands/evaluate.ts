// `hsrl evaluate`: every policy (random, popular, sl, flat-a2c, hsrl, ablations) trained on the same data, simulator
// and budget over several seeds, then evaluated in the simulator (>= 500 episodes per seed, with 15% of the items held
// out of all training and added back at evaluation) and on the test split (learn/experiment.ts).
// Writes <out>/eval.json, eval.md, curves-*.svg; trained policies are kept in <out>/work/ so a rerun resumes.
import { availableParallelism } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { loadDataset } from "../data/load";
import { defaultExperimentConfig, POLICY_NAMES, type PolicyName } from "../learn/config";
import { buildEpisodes, DEFAULT_EPISODE_CONFIG } from "../learn/episodes";
import { runExperimentJobs } from "../learn/experiment";
import { writeReport } from "../learn/report";
import { initBackend } from "../model/backend";
import { holdoutSids } from "../sids/holdout";
import { fraction, nonNegativeInt } from "./flags";
import { addLearningOptions, experimentConfigFrom, type LearningFlags } from "./learning-options";
import { progressBar } from "./progress-bar";

interface EvaluateFlags extends LearningFlags {
  seeds: string;
  episodes: number;
  holdout: number;
  policies: string;
  budgetNote?: string;
  jobs: number;
  resume?: boolean;
}

function parseSeeds(list: string): number[] {
  return list.split(",").map((s) => {
    const x = Number(s);
    if (!Number.isInteger(x)) throw new Error(`--seeds: "${s}" is not an integer`);
    return x;
  });
}

function parsePolicies(list: string): PolicyName[] {
  const names = list.split(",").map((s) => s.trim());
  for (const n of names)
    if (!(POLICY_NAMES as readonly string[]).includes(n))
      throw new Error(`--policies: unknown policy "${n}" (known: ${POLICY_NAMES.join(", ")})`);
  return names as PolicyName[];
}

export function register(program: Command): void {
  const d = defaultExperimentConfig();
  addLearningOptions(
    program.command("evaluate").description("train and evaluate every policy over several seeds; writes eval.json, eval.md, SVG curves"),
  )
    .option("--seeds <list>", "comma-separated seeds", d.seeds.join(","))
    .option("--episodes <n>", "simulated episodes per seed and policy", nonNegativeInt("episodes"), d.episodesPerSeed)
    .option(
      "--holdout <x>",
      "share of items held out of all training (dynamic catalog)",
      fraction("holdout"),
      DEFAULT_EPISODE_CONFIG.holdoutFraction,
    )
    .option("--policies <list>", `comma-separated subset of ${POLICY_NAMES.join(",")}`, d.policies.join(","))
    .option("--budget-note <text>", "one line describing the budget, printed at the top of eval.md")
    .option(
      "--jobs <n>",
      "(policy, seed) jobs run in parallel, one worker thread each (same results at any n)",
      nonNegativeInt("jobs"),
      availableParallelism(),
    )
    .option("--resume", "continue interrupted trainings from <out>/work/runs/seed-*/<policy>/progress")
    .action(async (o: EvaluateFlags) => {
      if (o.episodes < 1) throw new Error("--episodes must be >= 1");
      if (o.jobs < 1) throw new Error("--jobs must be >= 1");
      const base = experimentConfigFrom(o);
      const cfg = {
        ...base,
        seeds: parseSeeds(o.seeds),
        policies: parsePolicies(o.policies),
        episodesPerSeed: o.episodes,
        episodes: { ...base.episodes, holdoutFraction: o.holdout },
      };
      await initBackend({ threads: o.threads || 1 });
      const dataset = loadDataset(o.data, o.format, { seed: o.seed });
      const { progress, stop } = progressBar();
      try {
        // The held-out items are fixed by --seed (not per evaluation seed), so every policy faces the same new items.
        const ep = buildEpisodes(dataset, { ...cfg.episodes, historyLength: cfg.historyLength, seed: cfg.seed });
        const sids = await holdoutSids(dataset, ep.heldOut, {
          levels: o.levels,
          size: o.vocab,
          dim: 32,
          seed: o.seed,
          popularityWeight: cfg.sidPopularity,
          popularity: ep.trainPositiveCount,
          inTrain: ep.inTrain,
        });
        const report = await runExperimentJobs(dataset, sids, cfg, path.join(o.out, "work"), {
          features: sids.features,
          progress,
          jobs: o.jobs,
          resume: o.resume,
        });
        stop();
        const note =
          o.budgetNote ??
          `Budget: ${cfg.train.steps} gradient steps per learned policy (batch ${cfg.train.batchSize}; A2C policies: ` +
            `${Math.round(cfg.train.warmStartFraction * 100)}% BC warm start), ${cfg.seeds.length} seeds x ${cfg.episodesPerSeed} ` +
            `episodes, ${Math.round(o.holdout * 100)}% items held out.`;
        writeReport(o.out, report, note);
        console.log(`wrote ${o.out}/eval.json, eval.md, curves-reward.svg, curves-bc.svg in ${(report.seconds / 60).toFixed(1)} min`);
        for (const [name, p] of Object.entries(report.policies)) {
          console.log(
            `${name.padEnd(18)} reward ${p.totalReward.mean.toFixed(2)} ` +
              `[${p.totalReward.ci95.map((x) => x.toFixed(2)).join(", ")}]  depth ${p.depth.mean.toFixed(2)}  NDCG@10 ` +
              `${p.ndcg10.toFixed(4)}  new ${p.newItemShare.toFixed(3)}`,
          );
        }
      } finally {
        stop();
      }
    });
}
