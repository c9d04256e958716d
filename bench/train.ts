// Training step time of the learning code at the reference shape (batch 64, H 50, d 32, 2 layers, 4 heads, ff 128,
// L 3, V 64, N 9742: the ml-latest-small catalog) on tfjs-wasm, one thread, next to the arithmetic it needs:
//   bc:    HPN forward + backward + Adam on the next positive's log π over the catalog (loss "catalog")
//   bcAll: the same with one target per history position (bcPositions "all", Actor.sequenceNll)
//   rl:    one full A2C step (act, simulate a slate with a response model, target critic, critic + actor updates with
//          the BC auxiliary loss), with its per-phase profile (a2c.ts PhaseProfile)
// and, when `python3 -c "import torch"` works (python3 on PATH, or Debian's /usr/bin/python3 with python3-torch),
// the same step in PyTorch on CPU with one thread (bench/reference/hsrl_step.py), run in the same process run, so the
// two are measured side by side on the same (shared, noisy) machine. Without torch: "no reference".
// BENCH_TRAIN_REPS (default 8) sets the timed repetitions, BENCH_TRAIN_ROUNDS (default 3) the ours/torch rounds,
// BENCH_TRAIN_BATCHES (default "64,256") the RL batches.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import path from "node:path";
import { initBackend, tf } from "../scripts/model/backend";
import { HpnActor, type HpnLoss } from "../scripts/learn/actors";
import { DEFAULT_TRAIN, PhaseProfile, trainPolicy } from "../scripts/learn/a2c";
import { MultiLevelCritic } from "../scripts/model/critic";
import { DEFAULT_HPN_CONFIG } from "../scripts/model/hpn";
import { ResponseModel } from "../scripts/model/response";
import { type ClickModel, ResponseClickModel } from "../scripts/learn/simulator";
import { Rng } from "../core/rng";

const B = 64,
  H = 50,
  L = 3,
  V = 64,
  N = 9742,
  K = 10;
const cfg = { ...DEFAULT_HPN_CONFIG, levels: L, vocab: V, historyLength: H };
const REPS = Number(process.env.BENCH_TRAIN_REPS ?? 8);
const BATCHES = (process.env.BENCH_TRAIN_BATCHES ?? "64,256").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_TRAIN_ROUNDS ?? 3);

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

const round = (x: number, n = 1) => +x.toFixed(n);
const roundAll = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 2)]));

/** A click model that times the response model's forward (incl. its read-back) as the phase "simulator.response". */
class TimedClickModel implements ClickModel {
  constructor(
    private readonly inner: ClickModel,
    private readonly prof: PhaseProfile,
  ) {}
  clickProbs(h: number[][], s: Int32Array, k: number): Float32Array {
    return this.prof.time("simulator.response", () => this.inner.clickProbs(h, s, k));
  }
}

function setup(loss: HpnLoss, batch: number) {
  const rng = new Rng(1);
  const sidTokens = Int32Array.from({ length: N * L }, () => rng.int(V));
  const catalog = new Uint8Array(N).fill(1);
  const actor = HpnActor.create(cfg, 1, sidTokens, { loss, catalog });
  const hist = Array.from({ length: batch }, () => Array.from({ length: H }, () => rng.int(N)));
  const targets = Int32Array.from({ length: batch }, () => rng.int(N));
  return { actor, hist, targets, catalog };
}

function measureBc(loss: HpnLoss, allPositions: boolean) {
  const { actor, hist, targets } = setup(loss, B);
  const opt = tf.train.adam(1e-3);
  const step = (f: () => tf.Scalar) => () => {
    const l = opt.minimize(() => tf.tidy(f), true, actor.variables());
    l!.dataSync();
    l!.dispose();
  };
  const bc = timeIt(
    step(() => tf.neg(tf.mean(actor.itemLogProb(actor.forward(hist, true), targets))) as tf.Scalar),
    REPS,
  );
  // all positions with the catalog loss is a [B·H, N] log π: slow, so timed once (2 reps)
  const bcAll = allPositions
    ? timeIt(
        step(() => actor.sequenceNll(hist, targets)),
        2,
      )
    : NaN;
  const fwd = timeIt(() => {
    const o = actor.forward(hist, false);
    o.logp.dataSync();
    tf.dispose([o.logp, o.contexts]);
  }, REPS);
  actor.dispose();
  opt.dispose();
  return { bcStepMs: round(bc), bcAllPositionsStepMs: round(bcAll), forwardMs: round(fwd) };
}

/** RL steps at a batch, with the per-phase profile (the first step, a warm-up, excluded). */
function measureRl(loss: HpnLoss, batch: number, reps: number) {
  const { actor, hist, targets, catalog } = setup(loss, batch);
  const response = new ResponseModel({ numItems: N, featureDim: 0, dim: 32, hidden: 64, historyLength: H }, 2);
  const critic = new MultiLevelCritic({ dim: 32, contexts: L + 1, hidden: [256, 64] }, 3);
  const examples = hist.map((h, i) => ({ user: i, history: h, target: targets[i] }));
  const profile = new PhaseProfile();
  let steps = 0;
  const res = trainPolicy(
    actor,
    critic,
    {
      clickModel: new TimedClickModel(new ResponseClickModel(response), profile),
      sim: { slateSize: K, initialTemper: 20, nonClickReward: -0.1, historyLength: H },
      catalog,
      bcExamples: examples,
      starts: { sample: (r: Rng) => ({ user: 0, history: hist[r.int(batch)] }) },
      profile,
    },
    { ...DEFAULT_TRAIN, batchSize: batch, steps: reps + 1, warmStartFraction: 0 },
    () => {
      if (steps++ === 0) profile.reset(); // drop the warm-up step
    },
  );
  const rl = res.log.slice(1).reduce((a, l) => a + l.ms, 0) / reps;
  const phases = profile.perStep();
  // "simulator.response" is timed inside "simulator": report the rest of it as "simulator.js"
  phases["simulator.js"] = (phases.simulator ?? 0) - (phases["simulator.response"] ?? 0);
  delete phases.simulator;
  const accounted = Object.values(phases).reduce((a, b) => a + b, 0);
  actor.dispose();
  critic.dispose();
  response.dispose();
  return {
    batch,
    rlStepMs: round(rl),
    samplesPerSecond: round((batch / rl) * 1000, 0),
    phases: { ...roundAll(phases), other: round(rl - accounted, 2) },
  };
}

