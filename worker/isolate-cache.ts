// A per-isolate cache of one value under one key (the serving model, the codebook, the item encoder, the prefix tree).
// Only settled values are shared between requests. workerd cannot settle a promise whose I/O belongs to a request that
// has ended, so caching an in-flight load would hang every later request whenever the request that started it ended
// first (say, it failed on something else and answered at once). Loads racing on a cold cache each run; the first to
// finish is kept, and the others are handed to `discard` (an ONNX session holds wasm memory).
export class IsolateCache<T> {
  private entry: { key: string; value: T } | undefined;

  constructor(private readonly discard?: (value: T) => void) {}

  async get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.entry?.key === key) return this.entry.value;
    const value = await load();
    if (this.entry?.key === key) {
      this.discard?.(value);
      return this.entry.value;
    }
    this.entry = { key, value };
    return value;
  }

  /** The cached value when it is for `key`. */
  peek(key: string): T | undefined {
    return this.entry?.key === key ? this.entry.value : undefined;
  }

  clear(): void {
    this.entry = undefined;
  }
}

/**
 * Promise.all that lets every promise settle before it rethrows the first failure, so a request never ends while one
 * of its loads is still in flight (that load could then never settle, for this request or any other).
 */
export async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "rejected") throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
