// The isolate's prefix index (worker/catalog-index.ts): built from D1 when there is no artifact, mapped from the R2
// artifact when there is one, and kept current after writes by a delta overlay instead of a rebuild.
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { codebookFromJson, encodeSid, sidKey } from "../../core/codebook";
import { buildSidIndex, sidIndexToBytes } from "../../core/sid-index";
import { resetCatalogCache } from "../../worker/catalog";
import { artifactCacheUrl, catalogDeltaQuery, catalogIndex, publishCatalogIndex, resetCatalogIndex } from "../../worker/catalog-index";
import { database } from "../../worker/db/client";
import { readVersionsNow } from "../../worker/db/meta";
import codebookJson from "../fixtures/codebook.json";
import { post, resetToFixtureCatalog, insertItemElsewhere } from "./helpers";

const admin = { authorization: "Bearer test-admin-token" };
const codebook = codebookFromJson(codebookJson);
const features = (seed: number) => Array.from({ length: codebook.dim }, (_, j) => Math.sin(seed * 12.9898 + j * 78.233));

async function recommend(k: number): Promise<{ ids: string[]; index: string; unknown: string[] }> {
  const res = await post("/v1/recommend", { history: ["item-3"], k });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { items: { id: string }[]; unknownHistory: string[] };
  return { ids: body.items.map((i) => i.id), index: res.headers.get("x-catalog-index") ?? "", unknown: body.unknownHistory };
}