/** The PyTorch reference, or why there is none. */
function torchReference(batch: number, threads: number): Record<string, unknown> | { none: string } {
  const script = path.join(import.meta.dirname, "reference", "hsrl_step.py");
  const arg = JSON.stringify({
    batch,
    historyLength: H,
    dModel: cfg.dModel,
    layers: cfg.layers,
    heads: cfg.heads,
    ff: cfg.ff,
    levels: L,
    vocab: V,
    catalog: N,
    slate: K,
    reps: REPS,
    threads,
  });
  for (const py of [process.env.BENCH_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p)) {
    if (spawnSync(py, ["-c", "import torch"], { encoding: "utf8" }).status !== 0) continue;
    const r = spawnSync(py, [script, arg], { encoding: "utf8", timeout: 600_000 });
    if (r.status !== 0) return { none: `${py} ${script} failed: ${r.stderr.trim().split("\n").pop()}` };
    return { python: py, ...JSON.parse(r.stdout.trim().split("\n").pop()!) };
  }
  return { none: 'no reference: `python3 -c "import torch"` fails (apt-get install python3-torch)' };
}

const range = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return { min: round(v[0]), median: round(v[v.length >> 1]), max: round(v[v.length - 1]) };
};

export default async function benchTrain(): Promise<Record<string, unknown>> {
  const threads = 1;
  await initBackend({ threads });
  await tf.setBackend("wasm");
  const flops = stepFlops(B);
  // Rounds alternate ours and torch, so both see the same (shared, changing) load; figures are min / median / max.
  const ours: { bc: ReturnType<typeof measureBc>; rl: ReturnType<typeof measureRl> }[] = [];
  const torchRuns: Record<string, unknown>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ours.push({ bc: measureBc("catalog", r === 0), rl: measureRl("catalog", B, REPS) });
    torchRuns.push(torchReference(B, threads));
  }
  const bcAll = ours[0].bc.bcAllPositionsStepMs;
  const larger = BATCHES.filter((b) => b !== B).map((b) => measureRl("catalog", b, Math.max(2, Math.round(REPS / 2))));
  const bc = range(ours.map((o) => o.bc.bcStepMs));
  const rl = range(ours.map((o) => o.rl.rlStepMs));
  const best = ours.reduce((a, o) => (o.rl.rlStepMs < a.rl.rlStepMs ? o : a));
  const haveTorch = torchRuns.every((t) => typeof t.rlStepMs === "number");
  const t = haveTorch
    ? {
        ...torchRuns.reduce((a, x) => ((x.rlStepMs as number) < (a.rlStepMs as number) ? x : a)),
        bcStepMs: range(torchRuns.map((x) => x.bcStepMs as number)),
        rlStepMs: range(torchRuns.map((x) => x.rlStepMs as number)),
      }
    : torchRuns[0];
  const ratio = (a: { min: number; median: number; max: number }, b: unknown) => {
    const r = b as { min: number; median: number; max: number } | undefined;
    return haveTorch && r ? { min: round(a.min / r.min, 2), median: round(a.median / r.median, 2) } : null;
  };
  const perRound = (k: "bcStepMs" | "rlStepMs") =>
    haveTorch ? ours.map((o, i) => round((k === "bcStepMs" ? o.bc.bcStepMs : o.rl.rlStepMs) / (torchRuns[i][k] as number), 2)) : null;
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
      slate: K,
    },
    batch: B,
    threads,
    cores: availableParallelism(),
    backend: tf.getBackend(),
    hpnLoss: "catalog",
    rounds: ROUNDS,
    bcStepGflop: round(flops / 1e9, 3),
    bcStepMs: bc,
    bcAllPositionsStepMs: bcAll,
    forwardMs: range(ours.map((o) => o.bc.forwardMs)),
    bcGflopPerS: round(flops / 1e9 / (bc.min / 1000), 2),
    rlStepMs: rl,
    samplesPerSecond: round((B / rl.min) * 1000, 0),
    phases: best.rl.phases, // of the fastest round
    rlByBatch: [best.rl, ...larger],
    torch: t,
    oursOverTorch: {
      bc: { ...ratio(bc, (t as { bcStepMs?: unknown }).bcStepMs), perRound: perRound("bcStepMs") },
      rl: { ...ratio(rl, (t as { rlStepMs?: unknown }).rlStepMs), perRound: perRound("rlStepMs") },
    },
    targets: { rlStepMs: 71, samplesPerSecond: 900, bcStepMs: 40 },
    note: "ours and torch alternate in rounds in the same run, one thread each; the machine's cores are shared, so times include contention",
  };
}
