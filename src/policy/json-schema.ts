/**
 * ajv wrapped so every schema error reads like a person wrote it: the field path, the problem, and for unknown
 * keys the key itself. One compiled validator per schema, created on first use.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";

export interface SchemaProblem {
  /** JSON pointer of the offending field ("" is the document). */
  path: string;
  message: string;
}

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
const compiled = new WeakMap<object, ValidateFunction>();

export function validateAgainst(schema: object, value: unknown): SchemaProblem[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return [];
  return describeSchemaErrors(validate.errors ?? []);
}

/** Combinator errors (oneOf/anyOf/if) only repeat what their branches said; keep them only when alone. */
function describeSchemaErrors(errors: ErrorObject[]): SchemaProblem[] {
  const specific = errors.filter((e) => !["oneOf", "anyOf", "if", "not", "allOf"].includes(e.keyword));
  const chosen = specific.length > 0 ? specific : errors;
  const seen = new Set<string>();
  const problems: SchemaProblem[] = [];
  for (const error of chosen) {
    const problem = describeOne(error);
    const key = `${problem.path}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describeOne(error: ErrorObject): SchemaProblem {
  const path = error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return { path: `${path}/${escapePointer(String(params.additionalProperty))}`, message: "unknown field" };
    case "required":
      return {
        path: `${path}/${escapePointer(String(params.missingProperty))}`,
        message: "required field is missing",
      };
    case "enum":
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map(quote).join(", ")}` };
    case "const":
      return { path, message: `must be ${quote(params.allowedValue)}` };
    case "type":
      return { path, message: `must be of type ${String(params.type)}` };
    case "oneOf":
      return { path, message: "must set exactly one of the alternatives" };
    case "anyOf":
      return { path, message: "must set one of the alternatives (e.g. value or valueExpression)" };
    case "not":
      return { path, message: "sets fields that exclude each other (e.g. value and valueExpression)" };
    default:
      return { path, message: error.message ?? error.keyword };
  }
}

function quote(value: unknown): string {
  return JSON.stringify(value);
}

export function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function unescapePointer(segment: string): string {
  return segment.replaceAll("~1", "/").replaceAll("~0", "~");
}
