// Promotion benchmark in local wrangler dev on the embedded default (2,000 items, H 50): the replay gate's CPU time
// per sample size (POST /v1/admin/models/:v/gate, the code the cron runs) on sessions logged through the API, and
// what a running canary costs a request (the split's hash, the second model's cold start and memory).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { publishModel } from "../scripts/deploy/publish";
import { d1Query, ROOT } from "../scripts/deploy/wrangler";
import { ortSession } from "../scripts/export/ort";
import { canaryBucket } from "../worker/served";
import { startDevServer } from "./dev-server";

const PORT = Number(process.env.BENCH_PORT ?? 8794);
const TOKEN = randomBytes(16).toString("hex");
const USERS = 400;
const STEPS = 6;
const SIZES = [50, 100, 200, 400];

const totalMs = (timing: string | null) => Number(/total;dur=([\d.]+)/.exec(timing ?? "")?.[1] ?? NaN);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

async function pool<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

export default async function benchPromotion(): Promise<Record<string, unknown>> {
  const server = await startDevServer(PORT, { ADMIN_TOKEN: TOKEN, USER_TOKEN_SECRET: randomBytes(16).toString("hex") });
  const { base } = server;
  const call = (path: string, body?: unknown, auth = TOKEN) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${auth}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  try {
    const ids = d1Query<{ id: string }>("local", "SELECT id FROM items WHERE status = 'active' ORDER BY id").map((r) => r.id);
    const key = ((await (await call("/v1/admin/keys", { name: "bench" })).json()) as { key: string }).key;

    // Sessions: each user starts from one click, then STEPS slates from /v1/recommend, each logged with its requestId
    // and a click on one of its top three items.
    let t0 = performance.now();
    const start = Date.now() - 3_600_000;
    await pool(
      8,
      Array.from({ length: USERS }, (_, u) => async () => {
        const userId = `bench-user-${u}`;
        await call("/v1/events", { events: [{ type: "click", userId, itemIds: [ids[(u * 37) % ids.length]], ts: start }] }, key);
        for (let s = 1; s <= STEPS; s++) {
          const res = (await (await call("/v1/recommend", { userId, k: 10 })).json()) as { items: { id: string }[]; requestId: string };
          const ts = start + s * 60_000;
          const slate = res.items.map((i) => i.id);
          const events = [
            { type: "impression", userId, itemIds: slate, requestId: res.requestId, ts },
            { type: "click", userId, itemIds: [slate[(u + s) % 3]], requestId: res.requestId, ts: ts + 1 },
          ];
          await call("/v1/events", { events }, key);
        }
      }),
    );
    const loggingSeconds = (performance.now() - t0) / 1000;

    // The embedded default published as a candidate: the gate scores it against itself (the active embedded model).
    const { version } = publishModel({ model: join(ROOT, "model", "default"), target: "local", log: () => {} });
    const gate: Record<string, unknown>[] = [];
    for (const size of SIZES)
      for (let run = 0; run < 3; run++) {
        t0 = performance.now();
        const res = await call(`/v1/admin/models/${version}/gate?maxSessions=${size}`);
        const g = (await res.json()) as { sessions: number; predictions: number; cpuMs: number; decision: string; offPolicy?: { slates: number } };
        gate.push({
          maxSessions: size,
          run,
          sessions: g.sessions,
          predictions: g.predictions,
          slates: g.offPolicy?.slates ?? 0,
          decision: g.decision,
          cpuMs: g.cpuMs,
          wallMs: performance.now() - t0,
        });
      }

    // Canary cost: warm recommend with no canary, then with the published copy as a canary on half the users.
    const recommendTimes = async (users: number, tag: string) =>
      pool(
        4,
        Array.from({ length: users }, (_, u) => async () => {
          const res = await call("/v1/recommend", { userId: `${tag}-${u}`, k: 10 });
          const body = (await res.json()) as { arm: string };
          return { arm: body.arm, ms: totalMs(res.headers.get("server-timing")) };
        }),
      );
    await recommendTimes(50, "warmup");
    const before = await recommendTimes(400, "before");
    const started = await (await call(`/v1/admin/models/${version}/canary`, { share: 0.5 })).json();
    let coldCanaryMs = NaN;
    for (let u = 0; Number.isNaN(coldCanaryMs) && u < 50; u++) {
      const res = await call("/v1/recommend", { userId: `cold-${u}`, k: 10 });
      if (((await res.json()) as { arm: string }).arm === "canary") coldCanaryMs = totalMs(res.headers.get("server-timing"));
    }
    const during = await recommendTimes(400, "during");
    const arm = (a: string) => during.filter((r) => r.arm === a).map((r) => r.ms);

    // The split's own cost, and a second session's memory and creation time, in Node (the same ORT build and model).
    const keys = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);
    t0 = performance.now();
    let inside = 0;
    for (const k of keys) if (canaryBucket(version, k) < 0.5) inside++;
    const hashMicros = ((performance.now() - t0) * 1000) / keys.length;
    const bytes = readFileSync(join(ROOT, "model", "default", "hpn.int8.onnx"));
    const first = await ortSession(bytes);
    const rss0 = process.memoryUsage().rss;
    t0 = performance.now();
    const second = await ortSession(bytes);
    const secondSessionMs = performance.now() - t0;
    const secondSessionRssBytes = process.memoryUsage().rss - rss0;
    await Promise.all([first.release(), second.release()]);

    return {
      setup: { items: ids.length, users: USERS, slatesPerUser: STEPS, loggingSeconds },
      gate,
      canary: {
        started,
        recommendTotalMs: {
          noCanary: { p50: median(before.map((r) => r.ms)), p99: p99(before.map((r) => r.ms)), n: before.length },
          activeArm: { p50: median(arm("active")), p99: p99(arm("active")), n: arm("active").length },
          canaryArm: { p50: median(arm("canary")), p99: p99(arm("canary")), n: arm("canary").length },
          firstCanaryRequest: coldCanaryMs,
        },
        splitHashMicroseconds: hashMicros,
        splitShareOf100k: inside / keys.length,
        node: { secondSessionMs, secondSessionRssBytes, modelBytes: bytes.length },
      },
    };
  } finally {
    server.stop();
  }
}
