// Parity: the exported ONNX models (run by onnxruntime-web, as the Worker runs them) against the trainer's own tfjs
// forward pass, on held-out histories; and what int8 changes in the ranking over a catalog's SIDs.
import cliProgress from "cli-progress";
import { scoreItems, topK } from "../../core/score";
import { ndcgAt, rankOf } from "../learn/metrics";
import { tf } from "../model/backend";
import type { Hpn } from "../model/hpn";
import type { PriorWeights } from "./hpn-graph";
import { ortSession, runHpnOnnxOutputs } from "./ort";

export interface HeldOutHistories {
  source: string; // where they came from, for the report ("dataset ml-latest-small test split", "random", ...)
  sids: Int32Array; // [N * H * L], right-aligned
  length: Int32Array; // [N]
  targets: Int32Array | null; // [N] catalog index of the next positive item (for NDCG@10), or null
  historyItems?: number[][]; // catalog indices in each history: excluded from the NDCG ranking (as learn/evaluate.ts does)
  catalog: Int32Array; // [numItems * L] SID tokens of every catalog item (ranking universe)
  itemIds?: string[]; // external id of each catalog index (a dataset's): lets the export ship them as heldout.json
}

export interface ParityReport {
  histories: number;
  source: string;
  catalogItems: number;
  coldHistories: number; // length 0
  fp32: { maxAbsDiff: number; meanAbsDiff: number; allFinite: boolean; pass: boolean; tolerance: number };
  int8: {
    maxAbsDiffVsTfjs: number;
    maxAbsDiffVsFp32: number;
    meanAbsDiffVsFp32: number;
    allFinite: boolean;
    top10Overlap: number; // mean |top10(fp32) ∩ top10(int8)| / 10 over histories
    top10OverlapMin: number;
    target: number;
    pass: boolean;
  };
  ndcg10: { tfjs: number; fp32: number; int8: number; deltaInt8VsFp32: number; histories: number } | null;
  // β(s) of the popularity prior: fp32 against b + w·c_0 from the tfjs pass (same tolerance), int8 against fp32
  beta: { fp32MaxAbsDiff: number; int8MaxAbsDiffVsFp32: number; pass: boolean } | null;
}

export const FP32_TOLERANCE = 1e-4;
export const TOP10_TARGET = 0.95;

