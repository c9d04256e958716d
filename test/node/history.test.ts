// The trainer and the Worker pack histories for the HPN with the one packer in core/history.ts: the trainer from item
// indices and its SID table (learn/episodes.ts sidHistoryBatch), the Worker from the catalog rows' SID tokens
// (worker/model.ts runHpn). Both must give the model the same tensors for the same history.
import { describe, expect, it } from "vitest";
import { packSidHistories } from "../../core/history";
import { sidHistoryBatch } from "../../scripts/learn/episodes";
import { Rng } from "../../core/rng";

describe("history packing", () => {
  const L = 3;
  const H = 6;
  const rng = new Rng(5);
  const N = 40;
  const sidTokens = Int32Array.from({ length: N * L }, () => rng.int(16));
  const tokensOf = (item: number) => Array.from(sidTokens.subarray(item * L, (item + 1) * L)); // a catalog row's `tokens`

  it("gives the trainer and the Worker identical tensors: short, exact, longer than H, cold", () => {
    const histories = [[3], [1, 2, 3, 4, 5, 6], Array.from({ length: 11 }, (_, i) => (i * 7) % N), []];
    const trainer = sidHistoryBatch(histories, sidTokens, H, L);
    const worker = packSidHistories(
      histories.map((h) => h.map(tokensOf)),
      H,
      L,
    );
    expect(Array.from(trainer.sids)).toEqual(Array.from(worker.sids));
    expect(Array.from(trainer.length)).toEqual([1, 6, 6, 0]);
    expect(Array.from(worker.length)).toEqual([1, 6, 6, 0]);
  });

  it("right-aligns the newest H items and zero-pads on the left", () => {
    const { sids } = packSidHistories(
      [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ],
      3,
      3,
    );
    expect(Array.from(sids)).toEqual([0, 0, 0, 1, 2, 3, 4, 5, 6]);
    const long = packSidHistories(
      [
        [
          [1, 1, 1],
          [2, 2, 2],
          [3, 3, 3],
          [4, 4, 4],
        ],
      ],
      2,
      3,
    );
    expect(Array.from(long.sids)).toEqual([3, 3, 3, 4, 4, 4]);
  });

  it("refuses a SID of another length instead of feeding the model a wrong item", () => {
    expect(() => packSidHistories([[[1, 2]]], 4, 3)).toThrow(/2 tokens, the model reads 3/);
  });
});
