// The active catalog's SIDs as a compact prefix index: a few typed arrays and the ids as UTF-8 bytes, no object per
// item (1M items take ~30 MB; Maps of strings took ~650 MB). Built in O(n log n) from (id, sid, collision) rows, and
// serialised to one buffer (sidIndexToBytes) that an isolate maps back without copying (sidIndexFromBytes).
//   level l (0..L-1): the distinct prefixes of length l+1, sorted by their code (tokens read as base-`base` digits)
//   down[l][i]..down[l][i+1]: the children of level-l prefix i among the level-(l+1) prefixes (l < L-1)
//   leaf j (a level L-1 prefix, a full SID): items itemStart[j]..itemStart[j+1], by collision index
//   prior[j]: item j's popularity prior g (core/popularity-prior.ts; a row without one: 0, the catalog's prior), and
//   priorMax[l][i] / priorMin[l][i]: the largest / smallest g of the items under level-l prefix i, so that a decode
//   adding β·g to Σ logp keeps an exact bound (worker/decode.ts)
//   idOrder: the items sorted by id, so an id finds its item (and its SID) by binary search: a request's history
//   resolves from the index without a D1 read
// Pure TypeScript over Web APIs: the Worker builds it per catalog version; the offline side can build the same bytes.

import { parseSidKey } from "./codebook";

export interface SidIndex {
  levels: number;
  base: number; // 1 + the largest token present (tokens are digits of this base)
  codes: Float64Array[]; // per level, sorted prefix codes
  down: Uint32Array[]; // per level < L-1, child ranges (length = codes[l].length + 1)
  itemStart: Uint32Array; // per leaf, its items' range (length = leaves + 1)
  collision: Uint16Array; // per item, in leaf order
  idBytes: Uint8Array; // every item id as UTF-8, concatenated in leaf order
  idEnd: Uint32Array; // per item, the end of its id in idBytes
  prior: Float32Array; // per item, in leaf order: g(pop_i)
  priorMax: Float32Array[]; // per level, per prefix: max g of its items
  priorMin: Float32Array[]; // per level, per prefix: min g of its items
  idOrder: Uint32Array | null; // item positions sorted by id (null: an artifact of format 1 or 2, written without it)
  size: number; // items
}

export interface SidRow {
  id: string;
  tokens: ArrayLike<number>;
  collision: number;
  prior?: number | null; // g(pop); absent / null: the catalog's prior 0 (a new item)
}

/**
 * The index's rows from the catalog's active (id, sid key, collision) rows, as the Worker and `hsrl catalog` both read
 * them. Every active row has the catalog codebook's L; a row of another length (a catalog mid-swap) is left out.
 */
export function activeSidRows(raw: readonly { id: string; sid: string; collision: number; prior?: number | null }[]): {
  rows: SidRow[];
  levels: number;
} {
  const rows = raw.map((r) => ({ id: r.id, tokens: parseSidKey(r.sid), collision: r.collision, prior: r.prior ?? null }));
  const levels = rows.reduce((m, r) => Math.max(m, r.tokens.length), 0);
  return { rows: rows.filter((r) => r.tokens.length === levels), levels };
}

/** The R2 key of the index artifact of one catalog snapshot (meta.catalog_index points at it). */
export const catalogIndexKey = (catalogVersion: string, cursor: number) => `catalog-index/${catalogVersion}-${cursor}.bin`;

