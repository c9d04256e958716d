// Catalog access: item ids <-> Semantic IDs in D1, behind a per-isolate cache that is only trusted for the catalog
// version it was filled under (meta.catalog_version, bumped on every catalog write).
import { and, desc, eq, gte, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { encodeSid, parseSidKey, sidKey, type Codebook } from "../core/codebook";
import { database, type Db } from "./db/client";
import { catalogMovedFrom, readVersions, setMeta, versionsQuery, type Versions } from "./db/meta";
import { events, items, nowMs } from "./db/schema";
import { ApiError, causeMessage, d1, DatabaseUnavailable } from "./errors";

export interface CatalogItem {
  id: string;
  tokens: number[];
  collision: number;
  status: "active" | "retired";
  attributes: Record<string, unknown>;
  prior: number; // g(pop); the catalog's prior 0 when the row has none
}

// D1 allows at most 100 bound parameters per query.
export const D1_MAX_PARAMS = 100;

type Row = typeof items.$inferSelect;
const itemColumns = {
  id: items.id,
  sid: items.sid,
  collision: items.collision,
  status: items.status,
  attributes: items.attributes,
  prior: items.prior,
};

function toItem(r: Pick<Row, "id" | "sid" | "collision" | "status" | "attributes" | "prior">): CatalogItem {
  // Loading a SID table for a new codebook moves items it no longer lists off the SID space ("retired:<id>"):
  // they keep their row (history lookups still resolve) but have no tokens.
  const tokens = r.status === "retired" && !/^\d/.test(r.sid) ? [] : parseSidKey(r.sid);
  return { id: r.id, tokens, collision: r.collision, status: r.status, attributes: r.attributes ?? {}, prior: r.prior ?? 0 };
}

const cache = {
  version: null as string | null,
  versions: null as Versions | null, // all the versions the last lookup read (the catalog's is `version`)
  items: new Map<string, CatalogItem | null>(), // null: known not to exist
  checkedAt: -Infinity, // Date.now() when a read of the versions that `versions` came from started
  cursor: null as number | null, // max(updated_at) of the rows the item cache has seen: changes are read from here on
  writes: 0, // catalog writes made through this isolate (a version read that started before one is not fresh)
};

// Past this many changed rows since the cursor, the item cache starts over instead of dropping them one by one.
const MAX_CHANGES = 1000;

/** Clears the per-isolate cache (tests; and when more rows changed than are worth dropping one by one). */
export function resetCatalogCache(): void {
  cache.version = null;
  cache.versions = null;
  cache.items.clear();
  cache.checkedAt = -Infinity;
  cache.cursor = null;
}

/** The freshness window (ms): how long the isolate trusts the versions it last read before it reads them again. */
export function catalogFreshnessMs(env: { CATALOG_FRESHNESS_MS?: string }): number {
  const ms = Number(env.CATALOG_FRESHNESS_MS ?? 250);
  return Number.isFinite(ms) && ms >= 0 ? ms : 250;
}

/**
 * A lookup answered from the isolate's cache alone: every id is cached under the versions the last lookup read.
 * `fresh` when those versions were read less than `freshnessMs` ago and no catalog write went through this isolate
 * since: the caller may act on it without a round trip. Otherwise it is a guess: a caller that acts on it must re-read
 * the versions (attributesAndVersions) and start over with lookupItems if they moved. Null when any id is not cached.
 */
export function cachedLookup(
  ids: string[],
  freshnessMs = 0,
  indexed?: (catalog: string, id: string) => CatalogItem | null,
): { lookup: Lookup; fresh: boolean } | null {
  const versions = cache.versions;
  if (versions === null || cache.version !== versions.catalog) return null;
  const found = new Map<string, CatalogItem>();
  for (const id of new Set(ids)) {
    let item = cache.items.get(id);
    if (!cache.items.has(id)) {
      // an id the cache lacks may be an active item of the prefix index at the same catalog version
      item = indexed?.(versions.catalog, id);
      if (!item) return null;
    }
    if (item) found.set(id, item);
  }
  const fresh = Date.now() - cache.checkedAt < freshnessMs;
  return { lookup: { versions, items: found, userHistory: null }, fresh };
}

/**
 * The attributes of `ids` when every one is in `known` (items read by this request) or cached as an existing item;
 * null otherwise.
 */
export function cachedAttributes(ids: string[], known?: Map<string, CatalogItem>): Map<string, Record<string, unknown>> | null {
  const out = new Map<string, Record<string, unknown>>();
  for (const id of ids) {
    const attributes = (known?.get(id) ?? cache.items.get(id))?.attributes;
    if (!attributes) return null;
    out.set(id, attributes);
  }
  return out;
}

/**
 * A catalog write made through this isolate: its ids leave the cache and the versions are read again by the next
 * request (read-your-writes within the isolate, whatever the freshness window).
 */
function noteCatalogWrite(ids: string[]): void {
  cache.writes++;
  cache.checkedAt = -Infinity;
  for (const id of ids) cache.items.delete(id);
}

/** What a version read needs to remember from when it started. */
interface ReadStart {
  at: number;
  writes: number;
  cursor: number | null;
  version: string | null;
}

function readStart(): ReadStart {
  return { at: Date.now(), writes: cache.writes, cursor: cache.cursor, version: cache.version };
}

// The rows changed since the cache's cursor (>=: rows of the cursor's own millisecond come again, harmlessly; none
// while the catalog is at the cache's version), or, with no cursor yet, the newest updated_at alone. It rides in the
// batch with the versions: no round trip of its own.
function changesQuery(db: Db, start: ReadStart) {
  if (start.cursor === null)
    return db.select({ id: sql<string>`''`, updatedAt: sql<number>`COALESCE(MAX(${items.updatedAt}), 0)` }).from(items);
  return db
    .select({ id: items.id, updatedAt: items.updatedAt })
    .from(items)
    .where(and(gte(items.updatedAt, start.cursor), catalogMovedFrom(start.version)))
    .orderBy(desc(items.updatedAt))
    .limit(MAX_CHANGES + 1);
}

type Changes = { id: string; updatedAt: number }[];

/**
 * The cache follows the newest read. When the catalog version moved, only the rows changed since the cursor leave
 * the item cache (all of it when more than MAX_CHANGES changed, or with no cursor to count from). A read of an older
 * snapshot than the cache has followed (requests race) changes nothing: false, and its items must not be cached.
 */
function followVersions(versions: Versions, changes: Changes, start: ReadStart): boolean {
  const newest = changes.reduce((m, c) => Math.max(m, c.updatedAt), start.cursor ?? 0);
  if (cache.cursor !== null && newest < cache.cursor) return false;
  if (cache.version !== versions.catalog) {
    if (changes.length > MAX_CHANGES || start.cursor === null || cache.cursor === null) cache.items.clear();
    else for (const { id } of changes) cache.items.delete(id);
    cache.version = versions.catalog;
  }
  cache.cursor = changes.length > MAX_CHANGES ? null : newest; // null: the next read starts over from the newest
  cache.versions = versions;
  if (start.writes === cache.writes) cache.checkedAt = Math.max(cache.checkedAt, start.at);
  return true;
}

/** Whether two reads of the versions agree on everything a recommend depends on. */
export function sameVersions(a: Versions, b: Versions): boolean {
  return (
    a.catalog === b.catalog &&
    a.activeModel === b.activeModel &&
    a.codebook === b.codebook &&
    a.catalogIndex?.key === b.catalogIndex?.key &&
    a.canary?.version === b.canary?.version &&
    a.canary?.share === b.canary?.share
  );
}

/** xs in consecutive slices of at most `size` (D1's parameter limit). */
export function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

export interface Lookup {
  versions: Versions;
  items: Map<string, CatalogItem>; // only the ids that exist
  userHistory: CatalogItem[] | null; // oldest first; null when no userId was asked for
}

/**
 * Resolves ids to catalog items, plus the catalog/model versions and (optionally) a user's stored click history, in
 * one D1 round trip when the cache is warm. If the catalog moved since the cache was filled, cached entries are
 * dropped and refetched (a second round trip, only after a catalog write). The answer is built from what this
 * request fetched and the entries it found at its start, never from the shared cache after its awaits: concurrent
 * requests across a catalog write once answered with a history item wrongly "unknown".
 */
export async function lookupItems(
  env: { DB: D1Database },
  ids: string[],
  opts: { userId?: string; historyLength?: number; historySince?: number } = {},
): Promise<Lookup> {
  const db = database(env.DB);
  const wanted = [...new Set(ids)];
  const run = async (fetchIds: string[]) => {
    const start = readStart();
    const queries: BatchItem<"sqlite">[] = [versionsQuery(db), changesQuery(db, start)];
    for (const part of chunks(fetchIds, D1_MAX_PARAMS)) queries.push(db.select(itemColumns).from(items).where(inArray(items.id, part)));
    if (opts.userId !== undefined) queries.push(userHistoryQuery(db, opts.userId, opts.historyLength ?? 50, opts.historySince ?? 0));
    const results = (await d1(() => db.batch(queries as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]))) as unknown[][];
    const versions = readVersions(results[0] as { key: string; value: string }[]);
    return { start, versions, changes: results[1] as Changes, rest: results.slice(2) };
  };

  // Cached entries are trusted only for the version the cache held when this request started (taken now: another
  // request may change the cache while this one waits on D1). If the catalog moved since, the hits among the rows
  // changed since the cache's cursor are fetched again (a second round trip, only when a write touched them).
  const cachedAt = cache.version;
  const hits = new Map<string, CatalogItem | null>();
  for (const id of wanted) if (cache.items.has(id)) hits.set(id, cache.items.get(id)!);
  let missing = wanted.filter((id) => !hits.has(id));
  let read = await run(missing);
  if (cachedAt !== read.versions.catalog && hits.size > 0) {
    const changed = new Set(read.changes.map((c) => c.id));
    const stale =
      read.start.cursor === null || read.changes.length > MAX_CHANGES ? [...hits.keys()] : [...hits.keys()].filter((id) => changed.has(id));
    if (stale.length > 0) {
      for (const id of stale) hits.delete(id);
      missing = wanted.filter((id) => !hits.has(id));
      read = await run(missing);
    }
  }
  const { versions, rest: results } = read;
  const follows = followVersions(versions, read.changes, read.start);
  const nChunks = Math.ceil(missing.length / D1_MAX_PARAMS);
  const fetched = new Map<string, CatalogItem>();
  for (const rows of results.slice(0, nChunks) as Row[][]) for (const r of rows) fetched.set(r.id, toItem(r));
  if (follows) for (const id of missing) cache.items.set(id, fetched.get(id) ?? null);

  const found = new Map<string, CatalogItem>();
  for (const id of wanted) {
    const item = fetched.get(id) ?? hits.get(id);
    if (item) found.set(id, item);
  }
  const userHistory = opts.userId !== undefined ? (results[nChunks] as Row[]).map(toItem).reverse() : null;
  return { versions, items: found, userHistory };
}

