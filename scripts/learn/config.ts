// The experiment's configuration, typed and in one place. Values more than one part reads have one field here:
// `seed` (the split's held-out items, the response model, every learner's init and stream) and `historyLength` (the
// episodes, the encoder, the simulator). The parts' own configs are assembled from it where they are needed.
import { DEFAULT_HPN_CONFIG, type HpnConfig } from "../model/hpn";
import { DEFAULT_TRAIN, type TrainConfig } from "./a2c";
import type { HpnLoss } from "./actors";
import type { EpisodeConfig } from "./episodes";
import { DEFAULT_RESPONSE_TRAIN, type ResponseTrainConfig } from "./response-trainer";
import { DEFAULT_SIMULATOR, type SimulatorConfig } from "./simulator";

// random is the floor, oracle (greedy top-K by the simulator's own click probability) the ceiling.
// hsrl-ar / hpn-sl-ar: the autoregressive HPN (each level refined by the chosen token; actors.ts), with A2C + MLC or
// supervised only. It is trained and evaluated here; the ONNX contract (prefix-independent levels) cannot serve it yet.
export const POLICY_NAMES = [
  "random",
  "popular",
  "sl",
  "flat-a2c",
  "hsrl",
  "hsrl-no-residual",
  "hsrl-no-mlc",
  "hpn-sl",
  "hsrl-ar",
  "hpn-sl-ar",
  "oracle", // last: a learner's training stream derives from its index here (learner.ts streamSeedOf)
] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface ExperimentConfig {
  seed: number;
  historyLength: number; // H
  episodes: Partial<Omit<EpisodeConfig, "historyLength" | "seed">>;
  response: Omit<ResponseTrainConfig, "seed">;
  hpn: Omit<HpnConfig, "levels" | "vocab" | "residual" | "historyLength">;
  train: Omit<TrainConfig, "seed" | "mode">; // each learner's mode and stream seed come from trainLearner
  hpnLoss: HpnLoss; // what the HPN policies' losses normalise over (actors.ts)
  popularityPrior: boolean; // HPN score + β(s)·g(pop_i) (core/popularity-prior.ts); false = SIDs alone
  sidPopularity?: number; // the popularity coordinate's weight in the SID features (sids/holdout.ts), for the report
  sim: Omit<SimulatorConfig, "historyLength">;
  seeds: number[]; // evaluation seeds: one trained policy per (policy, seed)
  episodesPerSeed: number;
  policies: PolicyName[];
}

export function defaultExperimentConfig(): ExperimentConfig {
  const { historyLength, residual: _residual, ...hpn } = DEFAULT_HPN_CONFIG;
  const { seed: _s, mode: _m, ...train } = DEFAULT_TRAIN;
  const { seed: _r, ...response } = DEFAULT_RESPONSE_TRAIN;
  const { historyLength: _h, ...sim } = DEFAULT_SIMULATOR;
  return {
    seed: 1,
    historyLength,
    episodes: {},
    response,
    hpn,
    train,
    hpnLoss: "catalog",
    popularityPrior: true,
    sidPopularity: 0,
    sim,
    seeds: [1, 2, 3],
    episodesPerSeed: 500,
    policies: [...POLICY_NAMES],
  };
}

export const simulatorConfig = (cfg: ExperimentConfig): SimulatorConfig => ({ ...cfg.sim, historyLength: cfg.historyLength });

/** The HPN's full config for a codebook shape (`residual: false` is the no-residual ablation). */
export function hpnConfig(cfg: ExperimentConfig, levels: number, vocab: number, residual = true): HpnConfig {
  return { historyLength: cfg.historyLength, ...cfg.hpn, residual, levels, vocab };
}
