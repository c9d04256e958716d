// Evaluation arithmetic: AUC, ranking metrics, mean with a 95% confidence interval.

/** ROC AUC by the rank-sum (Mann-Whitney) formula, ties get average ranks. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (labels[order[k]]) {
        pos++;
        rankSum += avgRank;
      }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** 0-based rank of `target` among scores (higher = better; -Infinity never ranks). Ties count against the target. */
export function rankOf(scores: ArrayLike<number>, target: number): number {
  const s = scores[target];
  if (!(s > -Infinity)) return Infinity;
  let r = 0;
  for (let i = 0; i < scores.length; i++) if (i !== target && scores[i] >= s) r++;
  return r;
}

export function recallAt(rank: number, k: number): number {
  return rank < k ? 1 : 0;
}

export function ndcgAt(rank: number, k: number): number {
  return rank < k ? 1 / Math.log2(rank + 2) : 0;
}

export interface MeanCi {
  mean: number;
  ci95: [number, number];
}

/** Mean and normal-approximation 95% CI (1.96 standard errors) of i.i.d. values. */
export function meanCi(xs: number[]): MeanCi {
  const n = xs.length;
  if (n === 0) return { mean: NaN, ci95: [NaN, NaN] };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const v = n > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  const h = 1.96 * Math.sqrt(v / n);
  return { mean, ci95: [mean - h, mean + h] };
}
