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
import { cpuMs, rssMb } from "./scale";

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
    // One API key per logging worker: the per-key rate limit (60,000 rows a minute) counts requests of <= 100 rows.
    const keys = await Promise.all(
      Array.from(
        { length: 8 },
        async (_, i) => ((await (await call("/v1/admin/keys", { name: `bench-${i}` })).json()) as { key: string }).key,
      ),
    );
    const ok = async (res: Promise<Response>) => {
      const r = await res;
      if (!r.ok) throw new Error(`${r.url}: ${r.status} ${await r.text()}`);
      return r;
    };

    // Sessions: each user starts from one click, then STEPS slates from /v1/recommend, each logged with its requestId
    // and a click on one of its top three items.
    let t0 = performance.now();
    const start = Date.now() - 3_600_000;
    await pool(
      8,
      Array.from({ length: USERS }, (_, u) => async () => {
        const userId = `bench-user-${u}`;
        const key = keys[u % keys.length];
        await ok(call("/v1/events", { events: [{ type: "click", userId, itemIds: [ids[(u * 37) % ids.length]], ts: start }] }, key));
        for (let s = 1; s <= STEPS; s++) {
          const res = (await (await ok(call("/v1/recommend", { userId, k: 10 }))).json()) as { items: { id: string }[]; requestId: string };
          const ts = start + s * 60_000;
          const slate = res.items.map((i) => i.id);
          const events = [
            { type: "impression", userId, itemIds: slate, requestId: res.requestId, ts },
            { type: "click", userId, itemIds: [slate[(u + s) % 3]], requestId: res.requestId, ts: ts + 1 },
          ];
          await ok(call("/v1/events", { events }, key));
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
        const cpu0 = cpuMs(server);
        const res = await ok(call(`/v1/admin/models/${version}/gate?maxSessions=${size}`));
        const g = (await res.json()) as {
          sessions: number;
          predictions: number;
          cpuMs: number;
          decision: string;
          offPolicy?: { slates: number };
        };
        gate.push({
          maxSessions: size,
          run,
          sessions: g.sessions,
          predictions: g.predictions,
          slates: g.offPolicy?.slates ?? 0,
          decision: g.decision,
          inWorkerMs: g.cpuMs,
          workerdCpuMs: cpuMs(server) - cpu0,
          wallMs: performance.now() - t0,
        });
      }

    // Canary cost: warm recommend with no canary, then with the published copy as a canary on half the users.
    const recommendTimes = async (users: number, tag: string) =>
      pool(
        4,
        Array.from({ length: users }, (_, u) => async () => {
          const c0 = performance.now();
          const res = await ok(call("/v1/recommend", { userId: `${tag}-${u}`, k: 10 }));
          const body = (await res.json()) as { arm: string };
          return { arm: body.arm, ms: totalMs(res.headers.get("server-timing")), clientMs: performance.now() - c0 };
        }),
      );
    await recommendTimes(50, "warmup");
    const before = await recommendTimes(400, "before");
    const started = await (await call(`/v1/admin/models/${version}/canary`, { share: 0.5 })).json();
    const rssBefore = rssMb(server);
    let coldCanaryMs = NaN;
    for (let u = 0; Number.isNaN(coldCanaryMs) && u < 50; u++) {
      const res = await call("/v1/recommend", { userId: `cold-${u}`, k: 10 });
      if (((await res.json()) as { arm: string }).arm === "canary") coldCanaryMs = totalMs(res.headers.get("server-timing"));
    }
    const rssAfter = rssMb(server);
    const during = await recommendTimes(400, "during");
    const arm = (a: string) => during.filter((r) => r.arm === a).map((r) => r.ms);
    const armClient = (a: string) => during.filter((r) => r.arm === a).map((r) => r.clientMs);

    // The split's own cost, and a second session's memory and creation time, in Node (the same ORT build and model).
    const units = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);
    t0 = performance.now();
    let inside = 0;
    for (const unit of units) if (canaryBucket(version, unit) < 0.5) inside++;
    const hashMicros = ((performance.now() - t0) * 1000) / units.length;
    const bytes = readFileSync(join(ROOT, "model", "default", "hpn.int8.onnx"));
    const first = await ortSession(bytes);
    const rss0 = process.memoryUsage().rss;
    t0 = performance.now();
    const second = await ortSession(bytes);
    const secondSessionMs = performance.now() - t0;
    const secondSessionRssBytes = process.memoryUsage().rss - rss0;
    await Promise.all([first.release(), second.release()]);

    return {
      note:
        "local wrangler dev on a shared 2-core machine. inWorkerMs: the gate's own timer around scoring (D1/R2 excluded); " +
        "workerdCpuMs: CPU of wrangler dev's processes over the whole gate request (D1 included), /proc, 10 ms ticks",
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
        recommendClientMsP50: {
          noCanary: median(before.map((r) => r.clientMs)),
          activeArm: median(armClient("active")),
          canaryArm: median(armClient("canary")),
        },
        workerdRssMb: { beforeCanaryLoad: rssBefore, afterCanaryLoad: rssAfter, delta: rssAfter - rssBefore },
        splitHashMicroseconds: hashMicros,
        splitShareOf100k: inside / units.length,
        node: { secondSessionMs, secondSessionRssBytes, modelBytes: bytes.length },
      },
    };
  } finally {
    server.stop();
  }
}
