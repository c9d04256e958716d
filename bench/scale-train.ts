// How training grows with the data: for each log size (BENCH_SCALE_TRAIN_SIZES, default "100000,1000000"
// interactions; a fixed catalog of 5,000 items, 100 interactions per user) one child process generates the synthetic
// log, builds episodes, trains the response model for BENCH_SCALE_TRAIN_RESPONSE_STEPS steps (default 100; the time of
// a full epoch is projected from it), builds the BC examples and runs BENCH_SCALE_TRAIN_RL_STEPS HSRL steps (default 5,
// random SIDs: the step does not depend on the log size). Each phase's seconds, and the child's peak RSS
// (process.resourceUsage().maxRSS) after each phase, so memory is per size.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { Rng } from "../core/rng";
import { generateSynthetic } from "../scripts/data/synthetic";
import { DEFAULT_TRAIN, trainPolicy } from "../scripts/learn/a2c";
import { HpnActor } from "../scripts/learn/actors";
import { defaultExperimentConfig, hpnConfig } from "../scripts/learn/config";
import { trainResponseModel } from "../scripts/learn/response-trainer";
import { buildWorld, trainContext } from "../scripts/learn/world";
import { initBackend } from "../scripts/model/backend";
import { MultiLevelCritic } from "../scripts/model/critic";

const ITEMS = 5000;
const CHILD = "--scale-train-child";

async function child(n: number): Promise<Record<string, unknown>> {
  await initBackend({ threads: 1 });
  const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
  const phases: Record<string, { seconds: number; peakRssMb: number }> = {};
  const timed = <T>(name: string, f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    phases[name] = { seconds: +((performance.now() - t0) / 1000).toFixed(2), peakRssMb: rssMb() };
    return r;
  };
  const cfg = defaultExperimentConfig();
  const steps = Number(process.env.BENCH_SCALE_TRAIN_RESPONSE_STEPS ?? 100);
  const rlSteps = Number(process.env.BENCH_SCALE_TRAIN_RL_STEPS ?? 5);
  const dataset = timed("generate", () => generateSynthetic({ interactions: n, users: Math.round(n / 100), items: ITEMS, seed: 1 }));
  const bare = timed("episodes+bcExamples", () => buildWorld(dataset, cfg, { simulator: false }));
  const r = timed("response", () => trainResponseModel(bare.episodes, { ...cfg.response, seed: 1, maxSteps: steps }));
  const world = buildWorld(dataset, cfg, { response: { config: r.model.config, weights: r.model.getWeights(), valAuc: r.valAuc } });
  const rng = new Rng(1);
  const L = 3,
    V = 64;
  const sidTokens = Int32Array.from({ length: world.episodes.numItems * L }, () => rng.int(V));
  const actor = HpnActor.create(hpnConfig(cfg, L, V), 1, sidTokens, { loss: "catalog", catalog: world.trainCatalog });
  const critic = new MultiLevelCritic({ dim: cfg.hpn.dModel, contexts: L + 1, hidden: [256, 64] }, 2);
  const rl = timed("hsrl", () =>
    trainPolicy(actor, critic, trainContext(world, cfg), { ...DEFAULT_TRAIN, steps: rlSteps + 1, warmStartFraction: 0 }),
  );
  return {
    interactions: dataset.interactions.length,
    users: dataset.users.length,
    items: dataset.items.length,
    bcExamples: world.bcExamples.length,
    responseStepsPerEpoch: r.stepsPerEpoch,
    responseSteps: r.steps,
    responseStepMs: +((r.stepSeconds * 1000) / r.steps).toFixed(1),
    responseEpochSecondsProjected: +((r.stepSeconds / r.steps) * r.stepsPerEpoch).toFixed(1),
    responseExamplesAndAucSeconds: +(r.seconds - r.stepSeconds).toFixed(1),
    rlStepMs: +(rl.log.slice(1).reduce((a, l) => a + l.ms, 0) / rlSteps).toFixed(1),
    phases,
    peakRssMb: rssMb(),
  };
}

export default async function benchScaleTrain(): Promise<Record<string, unknown>> {
  const sizes = (process.env.BENCH_SCALE_TRAIN_SIZES ?? "100000,1000000").split(",").map(Number);
  const runs = sizes.map((n) => {
    const r = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, CHILD, String(n)], {
      encoding: "utf8",
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`scale-train ${n}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
  });
  return { items: ITEMS, threads: 1, cores: availableParallelism(), runs };
}

if (process.argv[2] === CHILD) console.log(JSON.stringify(await child(Number(process.argv[3]))));
