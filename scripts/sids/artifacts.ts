// Writes the SID build to disk: codebook.json, item-encoder.json (features for new items), sid-table.json,
// sid-table.sql (D1 seed), sid-report.json and sid-report.md.
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { codebookToJson, sidKey } from "../../core/codebook";
import { itemEncoderToJson } from "../../core/item-encoder";
import type { PopularityStats } from "../../core/popularity-prior";
import { sha256HexOfParts } from "../../core/sha256";
import type { Dataset } from "../data/dataset";
import { readLines } from "../data/read";
import type { BuildResult } from "./build";

export interface SidTableItem {
  id: string;
  sid: number[];
  collision: number;
  attributes: Record<string, unknown>;
  features: number[];
}

export interface SidTableJson {
  codebookVersion: string;
  catalogVersion: string;
  levels: number;
  size: number;
  dim: number;
  items: SidTableItem[];
}

/** Shortest decimal (>= 6 significant digits) that reads back as the same float32: compact yet exact for encodeSid. */
export function float32Decimal(x: number): number {
  for (let p = 6; p < 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return Number(x.toPrecision(9));
}

export function itemAttributes(dataset: Dataset, item: number): Record<string, unknown> {
  const it = dataset.items[item];
  return { title: it.title, genres: it.genres, ...(it.tags.length ? { tags: it.tags.slice(0, 20) } : {}), ...it.attributes };
}

export function sidTableJson(dataset: Dataset, build: BuildResult): SidTableJson {
  const items = sidTableItems(dataset, build);
  const { levels, size, dim } = build.codebook;
  return {
    codebookVersion: build.codebook.version,
    catalogVersion: catalogVersionOf(build.codebook.version, items),
    levels,
    size,
    dim,
    items,
  };
}

function sidTableItems(dataset: Dataset, build: BuildResult): SidTableItem[] {
  return build.table.map((e) => ({
    id: e.id,
    sid: e.sid,
    collision: e.collision,
    attributes: itemAttributes(dataset, e.item),
    features: Array.from(build.features.vectors[e.item], float32Decimal),
  }));
}

// Catalog version: content hash of the table (ids, SIDs, attributes, features) under this codebook, i.e. of
// codebook version + JSON.stringify(items), hashed item by item so a 1M-item table never becomes one string.
function catalogVersionOf(codebookVersion: string, items: SidTableItem[]): string {
  function* parts() {
    yield `${codebookVersion}[`;
    for (let i = 0; i < items.length; i++) yield `${i ? "," : ""}${JSON.stringify(items[i])}`;
    yield "]";
  }
  return sha256HexOfParts(parts()).slice(0, 16);
}

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A float32 vector as D1 stores it (little-endian bytes), in hex. */
export function blobHex(v: ArrayLike<number>): string {
  const bytes = new Uint8Array(v.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i], true);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * SQL seed for D1 (`wrangler d1 execute DB --file sid-table.sql` on an empty catalog), matching worker/db/schema.ts.
 * It only inserts: an id the catalog already has is left as it is (ON CONFLICT DO NOTHING), so running it by hand can
 * never retire, revive or re-encode an item. Loading a table into a catalog that has items is a merge
 * (`hsrl catalog`, `hsrl publish`, `npm start`: scripts/deploy/catalog.ts), which reads this file with readSidTableSql.
 */
export function sidTableSql(dataset: Dataset, build: BuildResult, catalogVersion: string): string {
  return `${[...sidTableSqlLines(build.codebook.version, catalogVersion, sqlRowsOf(dataset, build), build.table.length)].join("\n")}\n`;
}

function* sqlRowsOf(dataset: Dataset, build: BuildResult): Iterable<SidTableRow> {
  for (const e of build.table)
    yield {
      id: e.id,
      sid: sidKey(e.sid),
      collision: e.collision,
      attributes: JSON.stringify(itemAttributes(dataset, e.item)),
      featuresHex: blobHex(build.features.vectors[e.item]),
    };
}

/** sid-table.sql from rows (what sidTableSql writes for a build; tests write tables of their own with it). */
export function sidTableSqlFromRows(
  codebookVersion: string,
  catalogVersion: string,
  rows: SidTableRow[],
  popularityStats: PopularityStats | null = null,
): string {
  return `${[...sidTableSqlLines(codebookVersion, catalogVersion, rows, rows.length, popularityStats)].join("\n")}\n`;
}

// A table with popularity statistics carries each item's prior g (NULL: no training counts) and the statistics as
// meta.popularity_stats; one without keeps the older seven-column rows.
function* sidTableSqlLines(
  codebookVersion: string,
  catalogVersion: string,
  rows: Iterable<SidTableRow>,
  count: number,
  popularityStats: PopularityStats | null = null,
) {
  const v = sqlText(codebookVersion);
  const columns = `id, sid, collision, status, attributes, features, codebook_version${popularityStats ? ", prior" : ""}`;
  yield `-- hsrl-edge SID table: ${count} items, codebook ${codebookVersion}, catalog ${catalogVersion}`;
  yield "-- A seed for an empty catalog; to load it into one with items, use `npm run hsrl -- catalog --sids <this dir>` (a merge).";
  for (const r of rows)
    yield `INSERT INTO items (${columns}) VALUES (` +
      `${sqlText(r.id)}, ${sqlText(r.sid)}, ${r.collision}, 'active', ${sqlText(r.attributes)}, X'${r.featuresHex}', ${v}` +
      `${popularityStats ? `, ${sqlPrior(r.prior)}` : ""}) ON CONFLICT(id) DO NOTHING;`;
  const metaRows = [
    ["codebook_version", codebookVersion],
    ["catalog_version", catalogVersion],
    ...(popularityStats ? [["popularity_stats", JSON.stringify(popularityStats)]] : []),
  ];
  for (const [key, value] of metaRows)
    yield `INSERT INTO meta (key, value) VALUES (${sqlText(key)}, ${sqlText(value)}) ON CONFLICT(key) DO UPDATE SET value = excluded.value;`;
}

/** A prior as SQL: NULL for an item without counts, else its float32 value in shortest decimal form. */
export const sqlPrior = (prior: number | null | undefined): string =>
  prior === null || prior === undefined ? "NULL" : String(float32Decimal(prior));

/**
 * Rewrites a sid-table.sql with every item's popularity prior g and the statistics g was standardised with (the
 * retraining path: the training counts of the run that learned β). Items `priorOf` gives null keep the catalog's prior.
 */
export function writeSidTablePriors(path: string, priorOf: (id: string) => number | null, stats: PopularityStats): void {
  const { codebookVersion, catalogVersion, rows } = readSidTableSqlFile(path);
  const withPriors = rows.map((r) => ({ ...r, prior: priorOf(r.id) }));
  writeLines(
    path,
    (function* () {
      for (const line of sidTableSqlLines(codebookVersion, catalogVersion ?? "0", withPriors, rows.length, stats)) yield `${line}\n`;
    })(),
  );
}

/** Writes lines to a file through a buffer: tables of 1M items are larger than the longest string V8 allows. */
function writeLines(path: string, lines: Iterable<string>): void {
  const fd = openSync(path, "w");
  try {
    let buf: string[] = [];
    let size = 0;
    for (const line of lines) {
      buf.push(line);
      size += line.length;
      if (size > 1 << 22) {
        writeSync(fd, buf.join(""));
        buf = [];
        size = 0;
      }
    }
    writeSync(fd, buf.join(""));
  } finally {
    closeSync(fd);
  }
}

/** One row of a SID table as sid-table.sql holds it: SID key, collision, attributes JSON, features as hex float32 LE. */
export interface SidTableRow {
  id: string;
  sid: string;
  collision: number;
  attributes: string;
  featuresHex: string;
  prior?: number | null; // g(pop): tables with popularity statistics only; null = no counts (the catalog's prior 0)
}

export interface SidTableSql {
  codebookVersion: string;
  catalogVersion: string | null;
  popularityStats: PopularityStats | null;
  rows: SidTableRow[];
}

/** Reads back what sidTableSql wrote (the merge loads from it); names the line that does not parse. */
export function readSidTableSql(text: string, file = "sid-table.sql"): SidTableSql {
  return parseSidTableLines(text.split("\n"), file);
}

/** readSidTableSql from a file, streamed: a 1M-item table does not fit in one string. */
export function readSidTableSqlFile(path: string): SidTableSql {
  return parseSidTableLines(readLines(path), path);
}

function parseSidTableLines(lines: Iterable<string>, file: string): SidTableSql {
  const str = "'((?:[^']|'')*)'";
  const item = new RegExp(
    String.raw`^INSERT INTO items \(id, sid, collision, status, attributes, features, codebook_version(, prior)?\) VALUES \(` +
      String.raw`${str}, '([0-9-]+)', (\d+), 'active', ${str}, X'([0-9a-f]*)', ${str}(?:, (NULL|-?[0-9.]+(?:e[-+]?\d+)?))?\)`,
  );
  const unquote = (s: string) => s.replace(/''/g, "'");
  const rows: SidTableRow[] = [];
  const meta = new Map<string, string>();
  let n = 0;
  for (const line of lines) {
    n++;
    if (!line.startsWith("INSERT INTO items")) {
      const m = /^INSERT INTO meta \(key, value\) VALUES \('([a-z_]+)', '((?:[^']|'')*)'\)/.exec(line);
      if (m) meta.set(m[1], unquote(m[2]));
      continue;
    }
    const m = item.exec(line);
    if (!m || Boolean(m[1]) !== (m[8] !== undefined)) throw new Error(`${file}:${n}: not an item row as \`hsrl sids\` writes them`);
    const row: SidTableRow = { id: unquote(m[2]), sid: m[3], collision: Number(m[4]), attributes: unquote(m[5]), featuresHex: m[6] };
    if (m[1]) row.prior = m[8] === "NULL" ? null : Number(m[8]);
    rows.push(row);
  }
  const codebookVersion = meta.get("codebook_version");
  if (codebookVersion === undefined) throw new Error(`${file}: no codebook_version row`);
  const stats = meta.get("popularity_stats");
  return {
    codebookVersion,
    catalogVersion: meta.get("catalog_version") ?? null,
    popularityStats: stats ? (JSON.parse(stats) as PopularityStats) : null,
    rows,
  };
}

