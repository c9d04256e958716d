// `hsrl pipeline`: sids -> train -> export end to end, in-process:
//   <out>/sids/    codebook.json, sid-table.json, sid-table.sql, sid-report.json
//   <out>/train/   response model, HPN + critic checkpoint, train log, curve
//   <out>/model/   hpn.fp32.onnx, hpn.int8.onnx, manifest.json, parity.json
import fs from "node:fs";
import path from "node:path";
import { trainHsrl, type TrainHsrlOptions } from "../learn/train-hsrl";
import { checkpointPrior, loadHpnCheckpoint } from "../model/checkpoint";
import { writeSidTablePriors } from "../sids/artifacts";
import { loadCodebookFile } from "../sids/table";
import { exportHpn, type ExportResult } from "./export";
import { datasetHeldOut } from "./heldout";

export interface PipelineOptions extends Omit<TrainHsrlOptions, "out"> {
  out: string;
  histories: number; // held-out histories for the export's parity check
}

export async function runPipeline(o: PipelineOptions): Promise<ExportResult> {
  const { dataset, out } = o;
  // train builds the SIDs into <out>/train/sids when no table is given; they are kept at <out>/sids
  const sidsDir = path.join(out, "sids");
  const sidTable = path.join(sidsDir, "sid-table.json");
  const reuseSids = o.resume && fs.existsSync(sidTable);
  const trained = await trainHsrl({
    ...o,
    out: path.join(out, "train"),
    sids: { ...o.sids, sidTable: reuseSids ? sidTable : o.sids.sidTable },
  });
  if (trained.sidTablePath !== sidTable) {
    const from = path.dirname(trained.sidTablePath);
    fs.mkdirSync(sidsDir, { recursive: true });
    for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(sidsDir, f));
  }
  // The catalog's priors from this run's training counts (a retrain on `hsrl events export` refreshes them from the
  // logged events): `hsrl catalog --sids <out>/sids` loads them into items.prior.
  const sqlTable = path.join(sidsDir, "sid-table.sql");
  if (trained.priors && fs.existsSync(sqlTable)) writeSidTablePriors(sqlTable, trained.priors.of, trained.priors.meta.stats);
  const { hpn, meta } = loadHpnCheckpoint(path.join(out, "train"));
  const codebookPath = path.join(sidsDir, "codebook.json");
  const heldOut = datasetHeldOut(dataset, trained.sids.sidTokens, {
    levels: hpn.config.levels,
    historyLength: hpn.config.historyLength,
    histories: o.histories,
    positiveThreshold: o.cfg.episodes.positiveThreshold,
  });
  const t = (meta.training ?? {}) as Record<string, unknown>;
  try {
    return await exportHpn({
      hpn,
      outDir: path.join(out, "model"),
      heldOut,
      codebook: loadCodebookFile(codebookPath),
      prior: checkpointPrior(meta),
      codebookPath,
      training: { ...t, dataset: dataset.name, seed: o.cfg.seed },
      evaluation: meta.evaluation as Record<string, unknown> | undefined,
      progress: process.stderr.isTTY,
    });
  } finally {
    hpn.dispose();
  }
}
