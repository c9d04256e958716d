// One entry point for every data format: loadDataset(path, format).
import { DATASET_FORMATS, type Dataset, type DatasetFormat, newSkipSummary } from "./dataset";
import type { LoadOptions, LoadResult } from "./builder";
import { loadGenericCsv } from "./csv";
import { loadMl100k, loadMl1m, loadMovieLensCsv } from "./movielens";
import { generateSynthetic, parseSyntheticSpec } from "./synthetic";

export type { LoadOptions, LoadResult } from "./builder";

export interface LoadDatasetOptions extends LoadOptions {
  /** Seed for the synthetic format when the spec does not set one. */
  seed?: number;
  /** Called with the skip summary when rows were skipped (default: print it to stderr). */
  onSkipped?: (result: LoadResult) => void;
}

export function isDatasetFormat(f: string): f is DatasetFormat {
  return (DATASET_FORMATS as string[]).includes(f);
}

/**
 * `path`: the dataset directory (movielens, ml-100k, ml-1m), a CSV file or directory (csv), or for synthetic a spec
 * like "items=2000,users=600,interactions=60000,seed=1" (empty or "synthetic" = defaults).
 */
export function loadDatasetWithSkips(path: string, format: string, options: LoadDatasetOptions = {}): LoadResult {
  switch (format) {
    case "movielens":
      return loadMovieLensCsv(path, options);
    case "ml-100k":
      return loadMl100k(path, options);
    case "ml-1m":
      return loadMl1m(path, options);
    case "csv":
      return loadGenericCsv(path, options);
    case "synthetic":
      return { dataset: generateSynthetic(parseSyntheticSpec(path, options.seed)), skipped: newSkipSummary() };
    default:
      throw new Error(`unknown data format "${format}" (expected one of ${DATASET_FORMATS.join(", ")})`);
  }
}

export function loadDataset(path: string, format: string, options: LoadDatasetOptions = {}): Dataset {
  const result = loadDatasetWithSkips(path, format, options);
  if (result.skipped.count > 0) {
    if (options.onSkipped) options.onSkipped(result);
    else process.stderr.write(`${formatSkipped(result)}\n`);
  }
  return result.dataset;
}

export function formatSkipped({ dataset, skipped }: LoadResult): string {
  return `${dataset.name}: skipped ${skipped.count} row(s); first: ${skipped.reasons.join("; ")}`;
}
