// Loading a SID table into a catalog that already has items is a merge, planned here (pure; scripts/deploy/catalog.ts
// reads D1 and applies the plan). Every row lands in exactly one count:
// - added: ids the catalog lacks, and items an earlier `--replace` load retired that this table lists again;
// - reencoded: active items whose SID changes (the table says so, or a new codebook re-encodes an item the table
//   does not list, from its stored features, as the Worker's PUT /v1/items encoded it);
// - retired: active items this load retires: only with `replace` for items the table does not list, or an item the
//   new codebook cannot encode (no stored features of its dimension; listed in `unencodable`);
// - unchanged: active items whose SID stays;
// - keptRetired: items that were retired and stay so. An item retired with DELETE is never revived by a load.
import { encodeSid, sidKey, type Codebook } from "../../core/codebook";
import type { PopularityStats } from "../../core/popularity-prior";
import { type SidTableRow, sqlPrior } from "./artifacts";

/** An items row as D1 has it (features as hex, float32 little-endian, or null; only read for rowsNeedingFeatures). */
export interface CatalogRow {
  id: string;
  sid: string;
  collision: number;
  status: "active" | "retired";
  retired_by: "delete" | "catalog" | null;
  codebook_version: string;
  features?: string | null;
}

export interface MergeCounts {
  added: number;
  reencoded: number;
  retired: number;
  unchanged: number;
  keptRetired: number;
}

export interface MergePlan {
  counts: MergeCounts;
  unencodable: string[];
  batches: string[][]; // transactions, in order: one `wrangler d1 execute --file` each
  statements: string[]; // the batches' statements in order (all of them in one transaction is also a valid apply)
}

interface Final {
  sid: string;
  collision: number;
  status: "active" | "retired";
  retiredBy: "delete" | "catalog" | null;
}

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
const NOW = "(unixepoch('subsec') * 1000)";
const offSidSpace = (id: string) => `retired:${id}`; // a retired item without tokens (it cannot be encoded)

function featuresOf(hex: string | null | undefined, dim: number): number[] | null {
  if (!hex || hex.length !== dim * 8) return null;
  const bytes = Uint8Array.from(hex.match(/../g)!, (b) => Number.parseInt(b, 16));
  const v = Array.from(new Float32Array(bytes.buffer));
  return v.every(Number.isFinite) ? v : null;
}

export function planCatalogMerge(
  table: SidTableRow[],
  codebook: Codebook,
  current: CatalogRow[],
  opts: { replace?: boolean; catalogVersion: string; batchRows?: number; popularityStats?: PopularityStats | null },
): MergePlan {
  const counts: MergeCounts = { added: 0, reencoded: 0, retired: 0, unchanged: 0, keptRetired: 0 };
  const unencodable: string[] = [];
  const byId = new Map(current.map((r) => [r.id, r]));
  const listed = new Set(table.map((t) => t.id));
  const taken = new Set(table.map((t) => `${t.sid}/${t.collision}`)); // the table's own assignment is collision-free
  const finals = new Map<string, Final>();

  for (const t of table) {
    const cur = byId.get(t.id);
    if (!cur || (cur.status === "retired" && cur.retired_by === "catalog")) {
      counts.added++;
      finals.set(t.id, { sid: t.sid, collision: t.collision, status: "active", retiredBy: null });
    } else if (cur.status === "retired") {
      counts.keptRetired++; // retired with DELETE: its SID follows the table, its status does not
      finals.set(t.id, { sid: t.sid, collision: t.collision, status: "retired", retiredBy: "delete" });
    } else {
      counts[cur.sid === t.sid && cur.collision === t.collision ? "unchanged" : "reencoded"]++;
      finals.set(t.id, { sid: t.sid, collision: t.collision, status: "active", retiredBy: null });
    }
  }

  // Items the table does not list: active ones first, so they keep their collision index before retired ones.
  const rest = current.filter((r) => !listed.has(r.id)).sort((a, b) => (a.status === b.status ? 0 : a.status === "active" ? -1 : 1));
  const place = (sid: string, wanted: number) => {
    let c = taken.has(`${sid}/${wanted}`) ? 0 : wanted;
    while (taken.has(`${sid}/${c}`)) c++;
    taken.add(`${sid}/${c}`);
    return c;
  };
  for (const r of rest) {
    const retire = (by: "delete" | "catalog") =>
      finals.set(r.id, { sid: offSidSpace(r.id), collision: 0, status: "retired", retiredBy: by });
    if (r.status === "active" && opts.replace) {
      counts.retired++;
      retire("catalog");
      continue;
    }
    const by = r.retired_by ?? (r.sid.startsWith("retired:") ? "catalog" : "delete");
    let sid: string | null = null;
    let wanted = 0;
    if (r.sid.startsWith("retired:")) sid = null;
    else if (r.codebook_version === codebook.version) [sid, wanted] = [r.sid, r.collision];
    else {
      const f = featuresOf(r.features, codebook.dim);
      sid = f ? sidKey(encodeSid(codebook, f)) : null;
    }
    if (r.status === "retired") {
      counts.keptRetired++;
      if (sid === null) retire(by);
      else finals.set(r.id, { sid, collision: place(sid, wanted), status: "retired", retiredBy: by });
      continue;
    }
    if (sid === null) {
      counts.retired++;
      unencodable.push(r.id);
      retire("catalog");
      continue;
    }
    const collision = place(sid, wanted);
    counts[sid === r.sid && collision === r.collision ? "unchanged" : "reencoded"]++;
    finals.set(r.id, { sid, collision, status: "active", retiredBy: null });
  }

  return { counts, unencodable, ...applyPlan(table, current, rest, finals, codebook.version, opts) };
}

