// Evaluating a policy: (1) online, in the simulator — whole episodes, greedy top-K slates over the FULL catalog
// (held-out items included: the dynamic-catalog experiment), total reward / depth / click rate / new-item shares;
// (2) offline, on the test split — Recall@10 and NDCG@10 of each user's first test positive (full catalog ranking,
// the user's history excluded).
import { positiveHistory, splitRange, type Episodes } from "./episodes";
import { meanCi, ndcgAt, rankOf, recallAt, type MeanCi } from "./metrics";
import { selectSlates, type Policy } from "./policies";
import { Rng } from "../../core/rng";
import { UserBatch, type ClickModel, type SimulatorConfig } from "./simulator";

export interface EpisodeStart {
  user: number;
  history: number[];
}

/** Evaluation starts: users drawn uniformly (seeded); history = positives up to the end of validation, no held-out. */
export function evaluationStarts(ep: Episodes, n: number, seed: number): EpisodeStart[] {
  const rng = new Rng(seed ^ 0xe7a1);
  const H = ep.config.historyLength;
  return Array.from({ length: n }, () => {
    const user = rng.int(ep.numUsers);
    const t = ep.timelines[user];
    return { user, history: positiveHistory(t, t.valEnd, H, ep.heldOut) };
  });
}

export interface OnlineResult {
  totalReward: MeanCi;
  depth: MeanCi;
  clickRate: number;
  newItemShare: number; // share of recommended slate items that are held-out (new) items
  newItemClickShare: number; // share of clicks that went to new items
  // the dynamic catalog's yardstick: trained items comparable to the new ones (comparableItems) and, per item, how
  // often new items are shown / clicked relative to them (1 = as often, 0 = never)
  comparableShare?: number; // share of recommended slate items that are comparable trained items
  comparableClickShare?: number;
  newVsComparableShown?: number; // (new shown / new items) / (comparable shown / comparable items)
  newVsComparableClicked?: number;
  episodes: number;
}

/**
 * Trained items comparable to the new (held-out) ones: in the popularity-prior bucket new items start in (the decile
 * of trained items' g(pop) that holds the catalog's prior, 0) and in a first-level SID cluster some new item is in.
 */
export function comparableItems(prior: Float32Array, trainCatalog: Uint8Array, heldOut: Uint8Array, sidTokens: Int32Array, levels: number) {
  const N = prior.length;
  const g = [...prior].filter((_, i) => trainCatalog[i]).sort((a, b) => a - b);
  const comparable = new Uint8Array(N);
  if (g.length === 0) return comparable;
  const q = (f: number) => g[Math.min(g.length - 1, Math.floor(f * g.length))];
  const d = Math.min(9, Math.floor((10 * g.filter((x) => x < 0).length) / g.length)); // the decile holding 0
  const lo = d === 0 ? -Infinity : q(d / 10);
  const hi = d === 9 ? Infinity : q((d + 1) / 10);
  const clusters = new Set<number>();
  for (let i = 0; i < N; i++) if (heldOut[i]) clusters.add(sidTokens[i * levels]);
  for (let i = 0; i < N; i++) {
    const inBucket = prior[i] >= lo && (prior[i] < hi || prior[i] === lo);
    if (trainCatalog[i] && inBucket && clusters.has(sidTokens[i * levels])) comparable[i] = 1;
  }
  return comparable;
}

