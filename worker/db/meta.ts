// The meta rows: the versions every request reads (in the same D1 batch as its item lookups) and the statements that
// move them. Catalog writes bump catalog_version; the registry sets active_model.
import { eq, inArray, sql } from "drizzle-orm";
import type { PopularityStats } from "../../core/popularity-prior";
import { d1 } from "../errors";
import { database, type Db } from "./client";
import { meta } from "./schema";

export type MetaKey = "catalog_version" | "active_model" | "codebook_version" | "catalog_index" | "canary" | "popularity_stats";

/** What meta.canary holds while a canary serves: the version and the share of units (users, client keys) it gets. */
export interface CanaryPointer {
  version: string;
  share: number;
}

/** What meta.catalog_index holds: the newest prefix-index artifact in R2 and what it was built from. */
export interface IndexPointer {
  key: string; // R2 key
  cursor: number; // max(updated_at) of the rows it holds: an isolate's overlay reads rows from here on
  codebook: string | null;
  items: number;
}

/** Versions read with every request, in the same round trip as the item lookups. */
export interface Versions {
  catalog: string;
  activeModel: string | null;
  codebook: string | null; // the codebook the catalog's SIDs were encoded with
  catalogIndex: IndexPointer | null;
  canary: CanaryPointer | null;
}

/** The query for the version rows, to run inside a batch; readVersions turns its rows into Versions. */
export function versionsQuery(db: Db) {
  return db
    .select()
    .from(meta)
    .where(inArray(meta.key, ["catalog_version", "active_model", "codebook_version", "catalog_index", "canary"] satisfies MetaKey[]));
}

export function readVersions(rows: { key: string; value: string }[]): Versions {
  const get = (k: MetaKey) => rows.find((r) => r.key === k)?.value ?? null;
  return {
    catalog: get("catalog_version") ?? "0",
    activeModel: get("active_model"),
    codebook: get("codebook_version"),
    catalogIndex: parsePointer(get("catalog_index")),
    canary: parseCanary(get("canary")),
  };
}

function parseCanary(value: string | null): CanaryPointer | null {
  if (!value) return null;
  try {
    const p = JSON.parse(value) as CanaryPointer;
    return typeof p.version === "string" && p.share > 0 && p.share <= 1 ? p : null;
  } catch {
    return null; // a damaged pointer serves everyone the active model
  }
}

function parsePointer(value: string | null): IndexPointer | null {
  if (!value) return null;
  try {
    const p = JSON.parse(value) as IndexPointer;
    return typeof p.key === "string" && Number.isFinite(p.cursor) ? p : null;
  } catch {
    return null; // a damaged pointer only costs a rebuild from D1
  }
}

/**
 * A condition true when the catalog is no longer at `version`: a read of the rows changed since a cursor adds it, so
 * that riding in every request's batch costs nothing until a catalog write.
 */
export function catalogMovedFrom(version: string | null) {
  return sql`(SELECT ${meta.value} FROM ${meta} WHERE ${meta.key} = 'catalog_version') IS NOT ${version}`;
}

/** The versions in a round trip of their own, for callers that look up no items. */
export async function readVersionsNow(env: { DB: D1Database }): Promise<Versions> {
  const db = database(env.DB);
  return readVersions(await d1(() => versionsQuery(db)));
}

/** The statement that sets one meta key (to run alone or inside a batch). */
export function setMeta(db: Db, key: MetaKey, value: string) {
  return db
    .insert(meta)
    .values({ key, value })
    .onConflictDoUpdate({ target: meta.key, set: { value: sql`excluded.value` } });
}

/** The statement that removes one meta key (no active_model: the embedded default serves). */
export function deleteMeta(db: Db, key: MetaKey) {
  return db.delete(meta).where(eq(meta.key, key));
}

/**
 * meta.popularity_stats: the mean / sd of log(1 + positives) the catalog's priors were standardised with (written by a
 * SID-table load with priors); a PUT with a popularity count computes g with them. Null when no load set them.
 */
export async function popularityStatsOf(env: { DB: D1Database }): Promise<PopularityStats | null> {
  const db = database(env.DB);
  const [row] = await d1(() => db.select().from(meta).where(eq(meta.key, "popularity_stats")).limit(1));
  if (!row) return null;
  const s = JSON.parse(row.value) as PopularityStats;
  return Number.isFinite(s.mean) && s.sd > 0 ? { mean: s.mean, sd: s.sd } : null;
}
