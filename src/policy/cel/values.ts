/**
 * Crossing between JSON (what the API server sends) and CEL values. CEL distinguishes int from double, and
 * cel-js represents ints as BigInt: a JSON number that is an integer becomes a BigInt so `replicas == 3` holds.
 * On the way back BigInts become numbers again, so patches are plain JSON.
 */
export class CelValueError extends Error {}

export function toCel(value: unknown, depth = 0): unknown {
  if (depth > 100) throw new CelValueError("object nested deeper than 100 levels");
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map((v) => toCel(v, depth + 1));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toCel(v, depth + 1);
    return out;
  }
  return value;
}

export function fromCel(value: unknown, depth = 0): unknown {
  if (depth > 100) throw new CelValueError("value nested deeper than 100 levels");
  switch (typeof value) {
    case "bigint": {
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw new CelValueError(`integer ${value} is outside JSON's safe range`);
      return n;
    }
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new CelValueError(`${value} is not a JSON number`);
      return value;
    case "undefined":
      return null;
    case "object":
      break;
    default:
      throw new CelValueError(`a ${typeof value} cannot become JSON`);
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => fromCel(v, depth + 1));
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = fromCel(v, depth + 1);
    return out;
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (value instanceof Date) return value.toISOString();
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromCel(v, depth + 1);
    return out;
  }
  if ("valueOf" in value && typeof (value as { valueOf: unknown }).valueOf === "function") {
    const primitive = (value as { valueOf(): unknown }).valueOf();
    if (primitive !== value) return fromCel(primitive, depth + 1);
  }
  return String(value);
}