/** Current rows whose stored features the merge needs: unlisted ones a new codebook must re-encode. */
export function rowsNeedingFeatures(
  table: SidTableRow[],
  codebookVersion: string,
  current: Omit<CatalogRow, "features">[],
  replace = false,
): string[] {
  const listed = new Set(table.map((t) => t.id));
  return current
    .filter((r) => !listed.has(r.id) && r.codebook_version !== codebookVersion && !r.sid.startsWith("retired:"))
    .filter((r) => !(replace && r.status === "active"))
    .map((r) => r.id);
}

// D1 caps one statement at 100 KB; multi-row statements stay under this many bytes (a few hundred rows each).
// One row per statement made the load ~30x slower: wrangler executes a file as one batch of statements.
const STATEMENT_BYTES = 90_000;

/** Statements of `rows` as few multi-row statements of at most STATEMENT_BYTES: head + rows joined by "," + tail. */
function multiRow(head: string, rows: string[], tail: string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  const fixed = Buffer.byteLength(head) + Buffer.byteLength(tail);
  let size = fixed;
  for (const r of rows) {
    const bytes = Buffer.byteLength(r) + 1; // UTF-8: attributes may hold any characters
    if (cur.length > 0 && size + bytes > STATEMENT_BYTES) {
      out.push(`${head}${cur.join(",")}${tail}`);
      cur = [];
      size = fixed;
    }
    cur.push(r);
    size += bytes;
  }
  if (cur.length > 0) out.push(`${head}${cur.join(",")}${tail}`);
  return out;
}