// A user's most recent clicks since `since` (the retention window) joined with their items, newest first (reversed by
// the caller to oldest first). The (user_id, type, ts) index answers it without touching the user's impressions.
export function userHistoryQuery(db: Db, userId: string, limit: number, since: number) {
  return db
    .select(itemColumns)
    .from(events)
    .innerJoin(items, eq(items.id, events.itemId))
    .where(and(eq(events.userId, userId), eq(events.type, "click"), gte(events.ts, since)))
    .orderBy(desc(events.ts), desc(events.id))
    .limit(limit);
}

export async function getItem(env: { DB: D1Database }, id: string): Promise<CatalogItem | null> {
  const db = database(env.DB);
  const rows = await d1(() => db.select(itemColumns).from(items).where(eq(items.id, id)).limit(1));
  return rows[0] ? toItem(rows[0]) : null;
}

/**
 * Attributes of a handful of items (recommend's answer), chunked under D1's parameter limit, and the versions read in
 * the same round trip. A recommend decoded from cachedLookup confirms its guess with them, and passes its history's
 * ids too: if the guess was stale, the same round trip has brought those items as the new versions have them.
 * `also`: one more statement for the same batch (the prefix index's delta read); its rows come back as `also`.
 */
export async function attributesAndVersions<Also = never>(
  env: { DB: D1Database },
  ids: string[],
  historyIds: string[] = [],
  also?: (db: Db) => BatchItem<"sqlite">,
): Promise<{ attributes: Map<string, Record<string, unknown>>; versions: Versions; items: Map<string, CatalogItem>; also?: Also }> {
  const attributes = new Map<string, Record<string, unknown>>();
  const fetch = new Set(historyIds);
  for (const id of ids) {
    const hit = cache.items.get(id);
    if (hit) attributes.set(id, hit.attributes);
    else fetch.add(id);
  }
  const db = database(env.DB);
  const start = readStart();
  const parts = chunks([...fetch], D1_MAX_PARAMS).map((p) => db.select(itemColumns).from(items).where(inArray(items.id, p)));
  const queries = [versionsQuery(db), changesQuery(db, start), ...(also ? [also(db)] : []), ...parts];
  const [meta, changes, ...results] = (await d1(() =>
    db.batch(queries as unknown as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]),
  )) as unknown[][];
  const alsoRows = also ? (results.shift() as Also) : undefined;
  const versions = readVersions(meta as { key: string; value: string }[]);
  const fetched = new Map<string, CatalogItem>();
  for (const rows of results as Row[][]) for (const r of rows) fetched.set(r.id, toItem(r));
  if (followVersions(versions, changes as Changes, start)) for (const id of fetch) cache.items.set(id, fetched.get(id) ?? null);
  for (const [id, item] of fetched) if (!attributes.has(id)) attributes.set(id, item.attributes);
  return { attributes, versions, items: fetched, also: alsoRows };
}

