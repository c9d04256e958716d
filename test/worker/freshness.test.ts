// The freshness window (CATALOG_FRESHNESS_MS): a warm recommend trusts the versions it read less than a window ago
// and takes no D1 round trip, a write made through the same isolate is seen at once, and another path's write is seen
// once the window has passed. The other worker tests run with a window of 0 (every request reads the versions).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { codebookFromJson, encodeSid, sidKey } from "../../core/codebook";
import { resetCatalogCache } from "../../worker/catalog";
import { resetCatalogIndex } from "../../worker/catalog-index";
import worker from "../../worker/index";
import codebookJson from "../fixtures/codebook.json";
import { resetToFixtureCatalog, insertItemElsewhere } from "./helpers";

const codebook = codebookFromJson(codebookJson);
const features = (seed: number) => Array.from({ length: codebook.dim }, (_, j) => Math.sin(seed * 12.9898 + j * 78.233));
const LONG = "600000"; // a window no test outlives: only this isolate's own writes can move what it serves

async function call(method: string, path: string, body: unknown, windowMs: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://edge${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: "Bearer test-admin-token" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { ...env, CATALOG_FRESHNESS_MS: windowMs },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

interface Answer {
  ids: string[];
  items: { id: string; score: number; attributes: Record<string, unknown> }[];
  trips: number;
}

async function recommend(windowMs: string, k = 41, exclude: string[] = []): Promise<Answer> {
  const res = await call("POST", "/v1/recommend", { history: ["item-3"], k, exclude }, windowMs);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { items: Answer["items"] };
  const trips = Number(/desc="(\d+) round trips"/.exec(res.headers.get("server-timing") ?? "")?.[1]);
  return { ids: body.items.map((i) => i.id), items: body.items, trips };
}

beforeEach(async () => {
  await resetToFixtureCatalog();
  resetCatalogIndex();
  resetCatalogCache();
});

describe("freshness window", () => {
  it("a warm recommend within the window takes no round trip and answers what a checked one does", async () => {
    const checked = await recommend("0", 10, ["item-7"]);
    expect(checked.trips).toBeGreaterThan(0);
    const warm = await recommend(LONG, 10, ["item-7"]);
    expect(warm.trips).toBe(0);
    expect(warm.items).toEqual(checked.items); // same items, scores and attributes, best first
    expect(warm.ids).not.toContain("item-7");
    expect(warm.ids).not.toContain("item-3"); // the history's own item
    // another exclusion: decoded again from the index, still without D1
    const other = await recommend(LONG, 10, [checked.ids[0]]);
    expect(other.ids).not.toContain(checked.ids[0]);
    expect(other.ids.slice(0, 9)).toEqual(checked.ids.filter((id) => id !== checked.ids[0]).slice(0, 9));
  });

  it("a PUT and a DELETE through this isolate are visible to its next recommend, however long the window", async () => {
    await recommend(LONG);
    expect((await recommend(LONG)).trips).toBe(0);
    const put = await call("PUT", "/v1/items", { items: [{ id: "fresh-1", features: features(7), attributes: { title: "Fresh" } }] }, LONG);
    expect(put.status).toBe(200);
    const afterPut = await recommend(LONG);
    expect(afterPut.ids).toContain("fresh-1");
    expect(afterPut.items.find((i) => i.id === "fresh-1")?.attributes).toEqual({ title: "Fresh" });
    expect(afterPut.ids).toHaveLength(40);

    const top = afterPut.ids[0];
    expect((await call("DELETE", `/v1/items/${top}`, undefined, LONG)).status).toBe(200);
    const afterDelete = await recommend(LONG);
    expect(afterDelete.ids).not.toContain(top);
    expect(afterDelete.ids).toHaveLength(39);
    expect((await recommend(LONG)).trips).toBe(0); // and warm again
  });

  it("another path's write is not served within the window, and is once it has passed; changed attributes too", async () => {
    const before = await recommend(LONG);
    const renamed = before.ids[1];
    // another isolate's PUT: a new row, a renamed item and a new catalog version this isolate knows nothing of
    const sid = sidKey(encodeSid(codebook, features(11)));
    await env.DB.batch([
      insertItemElsewhere("elsewhere", sid, codebook.version, "E"),
      env.DB.prepare(
        'UPDATE items SET attributes = \'{"title":"Renamed"}\', updated_at = (SELECT MAX(updated_at) + 1 FROM items) WHERE id = ?1',
      ).bind(renamed),
      env.DB.prepare("UPDATE meta SET value = 'moved-elsewhere' WHERE key = 'catalog_version'"),
    ]);
    const within = await recommend(LONG);
    expect(within.trips).toBe(0);
    expect(within.ids).not.toContain("elsewhere");

    const after = await recommend("0"); // the window has passed
    expect(after.ids).toContain("elsewhere");
    expect(after.ids).toHaveLength(40);
    expect(after.items.find((i) => i.id === renamed)?.attributes).toEqual({ title: "Renamed" });
    const warm = await recommend(LONG);
    expect(warm.trips).toBe(0);
    expect(warm.items).toEqual(after.items);
  });
});
