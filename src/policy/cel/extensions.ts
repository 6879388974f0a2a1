/**
 * The Kubernetes CEL library functions the shipped policies need, on top of cel-js's built-ins (which already
 * include lowerAscii, upperAscii, trim, split, substring, indexOf, join, matches): quantities, more string and
 * list functions, and regex find.
 */
import type { Environment } from "@marcbachmann/cel-js";
import {
  addQuantities,
  compareQuantities,
  isQuantity as isParsedQuantity,
  type Quantity as ParsedQuantity,
  parseQuantity,
  quantityIsInteger,
  quantityToNumber,
} from "../../api/config/quantity.ts";
import { vetRegex } from "./regex.ts";

/** A quantity as a CEL value. */
export class Quantity {
  readonly value: ParsedQuantity;
  constructor(value: ParsedQuantity) {
    this.value = value;
  }
  toString(): string {
    return this.value.text;
  }
}

function quantity(text: string): Quantity {
  const parsed = parseQuantity(text);
  if (!isParsedQuantity(parsed)) throw new Error(parsed.error);
  return new Quantity(parsed);
}

function fromInt(n: bigint): Quantity {
  return new Quantity({ numerator: n, denominator: 1n, text: String(n) });
}

const maxRegexInput = 1 << 16;

function compileRegex(pattern: string, flags = ""): RegExp {
  const problem = vetRegex(pattern);
  if (problem) throw new Error(problem);
  return new RegExp(pattern, flags);
}

type Receiver = {
  name: string;
  receiverType: string;
  returnType: string;
  params: string[];
  handler: (...args: never[]) => unknown;
};

function method(env: Environment, spec: Receiver): void {
  env.registerFunction({
    name: spec.name,
    receiverType: spec.receiverType,
    returnType: spec.returnType,
    params: spec.params.map((type, i) => ({ name: `a${i}`, type })),
    handler: spec.handler as (...args: unknown[]) => unknown,
  });
}

function compareCel(a: unknown, b: unknown): number {
  if (a instanceof Quantity && b instanceof Quantity) return compareQuantities(a.value, b.value);
  if ((typeof a === "bigint" || typeof a === "number") && (typeof b === "bigint" || typeof b === "number")) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new Error("list elements are not comparable");
}

function celEquals(a: unknown, b: unknown): boolean {
  return (
    JSON.stringify(a, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) ===
    JSON.stringify(b, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))
  );
}

