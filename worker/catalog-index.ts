// The catalog's prefix index as an isolate holds it: a base index (core/sid-index.ts) plus an overlay of the rows
// written since the base was built.
//   base: the artifact in R2 that meta.catalog_index points to (built by the cron or POST /v1/admin/catalog/index),
//     mapped without copying; or, with no artifact for this codebook, built from every active row in D1.
//   overlay: rows with updated_at >= the base's cursor, read after each catalog write (a catalog version the isolate
//     has not seen). They shadow their base rows; the active ones form a small index of their own.
// A write is visible to the next recommend at the cost of one small delta read, never a rebuild; a large delta
// (a SID-table load) rebuilds from D1 until the cron publishes a new artifact. The delta read can ride in the batch a
// recommend sends anyway (catalogDeltaQuery, advanceCatalogIndex): no round trip of its own. Concurrent cold requests
// share one load: the request that starts it keeps it alive with waitUntil, so a waiter never awaits I/O of an ended
// request.
import { and, gte } from "drizzle-orm";
import { parseSidKey } from "../core/codebook";
import {
  activeSidRows,
  buildSidIndex,
  catalogIndexKey,
  findItem,
  leafOf,
  leafTokens,
  type SidIndex,
  type SidRow,
  sidIndexFromBytes,
  sidIndexToBytes,
} from "../core/sid-index";
import type { CatalogItem } from "./catalog";
import { database, type Db } from "./db/client";
import { catalogMovedFrom, type IndexPointer, readVersionsNow, setMeta, type Versions } from "./db/meta";
import { items } from "./db/schema";
import { timedOnce } from "./cold-timing";
import { d1 } from "./errors";

export interface CatalogIndex {
  base: SidIndex;
  source: "cache" | "r2" | "d1"; // cache: the colo's Cache API copy of the R2 artifact
  baseKey: string; // the artifact's key, or "d1:<catalog version>"
  cursor: number;
  overlay: Map<string, SidRow | null>; // id -> its row now (null: retired); shadows the base
  overlayIndex: SidIndex;
  catalogVersion: string;
  codebook: string | null;
  deltaReads: number; // round trips of their own spent on deltas since the base (the bench counts them)
}

// Past this many changed rows the overlay costs more than a rebuild.
const MAX_OVERLAY = 50_000;

type Env = { DB: D1Database; MODELS: R2Bucket };
/** A row of the delta read: an item written at or after the index's cursor. */
export interface DeltaRow {
  id: string;
  sid: string;
  collision: number;
  status: string;
  updatedAt: number;
  prior: number | null;
}

let state: CatalogIndex | null = null;
let loading: Promise<CatalogIndex> | null = null;

/** Drops the isolate's index (tests). */
export function resetCatalogIndex(): void {
  state = null;
  loading = null;
}

/** Whether the isolate holds the index for `versions` already (a recommend may then decode before any I/O). */
export function catalogIndexIsCurrent(versions: Versions): boolean {
  return state !== null && state.catalogVersion === versions.catalog;
}

/**
 * Item `id` as the isolate's index holds it at catalog version `catalog`: an active item with its SID, or null when
 * the index does not hold it as active (not in the catalog, retired, or an artifact without an id order) or is not
 * at that version. A recommend resolves its history from here instead of D1.
 */
export function indexedItem(catalog: string, id: string): CatalogItem | null {
  if (!state || state.catalogVersion !== catalog) return null;
  const { base, overlay } = state;
  let row: SidRow | null | undefined = overlay.get(id);
  if (row === undefined) {
    const j = findItem(base, id);
    row = j < 0 ? null : { id, tokens: leafTokens(base, leafOf(base, j)), collision: base.collision[j], prior: base.prior[j] };
  }
  if (row === null) return null;
  return { id, tokens: Array.from(row.tokens), collision: row.collision, status: "active", attributes: {}, prior: row.prior ?? 0 };
}

/** The index for the catalog at `versions`: the isolate's own when current, else refreshed (one load per isolate). */
export function catalogIndex(env: Env, versions: Versions, waitUntil?: (p: Promise<unknown>) => void): Promise<CatalogIndex> {
  if (state && state.catalogVersion === versions.catalog) return Promise.resolve(state);
  if (!loading) {
    loading = refresh(env, versions, waitUntil).then(
      (s) => {
        state = s;
        loading = null;
        return s;
      },
      (err) => {
        loading = null;
        throw err;
      },
    );
    waitUntil?.(loading.catch(() => {}));
  }
  return loading;
}

/** The newest artifact for the catalog's codebook at `versions`, if any. */
const newestArtifact = (versions: Versions): IndexPointer | null =>
  versions.catalogIndex?.codebook === versions.codebook ? versions.catalogIndex : null;

/** Whether `s` can reach `versions` by a delta: same codebook, and its base is still the newest artifact. */
function deltaReaches(s: CatalogIndex, versions: Versions): boolean {
  const pointer = newestArtifact(versions);
  return s.codebook === versions.codebook && (pointer === null || s.baseKey === pointer.key);
}