const admin_ = (method: string, path: string, body?: unknown) =>
  exports.default.fetch(`http://edge${path}`, {
    method,
    headers: { "content-type": "application/json", ...admin },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeEach(async () => {
  await resetToFixtureCatalog();
  resetCatalogIndex();
});

describe("catalog prefix index", () => {
  it("is built from D1 without an artifact, and mapped from R2 once one is published, with the same answers", async () => {
    const fromD1 = await recommend(40);
    expect(fromD1.index).toMatch(/^d1 base=40 overlay=0/);
    const published = await admin_("POST", "/v1/admin/catalog/index");
    expect(published.status).toBe(200);
    expect(await published.json()).toMatchObject({ catalogIndex: "published", items: 40 });
    resetCatalogIndex(); // a cold isolate
    const fromR2 = await recommend(40);
    expect(fromR2.index).toMatch(/^r2 base=40/);
    expect(fromR2.ids).toEqual(fromD1.ids);
  });

  it("shows a PUT at the next recommend through the overlay, and never a retired item, without a rebuild", async () => {
    await admin_("POST", "/v1/admin/catalog/index");
    resetCatalogIndex();
    const before = await recommend(10);
    expect(before.index).toMatch(/^r2 base=40 /); // the overlay holds the rows of the cursor's millisecond, if any

    const put = await admin_("PUT", "/v1/items", { items: [{ id: "fresh-1", features: features(7), attributes: { title: "Fresh" } }] });
    expect(put.status).toBe(200);
    const after = await recommend(41);
    // the PUT's row came with the versions in the recommend's one batch: no delta read of its own
    expect(after.index).toMatch(/^r2 base=40 overlay=\d+ deltas=1 bytes=\d+$/);
    expect(after.ids).toContain("fresh-1");
    expect(after.ids).toHaveLength(40); // 41 active items less the history's item-3

    const top = before.ids[0];
    expect((await admin_("DELETE", `/v1/items/${top}`)).status).toBe(200);
    const retired = await recommend(41);
    expect(retired.index).toMatch(/^r2 base=40 overlay=\d+ deltas=1 bytes=\d+$/);
    expect(retired.ids).not.toContain(top);
    expect(retired.ids).toHaveLength(39);
  });

  it("concurrent cold requests share one load and give the same answer (also right after a catalog write)", async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => recommend(5)));
    for (const a of answers) expect(a).toEqual(answers[0]);
  });

  it("reads the colo's Cache API copy once R2 has filled it, and refuses a corrupt or mismatched copy for R2", async () => {
    await admin_("POST", "/v1/admin/catalog/index");
    const pointer = JSON.parse(
      ((await env.DB.prepare("SELECT value FROM meta WHERE key = 'catalog_index'").first<{ value: string }>()) ?? { value: "{}" }).value,
    ) as { key: string; cursor: number; codebook: string };
    const url = artifactCacheUrl(pointer.key);
    resetCatalogIndex();
    const fromR2 = await recommend(10);
    expect(fromR2.index).toMatch(/^r2 base=40 /);
    // the copy is put after the answer (waitUntil): wait for it to land
    for (let i = 0; i < 50 && !(await caches.default.match(url)); i++) await new Promise((r) => setTimeout(r, 20));
    resetCatalogIndex();
    const fromCache = await recommend(10);
    expect(fromCache.index).toMatch(/^cache base=40 /);
    expect(fromCache.ids).toEqual(fromR2.ids);

    const other = sidIndexToBytes(buildSidIndex([{ id: "stranger", tokens: [1, 2, 3], collision: 0 }], 3), {
      cursor: pointer.cursor + 1,
      catalogVersion: "another",
      codebook: pointer.codebook,
    });
    for (const copy of [new TextEncoder().encode("not an index at all"), other]) {
      await caches.default.put(url, new Response(copy));
      resetCatalogIndex();
      const refused = await recommend(10);
      expect(refused.index).toMatch(/^r2 base=40 /);
      expect(refused.ids).toEqual(fromR2.ids);
    }
  });

  it("falls back to D1 when the artifact named by meta is missing from R2", async () => {
    const pointer = { key: "catalog-index/gone.bin", cursor: 0, codebook: codebook.version, items: 40 };
    await env.DB.prepare("INSERT INTO meta (key, value) VALUES ('catalog_index', ?)").bind(JSON.stringify(pointer)).run();
    const res = await recommend(5);
    expect(res.index).toMatch(/^d1 base=40/);
  });

  it("a warm rerank, and a warm recommend whose items are cached, take one D1 round trip", async () => {
    const trips = (res: Response) => Number(/d1;dur=[\d.]+;desc="(\d+) round trips"/.exec(res.headers.get("server-timing") ?? "")?.[1]);
    const rerank = () => post("/v1/rerank", { history: ["item-3"], candidates: ["item-1", "item-2", "item-5"] });
    await rerank();
    expect(trips(await rerank())).toBe(1);
    await recommend(5);
    const again = await post("/v1/recommend", { history: ["item-3"], k: 5 });
    expect(trips(again)).toBe(1);
  });

  it("a warm recommend with a cached history takes one round trip, and still sees another isolate's write", async () => {
    const trips = (res: Response) => Number(/d1;dur=[\d.]+;desc="(\d+) round trips"/.exec(res.headers.get("server-timing") ?? "")?.[1]);
    await recommend(3); // item-3 and the top 3 cached
    const wider = await post("/v1/recommend", { history: ["item-3"], k: 20 }); // 17 of the top 20 not cached
    expect(trips(wider)).toBe(1);
    expect(((await wider.json()) as { items: unknown[] }).items).toHaveLength(20);

    // a PUT through another isolate: a row and a new catalog version this isolate's cache knows nothing of
    const sid = sidKey(encodeSid(codebook, features(11)));
    await env.DB.batch([
      insertItemElsewhere("elsewhere", sid, codebook.version, "E"),
      env.DB.prepare("UPDATE meta SET value = 'moved-elsewhere' WHERE key = 'catalog_version'"),
    ]);
    const res = await post("/v1/recommend", { history: ["item-3"], k: 41 });
    // the guess was checked and found stale; its round trip brought the history and the index's delta, so: that one,
    // and the new top k's attributes ("elsewhere" was never read)
    expect(trips(res)).toBe(2);
    const body = (await res.json()) as { items: { id: string; attributes: Record<string, unknown> }[] };
    expect(body.items.find((i) => i.id === "elsewhere")?.attributes).toEqual({ title: "E" });
    expect(body.items).toHaveLength(40);
  });

  it("a warm recommend resolves a history the cache lacks from the index: one round trip, a cold isolate's answer", async () => {
    const trips = (res: Response) => Number(/d1;dur=[\d.]+;desc="(\d+) round trips"/.exec(res.headers.get("server-timing") ?? "")?.[1]);
    const first = await recommend(3); // the index is warm; item-3 and the top 3 are cached
    const history = Array.from({ length: 40 }, (_, i) => `item-${i}`)
      .filter((id) => id !== "item-3" && !first.ids.includes(id))
      .slice(0, 2);
    const ask = () => post("/v1/recommend", { history, k: 5 });
    const warm = await ask();
    expect(trips(warm)).toBe(1);
    resetCatalogIndex();
    resetCatalogCache();
    const cold = await ask();
    const answer = async (res: Response) => {
      const { items, unknownHistory, model } = (await res.json()) as Record<string, unknown>;
      return { items, unknownHistory, model };
    };
    expect(await answer(warm)).toEqual(await answer(cold));

    // an id the index does not hold as active goes to D1: an unknown one is reported, a retired one is not
    expect((await admin_("DELETE", `/v1/items/${history[1]}`)).status).toBe(200);
    await recommend(3);
    const mixed = await post("/v1/recommend", { history: [history[0], history[1], "no-such-item"], k: 5 });
    const body = (await mixed.json()) as { items: { id: string }[]; unknownHistory: string[] };
    expect(body.unknownHistory).toEqual(["no-such-item"]);
    expect(body.items.map((i) => i.id)).not.toContain(history[0]);
  });

  it("after another isolate's write, one round trip brings the new versions, the index's delta and the answer", async () => {
    const trips = (res: Response) => Number(/d1;dur=[\d.]+;desc="(\d+) round trips"/.exec(res.headers.get("server-timing") ?? "")?.[1]);
    // the catalog's rows written a minute ago, so the write below is the only row at or after the index's cursor
    await env.DB.batch([
      env.DB.prepare("UPDATE items SET updated_at = updated_at - 60000"),
      env.DB.prepare("UPDATE meta SET value = 'aged' WHERE key = 'catalog_version'"),
    ]);
    await recommend(41);
    const before = await recommend(41); // every item's attributes cached
    const gone = before.ids[before.ids.length - 1];
    await env.DB.batch([
      env.DB.prepare(
        "UPDATE items SET status = 'retired', retired_by = 'delete', updated_at = unixepoch('subsec') * 1000 WHERE id = ?1",
      ).bind(gone),
      env.DB.prepare("UPDATE meta SET value = 'moved-elsewhere' WHERE key = 'catalog_version'"),
    ]);
    const res = await post("/v1/recommend", { history: ["item-3"], k: 41 });
    expect(trips(res)).toBe(1);
    const ids = ((await res.json()) as { items: { id: string }[] }).items.map((i) => i.id);
    expect(ids).toEqual(before.ids.filter((id) => id !== gone));
    const deltas = (s: string) => /deltas=(\d+)/.exec(s)?.[1];
    expect(deltas(res.headers.get("x-catalog-index") ?? "")).toBe(deltas(before.index)); // no delta read of its own
  });

  it("the delta read returns nothing while the catalog is at the index's version, the rows since its cursor after", async () => {
    await recommend(3);
    const index = await catalogIndex(env, await readVersionsNow(env));
    const db = database(env.DB);
    await env.DB.prepare("UPDATE items SET updated_at = ?1 WHERE id = 'item-1'").bind(index.cursor).run(); // at the cursor
    expect(await catalogDeltaQuery(db, index)).toEqual([]);
    await env.DB.prepare("UPDATE meta SET value = 'moved' WHERE key = 'catalog_version'").run();
    expect((await catalogDeltaQuery(db, index)).map((r) => r.id)).toContain("item-1");
  });

  it("reads through a D1 session: a write answers its bookmark, and a recommend given it reads the write", async () => {
    const put = await admin_("PUT", "/v1/items", { items: [{ id: "bm-1", features: features(5), attributes: { title: "B" } }] });
    expect(put.status).toBe(200);
    const bookmark = put.headers.get("x-d1-bookmark");
    expect(bookmark).toMatch(/^[0-9a-zA-Z-]+$/);
    const res = await exports.default.fetch("http://edge/v1/recommend", {
      method: "POST",
      headers: { "content-type": "application/json", "x-d1-bookmark": bookmark! },
      body: JSON.stringify({ history: ["item-3"], k: 41 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-d1-bookmark")).toMatch(/^[0-9a-zA-Z-]+$/);
    expect(((await res.json()) as { items: { id: string }[] }).items.map((i) => i.id)).toContain("bm-1");
    const odd = await exports.default.fetch("http://edge/v1/recommend", {
      method: "POST",
      headers: { "content-type": "application/json", "x-d1-bookmark": "not a bookmark/.." },
      body: JSON.stringify({ history: ["item-3"], k: 3 }),
    });
    expect(odd.status).toBe(200); // an unusable bookmark is ignored: the session starts anywhere
  });

  it("the cron builds a new artifact only once enough rows changed", async () => {
    expect(await publishCatalogIndex(env, { minDelta: 1000 })).toMatchObject({ catalogIndex: "current", changedRows: 40 });
    expect(await publishCatalogIndex(env, { minDelta: 10 })).toMatchObject({ catalogIndex: "published", items: 40 });
    const pointer = await env.DB.prepare("SELECT value FROM meta WHERE key = 'catalog_index'").first<{ value: string }>();
    const { key } = JSON.parse(pointer!.value) as { key: string };
    expect(await env.MODELS.head(key)).not.toBeNull();
    // right after publishing, only rows of the cursor's own millisecond count as changed
    expect(await publishCatalogIndex(env, { minDelta: 41 })).toMatchObject({ catalogIndex: "current" });
  });
});