/** `byId: false` leaves out the id order (an index searched by id elsewhere, like the Worker's overlay). */
export function buildSidIndex(rows: readonly SidRow[], levels: number, opts: { byId?: boolean } = {}): SidIndex {
  let base = 1;
  for (const r of rows) {
    if (r.tokens.length !== levels)
      throw new RangeError(`sid index: item ${r.id} has ${r.tokens.length} tokens, the catalog has ${levels} levels`);
    for (let l = 0; l < levels; l++) base = Math.max(base, r.tokens[l] + 1);
  }
  if (base ** levels * 65536 > Number.MAX_SAFE_INTEGER)
    throw new RangeError(`sid index: ${levels} levels of ${base} codes do not fit a code`);
  // one sort key per item: the full SID's code, then the collision index
  const n = rows.length;
  const key = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let code = 0;
    for (let l = 0; l < levels; l++) code = code * base + rows[i].tokens[l];
    key[i] = code * 65536 + Math.min(rows[i].collision, 65535);
    order[i] = i;
  }
  order.sort((a, b) => key[a] - key[b]);

  const collision = new Uint16Array(n);
  const prior = new Float32Array(n);
  const idEnd = new Uint32Array(n);
  const utf8 = new TextEncoder();
  let idBytes = new Uint8Array(Math.max(16, n * 12));
  let idLength = 0;
  const leafCodes: number[] = [];
  const itemStart: number[] = [];
  for (let j = 0; j < n; j++) {
    const r = rows[order[j]];
    const leaf = Math.floor(key[order[j]] / 65536);
    if (leafCodes.length === 0 || leafCodes[leafCodes.length - 1] !== leaf) {
      leafCodes.push(leaf);
      itemStart.push(j);
    }
    collision[j] = r.collision;
    prior[j] = r.prior ?? 0;
    if (idBytes.length - idLength < r.id.length * 3) {
      const grown = new Uint8Array(Math.max(idBytes.length * 2, idLength + r.id.length * 3));
      grown.set(idBytes.subarray(0, idLength));
      idBytes = grown;
    }
    idLength += utf8.encodeInto(r.id, idBytes.subarray(idLength)).written;
    idEnd[j] = idLength;
  }
  itemStart.push(n);

  // Parent prefixes, level by level from the leaves up: a level's codes are its children's codes divided by base.
  const codes: Float64Array[] = new Array(levels);
  const down: Uint32Array[] = new Array(Math.max(levels - 1, 0));
  codes[levels - 1] = Float64Array.from(leafCodes);
  for (let l = levels - 2; l >= 0; l--) {
    const child = codes[l + 1];
    const parents: number[] = [];
    const starts: number[] = [];
    for (let i = 0; i < child.length; i++) {
      const p = Math.floor(child[i] / base);
      if (parents.length === 0 || parents[parents.length - 1] !== p) {
        parents.push(p);
        starts.push(i);
      }
    }
    starts.push(child.length);
    codes[l] = Float64Array.from(parents);
    down[l] = Uint32Array.from(starts);
  }
  const { priorMax, priorMin } = priorBounds(levels, down, itemStart, prior);
  const ids = idBytes.slice(0, idLength);
  const idOrder = opts.byId === false ? null : sortedById(ids, idEnd);
  return {
    levels,
    base,
    codes,
    down,
    itemStart: Uint32Array.from(itemStart),
    collision,
    idBytes: ids,
    idEnd,
    prior,
    priorMax,
    priorMin,
    idOrder,
    size: n,
  };
}

/** Item positions sorted by their ids' bytes. */
function sortedById(ids: Uint8Array, idEnd: Uint32Array): Uint32Array {
  const order = new Uint32Array(idEnd.length);
  for (let j = 0; j < order.length; j++) order[j] = j;
  return order.sort((a, b) => compareBytes(ids, idStart(idEnd, a), idEnd[a], ids, idStart(idEnd, b), idEnd[b]));
}

/** Where item j's id starts in the id bytes (it ends at idEnd[j]). */
const idStart = (idEnd: Uint32Array, j: number): number => (j === 0 ? 0 : idEnd[j - 1]);

/** x[xFrom..xTo] against y[yFrom..yTo], bytewise: ids in UTF-8 compare in code point order. */
function compareBytes(x: Uint8Array, xFrom: number, xTo: number, y: Uint8Array, yFrom: number, yTo: number): number {
  for (let i = xFrom, k = yFrom; ; i++, k++) {
    if (i === xTo) return k === yTo ? 0 : -1;
    if (k === yTo) return 1;
    if (x[i] !== y[k]) return x[i] - y[k];
  }
}