// Applying the plan. Rows that change (sid, collision), and table rows whose slot one of them holds now, go into the
// first transaction ("moves"): they are parked off the SID space (`moving:<id>`) and rewritten there, so the UNIQUE
// (sid, collision) index never trips while rows swap SIDs, and no row stays parked if a later transaction fails.
// Every other row lands in a slot that is free or its own, so the rest is split into transactions of at most
// `batchRows` rows, in any order. Each transaction moves catalog_version (the Worker's caches follow); the last sets
// the plan's own.
function applyPlan(
  table: SidTableRow[],
  current: CatalogRow[],
  rest: CatalogRow[],
  finals: Map<string, Final>,
  codebookVersion: string,
  opts: { catalogVersion: string; batchRows?: number; popularityStats?: PopularityStats | null },
): { batches: string[][]; statements: string[] } {
  const batchRows = opts.batchRows ?? 100_000;
  const cb = q(codebookVersion);
  const holder = new Map(current.map((r) => [`${r.sid}/${r.collision}`, r.id]));
  const moved = (r: CatalogRow, f: Final) => r.sid !== f.sid || r.collision !== f.collision;
  const movers = current.filter((r) => moved(r, finals.get(r.id)!));
  const inMoves = new Set(movers.map((r) => r.id));
  for (const t of table) {
    const f = finals.get(t.id)!;
    const h = holder.get(`${f.sid}/${f.collision}`);
    if (h !== undefined && h !== t.id) inMoves.add(t.id);
  }

  const upsertHead = "INSERT INTO items (id, sid, collision, status, retired_by, attributes, features, codebook_version, prior) VALUES ";
  // a table row without a prior keeps the stored one (a PUT's count, or an earlier load's)
  const upsertTail =
    " ON CONFLICT(id) DO UPDATE SET sid = excluded.sid, collision = excluded.collision, status = excluded.status, " +
    "retired_by = excluded.retired_by, attributes = excluded.attributes, features = excluded.features, " +
    `codebook_version = excluded.codebook_version, prior = COALESCE(excluded.prior, items.prior), updated_at = ${NOW};`;
  const upsertRow = (t: SidTableRow) => {
    const f = finals.get(t.id)!;
    return `(${q(t.id)}, ${q(f.sid)}, ${f.collision}, ${q(f.status)}, ${f.retiredBy ? q(f.retiredBy) : "NULL"}, ${q(t.attributes)}, X'${t.featuresHex}', ${cb}, ${sqlPrior(t.prior)})`;
  };
  const updateHead = "UPDATE items SET sid = v.column2, collision = v.column3, status = v.column4, retired_by = v.column5, ";
  const updateRow = (r: CatalogRow) => {
    const f = finals.get(r.id)!;
    return `(${q(r.id)}, ${q(f.sid)}, ${f.collision}, ${q(f.status)}, ${f.retiredBy ? q(f.retiredBy) : "NULL"})`;
  };
  const updates = (rows: CatalogRow[]) =>
    multiRow(
      `${updateHead}codebook_version = ${cb}, updated_at = ${NOW} FROM (VALUES `,
      rows.map(updateRow),
      ") AS v WHERE items.id = v.column1;",
    );
  const restChanged = rest.filter((r) => {
    const f = finals.get(r.id)!;
    return moved(r, f) || r.status !== f.status || r.retired_by !== f.retiredBy || r.codebook_version !== codebookVersion;
  });

  const moves = [
    ...multiRow(
      "UPDATE items SET sid = 'moving:' || id, collision = 0 WHERE id IN (",
      movers.map((r) => q(r.id)),
      ");",
    ),
    ...multiRow(upsertHead, table.filter((t) => inMoves.has(t.id)).map(upsertRow), upsertTail),
    ...updates(restChanged.filter((r) => inMoves.has(r.id))),
  ];
  // the rest, in transactions of at most batchRows rows
  const chunks: string[][] = [];
  const others = [
    ...table.filter((t) => !inMoves.has(t.id)).map((t) => ({ kind: "upsert" as const, t })),
    ...restChanged.filter((r) => !inMoves.has(r.id)).map((r) => ({ kind: "update" as const, r })),
  ];
  for (let i = 0; i < others.length; i += batchRows) {
    const part = others.slice(i, i + batchRows);
    chunks.push([
      ...multiRow(
        upsertHead,
        part.flatMap((o) => (o.kind === "upsert" ? [upsertRow(o.t)] : [])),
        upsertTail,
      ),
      ...updates(part.flatMap((o) => (o.kind === "update" ? [o.r] : []))),
    ]);
  }
  const batches = moves.length > 0 || chunks.length === 0 ? [moves, ...chunks] : chunks;
  const setMeta = (key: string, value: string) =>
    `INSERT INTO meta (key, value) VALUES (${q(key)}, ${q(value)}) ON CONFLICT(key) DO UPDATE SET value = excluded.value;`;
  batches[0].push(setMeta("codebook_version", codebookVersion));
  if (opts.popularityStats) batches[0].push(setMeta("popularity_stats", JSON.stringify(opts.popularityStats)));
  // every catalog write moves catalog_version: the Worker's caches follow
  batches.forEach((b, i) =>
    b.push(setMeta("catalog_version", i === batches.length - 1 ? opts.catalogVersion : `${opts.catalogVersion}~${i}`)),
  );
  return { batches, statements: batches.flat() };
}
