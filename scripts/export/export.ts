// Export a trained (or random) HPN: hpn.fp32.onnx, hpn.int8.onnx, parity.json and manifest.json in one directory.
// The manifest is validated against core/manifest.ts before it is written, exactly as the Worker will validate it.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Codebook } from "../../core/codebook";
import { manifestVersion, parseManifest, servingTensors, type Manifest } from "../../core/manifest";
import { HELDOUT_FILE, type HeldOutSet } from "../../core/promotion";
import type { Hpn } from "../model/hpn";
import type { PopularityStats } from "../../core/popularity-prior";
import { buildHpnOnnx, type PriorWeights } from "./hpn-graph";
import { checkParity, type HeldOutHistories, type ParityReport } from "./parity";

export const FP32_FILE = "hpn.fp32.onnx";
export const INT8_FILE = "hpn.int8.onnx";

export interface ExportOptions {
  hpn: Hpn;
  outDir: string;
  heldOut: HeldOutHistories;
  codebook: Codebook | null;
  // the learned popularity prior (checkpoint meta popularityPrior): β(s) as the graph's "beta", the stats in the manifest
  prior?: (PriorWeights & { stats: PopularityStats }) | null;
  codebookPath?: string; // as recorded in the manifest (relative to outDir when it is copied beside the model)
  training: { dataset: string; seed: number } & Record<string, unknown>;
  evaluation?: Record<string, unknown>; // extra summary (e.g. the trainer's offline metrics)
  serve?: "int8" | "fp32";
  createdAt?: string; // ISO time; fixed in tests / reproducible builds
  progress?: boolean;
}

export interface ExportResult {
  manifest: Manifest;
  parity: ParityReport;
  sizes: { fp32: number; int8: number; ratio: number };
}

export async function exportHpn(o: ExportOptions): Promise<ExportResult> {
  const { hpn } = o;
  const cfg = hpn.config;
  if (o.codebook && (o.codebook.levels !== cfg.levels || o.codebook.size !== cfg.vocab))
    throw new Error(`export: codebook is ${o.codebook.levels} levels x ${o.codebook.size} codes, the HPN is ${cfg.levels} x ${cfg.vocab}`);
  const weights = hpn.getWeights();
  const prior = o.prior ?? null;
  const fp32 = buildHpnOnnx(cfg, weights, "fp32", prior);
  const int8 = buildHpnOnnx(cfg, weights, "int8", prior);
  const parity = await checkParity(hpn, fp32, int8, o.heldOut, { progress: o.progress, prior });

  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, FP32_FILE), fp32);
  writeFileSync(join(o.outDir, INT8_FILE), int8);
  const sizes = { fp32: fp32.length, int8: int8.length, ratio: int8.length / fp32.length };
  writeFileSync(join(o.outDir, "parity.json"), `${JSON.stringify({ sizes, ...parity }, null, 2)}\n`);
  const heldOutSet = shippedHeldOut(o.heldOut);
  if (heldOutSet) writeFileSync(join(o.outDir, HELDOUT_FILE), `${JSON.stringify(heldOutSet)}\n`);
  if (!parity.fp32.pass)
    throw new Error(
      `export: fp32 parity failed: max |Δ log-prob| ${parity.fp32.maxAbsDiff.toExponential(3)} > ${parity.fp32.tolerance} (see ` +
        `${join(o.outDir, "parity.json")})`,
    );
  if (parity.beta && !parity.beta.pass)
    throw new Error(
      `export: beta parity failed: max |Δ β| ${parity.beta.fp32MaxAbsDiff.toExponential(3)} (see ${join(o.outDir, "parity.json")})`,
    );

  const serve = o.serve ?? "int8";
  const file = (path: string, bytes: Uint8Array) => ({
    path,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
  });
  const priorSpec = prior ? { output: "beta" as const, mean: prior.stats.mean, sd: prior.stats.sd } : null;
  const modelConfig = { hpn: cfg, codebook: o.codebook?.version ?? null, serve, ...(priorSpec ? { prior: priorSpec } : {}) };
  const manifest = parseManifest(
    {
      format: "hsrl-manifest/1",
      version: manifestVersion([fp32, int8], modelConfig),
      created_at: o.createdAt ?? new Date().toISOString(),
      levels: cfg.levels,
      vocab: cfg.vocab,
      historyLength: cfg.historyLength,
      dModel: cfg.dModel,
      featureDim: o.codebook?.dim ?? null,
      hpn: { heads: cfg.heads, layers: cfg.layers, ff: cfg.ff, tau: cfg.tau, residual: cfg.residual },
      ...servingTensors(cfg.historyLength, cfg.levels, cfg.vocab, Boolean(prior)),
      ...(priorSpec ? { prior: priorSpec } : {}), // absent without a prior: such manifests stay as they were
      quantization: serve,
      serving: serve === "int8" ? INT8_FILE : FP32_FILE,
      files: { fp32: file(FP32_FILE, fp32), int8: file(INT8_FILE, int8) },
      codebook: o.codebook ? { version: o.codebook.version, ...(o.codebookPath ? { path: o.codebookPath } : {}) } : null,
      training: o.training,
      evaluation: {
        ...o.evaluation,
        parity: {
          histories: parity.histories,
          source: parity.source,
          fp32MaxAbsDiff: parity.fp32.maxAbsDiff,
          int8MaxAbsDiff: parity.int8.maxAbsDiffVsFp32,
          int8Top10Overlap: parity.int8.top10Overlap,
          ndcg10: parity.ndcg10,
        },
        sizes,
      },
    },
    join(o.outDir, "manifest.json"),
  );
  writeFileSync(join(o.outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, parity, sizes };
}

/** The held-out examples as item ids, for the Worker's replay gate (dataset held-outs only; random ones have no ids). */
function shippedHeldOut(h: HeldOutHistories): HeldOutSet | null {
  const { targets, historyItems, itemIds } = h;
  if (!targets || !historyItems || !itemIds) return null;
  return {
    format: "hsrl-heldout/1",
    source: h.source,
    examples: Array.from(targets, (t, i) => ({ history: historyItems[i].map((j) => itemIds[j]), target: itemIds[t] })),
  };
}