/** The report as a Markdown table, for people (sid-report.json is the machine-readable one). */
export function sidReportMarkdown(build: BuildResult, catalogVersion: string): string {
  const r = build.report;
  const pct = (x: number | undefined) => (x === undefined ? "" : `${(100 * x).toFixed(1)}%`);
  const f4 = (x: number | undefined) => (x === undefined ? "" : x.toFixed(4));
  const rows = r.utilization.map(
    (_, l) =>
      `| ${l + 1} | ${pct(r.utilization[l])} | ${pct(r.maxClusterShare[l])} | ${f4(r.reconstructionError[l])} | ` +
      `${pct(r.plainRqUtilization?.[l])} | ${pct(r.plainRqMaxClusterShare?.[l])} | ${f4(r.plainRqReconstructionError?.[l])} |`,
  );
  return [
    `# SID build: ${r.dataset}`,
    "",
    `${r.items} items, L = ${r.levels}, V = ${r.codebookSize}, d = ${r.dim} (features: ${r.featureSource}, ` +
      `${pct(r.featureExplainedVariance)} of variance kept), seed ${r.seed}; codebook ${r.codebookVersion}, catalog ` +
      `${catalogVersion}; ${r.seconds.toFixed(1)} s.`,
    "",
    "| level | utilization | max cluster share | reconstruction error | " +
      "plain RQ utilization | plain RQ max share | plain RQ reconstruction error |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `Collisions before resolution: ${pct(r.collisionRateBeforeResolution)} of items need a collision index >= 1 ` +
      `(${r.itemsInCollidingGroups} items share their tokens with another; largest index ${r.maxCollisionIndex})` +
      (r.plainRqCollisionRate === null ? "" : `; plain RQ: ${pct(r.plainRqCollisionRate)}`) +
      `. After resolution: ${r.collisions}.`,
    "",
    "Reconstruction error = sum of squared residuals after the level / total variance of the features. Utilization and",
    "cluster shares are those of the final nearest-centroid assignment (what encodeSid gives), not of the balanced training.",
    "",
  ].join("\n");
}

