// The HPN's inputs: core/history.ts packing (shared with the trainer) and runHpn feeding it to ORT in workerd.
import { describe, expect, it } from "vitest";
import { packSidHistories } from "../../core/history";
import { parseManifest } from "../../core/manifest";
import { runHpn, type ServingModel } from "../../worker/model";
import { createSession } from "../../worker/onnx";
import fixtureManifest from "../fixtures/hpn-fixture.manifest.json";
import fixtureModel from "../fixtures/hpn-fixture.onnx";
import { FIXTURE, referenceLogProbs } from "./helpers";

describe("packSidHistories", () => {
  it("keeps the newest H items, right-aligned, zero rows on the left, with their count as length", () => {
    const { sids, length } = packSidHistories(
      [
        [
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
        ],
        [[9, 10]],
        [],
      ],
      3,
      2,
    );
    expect(Array.from(length)).toEqual([3, 1, 0]);
    expect(Array.from(sids)).toEqual([3, 4, 5, 6, 7, 8, /**/ 0, 0, 0, 0, 9, 10, /**/ 0, 0, 0, 0, 0, 0]);
  });

  it("refuses a SID whose length is not the model's level count", () => {
    expect(() => packSidHistories([[[1, 2], [3]]], 4, 2)).toThrow(/history 0, item 1: a SID of 1 tokens, the model reads 2/);
  });
});

describe("runHpn", () => {
  it("gives each history of a batch the log-probs the reference gives it alone", async () => {
    const model: ServingModel = {
      version: FIXTURE.version,
      source: "r2",
      manifest: parseManifest(fixtureManifest),
      session: await createSession(fixtureModel),
    };
    const { historyLength: H, levels: L, vocab: V } = FIXTURE;
    const sid = (i: number) => Array.from({ length: L }, (_, l) => (i * 5 + l * 3 + 1) % V);
    const histories = [[], [sid(1), sid(2), sid(3)], Array.from({ length: H + 4 }, (_, i) => sid(i))];
    const { logProbs: batch } = await runHpn(model, histories);
    expect(batch).toHaveLength(histories.length * L * V);
    for (const [b, history] of histories.entries()) {
      const alone = await referenceLogProbs(history);
      const row = batch.subarray(b * L * V, (b + 1) * L * V);
      for (let i = 0; i < alone.length; i++) expect(row[i]).toBeCloseTo(alone[i], 5);
    }
    await model.session.release();
  });
});
