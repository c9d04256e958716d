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
import type { SidTableRow } from "./artifacts";

/** An items row as D1 has it (features as hex, float32 little-endian, or null). */
export interface CatalogRow {
  id: string;
  sid: string;
  collision: number;
  status: "active" | "retired";
  retired_by: "delete" | "catalog" | null;
  codebook_version: string;
  features: string | null;
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
  statements: string[]; // SQL for `wrangler d1 execute --file`, in order
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

function featuresOf(hex: string | null, dim: number): number[] | null {
  if (!hex || hex.length !== dim * 8) return null;
  const bytes = Uint8Array.from(hex.match(/../g)!, (b) => Number.parseInt(b, 16));
  const v = Array.from(new Float32Array(bytes.buffer));
  return v.every(Number.isFinite) ? v : null;
}

export function planCatalogMerge(
  table: SidTableRow[],
  codebook: Codebook,
  current: CatalogRow[],
  opts: { replace?: boolean; catalogVersion: string },
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

  // Apply: park every existing row that moves off its (sid, collision), so the UNIQUE index never trips while rows
  // swap SIDs; then write each row's final state.
  const statements: string[] = [];
  const moved = (r: CatalogRow, f: Final) => r.sid !== f.sid || r.collision !== f.collision;
  for (const r of current) {
    const f = finals.get(r.id)!;
    if (moved(r, f)) statements.push(`UPDATE items SET sid = 'moving:' || id, collision = 0 WHERE id = ${q(r.id)};`);
  }
  const cb = q(codebook.version);
  for (const t of table) {
    const f = finals.get(t.id)!;
    statements.push(
      `INSERT INTO items (id, sid, collision, status, retired_by, attributes, features, codebook_version) VALUES (` +
        `${q(t.id)}, ${q(f.sid)}, ${f.collision}, ${q(f.status)}, ${f.retiredBy ? q(f.retiredBy) : "NULL"}, ${q(t.attributes)}, ` +
        `X'${t.featuresHex}', ${cb}) ON CONFLICT(id) DO UPDATE SET sid = excluded.sid, collision = excluded.collision, ` +
        `status = excluded.status, retired_by = excluded.retired_by, attributes = excluded.attributes, ` +
        `features = excluded.features, codebook_version = excluded.codebook_version, updated_at = ${NOW};`,
    );
  }
  for (const r of rest) {
    const f = finals.get(r.id)!;
    if (!moved(r, f) && r.status === f.status && r.retired_by === f.retiredBy && r.codebook_version === codebook.version) continue;
    statements.push(
      `UPDATE items SET sid = ${q(f.sid)}, collision = ${f.collision}, status = ${q(f.status)}, ` +
        `retired_by = ${f.retiredBy ? q(f.retiredBy) : "NULL"}, codebook_version = ${cb}, updated_at = ${NOW} WHERE id = ${q(r.id)};`,
    );
  }
  for (const [key, value] of [
    ["codebook_version", codebook.version],
    ["catalog_version", opts.catalogVersion], // every catalog write moves it: the Worker's caches follow
  ])
    statements.push(`INSERT INTO meta (key, value) VALUES (${q(key)}, ${q(value)}) ON CONFLICT(key) DO UPDATE SET value = excluded.value;`);
  return { counts, unencodable, statements };
}
