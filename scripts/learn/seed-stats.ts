// Seeds are the unit: a policy's figure is the mean over its seeds (each seed one trained policy, evaluated on its
// own episodes), its interval a t-interval over those seed means, and a comparison is the paired difference over the
// seeds both policies ran. Episodes pooled across seeds are not independent samples, so they give no interval here.
import type { OfflineResult, OnlineResult } from "./evaluate";
import type { MeanCi } from "./metrics";

/** One trained (or fixed) policy on one seed. */
export interface SeedResult {
  seed: number;
  totalReward: number;
  depth: number;
  clickRate: number;
  recall10: number;
  ndcg10: number;
  newItemShare: number;
  newItemClickShare: number;
  newVsComparableShown: number; // per-item shown rate of new items / that of comparable trained items (evaluate.ts)
  newVsComparableClicked: number;
  episodes: number;
  episodeCi95: [number, number]; // total reward over this seed's episodes (within-seed spread only)
  trainSeconds: number;
}

export function seedResult(seed: number, online: OnlineResult, offline: OfflineResult, trainSeconds: number): SeedResult {
  return {
    seed,
    totalReward: online.totalReward.mean,
    depth: online.depth.mean,
    clickRate: online.clickRate,
    recall10: offline.recall10,
    ndcg10: offline.ndcg10,
    newItemShare: online.newItemShare,
    newItemClickShare: online.newItemClickShare,
    newVsComparableShown: online.newVsComparableShown ?? NaN,
    newVsComparableClicked: online.newVsComparableClicked ?? NaN,
    episodes: online.episodes,
    episodeCi95: online.totalReward.ci95,
    trainSeconds,
  };
}

// Student's t, two-sided 95%: t_{0.975, df} for df = 1..30 (beyond, the normal 1.96 is within 4%).
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
export const t975 = (df: number): number => (df < 1 ? NaN : (T975[df - 1] ?? 1.96));

/** Mean and t-interval of per-seed values; one seed gives no interval (NaN bounds). */
export function seedCi(xs: number[]): MeanCi {
  const n = xs.length;
  if (n === 0) return { mean: NaN, ci95: [NaN, NaN] };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: [NaN, NaN] };
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const h = t975(n - 1) * (sd / Math.sqrt(n));
  return { mean, ci95: [mean - h, mean + h] };
}

export interface PolicySummary {
  totalReward: MeanCi; // over seed means
  depth: MeanCi;
  clickRate: number;
  recall10: number;
  ndcg10: number;
  newItemShare: number;
  newItemClickShare: number;
  newVsComparableShown: number;
  newVsComparableClicked: number;
  normalisedReward?: number; // (R - R_random) / (R_oracle - R_random), when both ran
  perSeed: SeedResult[];
}

export function summarise(perSeed: SeedResult[]): PolicySummary {
  const mean = (k: keyof SeedResult) => perSeed.reduce((a, s) => a + (s[k] as number), 0) / perSeed.length;
  return {
    totalReward: seedCi(perSeed.map((s) => s.totalReward)),
    depth: seedCi(perSeed.map((s) => s.depth)),
    clickRate: mean("clickRate"),
    recall10: mean("recall10"),
    ndcg10: mean("ndcg10"),
    newItemShare: mean("newItemShare"),
    newItemClickShare: mean("newItemClickShare"),
    newVsComparableShown: mean("newVsComparableShown"),
    newVsComparableClicked: mean("newVsComparableClicked"),
    perSeed,
  };
}

export interface PairedDifference {
  mean: number;
  ci95: [number, number];
  seeds: number[]; // the seeds both ran
}

/** a - b in total reward, paired by seed: the interval is over the per-seed differences. */
export function pairedDifference(
  a: SeedResult[],
  b: SeedResult[],
  key: "totalReward" | "depth" | "ndcg10" = "totalReward",
): PairedDifference {
  const bySeed = new Map(b.map((s) => [s.seed, s]));
  const pairs = a.filter((s) => bySeed.has(s.seed));
  const { mean, ci95 } = seedCi(pairs.map((s) => s[key] - bySeed.get(s.seed)![key]));
  return { mean, ci95, seeds: pairs.map((s) => s.seed) };
}

/** Every policy's summary, normalised rewards where random and oracle ran, and hsrl's paired differences. */
export function compare(perPolicy: Map<string, SeedResult[]>): {
  policies: Record<string, PolicySummary>;
  paired: Record<string, PairedDifference>;
} {
  const policies: Record<string, PolicySummary> = {};
  for (const [name, runs] of perPolicy) policies[name] = summarise(runs);
  const lo = policies.random?.totalReward.mean;
  const hi = policies.oracle?.totalReward.mean;
  if (lo !== undefined && hi !== undefined && hi > lo)
    for (const p of Object.values(policies)) p.normalisedReward = (p.totalReward.mean - lo) / (hi - lo);
  const paired: Record<string, PairedDifference> = {};
  const hsrl = perPolicy.get("hsrl");
  if (hsrl) for (const [name, runs] of perPolicy) if (name !== "hsrl") paired[`hsrl-vs-${name}`] = pairedDifference(hsrl, runs);
  return { policies, paired };
}
