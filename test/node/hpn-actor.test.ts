// The HPN actor's item distributions: the catalog-normalised policy (what Gumbel-top-K sampling over item scores
// acts with) and the autoregressive variant, whose teacher-forced log-probs must equal its catalog-walk scores.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../scripts/model/backend";
import { HpnActor } from "../../scripts/learn/actors";
import { SidTrie } from "../../scripts/learn/sid-trie";
import { scoreItems } from "../../core/score";

const L = 3;
const V = 4;
const cfg = { levels: L, vocab: V, historyLength: 6, dModel: 8, heads: 2, layers: 1, ff: 16, dropout: 0, tau: 1, residual: true };
// 10 items; items 8 and 9 share a full SID (a collision group), item 7 (3-0-1) is alone under its level-1 token
const sids = Int32Array.from([0, 0, 0, 0, 0, 1, 0, 1, 2, 1, 0, 0, 1, 3, 3, 2, 2, 2, 2, 2, 3, 3, 0, 1, 1, 1, 1, 1, 1, 1]);
const N = sids.length / L;
const histories = [[0, 3], [], [5, 6, 2, 1]];

beforeAll(async () => {
  await initBackend();
});

function lse(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
}

describe("HPN actor distributions", () => {
  it("the trie opens only the tokens that exist under each prefix", () => {
    const trie = new SidTrie(sids, L, V, new Uint8Array(N).fill(1));
    const m = trie.masks([5, 7]); // item 5 = 2-2-2: level 1 has 0,1,2,3 open; under 2 only 2; under 2-2 only 2 and 3
    const open = (l: number) => [...m.subarray(l * V, (l + 1) * V)].flatMap((x, z) => (x === 0 ? [z] : []));
    expect(open(0)).toEqual([0, 1, 2, 3]);
    expect(open(1)).toEqual([2]);
    expect(open(2)).toEqual([2, 3]);
    expect(open(L + 1)).toEqual([0]); // item 7: under 3 only 0
    expect(open(L + 2)).toEqual([1]);
    expect(() => new SidTrie(sids, L, V, new Uint8Array(N).fill(1)).masks([N])).toThrow(/not in the catalog/);
  });

  it('loss "catalog": log π(item) = score(item) - logsumexp over the catalog; items outside it get no mass', () => {
    const catalog = Uint8Array.from({ length: N }, (_, i) => (i === 4 ? 0 : 1));
    const actor = HpnActor.create(cfg, 3, sids, { loss: "catalog", catalog });
    const out = actor.forward(histories, true);
    const lp = out.logp.dataSync() as Float32Array;
    const got = actor.itemLogProb(out, Int32Array.from([0, 7, 8])).dataSync();
    [0, 7, 8].forEach((item, b) => {
      const s = scoreItems(lp, L, V, sids, b * L * V);
      const z = lse([...s].filter((_, i) => catalog[i]));
      expect(got[b]).toBeCloseTo(s[item] - z, 4);
    });
    const pi = tf.exp(out.itemLogp!).arraySync() as number[][];
    for (const row of pi) {
      expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 4);
      expect(row[4]).toBe(0);
    }
    actor.dispose();
  });

  it('prefix "chosen": teacher-forced log-probs equal the catalog-walk scores, and they sum to 1 over the items', () => {
    const actor = HpnActor.create(cfg, 5, sids, { prefix: "chosen", catalog: new Uint8Array(N).fill(1) });
    const out = actor.forward(histories, true);
    const scores = actor.scoresFrom(out);
    for (let b = 0; b < histories.length; b++) {
      const items = Int32Array.from({ length: N }, (_, i) => i);
      const rows = { ...out, contexts: tf.tile(tf.slice(out.contexts, [b, 0, 0], [1, -1, -1]), [N, 1, 1]) as tf.Tensor3D };
      const forced = actor.itemLogProb(rows, items).dataSync();
      for (let i = 0; i < N; i++) expect(forced[i]).toBeCloseTo(scores[b * N + i], 4);
      // a distribution over items: items 8 and 9 (one SID) split their leaf
      expect(scores[b * N + 8]).toBeCloseTo(scores[b * N + 9], 5);
      expect([...scores.subarray(b * N, (b + 1) * N)].reduce((a, x) => a + Math.exp(x), 0)).toBeCloseTo(1, 4);
    }
    // gradients reach the heads and token tables through the chosen path
    const grads = tf.variableGrads(
      () => tf.neg(tf.mean(actor.slateLogProb(actor.forward(histories, true), Int32Array.from([0, 7, 1, 2, 8, 3]), 2))) as tf.Scalar,
      actor.variables(),
    );
    const norm = Object.values(grads.grads).reduce((a, g) => a + (tf.sum(tf.abs(g)).dataSync()[0] as number), 0);
    expect(norm).toBeGreaterThan(0);
    actor.dispose();
  });
});
