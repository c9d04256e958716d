// Writes the SID build to disk: codebook.json, item-encoder.json (features for new items), sid-table.json,
// sid-table.sql (D1 seed), sid-report.json and sid-report.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codebookToJson, sidKey } from "../../core/codebook";
import { itemEncoderToJson } from "../../core/item-encoder";
import { sha256Hex } from "../../core/sha256";
import type { Dataset } from "../data/dataset";
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
  const items = build.table.map((e) => ({
    id: e.id,
    sid: e.sid,
    collision: e.collision,
    attributes: itemAttributes(dataset, e.item),
    features: Array.from(build.features.vectors[e.item], float32Decimal),
  }));
  // Catalog version: content hash of the table (ids, SIDs, attributes, features) under this codebook.
  const catalogVersion = sha256Hex(new TextEncoder().encode(build.codebook.version + JSON.stringify(items))).slice(0, 16);
  const { levels, size, dim } = build.codebook;
  return { codebookVersion: build.codebook.version, catalogVersion, levels, size, dim, items };
}

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

function blobHex(v: Float32Array): string {
  const bytes = new Uint8Array(v.length * 4);
  const view = new DataView(bytes.buffer);
  v.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return `X'${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}'`;
}

/**
 * SQL seed for D1 (`wrangler d1 execute DB --file sid-table.sql`), matching worker/db/schema.ts.
 * First every existing row is retired and moved off the SID space ('retired:<id>'), because the UNIQUE (sid, collision)
 * index would otherwise trip while rows swap SIDs under a new codebook; then each catalog item is upserted active.
 * Items missing from this catalog stay retired.
 */
export function sidTableSql(dataset: Dataset, build: BuildResult, catalogVersion: string): string {
  const v = sqlText(build.codebook.version);
  const lines = [
    `-- hsrl-edge SID table: ${build.table.length} items, codebook ${build.codebook.version}, catalog ${catalogVersion}`,
    `UPDATE items SET sid = 'retired:' || id, collision = 0, status = 'retired', updated_at = (unixepoch('subsec') * 1000);`,
  ];
  for (const e of build.table) {
    lines.push(
      `INSERT INTO items (id, sid, collision, status, attributes, features, codebook_version) VALUES (` +
        `${sqlText(e.id)}, ${sqlText(sidKey(e.sid))}, ${e.collision}, 'active', ` +
        `${sqlText(JSON.stringify(itemAttributes(dataset, e.item)))}, ` +
        `${blobHex(build.features.vectors[e.item])}, ${v}) ON CONFLICT(id) DO UPDATE SET sid = excluded.sid, ` +
        `collision = excluded.collision, status = 'active', attributes = excluded.attributes, features = excluded.features, ` +
        `codebook_version = excluded.codebook_version, updated_at = (unixepoch('subsec') * 1000);`,
    );
  }
  for (const [key, value] of [
    ["codebook_version", build.codebook.version],
    ["catalog_version", catalogVersion],
  ]) {
    lines.push(
      `INSERT INTO meta (key, value) VALUES (${sqlText(key)}, ${sqlText(value)}) ON CONFLICT(key) DO UPDATE SET value = excluded.value;`,
    );
  }
  return `${lines.join("\n")}\n`;
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
  const table = sidTableJson(dataset, build);
  const files: [string, string][] = [
    ["codebook.json", JSON.stringify(codebookToJson(build.codebook))],
    ["item-encoder.json", JSON.stringify(itemEncoderToJson(build.features.encoder))],
    ["sid-table.json", JSON.stringify(table)],
    ["sid-table.sql", sidTableSql(dataset, build, table.catalogVersion)],
    ["sid-report.json", `${JSON.stringify({ ...build.report, catalogVersion: table.catalogVersion }, null, 2)}\n`],
    ["sid-report.md", sidReportMarkdown(build, table.catalogVersion)],
  ];
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  return { files: files.map(([f]) => join(dir, f)), catalogVersion: table.catalogVersion };
}