// Every catalog write bumps catalog_version in the same transaction, so caches keyed by it never serve stale SIDs.
function bumpCatalogVersion(db: Db) {
  return setMeta(db, "catalog_version", crypto.randomUUID());
}

export interface ItemWrite {
  id: string;
  features: number[];
  attributes?: Record<string, unknown>;
  revive?: boolean; // a retired item comes back only when asked for explicitly
  prior?: number; // g(pop) from a popularity count; absent: null for a new item, the stored one kept on update
}

export interface WrittenItem {
  id: string;
  sid: number[];
  collision: number;
}

/**
 * Upserts items, assigning each its SID with the catalog's codebook (the same encodeSid the offline build uses).
 * The collision index is computed inside the INSERT (next free index for those tokens), and an item that keeps its
 * tokens keeps its index, so a repeated PUT is a no-op. The whole batch is one D1 transaction: all or nothing.
 * A concurrent writer can still take the same index between our read and write only if it commits first, in which
 * case the UNIQUE index refuses ours and we retry.
 */
export async function upsertItems(env: { DB: D1Database }, codebook: Codebook, writes: ItemWrite[], retries = 3): Promise<WrittenItem[]> {
  const db = database(env.DB);
  const statements = writes.map((w) => {
    const sid = sidKey(encodeSid(codebook, w.features));
    const features = new Uint8Array(Float32Array.from(w.features).buffer);
    const nextCollision = sql`(SELECT COALESCE(MAX(${items.collision}) + 1, 0) FROM ${items} WHERE ${items.sid} = ${sid})`;
    return db
      .insert(items)
      .values({
        id: w.id,
        sid,
        collision: nextCollision,
        status: "active",
        attributes: w.attributes ?? {},
        features: features as unknown as Buffer,
        codebookVersion: codebook.version,
        prior: w.prior ?? null,
      })
      .onConflictDoUpdate({
        target: items.id,
        set: {
          collision: sql`CASE WHEN ${items.sid} = excluded.sid THEN ${items.collision} ELSE excluded.collision END`,
          sid: sql`excluded.sid`,
          // NULL (refused by NOT NULL, so the whole batch rolls back) when this would revive a retired item unasked
          status: sql`CASE WHEN ${items.status} = 'retired' AND ${w.revive ? 1 : 0} = 0 THEN NULL ELSE 'active' END`,
          retiredBy: null,
          attributes: sql`excluded.attributes`,
          features: sql`excluded.features`,
          codebookVersion: sql`excluded.codebook_version`,
          prior: sql`COALESCE(excluded.prior, ${items.prior})`,
          updatedAt: nowMs,
        },
      })
      .returning({ id: items.id, sid: items.sid, collision: items.collision });
  });
  const codebookMeta = setMeta(db, "codebook_version", codebook.version);
  for (let attempt = 0; ; attempt++) {
    try {
      const results = (await db.batch([bumpCatalogVersion(db), codebookMeta, ...statements])) as unknown[];
      noteCatalogWrite(writes.map((w) => w.id));
      return (results.slice(2) as { id: string; sid: string; collision: number }[][]).map(([r]) => ({
        id: r.id,
        sid: parseSidKey(r.sid),
        collision: r.collision,
      }));
    } catch (err) {
      if (/NOT NULL constraint failed: items\.status/.test(causeMessage(err))) throw await retiredConflict(db, writes);
      const unique = /UNIQUE constraint failed: items\.sid/.test(causeMessage(err));
      if (!unique || attempt >= retries) throw new DatabaseUnavailable(err);
    }
  }
}

