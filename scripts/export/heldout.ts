// Where the parity check's histories and catalog come from: a dataset's test split (the real held-out next-positive
// examples, so NDCG@10 can be compared), or seeded random SID histories over a random catalog (no trained model yet).
import type { Dataset } from "../data/dataset";
import { Rng } from "../../core/rng";
import { buildEpisodes, nextPositiveExamples, sidHistoryBatch } from "../learn/episodes";
import type { HeldOutHistories } from "./parity";

/** N random right-aligned histories over `catalogSize` distinct random SIDs; every 20th history is a cold user. */
export function randomHeldOut(opts: {
  levels: number;
  vocab: number;
  historyLength: number;
  histories: number;
  catalogSize?: number;
  seed: number;
}): HeldOutHistories {
  const { levels: L, vocab: V, historyLength: H, histories: N } = opts;
  const rng = new Rng(opts.seed);
  const possible = V ** L;
  const size = Math.min(opts.catalogSize ?? 2000, possible);
  const seen = new Set<string>();
  const catalog = new Int32Array(size * L);
  for (let i = 0; i < size; ) {
    const t = Array.from({ length: L }, () => rng.int(V));
    const key = t.join("-");
    if (seen.has(key)) continue;
    seen.add(key);
    catalog.set(t, i * L);
    i++;
  }
  const histories: number[][] = [];
  for (let b = 0; b < N; b++) {
    const n = b % 20 === 0 ? 0 : 1 + rng.int(H + 10); // some longer than H: only the newest H are kept
    histories.push(Array.from({ length: n }, () => rng.int(size)));
  }
  const { sids, length } = sidHistoryBatch(histories, catalog, H, L);
  return { source: `random (seed ${opts.seed}, ${size} random SIDs)`, sids, length, targets: null, catalog };
}

/**
 * The test split's next-positive examples of a dataset (episodes.ts rules), as SID histories; targets are the positive
 * items, ranked against the whole catalog. sidTokens: [numItems * L]. Takes up to `histories` examples, spread evenly.
 */
export function datasetHeldOut(
  dataset: Dataset,
  sidTokens: Int32Array,
  opts: { levels: number; historyLength: number; histories: number; positiveThreshold?: number },
): HeldOutHistories {
  const { levels: L, historyLength: H } = opts;
  if (sidTokens.length !== dataset.items.length * L)
    throw new Error(`held-out: ${dataset.items.length} items need ${dataset.items.length * L} SID tokens, got ${sidTokens.length}`);
  const ep = buildEpisodes(dataset, {
    historyLength: H,
    holdoutFraction: 0,
    ...(opts.positiveThreshold !== undefined ? { positiveThreshold: opts.positiveThreshold } : {}),
  });
  let examples = nextPositiveExamples(ep, "test", false);
  if (examples.length === 0) throw new Error(`held-out: dataset ${dataset.name} has no positive test-split examples`);
  if (examples.length > opts.histories) {
    const step = examples.length / opts.histories;
    examples = Array.from({ length: opts.histories }, (_, i) => examples[Math.floor(i * step)]);
  }
  const { sids, length } = sidHistoryBatch(
    examples.map((e) => e.history),
    sidTokens,
    H,
    L,
  );
  return {
    source: `dataset ${dataset.name}: test split next-positive examples`,
    sids,
    length,
    targets: Int32Array.from(examples.map((e) => e.target)),
    historyItems: examples.map((e) => e.history),
    catalog: sidTokens,
    itemIds: dataset.items.map((i) => i.id),
  };
}
