// Item feature vectors for NEW items, in the space the codebook was built in — shared by the offline builder and the
// Worker, so a new item gets exactly the vector (and therefore the SID) the build would have given it.
//
// The offline features (scripts/sids/features.ts) are linear: features(item) = unit((row − μ) · V), where row is the
// item's sparse row (users it was rated by, content tokens), μ the column means and V the d principal directions.
// A new item has no interactions yet, so its row is its content only; the encoder stores V's content-token rows and
// μ·V, and this file holds the tokenisation and row weighting both sides use. For datasets that supply their own item
// vectors the encoder is the projection of those vectors instead.
import { sha256Hex } from "./sha256";

export interface ContentMeta {
  genres: string[];
  tags: string[];
  attributes: Record<string, unknown>;
}

/** Token groups of the content block and their share of its squared norm. */
export const CONTENT_GROUPS: readonly (readonly [prefix: string, share: number])[] = [
  ["g:", 0.6],
  ["t:", 0.25],
  ["a:", 0.15],
];

/**
 * Content tokens of an item: genres (g:), tags (t:), attributes (a:) — a numeric year becomes its decade, short string
 * values become key=value. Lower-cased, de-duplicated, in that order.
 */
export function contentTokens(meta: ContentMeta): string[] {
  const out = [...new Set(meta.genres.map((g) => `g:${g.toLowerCase()}`)), ...new Set(meta.tags.map((t) => `t:${t.toLowerCase()}`))];
  const attrs = new Set<string>();
  for (const [key, value] of Object.entries(meta.attributes ?? {})) {
    if (key === "year" && typeof value === "number" && Number.isFinite(value)) attrs.add(`a:decade=${Math.floor(value / 10) * 10}`);
    else if (typeof value === "string" && value.length > 0 && value.length <= 40)
      attrs.add(`a:${key.toLowerCase()}=${value.toLowerCase()}`);
  }
  return [...out, ...attrs];
}

/**
 * The content part of an item's row: per group, IDF weights normalised to norm sqrt(contentWeight · share).
 * `column(token)` gives the token's column and IDF, or undefined for tokens outside the vocabulary.
 */
export function contentRow(
  tokens: string[],
  column: (token: string) => { column: number; idf: number } | undefined,
  contentWeight: number,
): { columns: number[]; values: number[] } {
  const columns: number[] = [];
  const values: number[] = [];
  for (const [prefix, share] of CONTENT_GROUPS) {
    const hits = tokens
      .filter((t) => t.startsWith(prefix))
      .map(column)
      .filter((c) => c !== undefined);
    let norm = 0;
    for (const h of hits) norm += h.idf * h.idf;
    const k = Math.sqrt(contentWeight * share) / (Math.sqrt(norm) || 1);
    for (const h of hits) {
      columns.push(h.column);
      values.push(h.idf * k);
    }
  }
  return { columns, values };
}

/** (row − μ)·V for a sparse row: Σ_p value_p · V[column_p] − μ·V. V is row-major (columns x d). */
export function projectRow(
  columns: ArrayLike<number>,
  values: ArrayLike<number>,
  v: ArrayLike<number>,
  d: number,
  meanV: ArrayLike<number>,
  out: Float64Array,
): Float64Array {
  out.fill(0);
  for (let p = 0; p < columns.length; p++) {
    const x = values[p],
      base = columns[p] * d;
    for (let j = 0; j < d; j++) out[j] += x * v[base + j];
  }
  for (let j = 0; j < d; j++) out[j] -= meanV[j];
  return out;
}

/** L2-normalised float32 copy (the zero vector stays zero). */
export function unitFloat32(x: ArrayLike<number>, out = new Float32Array(x.length)): Float32Array {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += x[j] * x[j];
  const inv = s > 1e-24 ? 1 / Math.sqrt(s) : 0;
  for (let j = 0; j < x.length; j++) out[j] = x[j] * inv;
  return out;
}

/**
 * The optional popularity coordinate appended to every feature vector: the unit vector scaled by sqrt(1 - weight),
 * then sqrt(weight) · (log(1 + positives) - mean) / sd, with mean and sd over the build's items. Item vectors are unit
 * length, so without it no SID token can tell a widely liked item from a niche one. A new item has no positives yet.
 */
export interface PopularityCoordinate {
  weight: number; // share of the squared norm, in (0, 1)
  mean: number;
  sd: number;
}

export function withPopularity(unit: ArrayLike<number>, positives: number, p: PopularityCoordinate): Float32Array {
  const out = new Float32Array(unit.length + 1);
  const a = Math.sqrt(1 - p.weight);
  for (let j = 0; j < unit.length; j++) out[j] = unit[j] * a;
  out[unit.length] = (Math.sqrt(p.weight) * (Math.log1p(positives) - p.mean)) / p.sd;
  return out;
}

/** Length of the vectors an encoder produces (the codebook's dimension). */
export function encoderOutputDim(e: ItemEncoder): number {
  return e.dim + (e.popularity ? 1 : 0);
}