/** The 409 for a batch that would revive retired items without `"revive": true`, naming them. */
async function retiredConflict(db: Db, writes: ItemWrite[]): Promise<ApiError> {
  const ids = writes.filter((w) => !w.revive).map((w) => w.id);
  const parts = chunks(ids, D1_MAX_PARAMS).map((p) =>
    db
      .select({ id: items.id })
      .from(items)
      .where(and(inArray(items.id, p), eq(items.status, "retired"))),
  );
  const results = (await d1(() => db.batch(parts as unknown as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]))) as { id: string }[][];
  const retired = results.flat().map((r) => r.id);
  const message = `retired items come back only with "revive": true: ${retired.join(", ")}`;
  return new ApiError(409, "item_retired", message, { retired });
}

/** Retires an item: kept for history lookups, never recommended. Returns false when there is no such item. */
export async function retireItem(env: { DB: D1Database }, id: string): Promise<boolean> {
  const db = database(env.DB);
  const [, updated] = await d1(() =>
    db.batch([
      bumpCatalogVersion(db),
      db
        .update(items)
        .set({ status: "retired", retiredBy: "delete", updatedAt: nowMs })
        .where(eq(items.id, id))
        .returning({ id: items.id }),
    ]),
  );
  noteCatalogWrite([id]);
  return updated.length > 0;
}

