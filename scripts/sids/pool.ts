// Spreads the distance and encode kernels over worker threads (2 cores here). Buffers are SharedArrayBuffers so rows
// are never copied; each worker gets a contiguous row range. threads = 1 runs in-process (tests, small catalogs).
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { distanceBlock, encodeBlock } from "./kernels";

export type PoolTask =
  | {
      id: number;
      kind: "distance";
      x: SharedArrayBuffer;
      d: number;
      start: number;
      end: number;
      c: SharedArrayBuffer;
      v: number;
      out: SharedArrayBuffer;
    }
  | {
      id: number;
      kind: "encode";
      x: SharedArrayBuffer;
      d: number;
      start: number;
      end: number;
      c: SharedArrayBuffer;
      v: number;
      out: SharedArrayBuffer;
      levels: number;
      level: number;
    };

/** A Float32Array over shared memory, so workers see the same rows. */
export function sharedF32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}
export function sharedI32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(n * 4));
}

function shared(a: Float32Array | Int32Array): SharedArrayBuffer {
  if (!(a.buffer instanceof SharedArrayBuffer) || a.byteOffset !== 0) throw new Error("pool: buffers must be whole SharedArrayBuffers");
  return a.buffer;
}

export class KernelPool {
  private workers: Worker[] = [];
  private pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 0;
  readonly threads: number;

  /** threads: 0 = one per core. */
  constructor(threads = 0) {
    this.threads = Math.max(1, threads || availableParallelism());
    if (this.threads === 1) return;
    // Workers start on the .ts source: keep the tsx loader the parent runs under, or add it (e.g. under vitest).
    const hasTsx = process.execArgv.some((a) => a.includes("tsx"));
    const execArgv = hasTsx ? process.execArgv : [...process.execArgv, "--import", "tsx"];
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(new URL("./pool-worker.ts", import.meta.url), { execArgv });
      w.on("message", (id: number) => {
        this.pending.get(id)?.resolve();
        this.pending.delete(id);
        if (this.pending.size === 0) for (const x of this.workers) x.unref(); // idle workers never hold the process
      });
      w.on("error", (e) => {
        // A dead worker fails every task in flight (the build stops with one clear message instead of hanging).
        for (const p of this.pending.values()) p.reject(new Error(`kernel pool worker failed: ${e.message}`));
        this.pending.clear();
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /** Splits rows [offset, offset + rows) into one contiguous range per worker and waits for all. */
  private run(make: (id: number, start: number, end: number) => PoolTask, rows: number, offset = 0): Promise<void> {
    const parts = Math.min(this.workers.length, rows);
    const per = Math.ceil(rows / parts);
    const jobs: Promise<void>[] = [];
    for (const w of this.workers) w.ref(); // an unref'd worker would let the process exit mid-task
    for (let p = 0; p < parts; p++) {
      const start = p * per,
        end = Math.min(rows, start + per);
      if (start >= end) continue;
      const id = this.nextId++;
      jobs.push(new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject })));
      this.workers[p].postMessage(make(id, offset + start, offset + end));
    }
    return Promise.all(jobs).then(() => undefined);
  }

  /** Squared distances of all rows of x to all v centroids, into out (rows x v, shared). */
  async distances(x: Float32Array, d: number, rows: number, c: Float32Array, v: number, out: Float32Array): Promise<void> {
    if (this.workers.length === 0 || rows < 2048) return distanceBlock(x, d, 0, rows, c, v, out);
    const sc = sharedF32(c.length);
    sc.set(c);
    await this.run((id, s, e) => ({ id, kind: "distance", x: shared(x), d, start: s, end: e, c: shared(sc), v, out: shared(out) }), rows);
  }

  /** One encode level over all rows of the residual r (in place), tokens[i * levels + level]. */
  async encodeLevel(
    r: Float32Array,
    d: number,
    rows: number,
    c: Float32Array,
    v: number,
    tokens: Int32Array,
    levels: number,
    level: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<void> {
    // Blocks of rows, so a long encode (a million items) reports progress; rows are independent, so blocks don't
    // change the result.
    const block = Math.max(4096, Math.ceil(rows / 50));
    const sc = this.workers.length ? sharedF32(c.length) : c;
    if (sc !== c) sc.set(c);
    for (let s = 0; s < rows; s += block * Math.max(1, this.workers.length)) {
      const e = Math.min(rows, s + block * Math.max(1, this.workers.length));
      if (this.workers.length === 0 || e - s < 2048) encodeBlock(r, d, s, e, c, v, tokens, levels, level);
      else
        await this.run(
          (id, a, b) => ({ id, kind: "encode", x: shared(r), d, start: a, end: b, c: shared(sc), v, out: shared(tokens), levels, level }),
          e - s,
          s,
        );
      onProgress?.(e, rows);
    }
  }

  close(): Promise<void> {
    return Promise.all(this.workers.map((w) => w.terminate())).then(() => undefined);
  }
}
