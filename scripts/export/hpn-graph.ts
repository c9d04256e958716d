// The HPN's inference graph in ONNX (opset 17), rebuilt op for op from scripts/model/hpn.ts and its named weights.
//
//   inputs:  "sids" int64 [batch, H, L] (right-aligned history), "length" int64 [batch]
//   output:  "logprobs" float32 [batch, L, V]; with a popularity prior also "beta" float32 [batch] = b + w·c_0
//
// Same arithmetic as the tfjs forward pass (eval mode: no dropout): padding rows zeroed, additive mask 0 / -1e9 with the
// diagonal always open, pre-LN blocks with ReLU MLPs, LayerNormalization (eps 1e-5), residual heads with the expected
// token embedding. The critic is not part of the serving model, and neither is c_L (only the critic reads it).
//
// int8 variant: every weight that feeds a MatMul or a Gather is stored as int8 with one fp32 scale per output channel
// (symmetric, zero point 0) and restored by DequantizeLinear(axis) right before use; so is the positional table (one
// scale per position). Biases, LayerNorm and softmax stay fp32.
import { GraphBuilder } from "./onnx-builder";
import { LN_EPS, MASK_NEG, hpnWeightShapes, validateHpnConfig, type HpnConfig, type NamedWeights } from "../model/hpn";

export type Quantization = "fp32" | "int8";

/** Symmetric per-channel int8: channel = column of a [rows, cols] matrix (axis 1) or row (axis 0). */
export function quantizeInt8(data: Float32Array, rows: number, cols: number, axis: 0 | 1): { q: Int8Array; scale: Float32Array } {
  const channels = axis === 1 ? cols : rows;
  const maxAbs = new Float32Array(channels);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const ch = axis === 1 ? c : r;
      maxAbs[ch] = Math.max(maxAbs[ch], Math.abs(data[r * cols + c]));
    }
  const scale = maxAbs.map((m) => (m > 0 ? m / 127 : 1)); // an all-zero channel keeps scale 1 (q is all 0)
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const v = Math.round(data[r * cols + c] / scale[axis === 1 ? c : r]);
      q[r * cols + c] = Math.max(-127, Math.min(127, v));
    }
  return { q, scale };
}

/** The learned popularity prior's state-dependent weight β(s) = b + w·c_0 (scripts/learn/actors.ts HpnActor). */
export interface PriorWeights {
  w: ArrayLike<number>; // [d]
  b: number;
}

