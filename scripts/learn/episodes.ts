// Episodes from logs: per-user, time-ordered timelines split train / validation / test BY TIME, with an explicit
// positive-feedback rule. Split rule (stated once, used everywhere): per user, the interactions sorted by time; the
// last `testFraction` (at least 1) are test, the `valFraction` before them (at least 1) validation, the rest train.
// Users with fewer than 3 interactions are train only. Histories are the user's POSITIVE items, newest last.
import { packSidHistories } from "../../core/history";
import { isPositive, type Dataset } from "../data/dataset";
import { Rng } from "../../core/rng";

export interface EpisodeConfig {
  positiveThreshold: number; // rated data: positive iff rating >= threshold (MovieLens: 4); binary data: rating >= 0.5
  historyLength: number; // H: most recent positives the policy sees
  valFraction: number;
  testFraction: number;
  holdoutFraction: number; // share of items hidden from all policy training (dynamic-catalog experiment)
  seed: number; // picks the held-out items
}

export const DEFAULT_EPISODE_CONFIG: EpisodeConfig = {
  positiveThreshold: 4,
  historyLength: 50,
  valFraction: 0.1,
  testFraction: 0.1,
  holdoutFraction: 0.15,
  seed: 1,
};

export type Split = "train" | "val" | "test";

export interface Timeline {
  user: number;
  items: Int32Array; // this user's items in time order
  labels: Uint8Array; // 1 = positive feedback
  trainEnd: number; // [0, trainEnd) train
  valEnd: number; // [trainEnd, valEnd) validation, [valEnd, n) test
}

export interface Episodes {
  config: EpisodeConfig;
  numItems: number;
  numUsers: number;
  timelines: Timeline[]; // index = user
  heldOut: Uint8Array; // 1 = item hidden from policy training; added back only at evaluation
  trainPositiveCount: Float64Array; // per item, positives in the train split (popularity; 0 for held-out items)
  inTrain: Uint8Array; // per dataset interaction: 1 if it falls in its user's train split (what features may read)
  positiveRate: number; // share of positive interactions over all logs
}

export function buildEpisodes(dataset: Dataset, config: Partial<EpisodeConfig> = {}): Episodes {
  const cfg = { ...DEFAULT_EPISODE_CONFIG, ...config };
  if (!(cfg.valFraction >= 0 && cfg.testFraction > 0 && cfg.valFraction + cfg.testFraction < 1)) {
    throw new Error(`episodes: valFraction ${cfg.valFraction} + testFraction ${cfg.testFraction} must be in (0, 1)`);
  }
  if (!(cfg.holdoutFraction >= 0 && cfg.holdoutFraction < 1)) {
    throw new Error(`episodes: holdoutFraction must be in [0, 1), got ${cfg.holdoutFraction}`);
  }
  if (!Number.isInteger(cfg.historyLength) || cfg.historyLength < 1) {
    throw new Error(`episodes: historyLength must be a positive integer, got ${cfg.historyLength}`);
  }
  const numUsers = dataset.users.length;
  const numItems = dataset.items.length;
  if (dataset.interactions.length === 0) throw new Error(`episodes: dataset ${dataset.name} has no interactions`);
  const perUser: number[][] = Array.from({ length: numUsers }, () => []);
  dataset.interactions.forEach((x, i) => {
    if (x.user < 0 || x.user >= numUsers || x.item < 0 || x.item >= numItems) {
      throw new Error(`episodes: interaction ${i} has user ${x.user} / item ${x.item} outside the dataset`);
    }
    perUser[x.user].push(i); // interactions are sorted by ts, so each list is time-ordered
  });
  let positives = 0;
  const inTrain = new Uint8Array(dataset.interactions.length);
  const timelines: Timeline[] = perUser.map((idx, user) => {
    const n = idx.length;
    const items = new Int32Array(n);
    const labels = new Uint8Array(n);
    idx.forEach((i, k) => {
      const x = dataset.interactions[i];
      items[k] = x.item;
      labels[k] = isPositive(x.rating, dataset.ratingScale, cfg.positiveThreshold) ? 1 : 0;
      positives += labels[k];
    });
    let trainEnd = n;
    let valEnd = n;
    if (n >= 3) {
      const nTest = Math.max(1, Math.round(n * cfg.testFraction));
      const nVal = cfg.valFraction > 0 ? Math.max(1, Math.round(n * cfg.valFraction)) : 0;
      valEnd = n - nTest;
      trainEnd = Math.max(1, valEnd - nVal);
    }
    for (let k = 0; k < trainEnd; k++) inTrain[idx[k]] = 1;
    return { user, items, labels, trainEnd, valEnd };
  });

  // Held-out items: a seeded random share of the items that occur in the logs.
  const heldOut = new Uint8Array(numItems);
  const seen = new Set<number>();
  for (const x of dataset.interactions) seen.add(x.item);
  const candidates = new Rng(cfg.seed ^ 0x5eed).shuffle([...seen].sort((a, b) => a - b));
  for (const it of candidates.slice(0, Math.round(candidates.length * cfg.holdoutFraction))) heldOut[it] = 1;

  const trainPositiveCount = new Float64Array(numItems);
  for (const t of timelines) {
    for (let k = 0; k < t.trainEnd; k++) if (t.labels[k] && !heldOut[t.items[k]]) trainPositiveCount[t.items[k]]++;
  }
  return {
    config: cfg,
    numItems,
    numUsers,
    timelines,
    heldOut,
    trainPositiveCount,
    inTrain,
    positiveRate: positives / dataset.interactions.length,
  };
}

