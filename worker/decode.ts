// Decoding the HPN's per-level distributions into catalog items.
//
// The L distributions do not depend on the chosen prefix (the HPN subtracts *expected* token embeddings), so an item's
// score is additive: Σ_l logp[l][z_l]. That makes an exact best-first (A*) search over the prefix tree of SIDs that
// exist in the catalog possible: a prefix's priority is its score so far plus the best any remaining level could add,
// an upper bound, so complete SIDs leave the queue in exact score order. We stop once k admissible items are out.
//
// With the popularity prior the score is Σ_l logp[l][z_l] + β·g(i) (β from the model, g per item in the index). A
// prefix's bound then adds β·(the max g under it) for β >= 0, β·(the min g) for β < 0; a leaf's items enter the queue
// one by one at their exact score, so items sharing a SID leave it in prior order too.
import { childRange, itemId, leafTokens, type SidIndex, tokenAt } from "../core/sid-index";
import type { CatalogIndex } from "./catalog-index";

export interface Decoded {
  id: string;
  tokens: number[];
  collision: number;
  score: number;
}

interface Node {
  level: number; // -1: the root; levels: item i (leaf order); else the level of the prefix (its length - 1)
  i: number; // the prefix's index at that level
  score: number; // Σ of logp over the chosen tokens (+ β·g for an item)
  priority: number; // score + bound of the levels still to choose (+ β·(max or min g below))
  tokens?: number[]; // an item's SID (shared by the items of one leaf)
}

/** Ids a decode must not return. */
export interface Excluded {
  has(id: string): boolean;
}

/**
 * The k best items of a catalog index: the base's best that the overlay does not shadow, merged with the overlay's
 * best. Each list is exact over its own items, so the merge is exact over the catalog.
 */
export function decodeCatalog(
  logProbs: ArrayLike<number>,
  levels: number,
  vocab: number,
  ci: CatalogIndex,
  k: number,
  excluded: Excluded,
  beta = 0,
): Decoded[] {
  const base = decodeTopK(logProbs, levels, vocab, ci.base, k, { has: (id) => excluded.has(id) || ci.overlay.has(id) }, beta);
  if (ci.overlayIndex.size === 0) return base;
  const overlay = decodeTopK(logProbs, levels, vocab, ci.overlayIndex, k, excluded, beta);
  return [...base, ...overlay].sort((a, b) => b.score - a.score).slice(0, k);
}

export function decodeTopK(
  logProbs: ArrayLike<number>,
  levels: number,
  vocab: number,
  index: SidIndex,
  k: number,
  excluded: Excluded,
  beta = 0,
): Decoded[] {
  if (index.size === 0 || index.levels !== levels) return [];
  // β·g's largest value under prefix i of level l
  const priorBound = beta >= 0 ? index.priorMax : index.priorMin;
  const priorTerm = (l: number, i: number) => (beta === 0 ? 0 : beta * priorBound[l][i]);
  // bound[l] = Σ_{l' >= l} max_v logp[l'][v]
  const bound = new Float64Array(levels + 1);
  for (let l = levels - 1; l >= 0; l--) {
    let best = -Infinity;
    for (let v = 0; v < vocab; v++) best = Math.max(best, logProbs[l * vocab + v]);
    bound[l] = bound[l + 1] + best;
  }
  const out: Decoded[] = [];
  // equal priorities: items before prefixes, then the lower item (collision order within a SID)
  const heap = new MaxHeap<Node>((a, b) => a.priority - b.priority || Number(a.level === levels) - Number(b.level === levels) || b.i - a.i);
  heap.push({ level: -1, i: 0, score: 0, priority: Infinity });
  while (out.length < k && heap.size > 0) {
    const node = heap.pop()!;
    if (node.level === levels) {
      out.push({ id: itemId(index, node.i), tokens: node.tokens!, collision: index.collision[node.i], score: node.score });
      continue;
    }
    if (node.level === levels - 1) {
      const tokens = leafTokens(index, node.i);
      for (let j = index.itemStart[node.i]; j < index.itemStart[node.i + 1]; j++) {
        if (excluded.has(itemId(index, j))) continue;
        const score = node.score + beta * index.prior[j];
        heap.push({ level: levels, i: j, score, priority: score, tokens });
      }
      continue;
    }
    const depth = node.level + 1; // the level of the children
    const [from, to] = childRange(index, node.level, node.i);
    for (let c = from; c < to; c++) {
      const t = tokenAt(index, depth, c);
      if (t >= vocab) continue; // a token this model cannot emit
      const score = node.score + logProbs[depth * vocab + t];
      heap.push({ level: depth, i: c, score, priority: score + bound[depth + 1] + priorTerm(depth, c) });
    }
  }
  return out;
}

class MaxHeap<T> {
  private readonly xs: T[] = [];
  constructor(private readonly cmp: (a: T, b: T) => number) {}
  get size(): number {
    return this.xs.length;
  }
  push(x: T): void {
    const xs = this.xs;
    xs.push(x);
    for (let i = xs.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (this.cmp(xs[i], xs[p]) <= 0) break;
      [xs[i], xs[p]] = [xs[p], xs[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const xs = this.xs;
    const top = xs[0];
    const last = xs.pop();
    if (xs.length > 0 && last !== undefined) {
      xs[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < xs.length && this.cmp(xs[l], xs[m]) > 0) m = l;
        if (r < xs.length && this.cmp(xs[r], xs[m]) > 0) m = r;
        if (m === i) break;
        [xs[i], xs[m]] = [xs[m], xs[i]];
        i = m;
      }
    }
    return top;
  }
}
