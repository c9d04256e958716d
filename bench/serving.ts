// Serving benchmark in local wrangler dev (miniflare/workerd on loopback): cold first request, then autocannon load on
// /v1/rerank (100 and 1,000 candidates) and /v1/recommend, the Server-Timing split (D1 / model / rest), and the
// `wrangler deploy --dry-run` bundle size. Uses the local state `npm start` uses, with the embedded default model.
import autocannon from "autocannon";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { d1Query, ROOT } from "../scripts/deploy/wrangler";
import { startDevServer } from "./dev-server";

const PORT = Number(process.env.BENCH_PORT ?? 8790);
let BASE = "";
const DURATION = Number(process.env.BENCH_SECONDS ?? 30);

async function timed(path: string, body: unknown): Promise<{ ms: number; status: number; timing: string | null }> {
  const t0 = performance.now();
  const res = await fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, status: res.status, timing: res.headers.get("server-timing") };
}

function parseTiming(h: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (h ?? "").split(",")) {
    const m = /^\s*(\w+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function split(path: string, body: unknown, n = 200) {
  const sums = { d1: 0, model: 0, total: 0 };
  for (let i = 0; i < n; i++) {
    const t = parseTiming((await timed(path, body)).timing);
    sums.d1 += t.d1 ?? 0;
    sums.model += t.model ?? 0;
    sums.total += t.total ?? 0;
  }
  const rest = Math.max(0, sums.total - sums.d1 - sums.model);
  const share = (x: number) => Number((x / sums.total).toFixed(3));
  return { meanTotalMs: sums.total / n, share: { d1: share(sums.d1), model: share(sums.model), rest: share(rest) } };
}

async function load(path: string, body: unknown) {
  const result = await autocannon({
    url: `${BASE}${path}`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    connections: 4,
    duration: DURATION,
  });
  return {
    seconds: DURATION,
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

function bundleSize() {
  const out = mkdtempSync(join(tmpdir(), "hsrl-bundle-"));
  const res = spawnSync(join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", out], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (res.status !== 0) return { error: res.stderr.split("\n").slice(-5).join(" ") };
  let bytes = 0;
  let gzip = 0;
  for (const f of readdirSync(out)) {
    if (f.endsWith(".map")) continue;
    const p = join(out, f);
    if (!statSync(p).isFile()) continue;
    const data = readFileSync(p);
    bytes += data.length;
    gzip += gzipSync(data).length;
  }
  return { bytes, gzipBytes: gzip, limitBytes: 64 * 1024 * 1024 };
}

export default async function benchServing(): Promise<Record<string, unknown>> {
  const server = await startDevServer(PORT);
  BASE = server.base;
  const ids = d1Query<{ id: string }>("local", "SELECT id FROM items WHERE status = 'active' ORDER BY id LIMIT 1000").map((r) => r.id);
  if (ids.length < 100) throw new Error(`the embedded catalog has ${ids.length} active items; the benchmark needs at least 100`);

  try {
    const history = ids.slice(0, 20);
    const rerank100 = { history, candidates: ids.slice(100, 200) };
    const rerank1000 = { history, candidates: ids.slice(0, 1000) };
    const recommend = { history, k: 10 };
    const cold = await timed("/v1/rerank", rerank100);
    const second = await timed("/v1/rerank", rerank100);
    const [{ n: catalogItems }] = d1Query<{ n: number }>("local", "SELECT COUNT(*) AS n FROM items WHERE status = 'active'");
    const results: Record<string, unknown> = {
      catalogItems,
      note: "latencyMs is end to end through wrangler dev's local proxy; timeSplit.meanTotalMs is the time inside the Worker (Server-Timing)",
      coldStart: {
        firstRequestMs: cold.ms,
        status: cold.status,
        serverTiming: parseTiming(cold.timing),
        secondRequestMs: second.ms,
        targetMs: 300,
      },
    };
    for (const [name, path, body] of [
      ["rerank100", "/v1/rerank", rerank100],
      ["rerank1000", "/v1/rerank", { ...rerank1000, candidates: rerank1000.candidates.slice(0, Math.min(1000, ids.length)) }],
      ["recommend", "/v1/recommend", recommend],
    ] as const) {
      process.stderr.write(`  ${name}: ${DURATION} s of load...\n`);
      results[name] = { ...(await load(path, body)), timeSplit: await split(path, body) };
    }
    results.targets = { rerank1000: { p50Ms: 3, p99Ms: 10, errors: 0 } };
    results.bundle = bundleSize();
    return results;
  } finally {
    server.stop();
  }
}
