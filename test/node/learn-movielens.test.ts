// Episodes on the real ml-latest-small (read from ../shared, never copied): split sizes, positive rate, held-out share.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadDataset } from "../../scripts/data/load";
import { buildEpisodes, nextPositiveExamples } from "../../scripts/learn/episodes";

const dir = path.resolve(__dirname, "../../../shared/data/ml-latest-small");
const present = fs.existsSync(path.join(dir, "ratings.csv"));
if (!present) console.warn(`skipping ml-latest-small episode test: ${dir} not found`);

describe.skipIf(!present)("episodes on ml-latest-small", () => {
  it("per-user time split, rating >= 4 positives, 15% held-out items", () => {
    const ds = loadDataset(dir, "movielens");
    const ep = buildEpisodes(ds);
    expect(ep.numUsers).toBe(610);
    expect(ep.positiveRate).toBeCloseTo(0.4818, 3);
    let train = 0,
      val = 0,
      test = 0;
    for (const t of ep.timelines) {
      expect(t.valEnd).toBeLessThan(t.items.length); // MovieLens users have >= 20 ratings: all three splits exist
      expect(t.trainEnd).toBeLessThan(t.valEnd);
      train += t.trainEnd;
      val += t.valEnd - t.trainEnd;
      test += t.items.length - t.valEnd;
    }
    expect(train + val + test).toBe(100836);
    expect(test / 100836).toBeCloseTo(0.1, 1);
    const held = ep.heldOut.reduce((a, b) => a + b, 0);
    expect(held).toBe(Math.round(9724 * 0.15)); // of the 9,724 movies that have ratings
    expect(nextPositiveExamples(ep, "test", false, true).length).toBeGreaterThan(550);
  });
});
