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
