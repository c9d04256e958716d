// Writes test/fixtures/tiny.onnx: logits = x · W + b, y = LogSoftmax(logits), x float32 [batch, 4] -> y [batch, 3].
// The weights are fixed so tests can check ORT's answer against a reference computed by hand.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GraphBuilder } from "./onnx/graph";

export const TINY_W = [
  [0.5, -1.0, 0.25],
  [1.5, 0.0, -0.5],
  [-0.75, 2.0, 1.0],
  [0.1, 0.2, 0.3],
];
export const TINY_B = [0.05, -0.1, 0.2];

export function tinyModel(): Uint8Array {
  const g = new GraphBuilder("tiny");
  const x = g.input("x", "float32", ["batch", 4]);
  const w = g.initializer("W", Float32Array.from(TINY_W.flat()), [4, 3]);
  const b = g.initializer("b", Float32Array.from(TINY_B), [3]);
  const logits = g.op("Add", [g.op("MatMul", [x, w]), b]);
  g.op("LogSoftmax", [logits], { axis: -1 }, ["y"]);
  g.output("y", "float32", ["batch", 3]);
  return g.toBytes();
}

// A hand-assembled wasm module exporting add(i32, i32) -> i32: tests use it to check that other WebAssembly keeps
// working while and after ORT initialises.
export const ADD_WASM = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, // type section: (i32, i32) -> i32
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, // export "add" = function 0
  0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b, // code: local.get 0, local.get 1, i32.add
]);

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ?? "test/fixtures";
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tiny.onnx"), tinyModel());
  writeFileSync(join(dir, "add.wasm"), ADD_WASM);
  console.log(`wrote ${dir}/tiny.onnx, ${dir}/add.wasm`);
}
