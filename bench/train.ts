// Training step time of the learning code at the reference shape (batch 64, H 50, d 32, 2 layers, 4 heads, ff 128,
// L 3, V 64) on tfjs-wasm (1 thread) and tfjs-cpu, next to the arithmetic it needs:
//   bc: HPN forward + backward + Adam on next-positive NLL (what sl / hpn-sl / the warm start do per step)
//   rl: one full A2C step (act, simulate a slate with a response model, target critic, critic + actor updates with BC aux)
// on wasm for both HPN losses: "catalog" (log π over the N-item catalog, the default) and "tokens" (per-level NLL).
import { initBackend, tf } from "../scripts/model/backend";
import { HpnActor, type HpnLoss } from "../scripts/learn/actors";
import { DEFAULT_TRAIN, trainPolicy } from "../scripts/learn/a2c";
import { MultiLevelCritic } from "../scripts/model/critic";
import { DEFAULT_HPN_CONFIG } from "../scripts/model/hpn";
import { ResponseModel } from "../scripts/model/response";
import { ResponseClickModel } from "../scripts/learn/simulator";
import { Rng } from "../scripts/util/rng";

const B = 64,
  H = 50,
  L = 3,
  V = 64,
  N = 9742;
const cfg = { ...DEFAULT_HPN_CONFIG, levels: L, vocab: V, historyLength: H };

/** Multiply-adds x 2 of one training step (forward x 3 for forward + backward), for `rows` histories. */
export function stepFlops(rows: number): number {
  const { dModel: d, ff, layers } = cfg;
  const perLayer = 2 * H * (4 * d * d + 2 * d * ff) + 2 * 2 * H * H * d; // projections + MLP + attention
  const embed = 2 * H * L * V * d; // one-hot · table
  const heads = L * 2 * (d * V + V * d);
  return 3 * rows * (layers * perLayer + embed + heads);
}

function timeIt(f: () => void, reps: number): number {
  f(); // warm-up (kernels, allocations)
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
}

async function measure(backend: "wasm" | "cpu", reps: number, loss: HpnLoss) {
  await tf.setBackend(backend);
  await tf.ready();
  const rng = new Rng(1);
  const sidTokens = Int32Array.from({ length: N * L }, () => rng.int(V));
  const catalog = new Uint8Array(N).fill(1);
  const actor = HpnActor.create(cfg, 1, sidTokens, { loss, catalog });
  const hist = Array.from({ length: B }, () => Array.from({ length: H }, () => rng.int(N)));
  const targets = Int32Array.from({ length: B }, () => rng.int(N));
  const opt = tf.train.adam(1e-3);
  const bc = timeIt(() => {
    const l = opt.minimize(
      () => tf.tidy(() => tf.neg(tf.mean(actor.itemLogProb(actor.forward(hist, true), targets))) as tf.Scalar),
      true,
      actor.variables(),
    );
    l!.dataSync();
    l!.dispose();
  }, reps);
  const fwd = timeIt(() => {
    const o = actor.forward(hist, false);
    o.logp.dataSync();
    tf.dispose([o.logp, o.contexts]);
  }, reps);
  // a full A2C step: reps RL steps after 0 warm-start steps
  const response = new ResponseModel({ numItems: N, featureDim: 0, dim: 32, hidden: 64, historyLength: H }, 2);
  const critic = new MultiLevelCritic({ dim: 32, contexts: L + 1, hidden: [256, 64] }, 3);
  const examples = hist.map((h, i) => ({ user: i, history: h, target: targets[i] }));
  const res = trainPolicy(
    actor,
    critic,
    {
      clickModel: new ResponseClickModel(response),
      sim: { slateSize: 10, initialTemper: 20, nonClickReward: -0.1, historyLength: H },
      catalog,
      bcExamples: examples,
      starts: { sample: (r: Rng) => ({ user: 0, history: hist[r.int(B)] }) },
    },
    { ...DEFAULT_TRAIN, steps: reps + 1, warmStartFraction: 0 },
  );
  const rl = res.log.slice(1).reduce((a, l) => a + l.ms, 0) / reps; // first step excluded (warm-up)
  actor.dispose();
  critic.dispose();
  response.dispose();
  opt.dispose();
  return { bcStepMs: +bc.toFixed(1), forwardMs: +fwd.toFixed(1), rlStepMs: +rl.toFixed(1) };
}

export default async function benchTrain(): Promise<Record<string, unknown>> {
  await initBackend();
  const flops = stepFlops(B);
  const wasm = await measure("wasm", 5, "catalog");
  const wasmTokens = await measure("wasm", 5, "tokens");
  const cpu = await measure("cpu", 1, "catalog");
  const gflops = (ms: number) => +(flops / 1e9 / (ms / 1000)).toFixed(2);
  return {
    shape: {
      batch: B,
      historyLength: H,
      dModel: cfg.dModel,
      layers: cfg.layers,
      heads: cfg.heads,
      ff: cfg.ff,
      levels: L,
      vocab: V,
      catalog: N,
    },
    bcStepGflop: +(flops / 1e9).toFixed(3),
    wasm: { ...wasm, bcGflopPerS: gflops(wasm.bcStepMs) },
    wasmTokensLoss: { ...wasmTokens, bcGflopPerS: gflops(wasmTokens.bcStepMs) },
    cpu: { ...cpu, bcGflopPerS: gflops(cpu.bcStepMs) },
    note: "1 thread; the machine's 2 cores are shared, so times include contention",
  };
}
