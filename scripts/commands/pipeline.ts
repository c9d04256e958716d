// `hsrl pipeline`: sids -> train -> export end to end, in-process (functions, not child processes):
//   <out>/sids/    codebook.json, sid-table.json, sid-table.sql, sid-report.json
//   <out>/train/   response model, HPN + critic checkpoint, train log, curve
//   <out>/model/   hpn.fp32.onnx, hpn.int8.onnx, manifest.json, parity.json
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { codebookFromJson } from "../../core/codebook";
import { loadHpnCheckpoint } from "../model/checkpoint";
import { exportHpn } from "../export/export";
import { datasetHeldOut } from "../export/heldout";
import { int } from "./flags";
import { addLearningOptions, runTrain } from "./train";

export function register(program: Command): void {
  addLearningOptions(program.command("pipeline").description("sids -> train (response model + HSRL) -> export (fp32 + int8 ONNX, manifest, parity)"))
    .option("--episodes <n>", "simulated episodes for the closing evaluation", int("episodes"), 500)
    .option("--histories <n>", "held-out histories for the export parity check", int("histories"), 1000)
    .option("--checkpoint-every <n>", "save training progress every n steps", int("checkpoint-every"), 100)
    .option("--resume", "continue an interrupted training in <out>/train")
    .action(async (o) => {
      const t0 = performance.now();
      const out: string = o.out;
      // sids + train: runTrain builds the SIDs into <out>/train/sids when no table is given; keep them at <out>/sids
      const sidsDir = path.join(out, "sids");
      const sidTable = path.join(sidsDir, "sid-table.json");
      const trained = await runTrain({ ...o, out: path.join(out, "train"), sidTable: fs.existsSync(sidTable) && o.resume ? sidTable : undefined });
      if (trained.sidTablePath !== sidTable) {
        fs.mkdirSync(sidsDir, { recursive: true });
        for (const f of fs.readdirSync(path.dirname(trained.sidTablePath))) fs.copyFileSync(path.join(path.dirname(trained.sidTablePath), f), path.join(sidsDir, f));
      }
      const { hpn, meta } = loadHpnCheckpoint(path.join(out, "train"));
      const codebookPath = path.join(sidsDir, "codebook.json");
      const codebook = codebookFromJson(JSON.parse(fs.readFileSync(codebookPath, "utf8")));
      const { dataset, sids } = trained; // the SID tokens are sid-table.json's, already read or built by runTrain
      const heldOut = datasetHeldOut(dataset, sids.sidTokens, { levels: hpn.config.levels, historyLength: hpn.config.historyLength, histories: o.histories, positiveThreshold: o.positive });
      const t = (meta.training ?? {}) as Record<string, unknown>;
      const { manifest, parity } = await exportHpn({
        hpn,
        outDir: path.join(out, "model"),
        heldOut,
        codebook,
        codebookPath,
        training: { ...t, dataset: dataset.name, seed: o.seed },
        evaluation: meta.evaluation as Record<string, unknown> | undefined,
        progress: process.stderr.isTTY,
      });
      hpn.dispose();
      console.log(`exported ${out}/model (version ${manifest.version}); parity fp32 ${parity.fp32.pass ? "ok" : "FAIL"}, int8 top-10 overlap ${parity.int8.top10Overlap.toFixed(4)}`);
      console.log(`pipeline done in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
    });
}
