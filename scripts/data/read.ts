// File reading helpers for the loaders: a chunked line reader (for large, quote-free rating logs that may exceed V8's
// string limit) and a CSV reader (csv-parse: quoted fields with commas) that both report file:line on errors.
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { basename } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { parse } from "csv-parse/sync";
import { DataError } from "./dataset";

export type Encoding = "utf8" | "latin1";

export function isFile(file: string): boolean {
  return existsSync(file) && statSync(file).isFile();
}

export function requireFile(file: string, what: string): void {
  if (!isFile(file)) throw new DataError(file, null, `file not found (${what})`);
}

/** The lines of a file ("\r" stripped, BOM stripped), read in chunks: files past V8's longest string work. */
export function* readLines(file: string, chunkBytes = 1 << 24, encoding: Encoding = "utf8"): Generator<string> {
  const fd = openSync(file, "r");
  const buf = Buffer.allocUnsafe(chunkBytes);
  const decoder = new StringDecoder(encoding);
  let rest = "";
  let first = true;
  const clean = (line: string) => {
    if (first && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    first = false;
    return line.endsWith("\r") ? line.slice(0, -1) : line;
  };
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = rest + decoder.write(buf.subarray(0, n));
      let start = 0;
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", start)) {
        yield clean(text.slice(start, i));
        start = i + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest.length > 0) yield clean(rest);
  } finally {
    closeSync(fd);
  }
}

/** Calls cb for every line of readLines, with 1-based line numbers. */
export function forEachLine(file: string, encoding: Encoding, cb: (line: string, lineNo: number) => void): void {
  let lineNo = 0;
  for (const line of readLines(file, 1 << 24, encoding)) cb(line, ++lineNo);
}

/**
 * Streams CSV records with the line each starts on. Lines without a quote are split on commas directly (fast, and no
 * whole-file string, so files past V8's string limit work); a record with quotes goes through csv-parse, accumulating
 * lines while a quoted field spans them. Malformed quoting -> DataError naming file and line.
 */
export function forEachCsvRecord(file: string, encoding: Encoding, cb: (fields: string[], line: number) => void): void {
  let pending = "";
  let pendingLine = 0;
  let quotes = 0;
  forEachLine(file, encoding, (text, line) => {
    if (pending === "") {
      if (text.trim() === "") return;
      if (!text.includes('"')) return cb(text.split(","), line);
      pendingLine = line;
      pending = text;
    } else pending += `\n${text}`;
    quotes += text.split('"').length - 1;
    if (quotes % 2 === 1) return; // a quoted field continues on the next line
    cb(parseRecord(file, pendingLine, pending), pendingLine);
    pending = "";
    quotes = 0;
  });
  if (pending !== "") throw new DataError(file, pendingLine, "malformed CSV: quoted field is never closed");
}

function parseRecord(file: string, line: number, text: string): string[] {
  try {
    const rows = parse(text, { relax_column_count: true }) as string[][];
    if (rows.length !== 1) throw new Error(`expected one record, got ${rows.length}`);
    return rows[0];
  } catch (e) {
    throw new DataError(file, line, `malformed CSV: ${(e as Error).message.replace(/ at line \d+/, "")}`);
  }
}

/** Every CSV record with its line, in memory (for the smaller item files). */
export function readCsv(file: string, encoding: Encoding = "utf8"): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  forEachCsvRecord(file, encoding, (fields, line) => out.push({ line, fields }));
  return out;
}

/** Short file name for messages that already say which dataset they are about. */
export const shortName = (file: string) => basename(file);

export function parseIntField(file: string, line: number, name: string, v: string | undefined): number {
  const s = (v ?? "").trim();
  if (!/^-?\d+$/.test(s)) throw new DataError(file, line, `${name} must be an integer, got ${JSON.stringify(v ?? "")}`);
  return Number(s);
}

export function parseNumberField(file: string, line: number, name: string, v: string | undefined): number {
  const s = (v ?? "").trim();
  const x = s === "" ? NaN : Number(s);
  if (!Number.isFinite(x)) throw new DataError(file, line, `${name} must be a number, got ${JSON.stringify(v ?? "")}`);
  return x;
}
