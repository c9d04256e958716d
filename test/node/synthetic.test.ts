import { describe, expect, it } from "vitest";
import { loadDataset } from "../../scripts/data/load";
import { generateSynthetic, parseSyntheticSpec } from "../../scripts/data/synthetic";

describe("synthetic data", () => {
  const cfg = { items: 300, users: 80, interactions: 4_000, seed: 5 };

  it("is deterministic under a seed and differs across seeds", () => {
    const a = generateSynthetic(cfg);
    const b = generateSynthetic(cfg);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const c = generateSynthetic({ ...cfg, seed: 6 });
    expect(JSON.stringify(c.interactions)).not.toBe(JSON.stringify(a.interactions));
  });

  it("has the configured shape, readable unique titles, topic genres, ratings 1..5, sorted timestamps", () => {
    const d = generateSynthetic(cfg);
    expect(d.items).toHaveLength(300);
    expect(d.users).toHaveLength(80);
    expect(d.interactions.length).toBeGreaterThan(3_000);
    expect(d.interactions.length).toBeLessThan(5_000);
    expect(new Set(d.items.map((i) => i.title)).size).toBe(300);
    expect(d.items[0].title).toMatch(/^[A-Z][a-z]+ [A-Z]/); // "Quiet Harbor" style
    for (const it of d.items) expect(it.genres[0]).toBe(it.attributes.topic);
    for (const x of d.interactions) {
      expect(Number.isInteger(x.rating) && x.rating >= 1 && x.rating <= 5).toBe(true);
    }
    for (let i = 1; i < d.interactions.length; i++) expect(d.interactions[i].ts).toBeGreaterThanOrEqual(d.interactions[i - 1].ts);
    // No user sees an item twice.
    const pairs = new Set(d.interactions.map((x) => `${x.user}:${x.item}`));
    expect(pairs.size).toBe(d.interactions.length);
  });

  it("users concentrate on few topics (the latent structure is there) and drift over time", () => {
    const d = generateSynthetic({ ...cfg, drift: 0.05 });
    const topic = (i: number) => String(d.items[i].attributes.topic);
    let topShare = 0;
    let drifted = 0;
    for (let u = 0; u < d.users.length; u++) {
      const xs = d.interactions.filter((x) => x.user === u);
      const count = new Map<string, number>();
      for (const x of xs) count.set(topic(x.item), (count.get(topic(x.item)) ?? 0) + 1);
      topShare += Math.max(...count.values()) / xs.length;
      const half = Math.floor(xs.length / 2);
      const first = new Set(xs.slice(0, half).map((x) => topic(x.item)));
      const second = xs.slice(half).map((x) => topic(x.item));
      if (second.filter((t) => !first.has(t)).length > 0.1 * second.length) drifted++;
    }
    // 12 topics: topic-blind choice would give ~1/12 = 0.08 for the top topic; users pick 1-3 favourites.
    expect(topShare / d.users.length).toBeGreaterThan(0.25);
    expect(drifted).toBeGreaterThan(5);
  });

  it("is reachable through loadDataset with a spec", () => {
    const d = loadDataset("items=50,users=10,interactions=300,seed=2", "synthetic");
    expect(d.items).toHaveLength(50);
    expect(parseSyntheticSpec("", 9).seed).toBe(9);
    expect(() => parseSyntheticSpec("itemz=5")).toThrow(/unknown key "itemz"/);
  });
});