/** Per level, per prefix, the max and min prior of the items under it: leaves from their items, parents from children. */
function priorBounds(
  levels: number,
  down: Uint32Array[],
  itemStart: readonly number[],
  prior: Float32Array,
): { priorMax: Float32Array[]; priorMin: Float32Array[] } {
  const priorMax: Float32Array[] = new Array(levels);
  const priorMin: Float32Array[] = new Array(levels);
  const reduce = (count: number, range: (i: number) => [number, number], max: ArrayLike<number>, min: ArrayLike<number>, l: number) => {
    priorMax[l] = new Float32Array(count);
    priorMin[l] = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const [from, to] = range(i);
      let hi = -Infinity;
      let lo = Infinity;
      for (let c = from; c < to; c++) {
        hi = Math.max(hi, max[c]);
        lo = Math.min(lo, min[c]);
      }
      priorMax[l][i] = hi;
      priorMin[l][i] = lo;
    }
  };
  if (levels === 0) return { priorMax, priorMin };
  reduce(itemStart.length - 1, (j) => [itemStart[j], itemStart[j + 1]], prior, prior, levels - 1);
  for (let l = levels - 2; l >= 0; l--)
    reduce(down[l].length - 1, (i) => [down[l][i], down[l][i + 1]], priorMax[l + 1], priorMin[l + 1], l);
  return { priorMax, priorMin };
}

/** The token a level-l prefix ends with. */
export const tokenAt = (index: SidIndex, level: number, i: number): number => index.codes[level][i] % index.base;

/** Children of level-l prefix i as a range of level-(l+1) prefixes; the root's children are all of level 0. */
export function childRange(index: SidIndex, level: number, i: number): [number, number] {
  if (level < 0) return [0, index.codes[0]?.length ?? 0];
  return [index.down[level][i], index.down[level][i + 1]];
}

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** The id of item j (in leaf order). */
export const itemId = (index: SidIndex, j: number): string =>
  utf8Decoder.decode(index.idBytes.subarray(idStart(index.idEnd, j), index.idEnd[j]));

/** The tokens of level-(L-1) prefix (leaf) j. */
export function leafTokens(index: SidIndex, j: number): number[] {
  const out = new Array<number>(index.levels);
  let code = index.codes[index.levels - 1][j];
  for (let l = index.levels - 1; l >= 0; l--) {
    out[l] = code % index.base;
    code = Math.floor(code / index.base);
  }
  return out;
}

