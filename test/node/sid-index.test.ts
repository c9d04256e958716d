// The compact prefix index (core/sid-index.ts) and the Worker's exact best-first decode over it (worker/decode.ts):
// the k best items by Σ_l logp[l][z_l] over the SIDs that exist, excluded ids skipped, against a brute-force ranking.
import { describe, expect, it } from "vitest";
import {
  buildSidIndex,
  childRange,
  findItem,
  itemId,
  leafOf,
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

  it("finds an item by id, with its SID, in the built and the serialised index; an id it lacks is -1", () => {
    const unicode = [
      ...rows.slice(0, 40),
      { id: "café-☕", tokens: [1, 2, 3], collision: 7 },
      { id: "𝒳-astral", tokens: [0, 0, 1], collision: 4 },
    ];
    for (const ix of [index, buildSidIndex(unicode, L), sidIndexFromBytes(sidIndexToBytes(buildSidIndex(unicode, L))).index]) {
      for (const r of ix === index ? rows : unicode) {
        const j = findItem(ix, r.id);
        expect(itemId(ix, j)).toBe(r.id);
        expect({ tokens: leafTokens(ix, leafOf(ix, j)), collision: ix.collision[j] }).toEqual({ tokens: r.tokens, collision: r.collision });
      }
      for (const id of ["", "item-", "item-600", "zzz", "café"]) expect(findItem(ix, id)).toBe(-1);
    }
    expect(findItem(buildSidIndex([], L), "item-1")).toBe(-1);
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

  it("with a popularity prior, decodes exactly the brute-force top k of Σ logp + β·g (β of either sign)", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rng = new Rng(100 + seed);
      const V2 = 4 + rng.int(5);
      // some items without a prior (new: the catalog's prior 0)
      const withPrior = catalog(50 + rng.int(300), L, V2, seed).map((r) => ({ ...r, prior: rng.next() < 0.2 ? null : 3 * rng.normal() }));
      const ix = sidIndexFromBytes(sidIndexToBytes(buildSidIndex(withPrior, L))).index; // through the serialised form too
      for (let trial = 0; trial < 8; trial++) {
        const beta = [0, 0.5, -0.7, 4, -3, 0.05][trial % 6] * (1 + rng.next());
        const logp = Float32Array.from({ length: L * V2 }, () => Math.log(rng.next() + 1e-3));
        const excluded = new Set(withPrior.filter(() => rng.next() < 0.15).map((r) => r.id));
        const k = 1 + rng.int(30);
        const scoreOf = (r: (typeof withPrior)[number]) =>
          r.tokens.reduce((a, t, l) => a + logp[l * V2 + t], 0) + beta * Math.fround(r.prior ?? 0);
        const brute = withPrior
          .filter((r) => !excluded.has(r.id))
          .map((r) => ({ id: r.id, score: scoreOf(r) }))
          .sort((x, y) => y.score - x.score);
        const got = decodeTopK(logp, L, V2, ix, k, excluded, beta);
        expect(got).toHaveLength(Math.min(k, brute.length));
        got.forEach((g, i) => expect(g.score).toBeCloseTo(brute[i].score, 9));
        // the ids are the brute force's, up to ties at the cut
        const cut = brute[got.length - 1].score;
        const sure = new Set(brute.filter((x) => x.score > cut + 1e-9).map((x) => x.id));
        for (const id of sure) expect(got.map((g) => g.id)).toContain(id);
        for (const g of got) expect(excluded.has(g.id)).toBe(false);
      }
    }
  });

  it("carries each prefix's max and min prior; an old (format 1) buffer reads as every prior 0", () => {
    const rows2 = [
      { id: "a", tokens: [0, 0, 0], collision: 0, prior: 1.5 },
      { id: "b", tokens: [0, 0, 0], collision: 1, prior: -2 },
      { id: "c", tokens: [0, 1, 0], collision: 0, prior: null },
      { id: "d", tokens: [1, 0, 0], collision: 0, prior: 0.25 },
    ];
    const ix = buildSidIndex(rows2, L);
    expect(Array.from(ix.priorMax[0])).toEqual([1.5, 0.25]);
    expect(Array.from(ix.priorMin[0])).toEqual([-2, 0.25]);
    expect(Array.from(ix.priorMax[2])).toEqual([1.5, 0, 0.25]);
    expect(Array.from(ix.priorMin[1])).toEqual([-2, 0, 0.25]);
    // a β > 0 puts the popular item of a shared SID first, a β < 0 the other one
    const flat = new Float32Array(L * V);
    expect(decodeTopK(flat, L, V, ix, 1, new Set(), 1)[0].id).toBe("a");
    expect(decodeTopK(flat, L, V, ix, 1, new Set(), -1)[0].id).toBe("b");
    // format 1: the same header without the prior sections
    const bytes = sidIndexToBytes(ix);
    const headerLength = new DataView(bytes.buffer).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    const v1 = { ...header, format: 1, sections: header.sections.slice(0, 2 * L + 3) };
    const h1 = new TextEncoder().encode(JSON.stringify(v1));
    const body = bytes.subarray(Math.ceil((8 + headerLength) / 8) * 8);
    const old = new Uint8Array(Math.ceil((8 + h1.length) / 8) * 8 + body.length);
    old.set(new TextEncoder().encode("HSIX"), 0);
    new DataView(old.buffer).setUint32(4, h1.length, true);
    old.set(h1, 8);
    old.set(body, Math.ceil((8 + h1.length) / 8) * 8);
    const back = sidIndexFromBytes(old).index;
    expect(Array.from(back.prior)).toEqual([0, 0, 0, 0]);
    expect(back.idOrder).toBeNull(); // formats 1 and 2 find no item by id: the caller asks D1
    expect(findItem(back, "a")).toBe(-1);
    expect(decodeTopK(flat, L, V, back, 4, new Set(), 5).map((d) => d.id)).toEqual(["a", "b", "c", "d"]);
  });

  it("an empty catalog decodes to nothing; a SID of the wrong length is refused", () => {
    expect(decodeTopK(new Float32Array(L * V), L, V, buildSidIndex([], L), 5, new Set())).toEqual([]);
    expect(() => buildSidIndex([{ id: "x", tokens: [1, 2], collision: 0 }], L)).toThrow(/2 tokens/);
  });
});