/**
 * Active items whose title contains `q` (case-insensitive for ASCII, as LIKE is), for the demo page's search. instr(),
 * not LIKE: D1 refuses LIKE patterns over 50 bytes, and instr() has no pattern (no escaping, no length limit).
 */
export async function searchItems(env: { DB: D1Database }, q: string, limit: number): Promise<CatalogItem[]> {
  const db = database(env.DB);
  const title = sql`json_extract(${items.attributes}, '$.title')`;
  const rows = await d1(() =>
    db
      .select(itemColumns)
      .from(items)
      .where(and(eq(items.status, "active"), sql`instr(lower(${title}), lower(${q})) > 0`))
      .orderBy(title)
      .limit(limit),
  );
  return rows.map(toItem);
}

export interface Cluster {
  token: number;
  items: number;
  examples: { id: string; title: string | null; sid: number[] }[];
}

/** Level-1 clusters of the active catalog: size and a few example items each (the SID hierarchy, made visible). */
export async function levelOneClusters(env: { DB: D1Database }, examples: number): Promise<Cluster[]> {
  const { results } = await d1(() =>
    env.DB.prepare(
      `WITH t AS (
         SELECT id, sid, json_extract(attributes, '$.title') AS title,
                CAST(CASE WHEN instr(sid, '-') > 0 THEN substr(sid, 1, instr(sid, '-') - 1) ELSE sid END AS INTEGER) AS token
         FROM items WHERE status = 'active'),
       ranked AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY token ORDER BY sid, id) AS r, COUNT(*) OVER (PARTITION BY token) AS n FROM t)
       SELECT token, n, id, sid, title FROM ranked WHERE r <= ?1 ORDER BY token, r`,
    )
      .bind(examples)
      .all<{ token: number; n: number; id: string; sid: string; title: string | null }>(),
  );
  const clusters = new Map<number, Cluster>();
  for (const r of results) {
    let c = clusters.get(r.token);
    if (!c) clusters.set(r.token, (c = { token: r.token, items: r.n, examples: [] }));
    c.examples.push({ id: r.id, title: r.title, sid: parseSidKey(r.sid) });
  }
  return [...clusters.values()];
}
