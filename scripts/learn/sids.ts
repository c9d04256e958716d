// SIDs for the learning experiments. Two ways in:
//  - fromSidTable: the `sids` command's sid-table.json (what the pipeline and the export use);
//  - holdoutSids: the dynamic-catalog experiment. Held-out items must be NEW to everything learned: their interactions
//    are removed before the item features are computed (so a held-out item's vector comes from its content only —
//    genres and tags — as a freshly added item's would), the codebook is fitted on the other items only, and the
//    held-out items then get their SIDs from that fixed codebook with encodeSid, exactly as the Worker would.
import { encodeSid, type Codebook } from "../../core/codebook";
import type { Dataset } from "../data/dataset";
import { itemFeatures } from "../sids/features";
import { DEFAULT_KMEANS, defaultCodebookSize, residualQuantize, type Progress } from "../sids/kmeans";
import { KernelPool } from "../sids/pool";
import type { SidInputs } from "./experiment";

export interface HoldoutSidOptions {
  levels: number;
  size?: number;
  dim: number;
  seed: number;
  progress?: Progress;
}

export async function holdoutSids(dataset: Dataset, heldOut: Uint8Array, o: HoldoutSidOptions): Promise<SidInputs & { codebook: Codebook; features: Float32Array[] }> {
  const visible: Dataset = { ...dataset, interactions: dataset.interactions.filter((x) => !heldOut[x.item]) };
  const feats = itemFeatures(visible, { dim: o.dim, seed: o.seed });
  const trainIdx = feats.vectors.map((_, i) => i).filter((i) => !heldOut[i]);
  const size = o.size ?? defaultCodebookSize(trainIdx.length);
  const pool = new KernelPool(1);
  let rq;
  try {
    rq = await residualQuantize(trainIdx.map((i) => feats.vectors[i]), o.levels, { ...DEFAULT_KMEANS, size, seed: o.seed, balanced: true }, pool, o.progress);
  } finally {
    await pool.close();
  }
  const L = o.levels;
  const sidTokens = new Int32Array(dataset.items.length * L);
  trainIdx.forEach((item, j) => sidTokens.set(rq.tokens.subarray(j * L, (j + 1) * L), item * L));
  for (let i = 0; i < dataset.items.length; i++) {
    if (!heldOut[i]) continue;
    sidTokens.set(encodeSid(rq.codebook, feats.vectors[i]), i * L);
  }
  return { sidTokens, levels: L, vocab: size, codebookVersion: rq.codebook.version, codebook: rq.codebook, features: feats.vectors };
}
