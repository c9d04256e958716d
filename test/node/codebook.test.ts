import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  codebookFromJson,
  codebookToJson,
  codebookVersion,
  createCodebook,
  decodeSid,
  encodeSid,
  parseSidKey,
  sidKey,
} from "../../core/codebook";
import { sha256Hex } from "../../core/sha256";
import { Rng } from "../../core/rng";

function randomCodebook(seed: number, levels = 3, size = 16, dim = 8) {
  const rng = new Rng(seed);
  const centroids = Array.from({ length: levels }, (_, l) => Float32Array.from({ length: size * dim }, () => rng.normal() / (l + 1)));
  return createCodebook(levels, size, dim, centroids);
}

describe("sha256", () => {
  it("matches node:crypto on lengths around the block boundaries", () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
      expect(sha256Hex(b)).toBe(createHash("sha256").update(b).digest("hex"));
    }
  });
});

describe("codebook", () => {
  it("encodeSid picks the nearest centroid per level on the residual", () => {
    // 1-D, two levels: level 0 centroids {0, 10}, level 1 centroids {-1, 1}.
    const cb = createCodebook(2, 2, 1, [Float32Array.from([0, 10]), Float32Array.from([-1, 1])]);
    expect(encodeSid(cb, [9.2])).toEqual([1, 0]); // 9.2 -> 10, residual -0.8 -> -1
    expect(encodeSid(cb, [0.7])).toEqual([0, 1]); // 0.7 -> 0, residual 0.7 -> 1
    expect(encodeSid(cb, [5])).toEqual([0, 1]); // a tie at level 0 goes to the lowest index; residual 5 -> 1
    expect(Array.from(decodeSid(cb, [1, 0]))).toEqual([9]);
  });

  it("brute-force check of encodeSid on random data", () => {
    const cb = randomCodebook(3);
    const rng = new Rng(4);
    for (let t = 0; t < 200; t++) {
      const x = Float32Array.from({ length: cb.dim }, () => rng.normal());
      const got = encodeSid(cb, x);
      let r = Float64Array.from(x);
      for (let l = 0; l < cb.levels; l++) {
        const c = cb.centroids[l];
        let best = 0,
          bestD = Infinity;
        for (let k = 0; k < cb.size; k++) {
          let d = 0;
          for (let j = 0; j < cb.dim; j++) d += (r[j] - c[k * cb.dim + j]) ** 2;
          if (d < bestD) (bestD = d), (best = k);
        }
        expect(got[l]).toBe(best);
        r = r.map((v, j) => Math.fround(v - c[best * cb.dim + j]));
      }
    }
  });

  it("rejects vectors of the wrong length or with NaN", () => {
    const cb = randomCodebook(1);
    expect(() => encodeSid(cb, [1, 2])).toThrow(/2 values, codebook dim is 8/);
    expect(() => encodeSid(cb, [NaN, 0, 0, 0, 0, 0, 0, 0])).toThrow(/not finite/);
  });

  it("sidKey and parseSidKey are inverse; bad keys are refused", () => {
    expect(sidKey([12, 40, 3])).toBe("12-40-3");
    expect(parseSidKey("12-40-3")).toEqual([12, 40, 3]);
    expect(() => parseSidKey("12--3")).toThrow(/not tokens/);
  });

  it("JSON round trip is exact and the version is a stable content hash", () => {
    const cb = randomCodebook(7);
    const text = JSON.stringify(codebookToJson(cb));
    const back = codebookFromJson(JSON.parse(text));
    expect(back.version).toBe(cb.version);
    expect(back.version).toMatch(/^[0-9a-f]{16}$/);
    back.centroids.forEach((c, l) => expect(Array.from(c)).toEqual(Array.from(cb.centroids[l])));
    expect(codebookFromJson(text).version).toBe(cb.version); // a string works too
    // Same content -> same version; one changed bit -> another version.
    expect(randomCodebook(7).version).toBe(cb.version);
    const changed = cb.centroids.map((c) => c.slice());
    changed[2][5] = Math.fround(changed[2][5] + 1e-6);
    expect(codebookVersion(cb.levels, cb.size, cb.dim, changed)).not.toBe(cb.version);
  });

  it("refuses a codebook whose content does not match its version, or has a bad shape", () => {
    const json = codebookToJson(randomCodebook(2));
    json.centroids[0][0] += 1;
    expect(() => codebookFromJson(json)).toThrow(/does not match its content hash/);
    const short = codebookToJson(randomCodebook(2));
    short.centroids[1] = short.centroids[1].slice(1);
    expect(() => codebookFromJson(short)).toThrow(/level 1 has 127 values, expected 16\*8/);
    expect(() => codebookFromJson({ format: "x" })).toThrow(/format/);
  });
});
