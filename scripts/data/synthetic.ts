// Seeded synthetic catalog + users + interactions, for the embedded default model and fast tests.
// Generative story: T latent topics are random directions in a K-dim taste space. An item belongs to one primary topic
// (sometimes a secondary one); its latent vector is its topic direction(s) plus noise. A user likes 1-3 topics; the
// mixture drifts over time (occasionally a favourite topic is swapped for another). Each step the user picks an unseen
// item by softmax(beta * taste·item + log popularity) and rates it 1..5 from the same affinity plus noise.
import type { Dataset, Interaction, ItemMeta } from "./dataset";
import { sortInteractions } from "./dataset";
import { Rng } from "../../core/rng";

export interface SyntheticConfig {
  items: number;
  users: number;
  interactions: number; // target total; per-user counts vary around interactions/users
  topics: number;
  latentDim: number;
  drift: number; // per-step probability that a user swaps one favourite topic
  seed: number;
}

export const DEFAULT_SYNTHETIC: SyntheticConfig = {
  items: 2000,
  users: 600,
  interactions: 60_000,
  topics: 12,
  latentDim: 16,
  drift: 0.01,
  seed: 1,
};

// Topic names double as genres; each topic has its own nouns so titles read like the topic ("Quiet Harbor").
const TOPICS: { name: string; nouns: string[] }[] = [
  {
    name: "Maritime",
    nouns: ["Harbor", "Tide", "Lighthouse", "Reef", "Voyage", "Anchor", "Current", "Shore", "Gull", "Keel", "Cove", "Mariner"],
  },
  {
    name: "Noir",
    nouns: ["Alley", "Alibi", "Detective", "Smoke", "Ledger", "Motel", "Witness", "Shadow", "Verdict", "Badge", "Racket", "Neon"],
  },
  {
    name: "Space",
    nouns: ["Orbit", "Nebula", "Station", "Comet", "Signal", "Horizon", "Rover", "Eclipse", "Pulsar", "Frontier", "Beacon", "Drift"],
  },
  {
    name: "Romance",
    nouns: ["Letter", "Garden", "Promise", "Waltz", "Summer", "Rose", "Balcony", "Kiss", "Heart", "Vow", "Meadow", "Serenade"],
  },
  {
    name: "Horror",
    nouns: ["Cellar", "Hollow", "Curse", "Attic", "Ritual", "Whisper", "Crypt", "Fog", "Mask", "Harvest", "Lantern", "Marsh"],
  },
  {
    name: "Comedy",
    nouns: ["Wedding", "Roommate", "Road Trip", "Reunion", "Holiday", "Dog", "Bakery", "Mixup", "Neighbor", "Prank", "Picnic", "Uncle"],
  },
  {
    name: "Western",
    nouns: ["Canyon", "Saddle", "Outlaw", "Frontier Town", "Mesa", "Stagecoach", "Gulch", "Sheriff", "Ranch", "Mustang", "Rail", "Dust"],
  },
  {
    name: "Fantasy",
    nouns: ["Dragon", "Crown", "Forest", "Spell", "Tower", "Kingdom", "Sword", "Oracle", "Griffin", "Rune", "Throne", "Grove"],
  },
  {
    name: "War",
    nouns: ["Trench", "Battalion", "Front", "Bunker", "Convoy", "Ridge", "Siege", "Flag", "Airfield", "Medal", "Outpost", "Retreat"],
  },
  {
    name: "Documentary",
    nouns: [
      "Archive",
      "River",
      "Factory",
      "Island",
      "Market",
      "Glacier",
      "City",
      "Orchestra",
      "Mountain",
      "Harvest Season",
      "Desert",
      "Engine",
    ],
  },
  {
    name: "Animation",
    nouns: ["Robot", "Bunny", "Balloon", "Toybox", "Kitten", "Cloud", "Puzzle", "Rocket", "Penguin", "Treehouse", "Crayon", "Firefly"],
  },
  {
    name: "Thriller",
    nouns: [
      "Hostage",
      "Cipher",
      "Deadline",
      "Safehouse",
      "Blackout",
      "Target",
      "Pursuit",
      "Vault",
      "Informant",
      "Countdown",
      "Heist",
      "Border",
    ],
  },
  {
    name: "Musical",
    nouns: [
      "Stage",
      "Chorus",
      "Melody",
      "Encore",
      "Ballroom",
      "Jukebox",
      "Overture",
      "Tango",
      "Spotlight",
      "Songbook",
      "Rhythm",
      "Cabaret",
    ],
  },
  {
    name: "Sports",
    nouns: [
      "Season",
      "Rookie",
      "Playoff",
      "Stadium",
      "Coach",
      "Comeback",
      "Marathon",
      "Ring",
      "Derby",
      "Final Round",
      "Locker Room",
      "Rally",
    ],
  },
  {
    name: "Mystery",
    nouns: ["Manor", "Clue", "Locket", "Portrait", "Riddle", "Letterbox", "Footprint", "Inheritance", "Key", "Diary", "Clockwork", "Study"],
  },
  {
    name: "Adventure",
    nouns: ["Expedition", "Jungle", "Treasure", "Map", "Temple", "Caravan", "Summit", "Raft", "Compass", "Lost City", "Volcano", "Trail"],
  },
];
const ADJECTIVES = [
  "Quiet",
  "Silent",
  "Golden",
  "Broken",
  "Distant",
  "Crimson",
  "Hidden",
  "Last",
  "Midnight",
  "Silver",
  "Wild",
  "Burning",
  "Frozen",
  "Secret",
  "Endless",
  "Little",
  "Bright",
  "Lonely",
  "Iron",
  "Velvet",
  "Restless",
  "Forgotten",
  "Northern",
  "Painted",
  "Electric",
  "Hollow",
  "Gentle",
  "Stolen",
  "Second",
  "Final",
];
const TAG_WORDS = [
  "slow burn",
  "ensemble cast",
  "twist ending",
  "feel-good",
  "dark",
  "visually stunning",
  "based on a book",
  "cult classic",
  "quotable",
  "atmospheric",
  "family",
  "violent",
  "witty",
  "tearjerker",
  "true story",
  "surreal",
];