/** Builds the serving model bytes for a config and its weights (getWeights() / a checkpoint), and β's with a prior. */
export function buildHpnOnnx(
  config: HpnConfig,
  weights: NamedWeights,
  quantization: Quantization,
  prior: PriorWeights | null = null,
): Uint8Array {
  validateHpnConfig(config);
  for (const [name, shape] of hpnWeightShapes(config)) {
    const w = weights[name];
    if (!w) throw new Error(`export: checkpoint has no weight "${name}"`);
    if (w.shape.join(",") !== shape.join(",")) throw new Error(`export: weight "${name}" has shape [${w.shape}], expected [${shape}]`);
  }
  const { levels: L, vocab: V, historyLength: H, dModel: d, heads: nh, tau, residual } = config;
  const dh = d / nh;
  const g = new GraphBuilder("hpn");
  const sids = g.input("sids", "int64", ["batch", H, L]);
  const length = g.input("length", "int64", ["batch"]);

  const f32 = (name: string) => g.initializer(name, weights[name].data, weights[name].shape);
  const scalar = (v: number) => g.initializer(g.fresh("scalar"), Float32Array.of(v), []);
  // A matrix weight for MatMul ([in, out], channel = out) or a row table (Gather / positional: channel = row).
  const matrix = (name: string, use: "matmul" | "rows"): string => {
    const [rows, cols] = weights[name].shape;
    if (quantization === "fp32") return f32(name);
    const axis = use === "matmul" ? 1 : 0;
    const { q, scale } = quantizeInt8(weights[name].data, rows, cols, axis);
    const qn = g.initializer(`${name}.q`, q, [rows, cols]);
    const sn = g.initializer(`${name}.scale`, scale, [scale.length]);
    const zn = g.initializer(`${name}.zero`, new Int8Array(scale.length), [scale.length]);
    return g.op("DequantizeLinear", [qn, sn, zn], { axis });
  };
  const linear = (x: string, name: string) => g.op("Add", [g.op("MatMul", [x, matrix(`${name}.w`, "matmul")]), f32(`${name}.b`)]);
  const layerNorm = (x: string, name: string) =>
    g.op("LayerNormalization", [x, f32(`${name}.g`), f32(`${name}.b`)], { axis: -1, epsilon: { float: LN_EPS } });

  // valid[b, j] = j >= H - length[b]  (right-aligned history)
  const positions = g.initializer(
    "positions",
    BigInt64Array.from({ length: H }, (_, j) => BigInt(j)),
    [H],
  );
  const start = g.op("Unsqueeze", [g.op("Sub", [g.initializer("H", BigInt64Array.of(BigInt(H)), []), length]), g.ints([1])]); // [B, 1]
  const valid = g.op("GreaterOrEqual", [positions, start]); // [B, H] bool
  const validF = g.op("Cast", [valid], { to: 1 }); // float

  // Additive attention mask [B, 1, H, H]: key j open to query i iff j <= i and (j valid or j == i). Built from the
  // positions vector rather than stored as H*H constants (20 KB at H = 50, a third of the int8 file).
  const col = g.op("Unsqueeze", [positions, g.ints([0])]); // [1, H]: key j
  const row = g.op("Unsqueeze", [positions, g.ints([1])]); // [H, 1]: query i
  const eye = g.op("Cast", [g.op("Equal", [row, col])], { to: 1 });
  const causal = g.op("Cast", [g.op("GreaterOrEqual", [row, col])], { to: 1 });
  const keyOpen = g.op("Max", [g.op("Unsqueeze", [validF, g.ints([1])]), eye]); // [B, H, H]
  const open = g.op("Mul", [keyOpen, causal]);
  const bias = g.op("Unsqueeze", [g.op("Mul", [g.op("Sub", [open, scalar(1)]), scalar(-MASK_NEG)]), g.ints([1])]);

  // Item embedding Σ_l tok_in_l[z_l]; padding rows' ids are replaced by 0 (any id would do: the row is zeroed).
  const safeSids = g.op("Where", [g.op("Unsqueeze", [valid, g.ints([2])]), sids, g.initializer("zero_id", BigInt64Array.of(0n), [])]);
  let emb = "";
  for (let l = 0; l < L; l++) {
    const z = g.op("Gather", [safeSids, g.initializer(`level_${l}`, BigInt64Array.of(BigInt(l)), [])], { axis: 2 }); // [B, H]
    const e = g.op("Gather", [matrix(`tok_in.${l}`, "rows"), z], { axis: 0 }); // [B, H, d]
    emb = l === 0 ? e : g.op("Add", [emb, e]);
  }
  let x = g.op("Add", [g.op("Mul", [emb, g.op("Unsqueeze", [validF, g.ints([2])])]), matrix("pos", "rows")]);

  const splitShape = g.ints([0, -1, nh, dh]);
  const invSqrt = scalar(1 / Math.sqrt(dh));
  const lastRow = (t: string) => g.op("Slice", [t, g.ints([H - 1]), g.ints([H]), g.ints([1])]); // [B, 1, ...] at H-1
  for (let i = 0; i < config.layers; i++) {
    const p = `block.${i}`;
    // The final block computes only the query at H-1 (the serving output needs c_0 alone), as Hpn.forward does.
    const last = i === config.layers - 1;
    const h = layerNorm(x, `${p}.ln1`);
    const heads = (t: string, perm: number[]) => g.op("Transpose", [g.op("Reshape", [t, splitShape])], { perm });
    const q = heads(linear(last ? lastRow(h) : h, `${p}.attn.q`), [0, 2, 1, 3]); // [B, nh, rows, dh]
    const kT = heads(linear(h, `${p}.attn.k`), [0, 2, 3, 1]); // [B, nh, dh, H]
    const v = heads(linear(h, `${p}.attn.v`), [0, 2, 1, 3]);
    const b = last ? g.op("Slice", [bias, g.ints([H - 1]), g.ints([H]), g.ints([2])]) : bias; // [B, 1, rows, H]
    const att = g.op("Softmax", [g.op("Add", [g.op("Mul", [g.op("MatMul", [q, kT]), invSqrt]), b])], { axis: -1 });
    const y = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [att, v])], { perm: [0, 2, 1, 3] }), g.ints([0, -1, d])]);
    x = g.op("Add", [last ? lastRow(x) : x, linear(y, `${p}.attn.proj`)]);
    const m = linear(g.op("Relu", [linear(layerNorm(x, `${p}.ln2`), `${p}.mlp.fc`)]), `${p}.mlp.proj`);
    x = g.op("Add", [x, m]);
  }
  const seq = layerNorm(x, "ln_f"); // [B, 1, d]
  const c0 = g.op("Squeeze", [seq, g.ints([1])]); // [B, d]

  const invTau = tau === 1 ? null : scalar(tau);
  const levelOut: string[] = [];
  let c = c0;
  for (let l = 0; l < L; l++) {
    const logits = linear(residual ? c : c0, `head.${l}`);
    const logp = g.op("LogSoftmax", [invTau ? g.op("Div", [logits, invTau]) : logits], { axis: -1 }); // [B, V]
    levelOut.push(g.op("Unsqueeze", [logp, g.ints([1])]));
    if (residual && l < L - 1) {
      const e = g.op("MatMul", [g.op("Exp", [logp]), matrix(`tok_out.${l}`, "matmul")]);
      c = layerNorm(g.op("Sub", [c, e]), `head.${l}.ln`);
    }
  }
  g.op("Concat", levelOut, { axis: 1 }, ["logprobs"]);
  g.output("logprobs", "float32", ["batch", L, V]);
  if (prior) {
    if (prior.w.length !== d) throw new Error(`export: prior weight w has ${prior.w.length} values, d_model is ${d}`);
    // d + 1 numbers: kept fp32 in both variants
    const w = g.initializer("prior.w", Float32Array.from(prior.w), [d, 1]);
    const bw = g.op("Squeeze", [g.op("MatMul", [c0, w]), g.ints([1])]); // [B]
    g.op("Add", [bw, g.initializer("prior.b", Float32Array.of(prior.b), [])], {}, ["beta"]);
    g.output("beta", "float32", ["batch"]);
  }
  return g.toBytes();
}
