import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeSid } from "../../core/codebook";
import { encodeItemContent, encodeItemVector, encoderOutputDim, itemEncoderFromJson, itemEncoderToJson } from "../../core/item-encoder";
import type { Dataset } from "../../scripts/data/dataset";
import { loadDataset } from "../../scripts/data/load";
import { Rng } from "../../core/rng";
import { generateSynthetic } from "../../scripts/data/synthetic";
import { buildSids } from "../../scripts/sids/build";
import { itemFeatures, positivesPerItem } from "../../scripts/sids/features";

/** A synthetic catalog plus 20 items that have content but no interactions yet (copies of others' metadata). */
function withColdItems(): { data: Dataset; cold: number[] } {
  const base = generateSynthetic({ items: 400, users: 150, interactions: 6_000, seed: 8 });
  const extra = base.items.slice(0, 20).map((it, i) => ({ ...it, id: `new${i}`, title: `New ${i}` }));
  const data = { ...base, items: [...base.items, ...extra] };
  return { data, cold: extra.map((_, i) => base.items.length + i) };
}

describe("item encoder (features for new items)", () => {
  it("gives a content-only item exactly the vector and SID the build gives it", async () => {
    const { data, cold } = withColdItems();
    const build = await buildSids(data, { levels: 3, size: 16, dim: 16, seed: 1, plainRq: false });
    const enc = itemEncoderFromJson(JSON.parse(JSON.stringify(itemEncoderToJson(build.features.encoder))));
    for (const i of cold) {
      const v = encodeItemContent(enc, data.items[i]);
      expect(Array.from(v)).toEqual(Array.from(build.features.vectors[i]));
      expect(encodeSid(build.codebook, v)).toEqual(build.table[i].sid);
    }
  });

  it("with the popularity coordinate: a new item is encoded as one with no positives, as the build does", async () => {
    const { data, cold } = withColdItems();
    const positives = positivesPerItem(data, 4);
    const build = await buildSids(data, { levels: 3, size: 16, dim: 16, seed: 1, plainRq: false, popularity: { weight: 0.5, positives } });
    expect(build.codebook.dim).toBe(17);
    expect(build.unitVectors[0].length).toBe(16);
    const enc = itemEncoderFromJson(JSON.parse(JSON.stringify(itemEncoderToJson(build.features.encoder))));
    expect(encoderOutputDim(enc)).toBe(17);
    for (const i of cold) {
      expect(positives[i]).toBe(0);
      const v = encodeItemContent(enc, data.items[i]);
      expect(Array.from(v)).toEqual(Array.from(build.features.vectors[i]));
      expect(encodeSid(build.codebook, v)).toEqual(build.table[i].sid);
    }
    // the coordinate orders items by popularity, and the unit part keeps weight 1 - w of the squared norm
    const hot = positives.indexOf(Math.max(...positives));
    expect(build.features.vectors[hot][16]).toBeGreaterThan(build.features.vectors[cold[0]][16]);
    const head = build.features.vectors[hot].subarray(0, 16).reduce((a, x) => a + x * x, 0);
    expect(head).toBeCloseTo(0.5, 5);
    const bad = { ...itemEncoderToJson(build.features.encoder), popularity: { weight: 1, mean: 0, sd: 1 } };
    expect(() => itemEncoderFromJson(bad)).toThrow(/popularity must have weight in \(0, 1\)/);
  });

  it("places a new item near catalog items with the same content", () => {
    const { data } = withColdItems();
    const f = itemFeatures(data, { dim: 32, seed: 1 });
    const v = encodeItemContent(f.encoder, { genres: ["Noir"], tags: ["dark"], attributes: { year: 1955 } });
    const sims = f.vectors.map((u, i) => ({ i, s: u.reduce((acc, x, j) => acc + x * v[j], 0) })).sort((a, b) => b.s - a.s);
    const noir = sims.slice(0, 10).filter(({ i }) => data.items[i].genres.includes("Noir")).length;
    expect(noir).toBeGreaterThanOrEqual(8);
  });

  it("supplied vectors: the projection (wide) or the vector itself (narrow), exactly as the build", () => {
    const rng = new Rng(3);
    const base = generateSynthetic({ items: 200, users: 50, interactions: 1_500, seed: 4 });
    const raw = base.items.map(() => Float32Array.from({ length: 40 }, () => rng.normal()));
    const wide = itemFeatures({ ...base, itemFeatures: raw }, { dim: 8, seed: 1 });
    const enc = itemEncoderFromJson(itemEncoderToJson(wide.encoder));
    expect(Array.from(encodeItemVector(enc, raw[7]))).toEqual(Array.from(wide.vectors[7]));
    const narrow = itemFeatures({ ...base, itemFeatures: raw.map((r) => r.slice(0, 5)) }, { dim: 8, seed: 1 });
    expect(Array.from(encodeItemVector(narrow.encoder, raw[3].slice(0, 5)))).toEqual(Array.from(narrow.vectors[3]));
    expect(() => encodeItemContent(enc, { genres: [], tags: [], attributes: {} })).toThrow(/use encodeItemVector/);
    expect(() => encodeItemVector(enc, [1, 2])).toThrow(/2 values, expected 40/);
  });

  it("refuses a tampered encoder", () => {
    const { data } = withColdItems();
    const json = itemEncoderToJson(itemFeatures(data, { dim: 8, seed: 1 }).encoder);
    if (json.kind !== "content") throw new Error("expected a content encoder");
    json.idf[0] += 1;
    expect(() => itemEncoderFromJson(json)).toThrow(/does not match its content hash/);
    expect(() => itemEncoderFromJson({ format: "nope" })).toThrow(/format/);
  });
});

const ML = "../shared/data/ml-latest-small";
describe.skipIf(!existsSync(ML))("item encoder on ml-latest-small (skipped when the data is absent)", () => {
  it("the movies without ratings get exactly the encoder's vector", () => {
    const ds = loadDataset(ML, "movielens");
    const rated = new Set(ds.interactions.map((x) => x.item));
    const cold = ds.items.map((_, i) => i).filter((i) => !rated.has(i));
    expect(cold.length).toBe(18);
    const f = itemFeatures(ds, { dim: 32, seed: 1 });
    for (const i of cold) expect(Array.from(encodeItemContent(f.encoder, ds.items[i]))).toEqual(Array.from(f.vectors[i]));
  });
});
