// `hsrl train`: the response model and HSRL for one seed (learn/train-hsrl.ts) into a checkpoint dir.
import type { Command } from "commander";
import { loadDataset } from "../data/load";
import { trainHsrl } from "../learn/train-hsrl";
import { initBackend } from "../model/backend";
import { nonNegativeInt } from "./flags";
import { addLearningOptions, experimentConfigFrom, sidSourceFrom, type LearningFlags } from "./learning-options";
import { progressBar } from "./progress-bar";

export interface TrainFlags extends LearningFlags {
  sidTable?: string;
  episodes: number;
  checkpointEvery: number;
  resume?: boolean;
}

/** Train options that pipeline shares. */
export function addTrainOptions(c: Command): Command {
  return addLearningOptions(c)
    .option("--episodes <n>", "simulated episodes for the closing evaluation", nonNegativeInt("episodes"), 500)
    .option("--checkpoint-every <n>", "save training progress every n steps", nonNegativeInt("checkpoint-every"), 100)
    .option("--resume", "continue an interrupted training (and reuse its response model)");
}

export function register(program: Command): void {
  addTrainOptions(program.command("train").description("train the response model and HSRL (HPN + multi-level critic, A2C) for one seed"))
    .option("--sid-table <file>", "sid-table.json from `hsrl sids` (default: build SIDs here into <out>/sids)")
    .action(async (o: TrainFlags) => {
      await initBackend({ threads: o.threads || 1 });
      const dataset = loadDataset(o.data, o.format, { seed: o.seed });
      const bar = progressBar();
      await trainHsrl({
        dataset,
        out: o.out,
        cfg: experimentConfigFrom(o),
        sids: sidSourceFrom(o),
        episodes: o.episodes,
        resume: o.resume,
        checkpointEvery: o.checkpointEvery,
        progress: bar.progress,
      }).finally(() => bar.stop());
    });
}
