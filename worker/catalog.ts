// Catalog access: item ids <-> Semantic IDs in D1, behind a per-isolate cache that is only trusted for the catalog
// version it was filled under (meta.catalog_version, bumped on every catalog write).
import { and, desc, eq, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { parseSidKey } from "../core/codebook";
import { database, type Db } from "./db/client";
import { events, items, meta } from "./db/schema";
import { d1 } from "./errors";

export interface CatalogItem {
  id: string;
  tokens: number[];
  collision: number;
  status: "active" | "retired";
  attributes: Record<string, unknown>;
}

/** Versions read with every request, in the same round trip as the item lookups. */
export interface Versions {
  catalog: string;
  activeModel: string | null;
}

// D1 allows at most 100 bound parameters per query.
export const D1_MAX_PARAMS = 100;

type Row = typeof items.$inferSelect;
const itemColumns = { id: items.id, sid: items.sid, collision: items.collision, status: items.status, attributes: items.attributes };

function toItem(r: Pick<Row, "id" | "sid" | "collision" | "status" | "attributes">): CatalogItem {
  return { id: r.id, tokens: parseSidKey(r.sid), collision: r.collision, status: r.status, attributes: r.attributes ?? {} };
}

const cache = {
  version: null as string | null,
  items: new Map<string, CatalogItem | null>(), // null: known not to exist
};

/** Clears the per-isolate cache (tests; and whenever the version moves). */
export function resetCatalogCache(): void {
  cache.version = null;
  cache.items.clear();
  sidIndexCache = undefined;
}

function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

function versionsQuery(db: Db) {
  return db.select().from(meta).where(inArray(meta.key, ["catalog_version", "active_model"]));
}

function readVersions(rows: { key: string; value: string }[]): Versions {
  const get = (k: string) => rows.find((r) => r.key === k)?.value ?? null;
  return { catalog: get("catalog_version") ?? "0", activeModel: get("active_model") };
}

export interface Lookup {
  versions: Versions;
  items: Map<string, CatalogItem>; // only the ids that exist
  userHistory: CatalogItem[] | null; // oldest first; null when no userId was asked for
}

/**
 * Resolves ids to catalog items, plus the catalog/model versions and (optionally) a user's stored click history, in
 * one D1 round trip when the cache is warm. If the catalog moved since the cache was filled, cached entries are
 * dropped and refetched (a second round trip, only after a catalog write).
 */
export async function lookupItems(env: { DB: D1Database }, ids: string[], opts: { userId?: string; historyLength?: number } = {}): Promise<Lookup> {
  const db = database(env.DB);
  const wanted = [...new Set(ids)];
  const run = async (fetchIds: string[]) => {
    const queries: BatchItem<"sqlite">[] = [versionsQuery(db)];
    for (const part of chunks(fetchIds, D1_MAX_PARAMS)) queries.push(db.select(itemColumns).from(items).where(inArray(items.id, part)));
    if (opts.userId !== undefined) queries.push(userHistoryQuery(db, opts.userId, opts.historyLength ?? 50));
    const results = (await d1(() => db.batch(queries as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]))) as unknown[][];
    return results;
  };

  let missing = wanted.filter((id) => !cache.items.has(id));
  let results = await run(missing);
  let versions = readVersions(results[0] as { key: string; value: string }[]);
  if (cache.version !== versions.catalog) {
    const stale = wanted.filter((id) => cache.items.has(id));
    resetCatalogCache();
    cache.version = versions.catalog;
    if (stale.length > 0) {
      missing = wanted;
      results = await run(missing);
      versions = readVersions(results[0] as { key: string; value: string }[]);
      cache.version = versions.catalog;
    }
  }
  const nChunks = Math.ceil(missing.length / D1_MAX_PARAMS);
  for (const id of missing) cache.items.set(id, null);
  for (const rows of results.slice(1, 1 + nChunks)) for (const r of rows as Row[]) cache.items.set(r.id, toItem(r));

  const found = new Map<string, CatalogItem>();
  for (const id of wanted) {
    const item = cache.items.get(id);
    if (item) found.set(id, item);
  }
  const userHistory = opts.userId !== undefined ? (results[1 + nChunks] as Row[]).map(toItem).reverse() : null;
  return { versions, items: found, userHistory };
}