export function runEpisodes(
  policy: Policy,
  clickModel: ClickModel,
  sim: SimulatorConfig,
  starts: EpisodeStart[],
  catalog: Uint8Array,
  heldOut: Uint8Array,
  seed: number,
  batchSize = 100,
  onBatch?: (done: number, total: number) => void,
  comparable?: Uint8Array,
): OnlineResult {
  const K = sim.slateSize;
  const rewards: number[] = [];
  const depths: number[] = [];
  let shown = 0;
  let clicks = 0;
  let newShown = 0;
  let newClicks = 0;
  let compShown = 0;
  let compClicks = 0;
  const rng = new Rng(seed);
  for (let s = 0; s < starts.length; s += batchSize) {
    const chunk = starts.slice(s, s + batchSize);
    const users = new UserBatch(chunk.length, sim, clickModel, new Rng(rng.seed()));
    chunk.forEach((st, b) => users.reset(b, st.user, st.history));
    while (users.done.some((d) => d === 0)) {
      const live = [...users.done.keys()].filter((b) => !users.done[b]);
      const hist = live.map((b) => users.histories[b]);
      const liveSlates = selectSlates(policy.scores(hist), hist, catalog, K);
      const slates = new Int32Array(chunk.length * K);
      live.forEach((b, j) => slates.set(liveSlates.subarray(j * K, (j + 1) * K), b * K));
      const res = users.step(slates);
      for (const b of live) {
        for (let k = 0; k < K; k++) {
          const it = slates[b * K + k];
          const c = res.clicks[b * K + k];
          shown++;
          clicks += c;
          if (heldOut[it]) {
            newShown++;
            newClicks += c;
          } else if (comparable?.[it]) {
            compShown++;
            compClicks += c;
          }
        }
      }
    }
    for (let b = 0; b < chunk.length; b++) {
      rewards.push(users.totalReward[b]);
      depths.push(users.depth[b]);
    }
    onBatch?.(Math.min(s + batchSize, starts.length), starts.length);
  }
  const out: OnlineResult = {
    totalReward: meanCi(rewards),
    depth: meanCi(depths),
    clickRate: shown ? clicks / shown : 0,
    newItemShare: shown ? newShown / shown : 0,
    newItemClickShare: clicks ? newClicks / clicks : 0,
    episodes: starts.length,
  };
  if (comparable) {
    const nNew = heldOut.reduce((a, h, i) => a + (h && catalog[i] ? 1 : 0), 0);
    const nComp = comparable.reduce((a, c) => a + c, 0);
    const perItem = (xNew: number, xComp: number) => (nNew && nComp && xComp ? xNew / nNew / (xComp / nComp) : NaN);
    Object.assign(out, {
      comparableShare: shown ? compShown / shown : 0,
      comparableClickShare: clicks ? compClicks / clicks : 0,
      newVsComparableShown: perItem(newShown, compShown),
      newVsComparableClicked: perItem(newClicks, compClicks),
    });
  }
  return out;
}

export interface OfflineResult {
  recall10: number;
  ndcg10: number;
  users: number;
}

/** Next-positive ranking on the test split: each user's first test positive, history = positives before it. */
export function offlineMetrics(policy: Policy, ep: Episodes, catalog: Uint8Array, batchSize = 128): OfflineResult {
  // the history skips held-out items, the target may be one
  const ex: { history: number[]; target: number }[] = [];
  for (const t of ep.timelines) {
    const [a, b] = splitRange(t, "test");
    const k = t.labels.subarray(a, b).indexOf(1);
    if (k >= 0) ex.push({ history: positiveHistory(t, a + k, ep.config.historyLength, ep.heldOut), target: t.items[a + k] });
  }
  const N = catalog.length;
  let recall = 0;
  let ndcg = 0;
  for (let s = 0; s < ex.length; s += batchSize) {
    const chunk = ex.slice(s, s + batchSize);
    const scores = policy.scores(chunk.map((e) => e.history));
    chunk.forEach((e, b) => {
      const row = scores.subarray(b * N, (b + 1) * N);
      const seen = new Set(e.history);
      for (let i = 0; i < N; i++) if (!catalog[i] || (seen.has(i) && i !== e.target)) row[i] = -Infinity;
      const r = rankOf(row, e.target);
      recall += recallAt(r, 10);
      ndcg += ndcgAt(r, 10);
    });
  }
  return { recall10: ex.length ? recall / ex.length : NaN, ndcg10: ex.length ? ndcg / ex.length : NaN, users: ex.length };
}
