// MovieLens loaders: the CSV releases (ml-latest-small, ml-25m, ...), ML-100K and ML-1M. Items are the movies of the
// item file in file order (movies without ratings stay in the catalog as cold items); users in order of first rating.
import { join } from "node:path";
import { DataError, type ItemMeta } from "./dataset";
import { DatasetBuilder, type LoadOptions, type LoadResult, yearFromTitle } from "./builder";
import { forEachLine, isFile, parseIntField, parseNumberField, readCsv, requireFile, shortName } from "./read";

const NO_GENRES = "(no genres listed)";

function splitGenres(s: string): string[] {
  return s
    .split("|")
    .map((g) => g.trim())
    .filter((g) => g !== "" && g !== NO_GENRES);
}

function movie(id: string, title: string, genres: string[]): ItemMeta {
  const year = yearFromTitle(title);
  return { id, title, genres, tags: [], attributes: year === undefined ? {} : { year } };
}

function checkRating(file: string, line: number, r: number, min: number, max: number): void {
  if (r < min || r > max) throw new DataError(file, line, `rating ${r} outside ${min}..${max}`);
}

function header(file: string, fields: string[] | undefined, expected: string[]): void {
  const got = (fields ?? []).map((f) => f.trim());
  if (expected.some((e, i) => got[i] !== e)) {
    throw new DataError(file, 1, `header must be ${expected.join(",")}, got ${got.join(",")}`);
  }
}

/** ml-latest-small / ml-25m layout: ratings.csv, movies.csv, optional tags.csv (UTF-8, header rows). */
export function loadMovieLensCsv(dir: string, options: LoadOptions = {}): LoadResult {
  const moviesFile = join(dir, "movies.csv");
  const ratingsFile = join(dir, "ratings.csv");
  const tagsFile = join(dir, "tags.csv");
  requireFile(moviesFile, "movies.csv");
  requireFile(ratingsFile, "ratings.csv");
  const b = new DatasetBuilder(options);

  const movies = readCsv(moviesFile);
  header(moviesFile, movies[0]?.fields, ["movieId", "title", "genres"]);
  for (const { line, fields } of movies.slice(1)) {
    b.row(() => {
      if (fields.length !== 3) throw new DataError(moviesFile, line, `expected 3 fields (movieId,title,genres), got ${fields.length}`);
      const id = String(parseIntField(moviesFile, line, "movieId", fields[0]));
      b.addItem(movie(id, fields[1].trim(), splitGenres(fields[2])), moviesFile, line);
    });
  }

  // Ratings have no quoted fields: a plain line split, so ml-25m's 650 MB file streams instead of failing.
  forEachLine(ratingsFile, "utf8", (text, line) => {
    if (line === 1) return header(ratingsFile, text.split(","), ["userId", "movieId", "rating", "timestamp"]);
    if (text.trim() === "") return;
    b.row(() => {
      const f = text.split(",");
      if (f.length !== 4) throw new DataError(ratingsFile, line, `expected 4 fields (userId,movieId,rating,timestamp), got ${f.length}`);
      const user = String(parseIntField(ratingsFile, line, "userId", f[0]));
      const movieId = String(parseIntField(ratingsFile, line, "movieId", f[1]));
      const rating = parseNumberField(ratingsFile, line, "rating", f[2]);
      checkRating(ratingsFile, line, rating, 0.5, 5);
      const ts = parseIntField(ratingsFile, line, "timestamp", f[3]);
      const item = b.item(movieId);
      if (item === undefined) return b.skip(`${shortName(ratingsFile)}:${line}: movieId ${movieId} not in movies.csv`);
      b.interactions.push({ user: b.user(user), item, rating, ts });
    });
  });

  // Tags: aggregated per movie, lower-cased, most frequent first (ties alphabetical) so the order is deterministic.
  if (isFile(tagsFile)) {
    const counts = new Map<number, Map<string, number>>();
    const rows = readCsv(tagsFile);
    header(tagsFile, rows[0]?.fields, ["userId", "movieId", "tag", "timestamp"]);
    for (const { line, fields } of rows.slice(1)) {
      b.row(() => {
        if (fields.length !== 4)
          throw new DataError(tagsFile, line, `expected 4 fields (userId,movieId,tag,timestamp), got ${fields.length}`);
        const movieId = String(parseIntField(tagsFile, line, "movieId", fields[1]));
        const item = b.item(movieId);
        if (item === undefined) return b.skip(`${shortName(tagsFile)}:${line}: movieId ${movieId} not in movies.csv`);
        const tag = fields[2].trim().toLowerCase();
        if (tag === "") return;
        const m = counts.get(item) ?? new Map<string, number>();
        m.set(tag, (m.get(tag) ?? 0) + 1);
        counts.set(item, m);
      });
    }
    for (const [item, m] of counts) {
      b.items[item].tags = [...m].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([t]) => t);
    }
  }
  return b.finish(`movielens:${shortName(dir)}`, { min: 0.5, max: 5 });
}

