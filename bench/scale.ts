// Catalog at scale, served by local wrangler dev (miniflare/workerd on loopback). For each catalog size (default 10k
// and 100k; BENCH_SCALE_SIZES=10000,100000,1000000 for more), through the project's own paths:
//   the `hsrl sids` build on synthetic item vectors of that size (V sized for it) -> `hsrl catalog` (the bulk load, timed)
//   -> `hsrl export --random` (a model with that V) -> `hsrl publish` -> promote
// then, with the prefix index built from D1 and again mapped from its R2 artifact: the cold first recommend (wall
// time, in-Worker time, workerd CPU time), warm recommend p50/p99 (end to end and in the Worker), D1 round trips,
// recommend right after a PUT, recommend p99 at 32 connections with and without one write per second, rerank of
// 1,000 candidates, and the memory the catalog adds to the workerd process.
import autocannon from "autocannon";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codebookFromJson } from "../core/codebook";
import { d1Migrate, d1Query, ROOT } from "../scripts/deploy/wrangler";
import type { Dataset } from "../scripts/data/dataset";
import { writeSidArtifacts } from "../scripts/sids/artifacts";
import { buildSids } from "../scripts/sids/build";
import { type DevServer, startDevServer } from "./dev-server";
import { syntheticVectors } from "./sids";

const PORT = Number(process.env.BENCH_PORT ?? 8793); // 8791 is the browser test's
const SIZES = (process.env.BENCH_SCALE_SIZES ?? "10000,100000").split(",").map(Number);
const TOKEN = "bench-scale-token";
const admin = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const WORK = join(ROOT, "runs", "bench-scale");
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

function hsrl(args: string[], env: Record<string, string> = {}): string {
  const res = spawnSync(join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/cli.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 1 << 28,
  });
  if (res.status !== 0) throw new Error(`hsrl ${args[0]} failed: ${(res.stderr ?? "").trim().split("\n").slice(-3).join(" ")}`);
  return res.stdout;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const round = (x: number, d = 2) => Number(x.toFixed(d));