async function refresh(env: Env, versions: Versions, waitUntil?: (p: Promise<unknown>) => void): Promise<CatalogIndex> {
  const pointer = newestArtifact(versions);
  // the isolate's base is still the newest: only the rows written since
  if (state && deltaReaches(state, versions)) return applyDelta(env, state, versions);
  if (pointer) {
    const artifact = await readArtifact(env, pointer, waitUntil);
    if (artifact) {
      const empty = buildSidIndex([], artifact.index.levels, { byId: false });
      const fresh: CatalogIndex = {
        base: artifact.index,
        source: artifact.source,
        baseKey: pointer.key,
        cursor: pointer.cursor,
        overlay: new Map(),
        overlayIndex: empty,
        catalogVersion: "",
        codebook: versions.codebook,
        deltaReads: 0,
      };
      return applyDelta(env, fresh, versions);
    }
  }
  return fromD1(env, versions);
}

// The Cache API copy of an artifact is keyed by its R2 key (unique per catalog version and cursor) under a host of
// our own; it is never fetched over the network.
const CACHE_ORIGIN = "https://catalog-index.hsrl-edge.internal/";

/** The Cache API URL of the artifact at R2 key `key` (tests put copies there). */
export function artifactCacheUrl(key: string): string {
  return CACHE_ORIGIN + key;
}

/**
 * The artifact `pointer` names, parsed: from the colo's Cache API copy when it has one that parses and matches the
 * pointer, else from R2 (and then copied into the colo's cache). A copy that does not parse or match is refused and
 * deleted; an R2 object that does not is refused too (null: the caller builds from D1). Never a wrong index.
 */
async function readArtifact(
  env: Env,
  pointer: IndexPointer,
  waitUntil?: (p: Promise<unknown>) => void,
): Promise<{ index: SidIndex; source: "cache" | "r2" } | null> {
  const colo = typeof caches === "undefined" ? null : caches.default; // absent outside workerd (Node tests)
  const url = artifactCacheUrl(pointer.key);
  if (colo) {
    const hit = await timedOnce("index-cache", async () => {
      const res = await colo.match(url);
      return res ? new Uint8Array(await res.arrayBuffer()) : null;
    });
    if (hit) {
      const index = await timedOnce("index-parse", async () => matchingArtifact(hit, pointer));
      if (index) return { index, source: "cache" };
      console.error(JSON.stringify({ catalogIndex: "cached copy refused, reading R2", key: pointer.key }));
      await inBackground(
        colo.delete(url).catch(() => false),
        waitUntil,
      );
    }
  }
  const bytes = await timedOnce("index-r2", async () => {
    const object = await env.MODELS.get(pointer.key);
    return object ? new Uint8Array(await object.arrayBuffer()) : null;
  });
  if (!bytes) {
    console.error(JSON.stringify({ catalogIndex: "artifact missing from R2, building from D1", key: pointer.key }));
    return null;
  }
  const index = await timedOnce("index-parse", async () => matchingArtifact(bytes, pointer));
  if (!index) {
    console.error(JSON.stringify({ catalogIndex: "artifact in R2 does not match its pointer, building from D1", key: pointer.key }));
    return null;
  }
  if (colo) {
    const headers = { "content-type": "application/octet-stream", "cache-control": "max-age=604800" };
    const put = colo.put(url, new Response(bytes, { headers })).catch((err: unknown) => {
      console.error(
        JSON.stringify({ catalogIndex: "could not copy the artifact into the colo's cache", key: pointer.key, err: String(err) }),
      );
    });
    await inBackground(put, waitUntil);
  }
  return { index, source: "r2" };
}

/** Lets `work` finish after the response when the request can wait on it (waitUntil); otherwise awaits it here. */
async function inBackground(work: Promise<unknown>, waitUntil?: (p: Promise<unknown>) => void): Promise<void> {
  if (waitUntil) waitUntil(work);
  else await work;
}

/** The index in `bytes` when they parse and their header names what the pointer does (cursor, codebook, size). */
function matchingArtifact(bytes: Uint8Array, pointer: IndexPointer): SidIndex | null {
  try {
    const { index, meta } = sidIndexFromBytes(bytes);
    const matches = meta.cursor === pointer.cursor && (meta.codebook ?? null) === pointer.codebook && index.size === pointer.items;
    return matches ? index : null;
  } catch {
    return null;
  }
}

/** Every active row, read in one statement, with the cursor of that snapshot. */
async function readCatalog(env: { DB: D1Database }): Promise<{ rows: SidRow[]; cursor: number; levels: number }> {
  const [raw, [max]] = await d1(() =>
    env.DB.batch([
      env.DB.prepare("SELECT id, sid, collision, prior FROM items WHERE status = 'active'"),
      env.DB.prepare("SELECT COALESCE(MAX(updated_at), 0) AS cursor FROM items"),
    ]),
  ).then(
    (r) =>
      [
        r[0].results as { id: string; sid: string; collision: number; prior: number | null }[],
        r[1].results as { cursor: number }[],
      ] as const,
  );
  return { ...activeSidRows(raw), cursor: max.cursor };
}

