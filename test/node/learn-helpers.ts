// Shared fixtures for the learning tests: a small synthetic dataset and a hand-made SID table (no codebook needed).
import type { Dataset } from "../../scripts/data/dataset";
import { generateSynthetic } from "../../scripts/data/synthetic";

export function smallDataset(seed = 1): Dataset {
  return generateSynthetic({ items: 300, users: 160, interactions: 9000, topics: 8, latentDim: 8, seed });
}

/** L = 2, V = 16: level 0 = the item's topic, level 1 = its rank within the topic (mod 16). */
export function topicSids(ds: Dataset): { sidTokens: Int32Array; levels: number; vocab: number } {
  const topics = new Map<string, number>();
  const rank = new Map<number, number>();
  const sidTokens = new Int32Array(ds.items.length * 2);
  ds.items.forEach((it, i) => {
    const t = String(it.attributes.topic ?? it.genres[0] ?? "none");
    if (!topics.has(t)) topics.set(t, topics.size);
    const k = topics.get(t)!;
    const r = rank.get(k) ?? 0;
    rank.set(k, r + 1);
    sidTokens[i * 2] = k % 16;
    sidTokens[i * 2 + 1] = r % 16;
  });
  return { sidTokens, levels: 2, vocab: 16 };
}

/**
 * A planted signal: items 0..N/2-1 are group A, the rest group B; even users love A and dislike B, odd users the
 * opposite. Each user rates `perUser` random items (5 = liked group, 1 = other group), one per second.
 */
export function plantedDataset(users = 80, items = 60, perUser = 30, seed = 3): Dataset {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const interactions: Dataset["interactions"] = [];
  let ts = 1;
  for (let u = 0; u < users; u++) {
    const seen = new Set<number>();
    while (seen.size < perUser) {
      const it = Math.floor(rnd() * items);
      if (seen.has(it)) continue;
      seen.add(it);
      const groupA = it < items / 2;
      const likes = (u % 2 === 0) === groupA;
      interactions.push({ user: u, item: it, rating: likes ? 5 : 1, ts: ts++ });
    }
  }
  interactions.sort((a, b) => a.ts - b.ts || a.user - b.user);
  return {
    name: "planted",
    users: Array.from({ length: users }, (_, u) => `u${u}`),
    items: Array.from({ length: items }, (_, i) => ({
      id: `i${i}`,
      title: `item ${i}`,
      genres: [i < items / 2 ? "A" : "B"],
      tags: [],
      attributes: {},
    })),
    interactions,
    ratingScale: { min: 1, max: 5 },
  };
}

/** SIDs for the planted data: level 0 = group, level 1 = index within the group (V = 32). */
export function plantedSids(items = 60): { sidTokens: Int32Array; levels: number; vocab: number } {
  const sidTokens = new Int32Array(items * 2);
  for (let i = 0; i < items; i++) {
    sidTokens[i * 2] = i < items / 2 ? 0 : 1;
    sidTokens[i * 2 + 1] = i % (items / 2);
  }
  return { sidTokens, levels: 2, vocab: 32 };
}
