// The popularity prior of the HSRL score: score(i) = Σ_l log p_l(z_l(i)) + β(s)·g(pop_i). The SIDs stay content-only,
// so a new item gets a meaningful SID; its popularity enters only through g, which starts at the catalog's prior.
//   g(pop) = (log(1 + positives) - mean) / sd over the items with training counts (the catalog's statistics)
//   a new item (no counts yet) gets g = 0: the catalog's mean, not the coldest bucket.
// Both sides read it: training (scripts/learn) and, through the manifest's statistics, the Worker.

export interface PopularityStats {
  mean: number; // of log(1 + positives) over the catalog's trained items
  sd: number;
}

export function popularityStats(positives: ArrayLike<number>, trained: ArrayLike<number>): PopularityStats {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < positives.length; i++) {
    if (!trained[i]) continue;
    const x = Math.log1p(positives[i]);
    n++;
    sum += x;
    sq += x * x;
  }
  if (n === 0) return { mean: 0, sd: 1 };
  const mean = sum / n;
  const sd = Math.sqrt(Math.max(0, sq / n - mean * mean));
  return { mean, sd: sd > 1e-9 ? sd : 1 };
}

/** g(pop_i) for one item: standardised log(1 + positives), or the catalog's prior (0) for an item without counts. */
export const priorOf = (positives: number | null, s: PopularityStats): number =>
  positives === null ? 0 : (Math.log1p(positives) - s.mean) / s.sd;

/** g per item [N]: trained items from their counts, the rest (held-out, new) at the catalog's prior. */
export function popularityPrior(
  positives: ArrayLike<number>,
  trained: ArrayLike<number>,
  s = popularityStats(positives, trained),
): Float32Array {
  return Float32Array.from({ length: positives.length }, (_, i) => priorOf(trained[i] ? positives[i] : null, s));
}
