// Training time of the user-response model (the simulator's core) on a real log, with evaluate's defaults: the
// experiment's episodes, item features from the visible interactions (sids/features), 3 epochs. BENCH_RESPONSE_DATA
// (default ../shared/data/ml-latest-small) and BENCH_RESPONSE_FORMAT (default movielens) pick the data.
import { availableParallelism } from "node:os";
import { loadDataset } from "../scripts/data/load";
import { defaultExperimentConfig } from "../scripts/learn/config";
import { buildEpisodes } from "../scripts/learn/episodes";
import { trainResponseModel } from "../scripts/learn/response-trainer";
import { initBackend } from "../scripts/model/backend";
import { itemFeatures } from "../scripts/sids/features";

export default async function benchResponse(): Promise<Record<string, unknown>> {
  await initBackend({ threads: 1 });
  const data = process.env.BENCH_RESPONSE_DATA ?? "../shared/data/ml-latest-small";
  const dataset = loadDataset(data, process.env.BENCH_RESPONSE_FORMAT ?? "movielens", { seed: 1 });
  const cfg = defaultExperimentConfig();
  const ep = buildEpisodes(dataset, { ...cfg.episodes, historyLength: cfg.historyLength, seed: cfg.seed });
  const features = itemFeatures(dataset, { dim: 32, seed: 1 }).vectors;
  const r = trainResponseModel(ep, { ...cfg.response, seed: cfg.seed }, features);
  r.model.dispose();
  return {
    data,
    interactions: dataset.interactions.length,
    items: ep.numItems,
    epochs: cfg.response.epochs,
    batchSize: cfg.response.batchSize,
    seconds: +r.seconds.toFixed(1),
    valAuc: +r.valAuc.toFixed(4),
    trainLoss: r.trainLoss.map((l) => +l.toFixed(4)),
    threads: 1,
    cores: availableParallelism(),
  };
}
