// Seeded PRNG for all learning logic (never Math.random): mulberry32, small and fast, good enough for sampling.
export class Rng {
  private state: number;
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
  /** Standard Gumbel noise, for sampling top-K without replacement (Gumbel-top-k trick). */
  gumbel(): number {
    return -Math.log(-Math.log(this.next() + 1e-12) + 1e-12);
  }
  /** A 31-bit seed for a child generator or a tfjs op. */
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