export type ItemEncoder = (
  | {
      kind: "content";
      version: string;
      dim: number;
      contentWeight: number;
      tokens: string[]; // vocabulary, in column order
      idf: number[];
      components: number[]; // tokens.length x dim, row-major: V's rows for the content columns
      meanV: number[]; // μ·V over all columns (users included)
    }
  | {
      kind: "vector";
      version: string;
      dim: number;
      width: number; // length of the raw vectors
      components: number[] | null; // width x dim, or null: the raw vector is used as is (width <= d)
      meanV: number[]; // μ·V (zeros when components is null)
    }
) & { popularity?: PopularityCoordinate };

export type ItemEncoderJson = ItemEncoder & { format: "hsrl-item-encoder" };

/** Content hash of an encoder (its numbers and vocabulary). */
export function itemEncoderVersion(e: Omit<ItemEncoder, "version">): string {
  const { version: _ignored, ...rest } = e as ItemEncoder;
  return sha256Hex(new TextEncoder().encode(JSON.stringify(rest))).slice(0, 16);
}

export function itemEncoderToJson(e: ItemEncoder): ItemEncoderJson {
  return { format: "hsrl-item-encoder", ...e };
}

export function itemEncoderFromJson(json: unknown): ItemEncoder {
  const o = (typeof json === "string" ? JSON.parse(json) : json) as Partial<ItemEncoderJson> | null;
  if (o?.format !== "hsrl-item-encoder") throw new Error('item encoder: format must be "hsrl-item-encoder"');
  const { format: _f, ...e } = o as ItemEncoderJson;
  if (!Number.isInteger(e.dim) || e.dim < 1) throw new Error(`item encoder: bad dim ${e.dim}`);
  if (!Array.isArray(e.meanV) || e.meanV.length !== e.dim) throw new Error("item encoder: meanV must have dim numbers");
  if (e.kind === "content") {
    if (!Array.isArray(e.tokens) || !Array.isArray(e.idf) || e.idf.length !== e.tokens.length)
      throw new Error("item encoder: tokens and idf must be arrays of one length");
    if (!Array.isArray(e.components) || e.components.length !== e.tokens.length * e.dim)
      throw new Error("item encoder: components must be tokens x dim numbers");
  } else if (e.kind === "vector") {
    if (e.components !== null && (!Array.isArray(e.components) || e.components.length !== e.width * e.dim))
      throw new Error("item encoder: components must be width x dim numbers");
  } else throw new Error(`item encoder: unknown kind ${JSON.stringify((e as { kind?: unknown }).kind)}`);
  const p = e.popularity;
  if (p !== undefined && !(p && p.weight > 0 && p.weight < 1 && Number.isFinite(p.mean) && p.sd > 0)) {
    throw new Error("item encoder: popularity must have weight in (0, 1), a finite mean and sd > 0");
  }
  const version = itemEncoderVersion(e);
  if (e.version !== version) throw new Error(`item encoder: stored version ${e.version} does not match its content hash ${version}`);
  return e as ItemEncoder;
}

/** Feature vector of a new item from its content (kind "content"): what the build gives a catalog item with no ratings. */
export function encodeItemContent(e: ItemEncoder, meta: ContentMeta): Float32Array {
  if (e.kind !== "content") throw new Error("item encoder: this catalog's features are supplied vectors; use encodeItemVector");
  const index = tokenIndex(e);
  const { columns, values } = contentRow(
    contentTokens(meta),
    (t) => {
      const i = index.get(t);
      return i === undefined ? undefined : { column: i, idf: e.idf[i] };
    },
    e.contentWeight,
  );
  return coldItem(e, unitFloat32(projectRow(columns, values, e.components, e.dim, e.meanV, new Float64Array(e.dim))));
}

/** Whether any of an item's genres, tags or attributes is in a content encoder's vocabulary (else it encodes to ~0). */
export function knowsContent(e: ItemEncoder & { kind: "content" }, meta: ContentMeta): boolean {
  const index = tokenIndex(e);
  return contentTokens(meta).some((t) => index.has(t));
}

// Column of each vocabulary token, built once per encoder object (the Worker encodes every item of a batch with the
// same cached encoder). Encoders are not mutated after they are made, so the index never goes stale.
const tokenIndices = new WeakMap<ItemEncoder, Map<string, number>>();

function tokenIndex(e: ItemEncoder & { kind: "content" }): Map<string, number> {
  let index = tokenIndices.get(e);
  if (!index) {
    index = new Map(e.tokens.map((t, i) => [t, i]));
    tokenIndices.set(e, index);
  }
  return index;
}

/** A new item has no positive feedback yet: its popularity coordinate (if the catalog has one) is that of 0 positives. */
function coldItem(e: ItemEncoder, unit: Float32Array): Float32Array {
  return e.popularity ? withPopularity(unit, 0, e.popularity) : unit;
}

/** Feature vector of a new item from its raw vector (kind "vector"). */
export function encodeItemVector(e: ItemEncoder, raw: ArrayLike<number>): Float32Array {
  if (e.kind !== "vector") throw new Error("item encoder: this catalog's features come from content; use encodeItemContent");
  if (raw.length !== e.width) throw new Error(`item encoder: raw vector has ${raw.length} values, expected ${e.width}`);
  if (e.components === null) return coldItem(e, unitFloat32(raw));
  const cols = Array.from({ length: e.width }, (_, c) => c);
  return coldItem(e, unitFloat32(projectRow(cols, raw, e.components, e.dim, e.meanV, new Float64Array(e.dim))));
}