export function writeSidArtifacts(dir: string, dataset: Dataset, build: BuildResult): { files: string[]; catalogVersion: string } {
  mkdirSync(dir, { recursive: true });
  const items = sidTableItems(dataset, build);
  const { version, levels, size, dim } = build.codebook;
  const catalogVersion = catalogVersionOf(version, items);
  const head = JSON.stringify({ codebookVersion: version, catalogVersion, levels, size, dim }).slice(0, -1);
  // sid-table.json and .sql are written line by line (the same bytes JSON.stringify / join would give).
  const streamed: [string, Iterable<string>][] = [
    [
      "sid-table.json",
      (function* () {
        yield `${head},"items":[`;
        for (let i = 0; i < items.length; i++) yield `${i ? "," : ""}${JSON.stringify(items[i])}`;
        yield "]}";
      })(),
    ],
    [
      "sid-table.sql",
      (function* () {
        for (const line of sidTableSqlLines(version, catalogVersion, sqlRowsOf(dataset, build), items.length)) yield `${line}\n`;
      })(),
    ],
  ];
  const files: [string, string][] = [
    ["codebook.json", JSON.stringify(codebookToJson(build.codebook))],
    ["item-encoder.json", JSON.stringify(itemEncoderToJson(build.features.encoder))],
    ["sid-report.json", `${JSON.stringify({ ...build.report, catalogVersion }, null, 2)}\n`],
    ["sid-report.md", sidReportMarkdown(build, catalogVersion)],
  ];
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  for (const [name, lines] of streamed) writeLines(join(dir, name), lines);
  return { files: [...files.slice(0, 2), ...streamed, ...files.slice(2)].map(([f]) => join(dir, f)), catalogVersion };
}
