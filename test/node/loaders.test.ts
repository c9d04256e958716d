import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDataset, loadDatasetWithSkips } from "../../scripts/data/load";

function dir(files: Record<string, string | Buffer>): string {
  const d = mkdtempSync(join(tmpdir(), "hsrl-data-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

const MOVIES = [
  "movieId,title,genres",
  "1,Toy Story (1995),Adventure|Animation|Children",
  '11,"American President, The (1995)",Comedy|Drama|Romance',
  '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Fantasy',
  "40,Unrated (2001),(no genres listed)",
].join("\n");
const RATINGS = ["userId,movieId,rating,timestamp", "7,11,4.5,300", "3,1,4.0,100", "7,1,2.5,100", "3,29,5.0,200"].join("\n");

describe("MovieLens CSV", () => {
  it("parses quoted commas, genres, tags; orders interactions by ts then user", () => {
    const d = dir({
      "movies.csv": MOVIES,
      "ratings.csv": `${RATINGS}\n`,
      "tags.csv": ["userId,movieId,tag,timestamp", "3,1,Pixar,1", "7,1,pixar,2", "7,1,fun,3", '3,11,"politics, US",4'].join("\n"),
    });
    const ds = loadDataset(d, "movielens");
    expect(ds.items.map((i) => i.id)).toEqual(["1", "11", "29", "40"]);
    expect(ds.items[1].title).toBe("American President, The (1995)");
    expect(ds.items[2].title).toBe("City of Lost Children, The (Cité des enfants perdus, La) (1995)");
    expect(ds.items[1].genres).toEqual(["Comedy", "Drama", "Romance"]);
    expect(ds.items[3].genres).toEqual([]); // "(no genres listed)"
    expect(ds.items[0].tags).toEqual(["pixar", "fun"]); // aggregated, most frequent first
    expect(ds.items[1].tags).toEqual(["politics, us"]);
    expect(ds.items[0].attributes.year).toBe(1995);
    expect(ds.users).toEqual(["7", "3"]); // order of first appearance in ratings.csv
    expect(ds.interactions.map((x) => [x.ts, ds.users[x.user], ds.items[x.item].id, x.rating])).toEqual([
      [100, "7", "1", 2.5],
      [100, "3", "1", 4],
      [200, "3", "29", 5],
      [300, "7", "11", 4.5],
    ]);
    expect(ds.ratingScale).toEqual({ min: 0.5, max: 5 });
  });

  it("a malformed row fails with file and line", () => {
    const d = dir({ "movies.csv": MOVIES, "ratings.csv": `${RATINGS}\n3,1,four,500\n` });
    expect(() => loadDataset(d, "movielens")).toThrow(/ratings\.csv:6: rating must be a number, got "four"/);
    const d2 = dir({ "movies.csv": `${MOVIES}\n41,Broken`, "ratings.csv": RATINGS });
    expect(() => loadDataset(d2, "movielens")).toThrow(/movies\.csv:6: expected 3 fields/);
    const d3 = dir({ "movies.csv": `${MOVIES}\n42,"Unclosed (1999),Drama`, "ratings.csv": RATINGS });
    expect(() => loadDataset(d3, "movielens")).toThrow(/movies\.csv:6: malformed CSV: quoted field is never closed/);
    const d5 = dir({ "movies.csv": `${MOVIES}\n43,"Bad "quote" (1999)",Drama`, "ratings.csv": RATINGS });
    expect(() => loadDataset(d5, "movielens")).toThrow(/movies\.csv:6: malformed CSV/);
    const d4 = dir({ "movies.csv": MOVIES, "ratings.csv": `${RATINGS}\n3,1,9,500\n` });
    expect(() => loadDataset(d4, "movielens")).toThrow(/ratings\.csv:6: rating 9 outside 0\.5\.\.5/);
    expect(() => loadDataset(join(d, "nope"), "movielens")).toThrow(/movies\.csv: file not found/);
  });

  it("a quoted field may span lines; later line numbers stay right", () => {
    const d = dir({
      "movies.csv": `${MOVIES}\n50,"Two\nLines, (2000)",Drama\n51,Next (2001),Drama\n52,Bad`,
      "ratings.csv": RATINGS,
    });
    expect(() => loadDataset(d, "movielens")).toThrow(/movies\.csv:9: expected 3 fields/);
    const ok = dir({ "movies.csv": `${MOVIES}\n50,"Two\nLines, ""quoted"" (2000)",Drama\n51,Next (2001),Drama`, "ratings.csv": RATINGS });
    const ds = loadDataset(ok, "movielens");
    expect(ds.items[4].title).toBe('Two\nLines, "quoted" (2000)');
    expect(ds.items[5].title).toBe("Next (2001)");
  });

  it("unknown movies are skipped and summarised; --skip-bad-rows turns errors into skips", () => {
    const d = dir({ "movies.csv": MOVIES, "ratings.csv": `${RATINGS}\n3,999,4,500\n3,1,bad,600\n` });
    const { dataset, skipped } = loadDatasetWithSkips(d, "movielens", { skipMalformed: true });
    expect(dataset.interactions).toHaveLength(4);
    expect(skipped.count).toBe(2);
    expect(skipped.reasons[0]).toMatch(/ratings\.csv:6: movieId 999 not in movies\.csv/);
    expect(skipped.reasons[1]).toMatch(/ratings\.csv:7: rating must be a number/);
    let seen = "";
    loadDataset(dir({ "movies.csv": MOVIES, "ratings.csv": `${RATINGS}\n3,999,4,500\n` }), "movielens", {
      onSkipped: (r) => (seen = r.skipped.reasons[0]),
    });
    expect(seen).toMatch(/movieId 999/);
  });
});

describe("ML-100K and ML-1M", () => {
  it("ML-100K: tab-separated u.data, |-separated latin1 u.item with 19 genre flags", () => {
    const flags = (on: number[]) => Array.from({ length: 19 }, (_, g) => (on.includes(g) ? "1" : "0")).join("|");
    const item = Buffer.from(
      `${[`1|Toy Story (1995)|01-Jan-1995||http://x|${flags([3, 4, 5])}`, `2|Café Society (1995)|01-Jan-1995||http://y|${flags([8])}`].join("\n")}\n`,
      "latin1",
    );
    const d = dir({ "u.item": item, "u.data": "196\t2\t3\t881250949\n186\t1\t5\t881250948\n" });
    const ds = loadDataset(d, "ml-100k");
    expect(ds.items[1].title).toBe("Café Society (1995)"); // latin1 decoded
    expect(ds.items[0].genres).toEqual(["Animation", "Children's", "Comedy"]);
    expect(ds.items[1].genres).toEqual(["Drama"]);
    expect(ds.interactions[0]).toEqual({ user: 1, item: 0, rating: 5, ts: 881250948 });
    const bad = dir({ "u.item": item, "u.data": "196\t2\t3\t881250949\n186\t1\n" });
    expect(() => loadDataset(bad, "ml-100k")).toThrow(/u\.data:2: expected 4 tab-separated fields/);
  });

  it("ML-1M: :: separated, latin1", () => {
    const d = dir({
      "movies.dat": Buffer.from(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n3::Ça va (1990)::Drama\n",
        "latin1",
      ),
      "ratings.dat": "1::2::5::978300760\n1::1::3::978300759\n2::3::4::978300761\n",
    });
    const ds = loadDataset(d, "ml-1m");
    expect(ds.items.map((i) => i.title)).toEqual(["Toy Story (1995)", "Jumanji (1995)", "Ça va (1990)"]);
    expect(ds.items[0].genres).toEqual(["Animation", "Children's", "Comedy"]);
    expect(ds.interactions.map((x) => ds.items[x.item].id)).toEqual(["1", "2", "3"]);
    const bad = dir({ "movies.dat": "1::Toy Story (1995)::Comedy\n", "ratings.dat": "1::1::5::978300760\n1::1::x::5\n" });
    expect(() => loadDataset(bad, "ml-1m")).toThrow(/ratings\.dat:2: Rating must be a number/);
  });
});

describe("generic CSV", () => {
  it("ratings with a vector item file -> itemFeatures; unknown items skipped", () => {
    const d = dir({
      "interactions.csv": "user_id,item_id,rating,timestamp\nu1,a,3,10\nu2,b,5,5\nu1,zz,4,1\n",
      "items.csv": "id,f0,f1,f2\na,0.1,0.2,0.3\nb,1,2,3\nc,0,0,1\n",
    });
    const { dataset: ds, skipped } = loadDatasetWithSkips(d, "csv");
    expect(ds.items.map((i) => i.id)).toEqual(["a", "b", "c"]); // c is a cold catalog item
    expect(ds.itemFeatures!.map((v) => Array.from(v))).toEqual([[0.1, 0.2, 0.3].map(Math.fround), [1, 2, 3], [0, 0, 1]]);
    expect(ds.ratingScale).toEqual({ min: 3, max: 5 });
    expect(skipped.count).toBe(1);
    expect(skipped.reasons[0]).toMatch(/interactions\.csv:4: item zz has no feature vector/);
  });

  it("labels with an attribute item file; items implied by interactions when no item file", () => {
    const d = dir({
      "log.csv": "timestamp,user,item,label\n5,u1,x,1\n6,u1,y,0\n",
      "meta.csv": 'item_id,title,genres,brand\nx,"Boots, leather",shoes|outdoor,acme\ny,Hat,hats,\n',
    });
    const ds = loadDataset(join(d, "log.csv"), "csv", { itemsFile: join(d, "meta.csv") });
    expect(ds.ratingScale).toBeNull();
    expect(ds.items[0]).toEqual({
      id: "x",
      title: "Boots, leather",
      genres: ["shoes", "outdoor"],
      tags: [],
      attributes: { brand: "acme" },
    });
    expect(ds.itemFeatures).toBeUndefined();
    const plain = loadDataset(join(d, "log.csv"), "csv");
    expect(plain.items.map((i) => i.id)).toEqual(["x", "y"]);
    writeFileSync(join(d, "bad.csv"), "user,item,label,ts\nu,x,2,5\n");
    expect(() => loadDataset(join(d, "bad.csv"), "csv")).toThrow(/bad\.csv:2: label must be 0 or 1/);
    writeFileSync(join(d, "nohead.csv"), "a,b,c\n1,2,3\n");
    expect(() => loadDataset(join(d, "nohead.csv"), "csv")).toThrow(/nohead\.csv:1: header has no user column/);
  });

  it("unknown formats are refused", () => {
    expect(() => loadDataset("x", "parquet")).toThrow(/unknown data format "parquet"/);
  });
});

const ML = "../shared/data/ml-latest-small";
describe.skipIf(!existsSync(ML))("ml-latest-small (skipped when ../shared/data/ml-latest-small is absent)", () => {
  it("loads the documented counts", () => {
    const { dataset: ds, skipped } = loadDatasetWithSkips(ML, "movielens");
    expect(ds.interactions).toHaveLength(100_836);
    expect(ds.users).toHaveLength(610);
    expect(ds.items).toHaveLength(9_742);
    expect(skipped.count).toBe(0);
    expect(ds.items.filter((i) => i.tags.length > 0).length).toBeGreaterThan(1_500);
    for (let i = 1; i < ds.interactions.length; i++) expect(ds.interactions[i].ts >= ds.interactions[i - 1].ts).toBe(true);
  });
});