export const ML100K_GENRES = [
  "unknown",
  "Action",
  "Adventure",
  "Animation",
  "Children's",
  "Comedy",
  "Crime",
  "Documentary",
  "Drama",
  "Fantasy",
  "Film-Noir",
  "Horror",
  "Musical",
  "Mystery",
  "Romance",
  "Sci-Fi",
  "Thriller",
  "War",
  "Western",
];

/** ML-100K: u.data (user \t item \t rating \t ts) and u.item (| separated, latin1, 19 genre flags). */
export function loadMl100k(dir: string, options: LoadOptions = {}): LoadResult {
  const itemFile = join(dir, "u.item");
  const dataFile = join(dir, "u.data");
  requireFile(itemFile, "u.item");
  requireFile(dataFile, "u.data");
  const b = new DatasetBuilder(options);
  forEachLine(itemFile, "latin1", (text, line) => {
    if (text.trim() === "") return;
    b.row(() => {
      const f = text.split("|");
      if (f.length !== 5 + ML100K_GENRES.length) {
        throw new DataError(itemFile, line, `expected ${5 + ML100K_GENRES.length} |-separated fields, got ${f.length}`);
      }
      const id = String(parseIntField(itemFile, line, "movie id", f[0]));
      const genres = ML100K_GENRES.filter((_, g) => {
        const flag = f[5 + g].trim();
        if (flag !== "0" && flag !== "1")
          throw new DataError(itemFile, line, `genre flag ${g + 1} must be 0 or 1, got ${JSON.stringify(flag)}`);
        return flag === "1";
      }).filter((g) => g !== "unknown");
      const m = movie(id, f[1].trim(), genres);
      if (f[2].trim()) m.attributes.releaseDate = f[2].trim();
      b.addItem(m, itemFile, line);
    });
  });
  forEachLine(dataFile, "latin1", (text, line) => {
    if (text.trim() === "") return;
    b.row(() => {
      const f = text.trim().split(/\t/);
      if (f.length !== 4)
        throw new DataError(dataFile, line, `expected 4 tab-separated fields (user item rating timestamp), got ${f.length}`);
      const rating = parseNumberField(dataFile, line, "rating", f[2]);
      checkRating(dataFile, line, rating, 1, 5);
      const ts = parseIntField(dataFile, line, "timestamp", f[3]);
      const itemId = String(parseIntField(dataFile, line, "item id", f[1]));
      const item = b.item(itemId);
      if (item === undefined) return b.skip(`${shortName(dataFile)}:${line}: item ${itemId} not in u.item`);
      b.interactions.push({ user: b.user(String(parseIntField(dataFile, line, "user id", f[0]))), item, rating, ts });
    });
  });
  return b.finish(`ml-100k:${shortName(dir)}`, { min: 1, max: 5 });
}

/** ML-1M: ratings.dat (UserID::MovieID::Rating::Timestamp) and movies.dat (MovieID::Title::Genres), latin1. */
export function loadMl1m(dir: string, options: LoadOptions = {}): LoadResult {
  const moviesFile = join(dir, "movies.dat");
  const ratingsFile = join(dir, "ratings.dat");
  requireFile(moviesFile, "movies.dat");
  requireFile(ratingsFile, "ratings.dat");
  const b = new DatasetBuilder(options);
  forEachLine(moviesFile, "latin1", (text, line) => {
    if (text.trim() === "") return;
    b.row(() => {
      const f = text.split("::");
      if (f.length !== 3) throw new DataError(moviesFile, line, `expected 3 ::-separated fields (MovieID::Title::Genres), got ${f.length}`);
      const id = String(parseIntField(moviesFile, line, "MovieID", f[0]));
      b.addItem(movie(id, f[1].trim(), splitGenres(f[2])), moviesFile, line);
    });
  });
  forEachLine(ratingsFile, "latin1", (text, line) => {
    if (text.trim() === "") return;
    b.row(() => {
      const f = text.split("::");
      if (f.length !== 4)
        throw new DataError(ratingsFile, line, `expected 4 ::-separated fields (UserID::MovieID::Rating::Timestamp), got ${f.length}`);
      const rating = parseNumberField(ratingsFile, line, "Rating", f[2]);
      checkRating(ratingsFile, line, rating, 1, 5);
      const ts = parseIntField(ratingsFile, line, "Timestamp", f[3]);
      const movieId = String(parseIntField(ratingsFile, line, "MovieID", f[1]));
      const item = b.item(movieId);
      if (item === undefined) return b.skip(`${shortName(ratingsFile)}:${line}: MovieID ${movieId} not in movies.dat`);
      b.interactions.push({ user: b.user(String(parseIntField(ratingsFile, line, "UserID", f[0]))), item, rating, ts });
    });
  });
  return b.finish(`ml-1m:${shortName(dir)}`, { min: 1, max: 5 });
}