export function splitRange(t: Timeline, split: Split): [number, number] {
  if (split === "train") return [0, t.trainEnd];
  if (split === "val") return [t.trainEnd, t.valEnd];
  return [t.valEnd, t.items.length];
}

/**
 * The user's positive items strictly before position `end` (newest last, at most H). `skip` drops items (held-out
 * ones while training policies).
 */
export function positiveHistory(t: Timeline, end: number, H: number, skip?: Uint8Array): number[] {
  const out: number[] = [];
  for (let k = end - 1; k >= 0 && out.length < H; k--) {
    if (t.labels[k] && !skip?.[t.items[k]]) out.push(t.items[k]);
  }
  return out.reverse();
}

/** Supervised next-positive examples of one split: (history before it, the positive item). */
export interface NextItemExample {
  user: number;
  history: number[];
  target: number;
}

export function nextPositiveExamples(ep: Episodes, split: Split, skipHeldOut: boolean, firstOnly = false): NextItemExample[] {
  const out: NextItemExample[] = [];
  const H = ep.config.historyLength;
  const skip = skipHeldOut ? ep.heldOut : undefined;
  for (const t of ep.timelines) {
    const [a, b] = splitRange(t, split);
    for (let k = a; k < b; k++) {
      if (!t.labels[k] || skip?.[t.items[k]]) continue;
      out.push({ user: t.user, history: positiveHistory(t, k, H, skip), target: t.items[k] });
      if (firstOnly) break;
    }
  }
  return out;
}

/**
 * SASRec-style targets for right-aligned histories [B*H]: slot j holds the item that follows the history row in slot j
 * (the last slot: the example's target), -1 where there is none (padding). A cold history (no items) still has its
 * last slot, so cold users learn it too.
 */
export function nextItemPerPosition(histories: number[][], targets: ArrayLike<number>, H: number): Int32Array {
  const out = new Int32Array(histories.length * H).fill(-1);
  histories.forEach((h, b) => {
    const n = Math.min(h.length, H);
    const seq = [...h.slice(h.length - n), targets[b]]; // the n valid items, then the target
    for (let j = H - n; j < H; j++) out[b * H + j] = seq[j - (H - n) + 1];
    out[b * H + H - 1] = targets[b]; // a cold history (n = 0) has no valid row, only this slot
  });
  return out;
}

/**
 * Histories of item indices as the HPN's inputs, packed by the serving contract's one packer (core/history.ts):
 * int32 [B, H, L] right-aligned and int32 [B] valid lengths. sidTokens: item -> L tokens, row-major [numItems * L].
 */
export function sidHistoryBatch(
  histories: number[][],
  sidTokens: Int32Array,
  H: number,
  L: number,
): { sids: Int32Array; length: Int32Array } {
  return packSidHistories(
    histories.map((h) => h.slice(-H).map((item) => sidTokens.subarray(item * L, (item + 1) * L))),
    H,
    L,
  );
}

/** Item-index histories, right-aligned like the SID tensor; padding = `pad` (an extra zero row of the table). */
export function itemHistoryBatch(histories: number[][], H: number, pad: number): { items: Int32Array; length: Int32Array } {
  const B = histories.length;
  const items = new Int32Array(B * H).fill(pad);
  const length = new Int32Array(B);
  histories.forEach((h, b) => {
    const n = Math.min(h.length, H);
    length[b] = n;
    for (let j = 0; j < n; j++) items[b * H + H - n + j] = h[h.length - n + j];
  });
  return { items, length };
}
