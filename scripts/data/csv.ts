// Generic CSV: an interactions file with a header naming user, item, rating|label, timestamp (any order; a few
// common aliases accepted) and an optional item file: id + numeric vector columns (-> Dataset.itemFeatures) or id +
// categorical attribute columns (title / genres / tags recognised, genres and tags split on "|").
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataError, type ItemMeta } from "./dataset";
import { DatasetBuilder, type LoadOptions, type LoadResult } from "./builder";
import { forEachCsvRecord, parseIntField, parseNumberField, readCsv, requireFile, shortName } from "./read";

const ALIASES: Record<string, string[]> = {
  user: ["user", "user_id", "userid", "uid"],
  item: ["item", "item_id", "itemid", "iid", "movieid"],
  rating: ["rating", "score"],
  label: ["label", "click", "clicked"],
  timestamp: ["timestamp", "ts", "time"],
  id: ["id", "item", "item_id", "itemid", "iid", "movieid"],
};

function column(file: string, head: string[], name: string, required: boolean): number {
  const i = head.findIndex((h) => ALIASES[name].includes(h.trim().toLowerCase()));
  if (i < 0 && required)
    throw new DataError(file, 1, `header has no ${name} column (accepted: ${ALIASES[name].join(", ")}); got ${head.join(",")}`);
  return i;
}

/** `path` is the interactions CSV, or a directory holding interactions.csv (and optionally items.csv). */
export function loadGenericCsv(path: string, options: LoadOptions = {}): LoadResult {
  let file = path;
  let itemsFile = options.itemsFile;
  if (existsSync(path) && statSync(path).isDirectory()) {
    file = join(path, "interactions.csv");
    if (!itemsFile && existsSync(join(path, "items.csv"))) itemsFile = join(path, "items.csv");
  }
  requireFile(file, "interactions CSV");
  const b = new DatasetBuilder(options);

  // Items first when given, so catalog order is the item file's order and cold items are kept.
  let vectors: Map<string, Float32Array> | null = null;
  if (itemsFile) vectors = loadItems(itemsFile, b);

  // Streamed: an interaction log may be larger than what fits in one string.
  let head: string[] | null = null;
  let cu = -1,
    ci = -1,
    cv = -1,
    ct = -1;
  let binary = false;
  let min = Infinity;
  let max = -Infinity;
  forEachCsvRecord(file, "utf8", (fields, line) => {
    if (head === null) {
      head = fields;
      cu = column(file, head, "user", true);
      ci = column(file, head, "item", true);
      const cr = column(file, head, "rating", false);
      const cl = column(file, head, "label", false);
      ct = column(file, head, "timestamp", true);
      if (cr < 0 === cl < 0) throw new DataError(file, 1, "header needs exactly one of a rating column or a label column");
      binary = cr < 0;
      cv = binary ? cl : cr;
      return;
    }
    const width = head.length;
    b.row(() => {
      if (fields.length !== width) throw new DataError(file, line, `expected ${width} fields, got ${fields.length}`);
      const userId = fields[cu].trim();
      const itemId = fields[ci].trim();
      if (userId === "") throw new DataError(file, line, "empty user id");
      if (itemId === "") throw new DataError(file, line, "empty item id");
      const value = parseNumberField(file, line, binary ? "label" : "rating", fields[cv]);
      if (binary && value !== 0 && value !== 1) throw new DataError(file, line, `label must be 0 or 1, got ${fields[cv]}`);
      const ts = parseIntField(file, line, "timestamp", fields[ct]);
      let item = b.item(itemId);
      if (item === undefined) {
        if (vectors) return b.skip(`${shortName(file)}:${line}: item ${itemId} has no feature vector in ${shortName(itemsFile!)}`);
        if (itemsFile) return b.skip(`${shortName(file)}:${line}: item ${itemId} not in ${shortName(itemsFile)}`);
        b.addItem({ id: itemId, title: itemId, genres: [], tags: [], attributes: {} }, file, line);
        item = b.item(itemId)!;
      }
      min = Math.min(min, value);
      max = Math.max(max, value);
      b.interactions.push({ user: b.user(userId), item, rating: value, ts });
    });
  });
  if (head === null) throw new DataError(file, null, "empty file");
  const features = vectors ? b.items.map((it) => vectors!.get(it.id)!) : undefined;
  return b.finish(`csv:${shortName(path)}`, binary ? null : { min, max }, features);
}

/** Adds every item of the item file to the builder; returns the vectors when the file is a vector file. */
function loadItems(file: string, b: DatasetBuilder): Map<string, Float32Array> | null {
  requireFile(file, "item file");
  const rows = readCsv(file);
  if (rows.length < 2) throw new DataError(file, null, "item file needs a header and at least one row");
  const head = rows[0].fields.map((h) => h.trim());
  const cid = column(file, head, "id", true);
  const others = head.map((_, i) => i).filter((i) => i !== cid);
  if (others.length === 0) throw new DataError(file, 1, "item file has only an id column");
  // A vector file: every non-id value numeric. Otherwise the columns are attributes.
  const isVector = rows
    .slice(1)
    .every(({ fields }) => others.every((i) => fields[i] !== undefined && fields[i].trim() !== "" && Number.isFinite(Number(fields[i]))));
  const vectors = isVector ? new Map<string, Float32Array>() : null;
  for (const { line, fields } of rows.slice(1)) {
    b.row(() => {
      if (fields.length !== head.length) throw new DataError(file, line, `expected ${head.length} fields, got ${fields.length}`);
      const id = fields[cid].trim();
      if (id === "") throw new DataError(file, line, "empty item id");
      const meta: ItemMeta = { id, title: id, genres: [], tags: [], attributes: {} };
      if (vectors) {
        vectors.set(
          id,
          Float32Array.from(others, (i) => parseNumberField(file, line, head[i], fields[i])),
        );
      } else {
        for (const i of others) {
          const name = head[i];
          const v = fields[i].trim();
          const key = name.toLowerCase();
          if (key === "title" || key === "name") meta.title = v || id;
          else if (key === "genres" || key === "genre" || key === "category")
            meta.genres = v
              .split("|")
              .map((s) => s.trim())
              .filter(Boolean);
          else if (key === "tags")
            meta.tags = v
              .split("|")
              .map((s) => s.trim().toLowerCase())
              .filter(Boolean);
          else if (v !== "") meta.attributes[name] = v;
        }
      }
      b.addItem(meta, file, line);
    });
  }
  return vectors;
}
