// History packing for the serving contract's inputs (servingTensors in manifest.ts). The model must see in serving
// exactly the tensors it was trained on, so the trainer and the Worker both pack histories here.

/**
 * Packs histories into the HPN's inputs: sids [B, H, L] row-major and length [B]. Each history lists its items' SID
 * tokens, oldest first. The newest H are kept, right-aligned (the newest item at slot H-1, zero rows on the left),
 * and length is the number of valid slots. int32 here; the Worker widens to ORT's int64.
 */
export function packSidHistories(
  histories: readonly (readonly ArrayLike<number>[])[],
  historyLength: number,
  levels: number,
): { sids: Int32Array; length: Int32Array } {
  const H = historyLength;
  const L = levels;
  const sids = new Int32Array(histories.length * H * L);
  const length = new Int32Array(histories.length);
  histories.forEach((history, b) => {
    const n = Math.min(history.length, H);
    length[b] = n;
    for (let j = 0; j < n; j++) {
      const tokens = history[history.length - n + j];
      // a SID of another length comes from another codebook; padding or cutting it would feed the model a wrong item
      if (tokens.length !== L)
        throw new RangeError(`history ${b}, item ${history.length - n + j}: a SID of ${tokens.length} tokens, the model reads ${L}`);
      const base = (b * H + H - n + j) * L;
      for (let l = 0; l < L; l++) sids[base + l] = tokens[l];
    }
  });
  return { sids, length };
}