/** The processes wrangler dev started (its descendants), read from /proc: workerd's RSS (MB), and their CPU time (ms). */
function descendants(server: DevServer): { pid: number; name: string }[] {
  const parent = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const under = (pid: number) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === server.process.pid) return true;
    return false;
  };
  return [...names].filter(([pid]) => under(pid)).map(([pid, name]) => ({ pid, name }));
}
export function rssMb(server: DevServer): number {
  const w = descendants(server).filter((p) => p.name.startsWith("workerd"));
  let kb = 0;
  for (const p of w) kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"))?.[1] ?? 0);
  return kb / 1024;
}
export function cpuMs(server: DevServer, only?: string): number {
  let ticks = 0;
  for (const p of descendants(server).filter((d) => !only || d.name.startsWith(only))) {
    try {
      const f = readFileSync(`/proc/${p.pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime + stime
    } catch {
      /* gone */
    }
  }
  return (ticks * 1000) / 100; // clock ticks of 10 ms
}

interface Timed {
  ms: number;
  inWorker: number;
  d1: number; // of inWorker: waiting on D1 (Server-Timing's d1)
  trips: number;
  index: string;
  status: number;
  split: Record<string, number>; // Server-Timing metrics but total (a cold request: ORT, model, index, first run)
}

async function call(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = { "content-type": "application/json" },
  method = "POST",
): Promise<Timed> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, { method, headers, body: JSON.stringify(body) });
  await res.arrayBuffer();
  const timing = res.headers.get("server-timing") ?? "";
  return {
    ms: performance.now() - t0,
    inWorker: Number(/total;dur=([\d.]+)/.exec(timing)?.[1] ?? NaN),
    d1: Number(/d1;dur=([\d.]+)/.exec(timing)?.[1] ?? NaN),
    trips: Number(/desc="(\d+) round trips"/.exec(timing)?.[1] ?? NaN),
    index: res.headers.get("x-catalog-index") ?? "",
    status: res.status,
    split: Object.fromEntries(
      [...timing.matchAll(/([\w-]+);dur=([\d.]+)/g)].filter(([, name]) => name !== "total").map(([, name, ms]) => [name, Number(ms)]),
    ),
  };
}

async function loadP99(base: string, body: unknown, write?: () => Promise<Response>): Promise<Record<string, number | undefined>> {
  let writes = 0;
  let failedWrites = 0;
  const writeMs: number[] = []; // each PUT's own latency under the load (local D1 serialises it with the reads)
  const timer = write
    ? setInterval(() => {
        writes++;
        const t0 = performance.now();
        write().then(
          (res) => {
            writeMs.push(performance.now() - t0);
            if (!res.ok) failedWrites++;
          },
          () => void failedWrites++,
        );
      }, 1000)
    : null;
  const r = await autocannon({
    url: `${base}/v1/recommend`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    connections: 32,
    duration: LOAD_SECONDS,
  });
  if (timer) clearInterval(timer);
  const writeLatency = writeMs.length ? { writeP50Ms: round(pct(writeMs, 50)), writeMaxMs: round(Math.max(...writeMs)) } : {};
  return {
    p99: r.latency.p99,
    p50: r.latency.p50,
    rps: r.requests.average,
    errors: r.errors + r.non2xx,
    writes,
    failedWrites,
    ...writeLatency,
  };
}

async function measureServing(server: DevServer, ids: string[], dim: number) {
  const base = server.base;
  const history = () => Array.from({ length: 5 }, () => ids[Math.floor(Math.random() * ids.length)]);
  const stage = (what: string) => process.stderr.write(`  ${what}\n`);
  const rssBefore = rssMb(server);
  const cpu0 = cpuMs(server);
  const cold = await call(base, "/v1/recommend", { history: history(), k: 10 });
  const coldCpu = cpuMs(server) - cpu0;
  stage(`cold ${cold.status} ${cold.ms.toFixed(0)} ms`);
  const warm: Timed[] = [];
  const warmCpu0 = cpuMs(server, "workerd");
  for (let i = 0; i < 200; i++) warm.push(await call(base, "/v1/recommend", { history: history(), k: 10 }));
  const warmCpuPerRequest = (cpuMs(server, "workerd") - warmCpu0) / 200; // workerd runs D1 (SQLite) in-process too
  // returning histories: 20 seen before, cycled, so the item cache holds them and their top k (the path that, within
  // the freshness window, takes no D1 round trip)
  const returning = Array.from({ length: 20 }, history);
  for (const h of returning) await call(base, "/v1/recommend", { history: h, k: 10 });
  const warmReturning: Timed[] = [];
  for (let i = 0; i < 200; i++) warmReturning.push(await call(base, "/v1/recommend", { history: returning[i % 20], k: 10 }));
  const sameHistory = history();
  await call(base, "/v1/recommend", { history: sameHistory, k: 10 });
  const cachedTrips = (await call(base, "/v1/recommend", { history: sameHistory, k: 10 })).trips;
  // the history cached, most of the top 30 not: one round trip (the attributes, read with the versions)
  const historyCachedTrips = (await call(base, "/v1/recommend", { history: sameHistory, k: 30 })).trips;
  stage("after PUT");
  const afterPut: Timed[] = [];
  for (let i = 0; i < 10; i++) {
    const put = await call(
      base,
      "/v1/items",
      { items: [{ id: `bench-new-${Date.now()}-${i}`, features: Array.from({ length: dim }, () => Math.random() - 0.5) }] },
      admin,
      "PUT",
    );
    if (put.status !== 200) throw new Error(`PUT answered ${put.status}`);
    afterPut.push(await call(base, "/v1/recommend", { history: history(), k: 10 }));
  }
  stage("rerank");
  const rerank: Timed[] = [];
  for (let i = 0; i < 50; i++)
    rerank.push(
      await call(base, "/v1/rerank", {
        history: history(),
        candidates: Array.from({ length: 1000 }, (_, j) => ids[(i * 1000 + j) % ids.length]),
      }),
    );
  const body = { history: history(), k: 10 };
  stage("load");
  const quiet = await loadP99(base, body);
  let n = 0;
  const withWrites = await loadP99(base, body, () =>
    fetch(`${base}/v1/items`, {
      method: "PUT",
      headers: admin,
      body: JSON.stringify({
        items: [{ id: `bench-load-${Date.now()}-${n++}`, features: Array.from({ length: dim }, () => Math.random() - 0.5) }],
      }),
    }),
  );
  return {
    coldFirstRecommend: {
      ms: round(cold.ms),
      inWorkerMs: cold.inWorker,
      devServerCpuMs: round(coldCpu),
      index: cold.index,
      d1RoundTrips: cold.trips,
    },
    warmRecommendReturning: {
      p50Ms: round(
        pct(
          warmReturning.map((w) => w.ms),
          50,
        ),
      ),
      p99Ms: round(
        pct(
          warmReturning.map((w) => w.ms),
          99,
        ),
      ),
      inWorkerP50Ms: round(
        pct(
          warmReturning.map((w) => w.inWorker),
          50,
        ),
      ),
      inWorkerP99Ms: round(
        pct(
          warmReturning.map((w) => w.inWorker),
          99,
        ),
      ),
      d1RoundTripsMedian: pct(
        warmReturning.map((w) => w.trips),
        50,
      ),
      zeroTripShare: round(warmReturning.filter((w) => w.trips === 0).length / warmReturning.length),
    },
    warmRecommend: {
      p50Ms: round(
        pct(
          warm.map((w) => w.ms),
          50,
        ),
      ),
      p99Ms: round(
        pct(
          warm.map((w) => w.ms),
          99,
        ),
      ),
      inWorkerP50Ms: round(
        pct(
          warm.map((w) => w.inWorker),
          50,
        ),
      ),
      inWorkerP99Ms: round(
        pct(
          warm.map((w) => w.inWorker),
          99,
        ),
      ),
      d1RoundTripsMedian: pct(
        warm.map((w) => w.trips),
        50,
      ),
      // the Worker's own time: in-Worker less the time spent waiting on D1 (the local D1 runs in the same process)
      inWorkerWithoutD1P50Ms: round(
        pct(
          warm.map((w) => w.inWorker - w.d1),
          50,
        ),
      ),
      d1P50Ms: round(
        pct(
          warm.map((w) => w.d1),
          50,
        ),
      ),
      d1RoundTripsWhenItemsCached: cachedTrips,
      d1RoundTripsWhenHistoryCached: historyCachedTrips,
      workerdCpuMsPerRequest: round(warmCpuPerRequest),
    },
    recommendAfterPut: {
      medianMs: round(
        pct(
          afterPut.map((w) => w.ms),
          50,
        ),
      ),
      maxMs: round(Math.max(...afterPut.map((w) => w.ms))),
      inWorkerMedianMs: round(
        pct(
          afterPut.map((w) => w.inWorker),
          50,
        ),
      ),
      d1RoundTripsMedian: pct(
        afterPut.map((w) => w.trips),
        50,
      ),
      index: afterPut.at(-1)?.index,
    },
    rerank1000: {
      p50Ms: round(
        pct(
          rerank.map((w) => w.ms),
          50,
        ),
      ),
      p99Ms: round(
        pct(
          rerank.map((w) => w.ms),
          99,
        ),
      ),
      inWorkerP50Ms: round(
        pct(
          rerank.map((w) => w.inWorker),
          50,
        ),
      ),
    },
    load32: { quiet, withWrites, p99Ratio: round((withWrites.p99 ?? Number.NaN) / (quiet.p99 ?? Number.NaN)) },
    // the index's own arrays (what the catalog adds to an isolate), and workerd's RSS around the run (its whole process)
    catalogIndexBytes: Number(/bytes=(\d+)/.exec(afterPut.at(-1)?.index ?? "")?.[1] ?? NaN),
    workerdRssMb: { beforeFirstRecommend: round(rssBefore, 1), afterLoad: round(rssMb(server), 1) },
  };
}

/**
 * A cold isolate's first requests, split: a rerank of 10 candidates (ORT initialisation, the model from R2 or the
 * embedded one, the history lookup), then the first recommend (the prefix index, from R2 or D1, and the decode).
 * CPU is workerd's own (utime + stime from /proc, 10 ms ticks), so the proxy wrangler runs in front is left out.
 */
async function coldSplit(server: DevServer, ids: string[]) {
  const history = ids.slice(0, 5);
  const rss0 = rssMb(server);
  const cpu0 = cpuMs(server, "workerd");
  const rerank = await call(server.base, "/v1/rerank", { history, candidates: ids.slice(5, 15) });
  const cpu1 = cpuMs(server, "workerd");
  const rss1 = rssMb(server);
  const recommend = await call(server.base, "/v1/recommend", { history, k: 10 });
  const cpu2 = cpuMs(server, "workerd");
  const rss2 = rssMb(server);
  if (rerank.status !== 200 || recommend.status !== 200) throw new Error(`cold split: ${rerank.status} / ${recommend.status}`);
  return {
    firstRerank: {
      ms: round(rerank.ms),
      inWorkerMs: rerank.inWorker,
      workerdCpuMs: round(cpu1 - cpu0),
      rssDeltaMb: round(rss1 - rss0, 1),
      inWorkerSplitMs: rerank.split,
    },
    thenFirstRecommend: {
      ms: round(recommend.ms),
      inWorkerMs: recommend.inWorker,
      workerdCpuMs: round(cpu2 - cpu1),
      rssDeltaMb: round(rss2 - rss1, 1),
      inWorkerSplitMs: recommend.split,
      index: recommend.index,
    },
  };
}

async function benchSize(items: number): Promise<Record<string, unknown>> {
  const dir = join(WORK, String(items));
  const persist = join(ROOT, ".wrangler", `bench-scale-${items}`);
  const sidsDir = join(dir, "sids");
  const reportPath = join(sidsDir, "sid-report.json");
  // BENCH_SCALE_REUSE_SIDS=1 keeps a SID build of the same size from an earlier run (the 1M one takes minutes)
  const reuse =
    process.env.BENCH_SCALE_REUSE_SIDS === "1" &&
    existsSync(reportPath) &&
    (JSON.parse(readFileSync(reportPath, "utf8")) as { items: number }).items === items;
  if (!reuse) rmSync(dir, { recursive: true, force: true });
  rmSync(join(dir, "model"), { recursive: true, force: true });
  rmSync(persist, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const env = { HSRL_PERSIST_TO: persist };
  process.env.HSRL_PERSIST_TO = persist;

  // The SID build is the library `hsrl sids` runs (buildSids + writeSidArtifacts) on supplied item vectors, a skewed
  // mixture of Gaussian clusters as in `bench -- sids`: the synthetic generator's content features took 60 s at 100k
  // and grew about quadratically (see the report's note), and the serving side only needs the SIDs.
  let t0 = performance.now();
  if (!reuse) {
    process.stderr.write(`bench scale ${items}: SIDs\n`);
    const vectors = syntheticVectors(items, 32, 2_000, 1);
    const dataset: Dataset = {
      name: `bench-scale:${items}`,
      users: [],
      items: Array.from({ length: items }, (_, i) => ({ id: `s${i + 1}`, title: `Item ${i + 1}`, genres: [], tags: [], attributes: {} })),
      interactions: [],
      ratingScale: null,
      itemFeatures: vectors,
    };
    const build = await buildSids(dataset, { levels: 3, dim: 32, seed: 1, plainRq: false });
    writeSidArtifacts(sidsDir, dataset, build);
  }
  const sidsSeconds = reuse
    ? (JSON.parse(readFileSync(reportPath, "utf8")) as { seconds: number }).seconds
    : (performance.now() - t0) / 1000;
  const spec = "supplied vectors: 2,000 Gaussian clusters, d 32, seed 1";
  const codebook = codebookFromJson(readFileSync(join(dir, "sids", "codebook.json"), "utf8"));

  process.stderr.write(`bench scale ${items}: bulk load\n`);
  d1Migrate("local");
  t0 = performance.now();
  const load = JSON.parse(
    hsrl(["catalog", "--sids", join(dir, "sids"), "--local"], env)
      .trim()
      .split("\n")
      .at(-1)!,
  );
  const bulkLoadSeconds = (performance.now() - t0) / 1000;
  // the load published the index artifact; the first serving run measures the isolate's fallback without one
  d1Query("local", "DELETE FROM meta WHERE key = 'catalog_index'");

  process.stderr.write(`bench scale ${items}: model V ${codebook.size}\n`);
  hsrl(
    [
      "export",
      "--random",
      "--levels",
      String(codebook.levels),
      "--vocab",
      String(codebook.size),
      "--codebook",
      join(dir, "sids", "codebook.json"),
      "--out",
      join(dir, "model"),
      "--histories",
      "50",
    ],
    env,
  );
  cpIfMissing(join(dir, "sids", "item-encoder.json"), join(dir, "model", "item-encoder.json"));
  const published = JSON.parse(
    hsrl(["publish", "--model", join(dir, "model"), "--sids", join(dir, "sids"), "--local"], env)
      .trim()
      .split("\n")
      .at(-1)!,
  );

  const ids = Array.from({ length: Math.min(items, 5000) }, (_, i) => `s${1 + Math.floor((i * items) / Math.min(items, 5000))}`);
  const out: Record<string, unknown> = {
    items,
    codebook: { levels: codebook.levels, size: codebook.size },
    synthetic: spec,
    sidsSeconds: round(sidsSeconds, 1),
    sidsReused: reuse,
    bulkLoadSeconds: round(bulkLoadSeconds, 1),
    load,
  };
  const restart = async (server: DevServer) => {
    server.stop();
    await new Promise((r) => setTimeout(r, 1000));
    return startDevServer(PORT, { ADMIN_TOKEN: TOKEN }, persist);
  };
  for (const mode of ["d1", "r2"] as const) {
    process.stderr.write(`bench scale ${items}: serving, index from ${mode}\n`);
    let server = await startDevServer(PORT, { ADMIN_TOKEN: TOKEN }, persist);
    try {
      if (mode === "d1") {
        const promote = await call(server.base, `/v1/admin/models/${published.version}/promote`, {}, admin);
        if (promote.status !== 200) throw new Error(`promote answered ${promote.status}`);
      } else {
        const res = await fetch(`${server.base}/v1/admin/catalog/index`, { method: "POST", headers: admin });
        out.artifact = await res.json();
      }
      server = await restart(server);
      const serving = await measureServing(server, ids, codebook.dim);
      server = await restart(server);
      out[mode === "d1" ? "fromD1" : "fromR2"] = { coldSplit: await coldSplit(server, ids), ...serving };
    } finally {
      server.stop();
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return out;
}

function cpIfMissing(from: string, to: string): void {
  if (existsSync(from) && !existsSync(to)) writeFileSync(to, readFileSync(from));
}

export default async function benchScale(): Promise<Record<string, unknown>> {
  const path = join(ROOT, "reports", "bench", "scale.json");
  // sizes run now replace their earlier entries; other sizes' entries are kept (the 1M run is long, so it runs alone)
  const earlier = existsSync(path) ? ((JSON.parse(readFileSync(path, "utf8")) as { sizes?: { items: number }[] }).sizes ?? []) : [];
  const results: Record<string, unknown>[] = earlier.filter((e) => !SIZES.includes(e.items));
  for (const n of SIZES) results.push(await benchSize(n));
  results.sort((a, b) => (a.items as number) - (b.items as number));
  const report = {
    note:
      "local wrangler dev on a shared 2-core machine; in-Worker times from Server-Timing; D1 round trips from Server-Timing's count " +
      "(exact for sequential requests); devServerCpuMs: CPU of wrangler dev's processes (workerd and its proxy), coldSplit: workerd's " +
      "own CPU, both from /proc in 10 ms ticks; memory: catalogIndexBytes is the index's arrays, rssDeltaMb of the first recommend " +
      "after a first rerank is workerd's RSS growth from building the index (a proxy for the isolate's added memory); " +
      "bulkLoadSeconds: `hsrl catalog` into an empty local D1, end to end (wrangler start-ups and the index artifact included; " +
      "load.seconds splits it); inWorkerSplitMs: a cold request's Server-Timing (ORT instantiation/initialisation, the model's " +
      "fetch, its first run, the index's read and parse; wall time in workerd, where local clocks advance while the CPU runs); " +
      "warmRecommendReturning: 20 histories seen before, cycled (the zero-round-trip path within CATALOG_FRESHNESS_MS, 250 ms); " +
      "fromR2.coldSplit reads the colo's Cache API copy that the serving run's cold request put there (its source is in `index`)",
    sizes: results,
  };
  mkdirSync(join(ROOT, "reports", "bench"), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
