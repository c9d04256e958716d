// Seeded PRNG for all learning logic (never Math.random): the project's one mulberry32 (scripts/data/random.ts).
import { Random } from "../data/random";

export class Rng extends Random {
  /**
   * Standard Gumbel noise, for sampling top-K without replacement (Gumbel-top-k trick). Its clamping differs from
   * Random.gumbel's in the last bits; kept as is so learning runs reproduce the committed reports exactly.
   */
  override gumbel(): number {
    return -Math.log(-Math.log(this.next() + 1e-12) + 1e-12);
  }
}