export function parseSyntheticSpec(spec: string | undefined, seed?: number): SyntheticConfig {
  const cfg = { ...DEFAULT_SYNTHETIC };
  if (seed !== undefined) cfg.seed = seed;
  const s = (spec ?? "").trim();
  if (s === "" || s === "synthetic" || s === "default") return cfg;
  for (const part of s.split(",")) {
    const [k, v] = part.split("=").map((x) => x.trim());
    if (!(k in cfg)) throw new Error(`synthetic: unknown key "${k}" (keys: ${Object.keys(cfg).join(", ")})`);
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || x < 0) throw new Error(`synthetic: ${k} needs a non-negative number, got "${v}"`);
    (cfg as Record<string, number>)[k] = x;
  }
  return cfg;
}

export function generateSynthetic(config: Partial<SyntheticConfig> = {}): Dataset {
  const cfg: SyntheticConfig = { ...DEFAULT_SYNTHETIC, ...config };
  const { items: nItems, users: nUsers, topics: T, latentDim: K } = cfg;
  if (!(T >= 2 && T <= TOPICS.length)) throw new Error(`synthetic: topics must be 2..${TOPICS.length}, got ${T}`);
  if (nItems < 2 || nUsers < 1) throw new Error("synthetic: need at least 2 items and 1 user");
  const rng = new Rng(cfg.seed);

  const topicVec = Array.from({ length: T }, () => unit(Float64Array.from({ length: K }, () => rng.normal())));

  // Catalog.
  const items: ItemMeta[] = [];
  const latent: Float64Array[] = [];
  const logPop = new Float64Array(nItems);
  const used = new Set<string>();
  const nextNumeral = new Map<string, number>();
  for (let i = 0; i < nItems; i++) {
    const primary = rng.int(T);
    const secondary = rng.next() < 0.25 ? (primary + 1 + rng.int(T - 1)) % T : -1;
    const v = new Float64Array(K);
    for (let j = 0; j < K; j++) v[j] = topicVec[primary][j] + (secondary >= 0 ? 0.5 * topicVec[secondary][j] : 0) + 0.25 * rng.normal();
    latent.push(unit(v));
    logPop[i] = 1.0 * rng.normal(); // log-normal popularity: a few hits, a long tail
    const base = `${rng.pick(ADJECTIVES)} ${rng.pick(TOPICS[primary].nouns)}`;
    let title = base;
    // resume at the base's last numeral: the same titles as counting from II, without O(n²) on 1M-item catalogs
    let n = nextNumeral.get(base) ?? 2;
    for (; used.has(title); n++) title = `${base} ${roman(n)}`;
    if (title !== base) nextNumeral.set(base, n);
    used.add(title);
    const genres = [TOPICS[primary].name, ...(secondary >= 0 ? [TOPICS[secondary].name] : [])];
    const tags = [...new Set([rng.pick(TAG_WORDS), rng.pick(TAG_WORDS)])].sort();
    items.push({
      id: `s${i + 1}`,
      title,
      genres,
      tags,
      attributes: { topic: TOPICS[primary].name, year: 1950 + rng.int(75) },
    });
  }

  // Users and their time-ordered interactions.
  const interactions: Interaction[] = [];
  const users: string[] = [];
  const meanPerUser = Math.max(1, cfg.interactions / nUsers);
  const beta = 8; // how strongly taste beats popularity
  const start = 1577836800; // 2020-01-01
  const taste = new Float64Array(K);
  const affinity = new Float64Array(nItems);
  const weight = new Float64Array(nItems);
  const tree = new Fenwick(nItems); // O(log n) draws, so large catalogs stay fast
  for (let u = 0; u < nUsers; u++) {
    users.push(`u${u + 1}`);
    const favourites = Array.from({ length: 1 + rng.int(3) }, () => rng.int(T));
    const count = Math.min(nItems - 1, Math.max(5, Math.round(meanPerUser * Math.exp(0.6 * rng.normal() - 0.18))));
    const seen = new Uint8Array(nItems);
    let ts = start + rng.int(365 * 86400);
    let total = 0;
    let stale = true;
    for (let n = 0; n < count; n++) {
      if (rng.next() < cfg.drift) {
        favourites[rng.int(favourites.length)] = rng.int(T); // drifting preference
        stale = true;
      }
      if (stale) {
        // Sampling weights softmax(beta * affinity + log popularity), recomputed only when the taste changes.
        taste.fill(0);
        for (const t of favourites) for (let j = 0; j < K; j++) taste[j] += topicVec[t][j];
        unit(taste);
        total = 0;
        for (let i = 0; i < nItems; i++) {
          let a = 0;
          for (let j = 0; j < K; j++) a += taste[j] * latent[i][j];
          affinity[i] = a;
          weight[i] = seen[i] ? 0 : Math.exp(beta * (a - 1) + logPop[i]);
          total += weight[i];
        }
        tree.build(weight);
        stale = false;
      }
      const pick = tree.find(rng.next() * total, weight);
      total -= weight[pick];
      tree.add(pick, -weight[pick]);
      weight[pick] = 0;
      seen[pick] = 1;
      const rating = Math.min(5, Math.max(1, Math.round(2.4 + 2.6 * affinity[pick] + 0.8 * rng.normal())));
      ts += 60 + Math.round(rng.exponential(86400));
      interactions.push({ user: u, item: pick, rating, ts });
    }
  }
  return {
    name: `synthetic:seed=${cfg.seed}`,
    users,
    items,
    interactions: sortInteractions(interactions),
    ratingScale: { min: 1, max: 5 },
  };
}

