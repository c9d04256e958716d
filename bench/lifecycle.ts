// Lifecycle benchmark in local wrangler dev: item upserts/s (PUT /v1/items, SIDs assigned at the edge), events/s
// (POST /v1/events), and the time from PUT of a new item to its first appearance in /v1/recommend.
import { randomBytes } from "node:crypto";
import { d1Query } from "../scripts/deploy/wrangler";
import { startDevServer } from "./dev-server";

const PORT = Number(process.env.BENCH_PORT ?? 8792);
const TOKEN = randomBytes(16).toString("hex");

function features(hex: string): number[] {
  const bytes = Buffer.from(hex, "hex");
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
}

export default async function benchLifecycle(): Promise<Record<string, unknown>> {
  const server = await startDevServer(PORT, { ADMIN_TOKEN: TOKEN });
  const { base } = server;
  const post = (path: string, body: unknown, method = "POST") =>
    fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
  try {
    const rows = d1Query<{ id: string; f: string }>(
      "local",
      "SELECT id, hex(features) AS f FROM items WHERE status = 'active' ORDER BY id LIMIT 500",
    );
    const dim = features(rows[0].f).length;

    // A new item with the features of the top recommendation for a history gets its SID (next collision index), so it
    // must show up right behind it (measured first, on the embedded catalog alone).
    const history = rows.slice(0, 5).map((r) => r.id);
    const top = ((await (await post("/v1/recommend", { history, k: 1 })).json()) as { items: { id: string }[] }).items[0].id;
    const [topRow] = d1Query<{ f: string }>("local", `SELECT hex(features) AS f FROM items WHERE id = '${top.replaceAll("'", "''")}'`);
    let t0 = performance.now();
    await post("/v1/items", { items: [{ id: "bench-fresh", features: features(topRow.f) }] }, "PUT");
    let appearedMs = NaN;
    for (let i = 0; i < 100; i++) {
      const recs = (await (await post("/v1/recommend", { history, k: 10 })).json()) as { items: { id: string }[] };
      if (recs.items.some((it) => it.id === "bench-fresh")) {
        appearedMs = performance.now() - t0;
        break;
      }
    }

    // Upserts: 10 batches of 500 new items (features perturbed from existing ones, so SIDs spread like the catalog's).
    const batches = 10;
    t0 = performance.now();
    for (let b = 0; b < batches; b++) {
      const items = rows.map((r, i) => ({
        id: `bench-${b}-${i}`,
        features: features(r.f).map((x, j) => x + 0.01 * Math.sin(b * 31 + i * 7 + j)),
        attributes: { title: `Bench ${b}-${i}` },
      }));
      const res = await post("/v1/items", { items }, "PUT");
      if (!res.ok) throw new Error(`PUT /v1/items: ${res.status} ${await res.text()}`);
    }
    const upsertSeconds = (performance.now() - t0) / 1000;

    // Events: 10 requests of 500 events x 10 items.
    t0 = performance.now();
    let accepted = 0;
    for (let b = 0; b < 10; b++) {
      const events = Array.from({ length: 500 }, (_, i) => ({
        type: i % 5 ? "impression" : "click",
        userId: `u${i % 50}`,
        requestId: `b${b}-${i}`,
        itemIds: rows.slice(i % 490, (i % 490) + 10).map((r) => r.id),
      }));
      const res = await post("/v1/events", { events });
      accepted += ((await res.json()) as { accepted: number }).accepted;
    }
    const eventSeconds = (performance.now() - t0) / 1000;

    return {
      featureDim: dim,
      upserts: {
        items: batches * rows.length,
        seconds: upsertSeconds,
        itemsPerSecond: (batches * rows.length) / upsertSeconds,
        batchSize: rows.length,
      },
      events: { rows: accepted, seconds: eventSeconds, rowsPerSecond: accepted / eventSeconds },
      newItemToRecommendMs: appearedMs,
    };
  } finally {
    server.stop();
  }
}
