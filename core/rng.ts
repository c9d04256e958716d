// The project's one seeded PRNG (never Math.random), for both sides: mulberry32 plus the few distributions the
// data, SID and learning code and the Worker's replay-gate bootstrap need.
export class Rng {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i++) this.next(); // decorrelate nearby seeds
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Standard normal (Box-Muller, pairs cached). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = this.next() || 1e-12;
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
  /**
   * Standard Gumbel: argmax(score + gumbel) samples from softmax(score) (the Gumbel-top-k trick samples K without
   * replacement). The 1e-12 clamps are kept bit for bit so learning runs reproduce the committed reports.
   */
  gumbel(): number {
    return -Math.log(-Math.log(this.next() + 1e-12) + 1e-12);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** Index sampled proportionally to non-negative weights. */
  weighted(w: ArrayLike<number>, total?: number): number {
    let t = total ?? 0;
    if (total === undefined) for (let i = 0; i < w.length; i++) t += w[i];
    let u = this.next() * t;
    for (let i = 0; i < w.length; i++) {
      u -= w[i];
      if (u < 0) return i;
    }
    // Rounding left u >= 0: the last index with positive weight.
    for (let i = w.length - 1; i > 0; i--) if (w[i] > 0) return i;
    return 0;
  }
  /** A 31-bit seed for a child generator. */
  seed(): number {
    return this.int(2 ** 31);
  }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}
