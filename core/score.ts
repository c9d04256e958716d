// Scoring items from the HPN's per-level log-probabilities: score(item) = Σ_l logp[l][z_l(item)].
// One implementation for the exporter's parity check, the offline evaluation and the Worker's rerank.

/**
 * Score of one SID given one row of log-probs. logProbs: [L * V] row-major (level-major), tokens: L codes.
 * A token outside [0, V) gives -Infinity (the model cannot emit it).
 */
export function scoreSid(logProbs: ArrayLike<number>, levels: number, vocab: number, tokens: ArrayLike<number>, tokOffset = 0): number {
  let s = 0;
  for (let l = 0; l < levels; l++) {
    const z = tokens[tokOffset + l];
    if (!(z >= 0 && z < vocab)) return -Infinity;
    s += logProbs[l * vocab + z];
  }
  return s;
}

/**
 * Scores of N items (sidTokens: [N * L], row-major) for one history row of log-probs (logProbs[rowOffset ..
 * rowOffset + L*V)). Returns Float64Array(N).
 */
export function scoreItems(
  logProbs: ArrayLike<number>,
  levels: number,
  vocab: number,
  sidTokens: ArrayLike<number>,
  rowOffset = 0,
): Float64Array {
  const n = Math.floor(sidTokens.length / levels);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let l = 0; l < levels; l++) {
      const z = sidTokens[i * levels + l];
      if (!(z >= 0 && z < vocab)) {
        s = -Infinity;
        break;
      }
      s += logProbs[rowOffset + l * vocab + z];
    }
    out[i] = s;
  }
  return out;
}

/** Indices of the k highest scores, best first; ties go to the lower index (stable, deterministic). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const n = scores.length;
  k = Math.min(k, n);
  if (k <= 0) return [];
  // Small k: keep a sorted buffer (O(n k)); catalogs are thousands of items and k is ~10.
  const idx: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (idx.length === k && !(s > scores[idx[k - 1]])) continue;
    let p = idx.length === k ? k - 1 : idx.length;
    while (p > 0 && s > scores[idx[p - 1]]) p--;
    idx.splice(p, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx;
}