/** Fenwick (binary indexed) tree over item weights: inverse-CDF sampling with removals in O(log n). */
class Fenwick {
  private readonly t: Float64Array;
  private readonly top: number;
  constructor(private readonly n: number) {
    this.t = new Float64Array(n + 1);
    this.top = n > 0 ? 2 ** Math.floor(Math.log2(n)) : 0;
  }
  build(w: Float64Array): void {
    this.t.fill(0);
    for (let i = 1; i <= this.n; i++) {
      this.t[i] += w[i - 1];
      const j = i + (i & -i);
      if (j <= this.n) this.t[j] += this.t[i];
    }
  }
  add(i: number, delta: number): void {
    for (let p = i + 1; p <= this.n; p += p & -p) this.t[p] += delta;
  }
  /** The first index whose inclusive prefix sum exceeds u (as a linear scan would pick); never a zero-weight one. */
  find(u: number, w: Float64Array): number {
    let pos = 0;
    for (let step = this.top; step > 0; step >>= 1) {
      if (pos + step <= this.n && this.t[pos + step] <= u) {
        pos += step;
        u -= this.t[pos];
      }
    }
    if (pos < this.n && w[pos] > 0) return pos;
    for (let i = Math.min(pos, this.n - 1); i >= 0; i--) if (w[i] > 0) return i; // rounding at the very end
    return 0;
  }
}

function unit<T extends Float64Array>(v: T): T {
  let n = 0;
  for (let j = 0; j < v.length; j++) n += v[j] * v[j];
  n = Math.sqrt(n) || 1;
  for (let j = 0; j < v.length; j++) v[j] /= n;
  return v;
}

function roman(n: number): string {
  const r: [number, string][] = [
    [10, "X"],
    [9, "IX"],
    [5, "V"],
    [4, "IV"],
    [1, "I"],
  ];
  let s = "";
  for (const [v, c] of r) while (n >= v) (s += c), (n -= v);
  return s;
}
