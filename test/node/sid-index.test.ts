// The compact prefix index (core/sid-index.ts) and the Worker's exact best-first decode over it (worker/decode.ts):
// the k best items by Σ_l logp[l][z_l] over the SIDs that exist, excluded ids skipped, against a brute-force ranking.
import { describe, expect, it } from "vitest";
import {
  buildSidIndex,
  childRange,
  itemId,
  leafTokens,
  sidIndexBytes,
  sidIndexFromBytes,
  sidIndexToBytes,
  tokenAt,
} from "../../core/sid-index";
import { Rng } from "../../core/rng";
import { decodeTopK } from "../../worker/decode";

function catalog(n: number, L: number, V: number, seed: number) {
  const rng = new Rng(seed);
  const seen = new Map<string, number>();
  return Array.from({ length: n }, (_, i) => {
    const tokens = Array.from({ length: L }, () => rng.int(V));
    const key = tokens.join("-");
    const collision = seen.get(key) ?? 0;
    seen.set(key, collision + 1);
    return { id: `item-${i}`, tokens, collision };
  });
}

describe("sid index", () => {
  const L = 3;
  const V = 8;
  const rows = catalog(600, L, V, 3); // 512 cells for 600 items: many collisions
  const index = buildSidIndex(rows, L);

  it("holds every item once, under its own SID, in collision order", () => {
    expect(index.size).toBe(600);
    const seen = new Map<string, { tokens: number[]; collision: number }>();
    for (let leaf = 0; leaf < index.codes[L - 1].length; leaf++) {
      let last = -1;
      for (let j = index.itemStart[leaf]; j < index.itemStart[leaf + 1]; j++) {
        expect(index.collision[j]).toBeGreaterThan(last);
        last = index.collision[j];
        seen.set(itemId(index, j), { tokens: leafTokens(index, leaf), collision: index.collision[j] });
      }
    }
    for (const r of rows) expect(seen.get(r.id)).toEqual({ tokens: r.tokens, collision: r.collision });
    expect(sidIndexBytes(index)).toBeLessThan(600 * 64);
  });

  it("links each prefix to exactly the children that exist", () => {
    const want = new Set(rows.map((r) => `${r.tokens[0]}-${r.tokens[1]}`));
    const got = new Set<string>();
    const [a, b] = childRange(index, -1, 0);
    for (let i = a; i < b; i++) {
      const [c, d] = childRange(index, 0, i);
      for (let j = c; j < d; j++) got.add(`${tokenAt(index, 0, i)}-${tokenAt(index, 1, j)}`);
    }
    expect(got).toEqual(want);
  });

  it("decodes the exact top k, skipping excluded ids and tokens the model cannot emit", () => {
    const rng = new Rng(9);
    for (let trial = 0; trial < 20; trial++) {
      const vocab = trial % 5 === 0 ? V - 2 : V; // a model with fewer codes than the catalog
      const logp = Float32Array.from({ length: L * vocab }, () => Math.log(rng.next() + 1e-3));
      const excluded = new Set(rows.filter(() => rng.next() < 0.2).map((r) => r.id));
      const k = 1 + rng.int(40);
      const brute = rows
        .filter((r) => !excluded.has(r.id) && r.tokens.every((t) => t < vocab))
        .map((r) => ({ id: r.id, score: r.tokens.reduce((a, t, l) => a + logp[l * vocab + t], 0), collision: r.collision }))
        .sort((x, y) => y.score - x.score || x.collision - y.collision);
      const got = decodeTopK(logp, L, vocab, index, k, excluded);
      expect(got).toHaveLength(Math.min(k, brute.length));
      got.forEach((g, i) => expect(g.score).toBeCloseTo(brute[i].score, 10));
      for (const g of got) expect(excluded.has(g.id)).toBe(false);
    }
  });

  it("serialises to one buffer and maps back to the same index (non-ASCII ids too)", () => {
    const withUnicode = buildSidIndex([...rows.slice(0, 50), { id: "café-☕", tokens: [1, 2, 3], collision: 9 }], L);
    const bytes = sidIndexToBytes(withUnicode, { cursor: 123 });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3); // an unaligned copy, as a fetch body may be
    const back = sidIndexFromBytes(shifted.subarray(3));
    expect(back.meta).toEqual({ cursor: 123 });
    expect(back.index.size).toBe(51);
    const ids = (ix: typeof withUnicode) => Array.from({ length: ix.size }, (_, j) => itemId(ix, j));
    expect(ids(back.index)).toEqual(ids(withUnicode));
    expect(ids(back.index)).toContain("café-☕");
    const logp = Float32Array.from({ length: L * V }, (_, i) => -((i * 7) % 5));
    expect(decodeTopK(logp, L, V, back.index, 10, new Set())).toEqual(decodeTopK(logp, L, V, withUnicode, 10, new Set()));
    expect(() => sidIndexFromBytes(new Uint8Array(16))).toThrow(/not an HSIX/);
    expect(() => sidIndexFromBytes(bytes.subarray(0, bytes.length - 64))).toThrow(/truncated/);
  });

  it("an empty catalog decodes to nothing; a SID of the wrong length is refused", () => {
    expect(decodeTopK(new Float32Array(L * V), L, V, buildSidIndex([], L), 5, new Set())).toEqual([]);
    expect(() => buildSidIndex([{ id: "x", tokens: [1, 2], collision: 0 }], L)).toThrow(/2 tokens/);
  });
});
