// The item -> SID tokens table the learners and the exporter read, from a sid-table.json or built here.
import fs from "node:fs";
import path from "node:path";
import { codebookFromJson, parseSidKey, type Codebook } from "../../core/codebook";
import type { Dataset } from "../data/dataset";
import { readJsonFile } from "../util/files";
import { writeSidArtifacts } from "./artifacts";
import { buildSids } from "./build";
import { itemFeatures, positivesPerItem } from "./features";

/** Item -> SID tokens for every item; held-out items must be encoded with a codebook fitted without them. */
export interface SidInputs {
  sidTokens: Int32Array; // [N * L]
  levels: number;
  vocab: number;
  codebookVersion?: string;
}

export function loadCodebookFile(file: string): Codebook {
  try {
    return codebookFromJson(readJsonFile(file));
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(file) ? msg : `${file}: ${msg}`);
  }
}

/**
 * SID tokens [numItems * L] for a dataset's items from a SID table JSON: an array (or {items: [...]}) of entries with
 * the external item `id` and the tokens as `tokens` / `sid` (number[]) or `sid` ("12-40-3"). Items missing from the table
 * are an error.
 */
export function readSidTokens(file: string, itemIds: string[], levels: number, codebookVersion?: string): Int32Array {
  const json = readJsonFile(file);
  const tableVersion = (json as { codebookVersion?: unknown }).codebookVersion;
  if (codebookVersion && typeof tableVersion === "string" && tableVersion !== codebookVersion)
    throw new Error(`${file}: SIDs were built with codebook ${tableVersion}, but --codebook is ${codebookVersion}`);
  const rows = Array.isArray(json) ? json : (json as { items?: unknown }).items;
  if (!Array.isArray(rows)) throw new Error(`${file}: expected an array of {id, tokens|sid} (or {items: [...]})`);
  const byId = new Map<string, number[]>();
  rows.forEach((r: { id?: unknown; tokens?: unknown; sid?: unknown }, i) => {
    const tokens = Array.isArray(r.tokens)
      ? (r.tokens as number[])
      : Array.isArray(r.sid)
        ? (r.sid as number[])
        : typeof r.sid === "string"
          ? parseSidKey(r.sid)
          : null;
    if (r.id === undefined || !tokens) throw new Error(`${file}: entry ${i} needs "id" and "tokens" or "sid"`);
    if (tokens.length !== levels)
      throw new Error(`${file}: entry ${i} (id ${String(r.id)}) has ${tokens.length} tokens, the HPN has ${levels} levels`);
    byId.set(String(r.id), tokens);
  });
  const out = new Int32Array(itemIds.length * levels);
  itemIds.forEach((id, i) => {
    const t = byId.get(id);
    if (!t) throw new Error(`${file}: no SID for item "${id}"`);
    out.set(t, i * levels);
  });
  return out;
}

export interface SidSource {
  sidTable?: string; // a sid-table.json from `hsrl sids` (its codebook.json beside it); else SIDs are built
  levels: number;
  vocab?: number; // default: from the catalog size
  seed: number;
  popularityWeight: number; // share of the SID features given to item popularity (0 = none)
  positiveThreshold: number;
}

export interface DatasetSids {
  sids: SidInputs;
  features: Float32Array[]; // the item vectors the response model reads
  codebookPath?: string;
  sidTablePath: string;
}

/** SIDs for a dataset from a sid-table.json, or built now (artifacts written to <dir>). Also the item features. */
export async function datasetSids(dataset: Dataset, o: SidSource, dir: string): Promise<DatasetSids> {
  if (o.sidTable) {
    const codebookPath = path.join(path.dirname(o.sidTable), "codebook.json");
    const cb = fs.existsSync(codebookPath) ? loadCodebookFile(codebookPath) : null;
    const levels = cb?.levels ?? o.levels;
    const sidTokens = readSidTokens(
      o.sidTable,
      dataset.items.map((it) => it.id),
      levels,
    );
    const vocab = cb?.size ?? Math.max(...sidTokens) + 1;
    const features = itemFeatures(dataset, { dim: 32, seed: o.seed }).vectors;
    return {
      sids: { sidTokens, levels, vocab, codebookVersion: cb?.version },
      features,
      codebookPath: cb ? codebookPath : undefined,
      sidTablePath: o.sidTable,
    };
  }
  const w = o.popularityWeight;
  const popularity = w > 0 ? { weight: w, positives: positivesPerItem(dataset, o.positiveThreshold) } : undefined;
  const built = await buildSids(dataset, { levels: o.levels, size: o.vocab, dim: 32, seed: o.seed, plainRq: false, popularity });
  writeSidArtifacts(dir, dataset, built);
  return {
    sids: {
      sidTokens: tableTokens(built.table, dataset.items.length, o.levels),
      levels: o.levels,
      vocab: built.codebook.size,
      codebookVersion: built.codebook.version,
    },
    features: built.unitVectors,
    codebookPath: path.join(dir, "codebook.json"),
    sidTablePath: path.join(dir, "sid-table.json"),
  };
}

/** A built SID table as item-major tokens [numItems * L]. */
export function tableTokens(table: { item: number; sid: ArrayLike<number> }[], numItems: number, levels: number): Int32Array {
  const tokens = new Int32Array(numItems * levels);
  for (const e of table) tokens.set(e.sid, e.item * levels);
  return tokens;
}
