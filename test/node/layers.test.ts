// The offline layers run one way: util -> data -> sids -> model -> learn -> export | deploy -> commands -> the entry
// points (cli.ts, start.ts, fixture.ts). A module may import its own layer and the layers below it, and core/
// (shared with the Worker); never a layer above. core/ imports neither side; worker/ never imports scripts/.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const RANK: Record<string, number> = { util: 0, data: 1, sids: 2, model: 3, learn: 4, export: 5, deploy: 5, commands: 6 };
const ENTRY = 7; // files directly under scripts/

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

/** Repo-relative paths of the modules a file imports (static, dynamic and type-only), relative specifiers only. */
function imports(file: string): string[] {
  const src = fs.readFileSync(file, "utf8");
  const specs = [...src.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]);
  return specs.map((s) => path.relative(root, path.resolve(path.dirname(file), s)));
}

function layerOf(rel: string): number | null {
  const parts = rel.split(path.sep);
  if (parts[0] !== "scripts") return null;
  if (parts.length === 2) return ENTRY;
  const rank = RANK[parts[1]];
  if (rank === undefined) throw new Error(`${rel}: scripts/${parts[1]}/ is not a known layer (add it to RANK)`);
  return rank;
}

describe("layers", () => {
  it("nothing in scripts/ imports from a layer above it", () => {
    const upward: string[] = [];
    for (const file of tsFiles(path.join(root, "scripts"))) {
      const from = path.relative(root, file);
      for (const to of imports(file)) {
        const a = layerOf(from)!;
        const b = layerOf(to);
        if (b !== null && b > a) upward.push(`${from} -> ${to}`);
        // export and deploy share a rank but not a purpose: neither reads the other
        if (b === a && a === RANK.export && from.split(path.sep)[1] !== to.split(path.sep)[1]) upward.push(`${from} -> ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("core/ imports neither side, and the Worker never imports scripts/", () => {
    const bad: string[] = [];
    for (const [dir, banned] of [
      ["core", ["scripts", "worker"]],
      ["worker", ["scripts"]],
    ] as const) {
      for (const file of tsFiles(path.join(root, dir))) {
        for (const to of imports(file))
          if (banned.some((b) => to.startsWith(`${b}${path.sep}`))) bad.push(`${path.relative(root, file)} -> ${to}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("sees the imports it checks (a known upward import would be caught)", () => {
    expect(imports(path.join(root, "scripts/cli.ts"))).toContain(path.join("scripts", "commands", "train"));
    expect(layerOf(path.join("scripts", "learn", "x"))! > layerOf(path.join("scripts", "model", "y"))!).toBe(true);
  });
});
