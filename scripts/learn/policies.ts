// Policies as the simulator and the offline metrics see them: item scores for a batch of histories. Slates are the
// top-K scores over the active catalog, never repeating an item already in the user's history; exploration during
// training samples K items without replacement by the Gumbel-top-k trick on the same scores (scores = log-probs).
import { actorItemScores, type Actor } from "./actors";
import type { ResponseClickModel } from "./simulator";
import type { Rng } from "../../core/rng";

export interface Policy {
  readonly name: string;
  /** [B*N] scores (higher = better, -Infinity = cannot be recommended). */
  scores(histories: number[][]): Float32Array;
}

export class ActorPolicy implements Policy {
  constructor(
    readonly name: string,
    readonly actor: Actor,
  ) {}
  scores(histories: number[][]): Float32Array {
    return actorItemScores(this.actor, histories);
  }
}

export class RandomPolicy implements Policy {
  readonly name = "random";
  constructor(
    private readonly numItems: number,
    private readonly rng: Rng,
  ) {}
  scores(histories: number[][]): Float32Array {
    const s = new Float32Array(histories.length * this.numItems);
    for (let i = 0; i < s.length; i++) s[i] = this.rng.next();
    return s;
  }
}

/**
 * The ceiling: greedy top-K by the simulator's own click probability for the user's history (its logit, the same
 * order). No learned policy can do better in expectation on a single step; it bounds what the simulator allows.
 */
export class OraclePolicy implements Policy {
  readonly name = "oracle";
  constructor(private readonly clickModel: ResponseClickModel) {}
  scores(histories: number[][]): Float32Array {
    return this.clickModel.itemLogits(histories);
  }
}

/** Most positive feedback in the training split (held-out items have count 0 and never had a chance). */
export class PopularPolicy implements Policy {
  readonly name = "popular";
  constructor(private readonly counts: Float64Array) {}
  scores(histories: number[][]): Float32Array {
    const N = this.counts.length;
    const s = new Float32Array(histories.length * N);
    for (let b = 0; b < histories.length; b++) for (let i = 0; i < N; i++) s[b * N + i] = this.counts[i] - i * 1e-9;
    return s;
  }
}

/**
 * Slates [B*K] from scores [B*N]: only items with catalog[i] = 1 and not in the user's history. With `rng`, Gumbel
 * noise is added first (sampling without replacement from softmax(scores)); without it, greedy top-K.
 */
export function selectSlates(scores: Float32Array, histories: number[][], catalog: Uint8Array, K: number, rng?: Rng): Int32Array {
  const B = histories.length;
  const N = catalog.length;
  const slates = new Int32Array(B * K);
  const bestS = new Float64Array(K);
  const bestI = new Int32Array(K);
  const seen = new Uint8Array(N); // the row's history items (a byte mask: a Set lookup per item cost ~3x the loop)
  for (let b = 0; b < B; b++) {
    for (const it of histories[b]) if (it >= 0 && it < N) seen[it] = 1;
    let n = 0;
    for (let i = 0; i < N; i++) {
      if (!catalog[i] || seen[i]) continue;
      let s = scores[b * N + i];
      if (!(s > -Infinity)) continue;
      if (rng) s += rng.gumbel();
      if (n === K && s <= bestS[K - 1]) continue;
      let p = n < K ? n++ : K - 1; // insertion into the sorted buffer
      while (p > 0 && bestS[p - 1] < s) {
        bestS[p] = bestS[p - 1];
        bestI[p] = bestI[p - 1];
        p--;
      }
      bestS[p] = s;
      bestI[p] = i;
    }
    for (const it of histories[b]) if (it >= 0 && it < N) seen[it] = 0;
    if (n < K) throw new Error(`selectSlates: only ${n} recommendable items for user row ${b}, slate size is ${K}`);
    for (let k = 0; k < K; k++) slates[b * K + k] = bestI[k];
  }
  return slates;
}
