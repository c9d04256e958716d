// `hsrl pipeline`: sids -> train -> export end to end (export/pipeline.ts).
import type { Command } from "commander";
import { loadDataset } from "../data/load";
import { runPipeline } from "../export/pipeline";
import { initBackend } from "../model/backend";
import { nonNegativeInt } from "./flags";
import { experimentConfigFrom, sidSourceFrom } from "./learning-options";
import { progressBar } from "./progress-bar";
import { addTrainOptions, type TrainFlags } from "./train";

export function register(program: Command): void {
  addTrainOptions(
    program.command("pipeline").description("sids -> train (response model + HSRL) -> export (fp32 + int8 ONNX, manifest, parity)"),
  )
    .option("--histories <n>", "held-out histories for the export parity check", nonNegativeInt("histories"), 1000)
    .action(async (o: TrainFlags & { histories: number }) => {
      const t0 = performance.now();
      await initBackend({ threads: o.threads || 1 });
      const dataset = loadDataset(o.data, o.format, { seed: o.seed });
      const bar = progressBar();
      const { manifest, parity } = await runPipeline({
        dataset,
        out: o.out,
        cfg: experimentConfigFrom(o),
        sids: sidSourceFrom(o),
        episodes: o.episodes,
        histories: o.histories,
        resume: o.resume,
        checkpointEvery: o.checkpointEvery,
        progress: bar.progress,
      }).finally(() => bar.stop());
      console.log(
        `exported ${o.out}/model (version ${manifest.version}); parity fp32 ${parity.fp32.pass ? "ok" : "FAIL"}, int8 top-10 ` +
          `overlap ${parity.int8.top10Overlap.toFixed(4)}`,
      );
      console.log(`pipeline done in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
    });
}
