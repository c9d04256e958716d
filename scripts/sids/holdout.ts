// SIDs for the dynamic-catalog experiment (`evaluate`). Item features read the train split only (`inTrain`): the
// validation and test interactions the policies are judged on must not shape the SIDs or the simulator's item vectors.
// Held-out items must be NEW to everything learned:
//  - their interactions are removed before the item features are computed, so a held-out item's vector comes from its
//    content only (genres and tags), as a freshly added item's would;
//  - the codebook is fitted on the other items only, and the held-out items then get their SIDs from that fixed
//    codebook with encodeSid, exactly as the Worker would.
// With popularityWeight w > 0 the codebook sees one more coordinate, the item's standardised log(1 + positives in the
// TRAIN split), carrying w of each vector's squared norm: the item features are unit vectors, so without it no SID
// token can say "widely liked", which this simulator rewards most. A held-out item has no train positives, so it is
// encoded as a cold item, as a new item would be.
import { encodeSid, type Codebook } from "../../core/codebook";
import type { Dataset } from "../data/dataset";
import type { Progress } from "../util/progress";
import { addPopularity, itemFeatures } from "./features";
import { DEFAULT_KMEANS, defaultCodebookSize, residualQuantize, type RqResult } from "./kmeans";
import { KernelPool } from "./pool";
import type { SidInputs } from "./table";

export interface HoldoutSidOptions {
  levels: number;
  size?: number;
  dim: number;
  seed: number;
  popularityWeight?: number; // share of squared norm given to the popularity coordinate (0 = none)
  popularity?: Float64Array; // per item, positives in the train split (needed when popularityWeight > 0)
  inTrain?: Uint8Array; // per interaction, 1 = in the train split (features read only those); default: all
  progress?: Progress;
}

export async function holdoutSids(
  dataset: Dataset,
  heldOut: Uint8Array,
  o: HoldoutSidOptions,
): Promise<SidInputs & { codebook: Codebook; features: Float32Array[] }> {
  const visible: Dataset = {
    ...dataset,
    interactions: dataset.interactions.filter((x, i) => !heldOut[x.item] && (!o.inTrain || o.inTrain[i])),
  };
  const feats = itemFeatures(visible, { dim: o.dim, seed: o.seed });
  const trainIdx = feats.vectors.map((_, i) => i).filter((i) => !heldOut[i]);
  const size = o.size ?? defaultCodebookSize(trainIdx.length, o.levels);
  const w = o.popularityWeight ?? 0;
  if (w > 0 && !o.popularity) throw new Error("holdoutSids: popularityWeight needs the train-split popularity");
  if (w < 0 || w >= 1) throw new Error(`popularity weight must be in [0, 1), got ${w}`);
  const vectors = w > 0 ? addPopularity(feats, o.popularity!, w, trainIdx).vectors : feats.vectors;
  const pool = new KernelPool(1);
  let rq: RqResult;
  try {
    rq = await residualQuantize(
      trainIdx.map((i) => vectors[i]),
      o.levels,
      { ...DEFAULT_KMEANS, size, seed: o.seed, balanced: true },
      pool,
      o.progress,
    );
  } finally {
    await pool.close();
  }
  const L = o.levels;
  const sidTokens = new Int32Array(dataset.items.length * L);
  trainIdx.forEach((item, j) => sidTokens.set(rq.tokens.subarray(j * L, (j + 1) * L), item * L));
  for (let i = 0; i < dataset.items.length; i++) {
    if (!heldOut[i]) continue;
    sidTokens.set(encodeSid(rq.codebook, vectors[i]), i * L);
  }
  // features (what the response model reads) stay the plain item vectors: the simulator does not change with the SIDs
  return { sidTokens, levels: L, vocab: size, codebookVersion: rq.codebook.version, codebook: rq.codebook, features: feats.vectors };
}