export async function checkParity(
  hpn: Hpn,
  fp32Bytes: Uint8Array,
  int8Bytes: Uint8Array,
  data: HeldOutHistories,
  opts: { batch?: number; k?: number; progress?: boolean; prior?: PriorWeights | null } = {},
): Promise<ParityReport> {
  const { levels: L, vocab: V, historyLength: H } = hpn.config;
  const N = data.length.length;
  if (data.sids.length !== N * H * L) throw new Error(`parity: sids has ${data.sids.length} values, expected ${N}*${H}*${L}`);
  if (data.catalog.length % L !== 0 || data.catalog.length === 0) throw new Error(`parity: catalog must hold numItems*${L} tokens`);
  const k = opts.k ?? 10;
  const batch = opts.batch ?? 128;
  const [s32, s8] = [await ortSession(fp32Bytes), await ortSession(int8Bytes)];

  const bar = opts.progress
    ? new cliProgress.SingleBar(
        { format: "parity |{bar}| {value}/{total} histories | ETA {eta_formatted}" },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(N, 0);

  let max32 = 0,
    sum32 = 0,
    max8 = 0,
    max8v32 = 0,
    sum8v32 = 0;
  let finite32 = true,
    finite8 = true;
  let overlapSum = 0,
    overlapMin = 1;
  let ndcgT = 0,
    ndcg32 = 0,
    ndcg8 = 0,
    ndcgN = 0;
  let beta32 = 0,
    beta8 = 0,
    betaFinite = true;
  const prior = opts.prior ?? null;
  const row = L * V;
  for (let b0 = 0; b0 < N; b0 += batch) {
    const B = Math.min(batch, N - b0);
    const sids = data.sids.subarray(b0 * H * L, (b0 + B) * H * L);
    const length = data.length.subarray(b0, b0 + B);
    const [ref, c0] = tf.tidy(() => {
      const f = hpn.forward(tf.tensor3d(sids, [B, H, L], "int32"), tf.tensor1d(length, "int32"), false);
      const c = f.contexts.slice([0, 0, 0], [B, 1, hpn.config.dModel]);
      return [f.logProbs.dataSync() as Float32Array, c.dataSync() as Float32Array];
    });
    const { logProbs: o32, beta: b32 } = await runHpnOnnxOutputs(s32, sids, length, H, L);
    const { logProbs: o8, beta: b8 } = await runHpnOnnxOutputs(s8, sids, length, H, L);
    if (prior) {
      const d = hpn.config.dModel;
      for (let b = 0; b < B; b++) {
        let want = prior.b;
        for (let i = 0; i < d; i++) want += prior.w[i] * c0[b * d + i];
        const x32 = b32?.[b] ?? Number.NaN;
        const x8 = b8?.[b] ?? Number.NaN;
        if (!Number.isFinite(x32) || !Number.isFinite(x8)) betaFinite = false;
        beta32 = Math.max(beta32, Math.abs(x32 - want));
        beta8 = Math.max(beta8, Math.abs(x8 - x32));
      }
    }
    for (let i = 0; i < ref.length; i++) {
      const d32 = Math.abs(o32[i] - ref[i]);
      const d8v32 = Math.abs(o8[i] - o32[i]);
      if (!Number.isFinite(o32[i])) finite32 = false;
      if (!Number.isFinite(o8[i])) finite8 = false;
      max32 = Math.max(max32, d32);
      sum32 += d32;
      max8 = Math.max(max8, Math.abs(o8[i] - ref[i]));
      max8v32 = Math.max(max8v32, d8v32);
      sum8v32 += d8v32;
    }
    for (let b = 0; b < B; b++) {
      const sc32 = scoreItems(o32, L, V, data.catalog, b * row);
      const sc8 = scoreItems(o8, L, V, data.catalog, b * row);
      const t32 = topK(sc32, k);
      const t8 = topK(sc8, k);
      const set = new Set(t32);
      const ov = t8.filter((i) => set.has(i)).length / Math.max(1, t32.length);
      overlapSum += ov;
      overlapMin = Math.min(overlapMin, ov);
      const target = data.targets?.[b0 + b];
      if (target !== undefined && target >= 0) {
        // The offline evaluation's rules: items already in the history are not ranked; ties count against the target
        // (items sharing a SID tie).
        const seen = data.historyItems?.[b0 + b] ?? [];
        const rank = (sc: Float64Array) => {
          const masked = Float64Array.from(sc);
          for (const i of seen) if (i !== target) masked[i] = -Infinity;
          return rankOf(masked, target);
        };
        ndcgT += ndcgAt(rank(scoreItems(ref, L, V, data.catalog, b * row)), k);
        ndcg32 += ndcgAt(rank(sc32), k);
        ndcg8 += ndcgAt(rank(sc8), k);
        ndcgN++;
      }
    }
    bar?.update(b0 + B);
  }
  bar?.stop();
  await s32.release();
  await s8.release();
  const values = N * row;
  const overlap = overlapSum / N;
  return {
    histories: N,
    source: data.source,
    catalogItems: data.catalog.length / L,
    coldHistories: data.length.filter((x) => x === 0).length,
    fp32: {
      maxAbsDiff: max32,
      meanAbsDiff: sum32 / values,
      allFinite: finite32,
      pass: finite32 && max32 <= FP32_TOLERANCE,
      tolerance: FP32_TOLERANCE,
    },
    int8: {
      maxAbsDiffVsTfjs: max8,
      maxAbsDiffVsFp32: max8v32,
      meanAbsDiffVsFp32: sum8v32 / values,
      allFinite: finite8,
      top10Overlap: overlap,
      top10OverlapMin: overlapMin,
      target: TOP10_TARGET,
      pass: finite8 && overlap >= TOP10_TARGET,
    },
    beta: prior ? { fp32MaxAbsDiff: beta32, int8MaxAbsDiffVsFp32: beta8, pass: betaFinite && beta32 <= FP32_TOLERANCE } : null,
    ndcg10:
      ndcgN > 0
        ? { tfjs: ndcgT / ndcgN, fp32: ndcg32 / ndcgN, int8: ndcg8 / ndcgN, deltaInt8VsFp32: (ndcg8 - ndcg32) / ndcgN, histories: ndcgN }
        : null,
  };
}
