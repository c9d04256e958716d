// A wrangler dev instance for benchmarks: local state migrated and seeded with the embedded catalog, started on its own
// port, stopped by the returned function. The scale benchmark prepares its own state and restarts on it (`prepared`).
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { d1File, d1Migrate, ROOT } from "../scripts/deploy/wrangler";

export interface DevServer {
  base: string;
  stop: () => void;
  process: ChildProcess;
}

/**
 * Fresh local state under .wrangler/bench (HSRL_PERSIST_TO), so a benchmark never changes what `npm start` serves.
 * With `prepared`, the state in that directory is served as it is (already migrated and loaded).
 */
export async function startDevServer(port: number, vars: Record<string, string> = {}, prepared?: string): Promise<DevServer> {
  const persist = prepared ?? join(ROOT, ".wrangler", "bench");
  process.env.HSRL_PERSIST_TO = persist;
  if (!prepared) {
    rmSync(persist, { recursive: true, force: true });
    d1Migrate("local");
    d1File("local", join(ROOT, "model", "default", "sid-table.sql"));
  }
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    persist,
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const dev = spawn(join(ROOT, "node_modules", ".bin", "wrangler"), args, {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      // A route that touches neither the model nor D1 items, so what a benchmark measures first stays cold.
      if ((await fetch(`${base}/openapi.json`)).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) {
      dev.kill("SIGTERM");
      throw new Error(`wrangler dev did not answer on ${base} within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { base, stop: () => dev.kill("SIGTERM"), process: dev };
}
