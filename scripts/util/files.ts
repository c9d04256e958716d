// File helpers every layer uses: JSON that fails with the file's name, and writes that never leave half a file.
import fs from "node:fs";
import path from "node:path";

/** Writes to `<file>.tmp`, then renames over `file`: a reader (or an interrupted run) sees the old or the new bytes. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, data);
  fs.renameSync(`${file}.tmp`, file);
}

/** JSON with one space of indent; non-finite numbers become null (JSON has no NaN). */
export function writeJson(file: string, x: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(x, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 1)}\n`);
}

export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new Error(`${file}: cannot read file`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
}
