// Thin wrapper over the wrangler CLI for the commands that act on a deployment's D1 and R2 (publish, events export,
// start): `--local` is the wrangler dev / miniflare state under .wrangler/, `--remote` a real Cloudflare account.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export type Target = "local" | "remote";

export const ROOT = new URL("../..", import.meta.url).pathname;
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
export const BUCKET = "hsrl-edge-models"; // wrangler.toml [[r2_buckets]] bucket_name
export const DATABASE = "DB"; // wrangler.toml [[d1_databases]] binding

function wrangler(args: string[]): string {
  if (!existsSync(WRANGLER)) throw new Error(`wrangler is not installed (${WRANGLER}); run npm install`);
  const res = spawnSync(WRANGLER, args, {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const detail = `${res.stderr ?? ""}\n${res.stdout ?? ""}`
      .split("\n")
      .filter((l) => /error|✘/i.test(l))
      .slice(0, 3)
      .join(" ")
      .trim();
    throw new Error(`wrangler ${args.slice(0, 3).join(" ")} failed: ${detail || `exit ${res.status}`}`);
  }
  return res.stdout;
}

// Local state lives in .wrangler/state unless HSRL_PERSIST_TO names another directory (the benchmarks use their own,
// so they never touch the state `npm start` serves).
/** `--persist-to <dir>` when HSRL_PERSIST_TO is set: for `wrangler dev` as for the d1/r2 commands on local state. */
export function persistArgs(): string[] {
  const persist = process.env.HSRL_PERSIST_TO;
  return persist ? ["--persist-to", persist] : [];
}

function where(target: Target): string[] {
  return target === "local" ? ["--local", ...persistArgs()] : [`--${target}`];
}

/** Runs SQL against the deployment's D1 and returns the result rows of the last statement. */
export function d1Query<T = Record<string, unknown>>(target: Target, sql: string): T[] {
  const out = wrangler(["d1", "execute", DATABASE, ...where(target), "--json", "--yes", "--command", sql]);
  const parsed = JSON.parse(out) as { results: T[] }[];
  return parsed.at(-1)?.results ?? [];
}

/** Runs statements in one call (one transaction locally) and returns every statement's result rows. */
export function d1QueryAll(target: Target, sql: string): Record<string, unknown>[][] {
  const out = wrangler(["d1", "execute", DATABASE, ...where(target), "--json", "--yes", "--command", sql]);
  return (JSON.parse(out) as { results: Record<string, unknown>[] }[]).map((r) => r.results ?? []);
}

/** d1Query with the SQL in a file (for statements longer than a command-line argument may be). */
export function d1QueryFile<T = Record<string, unknown>>(target: Target, file: string): T[] {
  const out = wrangler(["d1", "execute", DATABASE, ...where(target), "--json", "--yes", "--file", file]);
  const parsed = JSON.parse(out) as { results: T[] }[];
  return parsed.at(-1)?.results ?? [];
}

export function d1File(target: Target, file: string): void {
  wrangler(["d1", "execute", DATABASE, ...where(target), "--yes", "--file", file]);
}

export function d1Migrate(target: Target): void {
  wrangler(["d1", "migrations", "apply", DATABASE, ...where(target)]);
}

export function r2Put(target: Target, key: string, file: string, contentType: string): void {
  wrangler(["r2", "object", "put", `${BUCKET}/${key}`, ...where(target), "--file", file, "--content-type", contentType]);
}

/** A SQL string literal (for the few values the CLI writes through `wrangler d1 execute --command`). */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

export function targetOf(o: { local?: boolean; remote?: boolean }): Target {
  if (o.local && o.remote) throw new Error("give one of --local or --remote, not both");
  return o.remote ? "remote" : "local";
}