/** Item `id`'s position in leaf order, or -1 when it is not in the index (or the index has no id order). */
export function findItem(index: SidIndex, id: string): number {
  const order = index.idOrder;
  if (!order) return -1;
  const want = utf8Encoder.encode(id);
  const { idBytes, idEnd } = index;
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const j = order[mid];
    const c = compareBytes(idBytes, idStart(idEnd, j), idEnd[j], want, 0, want.length);
    if (c === 0) return j;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/** The leaf (full SID) that item j is under: the last leaf whose range starts at or before j. */
export function leafOf(index: SidIndex, j: number): number {
  let lo = 0;
  let hi = index.itemStart.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (index.itemStart[mid] <= j) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Bytes held by the index's arrays and ids (the isolate's added memory, roughly). */
export function sidIndexBytes(index: SidIndex): number {
  return sectionsOf(index).reduce((a, x) => a + x.byteLength, 0);
}

// The serialised form: "HSIX", a little-endian u32 header length, the header (JSON), then every array at an 8-byte
// aligned offset, in the header's order. `meta` travels with it (the catalog version and cursor it was built at).
const MAGIC = "HSIX";

type Section = Float64Array | Float32Array | Uint32Array | Uint16Array | Uint8Array;
const KINDS = { f64: Float64Array, f32: Float32Array, u32: Uint32Array, u16: Uint16Array, u8: Uint8Array } as const;
const kindOf = (a: Section): keyof typeof KINDS => (Object.keys(KINDS) as (keyof typeof KINDS)[]).find((k) => a instanceof KINDS[k])!;
const sectionsOf = (index: SidIndex): Section[] => [
  ...index.codes,
  ...index.down,
  index.itemStart,
  index.collision,
  index.idEnd,
  index.idBytes,
  index.prior,
  ...index.priorMax,
  ...index.priorMin,
  ...(index.idOrder ? [index.idOrder] : []),
];

export function sidIndexToBytes(index: SidIndex, meta: Record<string, unknown> = {}): Uint8Array {
  const sections = sectionsOf(index);
  const header = new TextEncoder().encode(
    JSON.stringify({
      format: index.idOrder ? 3 : 2,
      levels: index.levels,
      base: index.base,
      size: index.size,
      meta,
      sections: sections.map((a) => [kindOf(a), a.length]),
    }),
  );
  const align = (x: number) => Math.ceil(x / 8) * 8;
  let offset = align(8 + header.length);
  const offsets = sections.map((a) => {
    const at = offset;
    offset = align(at + a.byteLength);
    return at;
  });
  const out = new Uint8Array(offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  sections.forEach((a, i) => out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offsets[i]));
  return out;
}

/** Maps a serialised index back (views on `bytes`, no copy); throws on anything that is not one. */
export function sidIndexFromBytes(bytes: Uint8Array): { index: SidIndex; meta: Record<string, unknown> } {
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice(); // typed-array views need aligned offsets
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw new Error("sid index: not an HSIX buffer");
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as {
    format: number;
    levels: number;
    base: number;
    size: number;
    meta: Record<string, unknown>;
    sections: [keyof typeof KINDS, number][];
  };
  // format 1 (no priors) is read as every item at the catalog's prior 0; formats 1 and 2 have no id order
  const priorSections = h.format >= 2 ? 1 + 2 * h.levels : 0;
  const orderSections = h.format === 3 ? 1 : 0;
  if (![1, 2, 3].includes(h.format) || h.sections.length !== 2 * h.levels - 1 + 4 + priorSections + orderSections)
    throw new Error("sid index: unknown format");
  let offset = Math.ceil((8 + headerLength) / 8) * 8;
  const views = h.sections.map(([kind, length]) => {
    const Kind = KINDS[kind];
    if (offset + length * Kind.BYTES_PER_ELEMENT > bytes.length) throw new Error("sid index: truncated");
    const view = new Kind(bytes.buffer as ArrayBuffer, bytes.byteOffset + offset, length);
    offset = Math.ceil((offset + view.byteLength) / 8) * 8;
    return view;
  });
  const L = h.levels;
  const zeros = (n: number) => new Float32Array(n);
  const p = 2 * L + 3; // the first prior section
  const index: SidIndex = {
    levels: L,
    base: h.base,
    codes: views.slice(0, L) as Float64Array[],
    down: views.slice(L, 2 * L - 1) as Uint32Array[],
    itemStart: views[2 * L - 1] as Uint32Array,
    collision: views[2 * L] as Uint16Array,
    idEnd: views[2 * L + 1] as Uint32Array,
    idBytes: views[2 * L + 2] as Uint8Array,
    prior: priorSections ? (views[p] as Float32Array) : zeros(h.size),
    priorMax: priorSections ? (views.slice(p + 1, p + 1 + L) as Float32Array[]) : views.slice(0, L).map((c) => zeros(c.length)),
    priorMin: priorSections ? (views.slice(p + 1 + L, p + 1 + 2 * L) as Float32Array[]) : views.slice(0, L).map((c) => zeros(c.length)),
    idOrder: orderSections ? (views[p + 1 + 2 * L] as Uint32Array) : null,
    size: h.size,
  };
  return { index, meta: h.meta };
}
