// Shared bookkeeping for loaders: dense user/item indices, skip summary, the "error or skip" policy for bad rows.
import {
  DataError,
  type Dataset,
  type Interaction,
  type ItemMeta,
  type SkipSummary,
  newSkipSummary,
  noteSkip,
  sortInteractions,
} from "./dataset";

export interface LoadOptions {
  /** Skip malformed rows (counted in the summary) instead of failing on the first one. */
  skipMalformed?: boolean;
  /** Generic CSV: item file (id + vector columns, or id + attribute columns). */
  itemsFile?: string;
}

export interface LoadResult {
  dataset: Dataset;
  skipped: SkipSummary;
}

export class DatasetBuilder {
  readonly users: string[] = [];
  readonly items: ItemMeta[] = [];
  readonly interactions: Interaction[] = [];
  readonly skipped: SkipSummary = newSkipSummary();
  private readonly userIndex = new Map<string, number>();
  private readonly itemIndex = new Map<string, number>();

  constructor(private readonly options: LoadOptions = {}) {}

  addItem(meta: ItemMeta, file: string, line: number): void {
    if (this.itemIndex.has(meta.id)) throw new DataError(file, line, `duplicate item id ${meta.id}`);
    this.itemIndex.set(meta.id, this.items.length);
    this.items.push(meta);
  }

  item(id: string): number | undefined {
    return this.itemIndex.get(id);
  }

  user(id: string): number {
    let u = this.userIndex.get(id);
    if (u === undefined) {
      u = this.users.length;
      this.userIndex.set(id, u);
      this.users.push(id);
    }
    return u;
  }

  skip(reason: string): void {
    noteSkip(this.skipped, reason);
  }

  /** Runs one row's parsing; a DataError either propagates or, with skipMalformed, becomes a counted skip. */
  row(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof DataError && this.options.skipMalformed) this.skip(e.message);
      else throw e;
    }
  }

  finish(name: string, ratingScale: Dataset["ratingScale"], itemFeatures?: Float32Array[]): LoadResult {
    if (this.interactions.length === 0) throw new Error(`${name}: no interactions loaded`);
    const dataset: Dataset = {
      name,
      users: this.users,
      items: this.items,
      interactions: sortInteractions(this.interactions),
      ratingScale,
    };
    if (itemFeatures) dataset.itemFeatures = itemFeatures;
    return { dataset, skipped: this.skipped };
  }
}

/** "Toy Story (1995)" -> 1995 (MovieLens titles end with the release year). */
export function yearFromTitle(title: string): number | undefined {
  const m = /\((\d{4})\)\s*$/.exec(title);
  return m ? Number(m[1]) : undefined;
}
