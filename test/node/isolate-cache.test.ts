// The Worker's per-isolate cache shares only settled values, and settleAll lets every load finish before it throws.
import { describe, expect, it } from "vitest";
import { IsolateCache, settleAll } from "../../worker/isolate-cache";

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe("IsolateCache", () => {
  it("keeps the first of racing loads, discards the others, and loads again for a new key", async () => {
    const discarded: string[] = [];
    const cache = new IsolateCache<string>((v) => discarded.push(v));
    const [a, b] = await Promise.all([cache.get("v1", () => later(5, "first")), cache.get("v1", () => later(20, "second"))]);
    expect([a, b]).toEqual(["first", "first"]);
    expect(discarded).toEqual(["second"]);
    let loads = 0;
    expect(await cache.get("v1", async () => `again ${++loads}`)).toBe("first");
    expect(await cache.get("v2", async () => `again ${++loads}`)).toBe("again 1");
    cache.clear();
    expect(await cache.get("v2", async () => `again ${++loads}`)).toBe("again 2");
  });

  it("does not cache a failed load", async () => {
    const cache = new IsolateCache<number>();
    await expect(cache.get("k", async () => Promise.reject(new Error("R2 down")))).rejects.toThrow("R2 down");
    expect(await cache.get("k", async () => 7)).toBe(7);
  });
});

describe("settleAll", () => {
  it("waits for every promise before rethrowing the first failure", async () => {
    let slowDone = false;
    const slow = later(20, 1).then((v) => ((slowDone = true), v));
    await expect(settleAll([Promise.reject(new Error("model failed")), slow])).rejects.toThrow("model failed");
    expect(slowDone).toBe(true);
    expect(await settleAll([Promise.resolve(1), later(1, "x")])).toEqual([1, "x"]);
  });
});