export function registerExtensions(env: Environment): void {
  env.registerType("Quantity", Quantity);
  env.registerFunction("quantity(string): Quantity", quantity);
  env.registerFunction("isQuantity(string): bool", (s: string) => isParsedQuantity(parseQuantity(s)));
  const q = (name: string, returnType: string, params: string[], handler: Receiver["handler"]) =>
    method(env, { name, receiverType: "Quantity", returnType, params, handler });
  q("compareTo", "int", ["Quantity"], (a: Quantity, b: Quantity) => BigInt(compareQuantities(a.value, b.value)));
  q("isLessThan", "bool", ["Quantity"], (a: Quantity, b: Quantity) => compareQuantities(a.value, b.value) < 0);
  q("isGreaterThan", "bool", ["Quantity"], (a: Quantity, b: Quantity) => compareQuantities(a.value, b.value) > 0);
  q("add", "Quantity", ["Quantity"], (a: Quantity, b: Quantity) => new Quantity(addQuantities(a.value, b.value)));
  q("add", "Quantity", ["int"], (a: Quantity, b: bigint) => new Quantity(addQuantities(a.value, fromInt(b).value)));
  q("sub", "Quantity", ["Quantity"], (a: Quantity, b: Quantity) => new Quantity(addQuantities(a.value, b.value, true)));
  q(
    "sub",
    "Quantity",
    ["int"],
    (a: Quantity, b: bigint) => new Quantity(addQuantities(a.value, fromInt(b).value, true)),
  );
  q("isInteger", "bool", [], (a: Quantity) => quantityIsInteger(a.value));
  q("asInteger", "int", [], (a: Quantity) => {
    if (!quantityIsInteger(a.value)) throw new Error(`quantity ${a.value.text} is not an integer`);
    const n = a.value.numerator / a.value.denominator;
    if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) throw new Error(`quantity ${a.value.text} overflows int64`);
    return n;
  });
  q("asApproximateFloat", "double", [], (a: Quantity) => quantityToNumber(a.value));
  q("sign", "int", [], (a: Quantity) => BigInt(Math.sign(Number(a.value.numerator))));
  env.registerFunction("string(Quantity): string", (a: Quantity) => a.value.text);

  const s = (name: string, returnType: string, params: string[], handler: Receiver["handler"]) =>
    method(env, { name, receiverType: "string", returnType, params, handler });
  s("replace", "string", ["string", "string"], (str: string, from: string, to: string) => str.replaceAll(from, to));
  s("charAt", "string", ["int"], (str: string, i: bigint) => {
    if (i < 0n || i > BigInt(str.length)) throw new Error(`index ${i} out of range`);
    return str.charAt(Number(i));
  });
  s("reverse", "string", [], (str: string) => [...str].reverse().join(""));
  s("find", "string", ["string"], (str: string, pattern: string) => {
    if (str.length > maxRegexInput) throw new Error("string too long for a regex");
    return compileRegex(pattern).exec(str)?.[0] ?? "";
  });
  s("findAll", "list<string>", ["string"], (str: string, pattern: string) => {
    if (str.length > maxRegexInput) throw new Error("string too long for a regex");
    return [...str.matchAll(compileRegex(pattern, "g"))].map((m) => m[0]);
  });

  const l = (name: string, returnType: string, params: string[], handler: Receiver["handler"]) =>
    method(env, { name, receiverType: "list", returnType, params, handler });
  l("sum", "dyn", [], (list: unknown[]) => {
    if (list.length === 0) return 0n;
    if (list.every((x) => typeof x === "bigint")) return (list as bigint[]).reduce((a, b) => a + b, 0n);
    return list.reduce((a: number, b) => a + Number(b), 0);
  });
  l("min", "dyn", [], (list: unknown[]) => {
    if (list.length === 0) throw new Error("min() of an empty list");
    return list.reduce((a, b) => (compareCel(b, a) < 0 ? b : a));
  });
  l("max", "dyn", [], (list: unknown[]) => {
    if (list.length === 0) throw new Error("max() of an empty list");
    return list.reduce((a, b) => (compareCel(b, a) > 0 ? b : a));
  });
  l("isSorted", "bool", [], (list: unknown[]) => list.every((x, i) => i === 0 || compareCel(list[i - 1], x) <= 0));
  l("indexOf", "int", ["dyn"], (list: unknown[], x: unknown) => BigInt(list.findIndex((y) => celEquals(x, y))));
  l("lastIndexOf", "int", ["dyn"], (list: unknown[], x: unknown) => BigInt(list.findLastIndex((y) => celEquals(x, y))));
  l("distinct", "list", [], (list: unknown[]) => list.filter((x, i) => list.findIndex((y) => celEquals(x, y)) === i));
  l("flatten", "list", [], (list: unknown[]) => list.flatMap((x) => (Array.isArray(x) ? x : [x])));
  l("slice", "list", ["int", "int"], (list: unknown[], from: bigint, to: bigint) => {
    if (from < 0n || to < from || to > BigInt(list.length)) throw new Error(`slice(${from}, ${to}) out of range`);
    return list.slice(Number(from), Number(to));
  });
  l("containsAll", "bool", ["list"], (list: unknown[], other: unknown[]) =>
    other.every((x) => list.some((y) => celEquals(x, y))),
  );
  l("intersects", "bool", ["list"], (list: unknown[], other: unknown[]) =>
    other.some((x) => list.some((y) => celEquals(x, y))),
  );
}
