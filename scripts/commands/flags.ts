// Commander parsers for the commands' numeric flags. A bad value throws one line, `--<name> must be <what>, got "<v>"`,
// which cli.ts prints as `error: ...`.

function parse(name: string, v: string, ok: (x: number) => boolean, what: string): number {
  const x = Number(v);
  if (!ok(x)) throw new Error(`--${name} must be ${what}, got "${v}"`);
  return x;
}

export const nonNegativeInt = (name: string) => (v: string) =>
  parse(name, v, (x) => Number.isInteger(x) && x >= 0, "a non-negative integer");
export const signedInt = (name: string) => (v: string) => parse(name, v, Number.isInteger, "an integer");
export const intIn = (name: string, min: number, max: number) => (v: string) =>
  parse(name, v, (x) => Number.isInteger(x) && x >= min && x <= max, `an integer in ${min}..${max}`);
export const num = (name: string) => (v: string) => parse(name, v, Number.isFinite, "a number");
export const fraction = (name: string) => (v: string) => parse(name, v, (x) => Number.isFinite(x) && x >= 0 && x < 1, "a number in [0, 1)");
