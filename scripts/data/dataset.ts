// The one in-memory dataset type every loader returns and every trainer consumes.
// Users and items are addressed by dense indices (0..n-1); the external ids are kept in `users` / `items[i].id`.

export interface ItemMeta {
  id: string;
  title: string;
  genres: string[];
  tags: string[];
  attributes: Record<string, unknown>;
}

export interface Interaction {
  user: number; // dense user index
  item: number; // dense item index
  rating: number; // on ratingScale, or 0/1 when ratingScale is null
  ts: number; // seconds since epoch
}

export interface Dataset {
  name: string;
  users: string[]; // external user ids; index = dense user index
  items: ItemMeta[]; // index = dense item index
  interactions: Interaction[]; // sorted by ts, then user
  ratingScale: { min: number; max: number } | null; // null: binary labels (rating is 0/1)
  itemFeatures?: Float32Array[]; // only when the data itself supplies item vectors
}

export type DatasetFormat = "movielens" | "ml-100k" | "ml-1m" | "csv" | "synthetic";
export const DATASET_FORMATS: DatasetFormat[] = ["movielens", "ml-100k", "ml-1m", "csv", "synthetic"];

/** Rows a loader dropped (unknown item, duplicate, ...): a count plus the first few reasons, for the user to see. */
export interface SkipSummary {
  count: number;
  reasons: string[]; // "ratings.csv:17: unknown movieId 99" — at most MAX_SKIP_REASONS kept
}
export const MAX_SKIP_REASONS = 5;

export function newSkipSummary(): SkipSummary {
  return { count: 0, reasons: [] };
}

export function noteSkip(s: SkipSummary, reason: string): void {
  s.count++;
  if (s.reasons.length < MAX_SKIP_REASONS) s.reasons.push(reason);
}

/** Sort in place by the contract's order: ts, then user (then item, so equal rows are stable across loaders). */
export function sortInteractions(xs: Interaction[]): Interaction[] {
  return xs.sort((a, b) => a.ts - b.ts || a.user - b.user || a.item - b.item);
}

/** A malformed input row: the message names file and line, so the CLI can print it as one line. */
export class DataError extends Error {
  constructor(file: string, line: number | null, problem: string) {
    super(line === null ? `${file}: ${problem}` : `${file}:${line}: ${problem}`);
    this.name = "DataError";
  }
}

/** The positive-feedback rule: rated data is positive at or above the threshold, binary labels at 1. */
export function isPositive(rating: number, ratingScale: Dataset["ratingScale"], threshold: number): boolean {
  return ratingScale === null ? rating >= 0.5 : rating >= threshold;
}