// A user's most recent clicks joined with their items, newest first (reversed by the caller to oldest first).
function userHistoryQuery(db: Db, userId: string, limit: number) {
  return db
    .select(itemColumns)
    .from(events)
    .innerJoin(items, eq(items.id, events.itemId))
    .where(and(eq(events.userId, userId), eq(events.type, "click")))
    .orderBy(desc(events.ts), desc(events.id))
    .limit(limit);
}

export async function getItem(env: { DB: D1Database }, id: string): Promise<CatalogItem | null> {
  const db = database(env.DB);
  const rows = await d1(() => db.select(itemColumns).from(items).where(eq(items.id, id)).limit(1));
  return rows[0] ? toItem(rows[0]) : null;
}

/** The active catalog as a prefix tree over SID tokens, for decoding the model's distributions into items. */
export interface SidIndex {
  levels: number;
  children: Map<string, number[]>; // prefix key ("" for the root, "12", "12-40") -> next tokens present
  itemsBySid: Map<string, { id: string; collision: number }[]>; // full token key -> items, by collision index
  size: number;
}

let sidIndexCache: { version: string; index: Promise<SidIndex> } | undefined;

/** The SID index of the active catalog, rebuilt only when the catalog version changes. */
export function sidIndex(env: { DB: D1Database }, catalogVersion: string): Promise<SidIndex> {
  if (sidIndexCache?.version !== catalogVersion) {
    const index = loadSidIndex(env).catch((err) => {
      sidIndexCache = undefined;
      throw err;
    });
    sidIndexCache = { version: catalogVersion, index };
  }
  return sidIndexCache.index;
}

async function loadSidIndex(env: { DB: D1Database }): Promise<SidIndex> {
  const db = database(env.DB);
  const rows = await d1(() =>
    db.select({ id: items.id, sid: items.sid, collision: items.collision }).from(items).where(eq(items.status, "active")),
  );
  const children = new Map<string, Set<number>>();
  const itemsBySid = new Map<string, { id: string; collision: number }[]>();
  let levels = 0;
  for (const r of rows) {
    const tokens = parseSidKey(r.sid);
    levels = Math.max(levels, tokens.length);
    for (let l = 0; l < tokens.length; l++) {
      const prefix = tokens.slice(0, l).join("-");
      let set = children.get(prefix);
      if (!set) children.set(prefix, (set = new Set()));
      set.add(tokens[l]);
    }
    let list = itemsBySid.get(r.sid);
    if (!list) itemsBySid.set(r.sid, (list = []));
    list.push({ id: r.id, collision: r.collision });
  }
  for (const list of itemsBySid.values()) list.sort((a, b) => a.collision - b.collision);
  return {
    levels,
    children: new Map([...children].map(([k, v]) => [k, [...v].sort((a, b) => a - b)])),
    itemsBySid,
    size: rows.length,
  };
}

/** Attributes of a handful of items (recommend's answer), chunked under D1's parameter limit. */
export async function itemAttributes(env: { DB: D1Database }, ids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  const missing: string[] = [];
  for (const id of ids) {
    const hit = cache.items.get(id);
    if (hit) out.set(id, hit.attributes);
    else missing.push(id);
  }
  if (missing.length === 0) return out;
  const db = database(env.DB);
  const parts = chunks(missing, D1_MAX_PARAMS).map((p) => db.select(itemColumns).from(items).where(inArray(items.id, p)));
  const results = await d1(() => db.batch(parts as unknown as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]));
  for (const rows of results as Row[][]) for (const r of rows) out.set(r.id, r.attributes ?? {});
  return out;
}
