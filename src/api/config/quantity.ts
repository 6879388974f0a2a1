/**
 * Kubernetes resource quantities ("500m", "1Gi", "1.5", "2e3") as exact fractions, so comparisons never lose
 * precision. Grammar as in k8s.io/apimachinery: <sign><digits>[.<digits>]<suffix>, where the suffix is a binary
 * SI (Ki..Ei), decimal SI (n, u, m, "", k, M, G, T, P, E) or decimal exponent (e3, E-2).
 */
export interface Quantity {
  /** value = numerator / denominator; denominator > 0. */
  numerator: bigint;
  denominator: bigint;
  /** The text it was parsed from. */
  text: string;
}

const binarySuffixes: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const pattern = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)((?:[eE][+-]?[0-9]+)|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/;

/** Parses a quantity; returns an error message instead of throwing. */
export function parseQuantity(text: string): Quantity | { error: string } {
  const match = pattern.exec(text);
  if (!match || text.length > 64) return { error: `"${text}" is not a quantity (e.g. 500m, 128Mi, 2)` };
  const [, sign, number, suffix = ""] = match as unknown as [string, string, string, string | undefined];
  const [whole = "", fraction = ""] = number.split(".");
  let numerator = BigInt(`${whole || "0"}${fraction}`);
  let denominator = 10n ** BigInt(fraction.length);
  const binary = binarySuffixes[suffix];
  if (binary !== undefined) {
    numerator *= 1024n ** BigInt(binary);
  } else {
    const exponent =
      suffix.startsWith("e") || suffix.startsWith("E") ? Number(suffix.slice(1)) : decimalSuffixes[suffix];
    if (exponent === undefined || Math.abs(exponent) > 64) return { error: `"${text}" has an exponent out of range` };
    if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
    else denominator *= 10n ** BigInt(-exponent);
  }
  if (sign === "-") numerator = -numerator;
  return reduce({ numerator, denominator, text });
}

export function isQuantity(value: Quantity | { error: string }): value is Quantity {
  return "numerator" in value;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x === 0n ? 1n : x;
}

function reduce(q: Quantity): Quantity {
  const d = gcd(q.numerator, q.denominator);
  return { numerator: q.numerator / d, denominator: q.denominator / d, text: q.text };
}

/** -1, 0 or 1. */
export function compareQuantities(a: Quantity, b: Quantity): number {
  const left = a.numerator * b.denominator;
  const right = b.numerator * a.denominator;
  return left < right ? -1 : left > right ? 1 : 0;
}

export function addQuantities(a: Quantity, b: Quantity, negate = false): Quantity {
  const bn = negate ? -b.numerator : b.numerator;
  const numerator = a.numerator * b.denominator + bn * a.denominator;
  const denominator = a.denominator * b.denominator;
  return reduce({ numerator, denominator, text: formatFraction(numerator, denominator) });
}

export function quantityIsInteger(q: Quantity): boolean {
  return q.numerator % q.denominator === 0n;
}

export function quantityToNumber(q: Quantity): number {
  return Number(q.numerator) / Number(q.denominator);
}

function formatFraction(numerator: bigint, denominator: bigint): string {
  if (numerator % denominator === 0n) return String(numerator / denominator);
  // Milli-units are the finest unit Kubernetes prints for CPU; round up as Kubernetes does.
  const milli = (numerator * 1000n + denominator - 1n) / denominator;
  return `${milli}m`;
}