async function fromD1(env: Env, versions: Versions): Promise<CatalogIndex> {
  const { rows, cursor, levels } = await timedOnce("index-d1-read", () => readCatalog(env));
  const base = await timedOnce("index-d1-build", async () => buildSidIndex(rows, levels));
  const empty = buildSidIndex([], levels, { byId: false });
  return {
    base,
    source: "d1",
    baseKey: `d1:${versions.catalog}`,
    cursor,
    overlay: new Map(),
    overlayIndex: empty,
    catalogVersion: versions.catalog,
    codebook: versions.codebook,
    deltaReads: 0,
  };
}

/**
 * The rows written since `s`'s cursor, as a statement to run alone or inside another batch; none while the catalog
 * is still at `s`'s version (so riding in every recommend's batch costs nothing until a write). >= : rows written in
 * the cursor's own millisecond are read again (applying a row twice changes nothing), and a bulk load writes a few
 * hundred rows per statement in one millisecond.
 */
export function catalogDeltaQuery(db: Db, s: CatalogIndex) {
  const { id, sid, collision, status, updatedAt, prior } = items;
  return db
    .select({ id, sid, collision, status, updatedAt, prior })
    .from(items)
    .where(and(gte(items.updatedAt, s.cursor), catalogMovedFrom(s.catalogVersion)))
    .limit(MAX_OVERLAY + 1);
}

/**
 * Moves the isolate's index from `from` to `versions` with the delta rows a batch read together with those versions
 * (one snapshot). Does nothing when the isolate's index is no longer `from` or is loading, when `from` cannot reach
 * `versions` by a delta, or when the delta is too large: the next catalogIndex call then loads as usual.
 */
export function advanceCatalogIndex(from: CatalogIndex, versions: Versions, rows: DeltaRow[]): void {
  if (state !== from || loading || from.catalogVersion === versions.catalog || !deltaReaches(from, versions)) return;
  if (from.overlay.size + rows.length > MAX_OVERLAY) return;
  state = withDelta(from, versions, rows);
}

async function applyDelta(env: Env, s: CatalogIndex, versions: Versions): Promise<CatalogIndex> {
  const rows = await d1(() => catalogDeltaQuery(database(env.DB), s));
  if (s.overlay.size + rows.length > MAX_OVERLAY) return fromD1(env, versions);
  return { ...withDelta(s, versions, rows), deltaReads: s.deltaReads + 1 };
}

function withDelta(s: CatalogIndex, versions: Versions, rows: DeltaRow[]): CatalogIndex {
  const overlay = new Map(s.overlay);
  let cursor = s.cursor;
  for (const { id, sid, collision, status, updatedAt, prior } of rows) {
    const tokens = status === "active" && /^\d/.test(sid) ? parseSidKey(sid) : null;
    overlay.set(id, tokens && tokens.length === s.base.levels ? { id, tokens, collision, prior } : null);
    cursor = Math.max(cursor, updatedAt);
  }
  const active = [...overlay.values()].filter((r): r is SidRow => r !== null);
  return {
    ...s,
    overlay,
    overlayIndex: buildSidIndex(active, s.base.levels, { byId: false }), // searched by id through `overlay`
    cursor,
    catalogVersion: versions.catalog,
  };
}

/**
 * Builds the artifact from D1 and points meta.catalog_index at it (the cron when the overlay has grown, or an admin
 * by hand). Returns what it published, or why it did not.
 */
export async function publishCatalogIndex(env: Env, opts: { minDelta?: number } = {}): Promise<Record<string, unknown>> {
  const versions = await readVersionsNow(env);
  const pointer = versions.catalogIndex;
  if (opts.minDelta !== undefined) {
    const since = pointer && pointer.codebook === versions.codebook ? pointer.cursor : 0;
    const [{ n }] = (
      await d1(() => env.DB.prepare("SELECT COUNT(*) AS n FROM items WHERE updated_at >= ?1").bind(since).all<{ n: number }>())
    ).results;
    if (n < opts.minDelta) return { catalogIndex: "current", changedRows: n };
  }
  const t0 = Date.now();
  const { rows, cursor, levels } = await readCatalog(env);
  const bytes = sidIndexToBytes(buildSidIndex(rows, levels), { cursor, catalogVersion: versions.catalog, codebook: versions.codebook });
  const key = catalogIndexKey(versions.catalog, cursor);
  await env.MODELS.put(key, bytes, { httpMetadata: { contentType: "application/octet-stream" } });
  const next: IndexPointer = { key, cursor, codebook: versions.codebook, items: rows.length };
  await d1(() => setMeta(database(env.DB), "catalog_index", JSON.stringify(next)));
  return { catalogIndex: "published", ...next, bytes: bytes.length, ms: Date.now() - t0 };
}
