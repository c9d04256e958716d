// The prefix tree of a catalog's SIDs, for the autoregressive HPN variant (prefix "chosen"): which tokens exist under
// each prefix (the level's softmax is taken over those only, so the item distribution is normalised over the
// catalog's SIDs), and each item's node at every depth (to walk the whole catalog once per level). Items that share a
// full SID (told apart only by the collision index) split their leaf's probability evenly, so the distribution is over
// items, not leaves: log π(item) = Σ_l log p_l(z_l | z_<l) - log |items with that SID|.
export class SidTrie {
  readonly levels: number;
  readonly vocab: number;
  /** Per depth l = 1..L (index l-1): the nodes (distinct prefixes of length l): parent node at depth l-1, last token. */
  readonly parent: Int32Array[] = [];
  readonly token: Int32Array[] = [];
  /** Per depth l = 1..L (index l-1): item -> its node at depth l (-1 = not in the trie). */
  readonly itemNode: Int32Array[] = [];
  /** Per item: log of how many catalog items share its full SID (a collision group splits its leaf's probability). */
  readonly logShare: Float32Array;
  private readonly children: number[][][] = []; // per depth l = 0..L-1: node -> the tokens under it

  constructor(sidTokens: Int32Array, levels: number, vocab: number, include: Uint8Array) {
    this.levels = levels;
    this.vocab = vocab;
    const N = sidTokens.length / levels;
    if (include.length !== N) throw new Error(`SidTrie: include has ${include.length} entries for ${N} items`);
    let prev = new Int32Array(N).fill(0); // every item starts at the root (the one node at depth 0)
    let prevCount = 1;
    for (let l = 0; l < levels; l++) {
      const ids = new Map<number, number>(); // parent * V + token -> node
      const parent: number[] = [];
      const token: number[] = [];
      const node = new Int32Array(N).fill(-1);
      const kids: number[][] = Array.from({ length: prevCount }, () => []);
      for (let i = 0; i < N; i++) {
        if (!include[i]) continue;
        const z = sidTokens[i * levels + l];
        const key = prev[i] * vocab + z;
        let n = ids.get(key);
        if (n === undefined) {
          n = parent.length;
          ids.set(key, n);
          parent.push(prev[i]);
          token.push(z);
          kids[prev[i]].push(z);
        }
        node[i] = n;
      }
      this.parent.push(Int32Array.from(parent));
      this.token.push(Int32Array.from(token));
      this.itemNode.push(node);
      this.children.push(kids);
      prev = node;
      prevCount = parent.length;
    }
    const leafSize = new Int32Array(prevCount);
    for (let i = 0; i < N; i++) if (prev[i] >= 0) leafSize[prev[i]]++;
    this.logShare = Float32Array.from(prev, (n) => (n >= 0 ? Math.log(leafSize[n]) : 0));
  }

  /** Additive masks [items.length, L, V]: 0 for the tokens that exist under each item's prefix, -1e9 elsewhere. */
  masks(items: ArrayLike<number>): Float32Array {
    const { levels: L, vocab: V } = this;
    const m = new Float32Array(items.length * L * V).fill(-1e9);
    for (let r = 0; r < items.length; r++) {
      const it = items[r];
      if (!(this.itemNode[0][it] >= 0)) throw new Error(`SidTrie: item ${it} is not in the catalog`);
      for (let l = 0; l < L; l++) {
        const node = l === 0 ? 0 : this.itemNode[l - 1][it];
        for (const z of this.children[l][node]) m[(r * L + l) * V + z] = 0;
      }
    }
    return m;
  }
}
