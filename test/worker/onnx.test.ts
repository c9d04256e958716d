import { describe, expect, it } from "vitest";
import { createSession, ort } from "../../worker/onnx";
import addWasm from "../fixtures/add.wasm";
import tinyModel from "../fixtures/tiny.onnx";
import { TINY_B, TINY_W } from "../../scripts/fixture";

// Reference: log-softmax(x · W + b), computed in plain JS.
function reference(x: number[]): number[] {
  const logits = TINY_B.map((b, j) => b + x.reduce((s, xi, i) => s + xi * TINY_W[i][j], 0));
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
  return logits.map((l) => l - lse);
}

async function add(a: number, b: number): Promise<number> {
  const instance = await WebAssembly.instantiate(addWasm, {});
  return (instance.exports.add as (a: number, b: number) => number)(a, b);
}

describe("onnxruntime-web in workerd", () => {
  it("runs the fixture and matches the reference log-probabilities", async () => {
    const session = await createSession(tinyModel);
    const rows = [
      [1, 0, 0, 0],
      [0.3, -1.2, 2.5, 0.7],
    ];
    const x = new ort.Tensor("float32", Float32Array.from(rows.flat()), [2, 4]);
    const { y } = await session.run({ x });
    expect(y.dims).toEqual([2, 3]);
    const got = Array.from(y.data as Float32Array);
    const want = rows.flatMap(reference);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });

  it("leaves other WebAssembly untouched, during and after ORT initialisation", async () => {
    const original = WebAssembly.instantiate;
    const [session, sum] = await Promise.all([createSession(tinyModel), add(2, 40)]);
    expect(sum).toBe(42);
    expect(session.inputNames).toEqual(["x"]);
    expect(WebAssembly.instantiate).toBe(original);
    expect(await add(-5, 7)).toBe(2);
  });
});
