/**
 * The one CEL environment every policy expression compiles in: the admission variables (object, oldObject,
 * request, namespaceObject, params, variables), the Kubernetes extensions, Pod Security and the ConfigMap
 * checks. Expressions compile once (parse + type check + cost instrumentation) and evaluate many times.
 */
import { Environment } from "@marcbachmann/cel-js";
import { maxExpressionLength } from "../../api/policy/schema.ts";
import { registerSkiffFunctions } from "../functions.ts";
import { type Budget, instrument, withBudget } from "./cost.ts";
import { registerExtensions } from "./extensions.ts";
import { vetRegex } from "./regex.ts";

export const activationNames = ["object", "oldObject", "request", "namespaceObject", "params", "variables"] as const;
export type Activation = Record<(typeof activationNames)[number], unknown>;

let environment: Environment | undefined;

function celEnvironment(): Environment {
  if (environment) return environment;
  const env = new Environment({
    enableOptionalTypes: true,
    homogeneousAggregateLiterals: false,
    limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 16 },
  });
  for (const name of activationNames) env.registerVariable(name, "dyn");
  registerExtensions(env);
  registerSkiffFunctions(env);
  environment = env;
  return env;
}

export type ResultKind = "bool" | "string" | "any";

export interface CompiledExpression {
  source: string;
  /** Evaluates against the activation, charging the budget. Throws on CEL runtime errors and cost limits. */
  evaluate(activation: Activation, budget: Budget): unknown;
}

export type CompileResult = { ok: true; expression: CompiledExpression } | { ok: false; error: string };

export function compileExpression(source: string, kind: ResultKind): CompileResult {
  if (source.length > maxExpressionLength) {
    return { ok: false, error: `expression is ${source.length} characters long; the limit is ${maxExpressionLength}` };
  }
  let program: ReturnType<Environment["parse"]>;
  try {
    program = celEnvironment().parse(source);
  } catch (err) {
    return { ok: false, error: firstLine(err) };
  }
  const checked = program.check();
  if (!checked.valid) return { ok: false, error: firstLine(checked.error) };
  if (kind !== "any" && checked.type !== kind && checked.type !== "dyn") {
    return { ok: false, error: `expression must return ${kind}, but returns ${checked.type}` };
  }
  const regexProblem = literalRegexProblem(program.ast);
  if (regexProblem) return { ok: false, error: regexProblem };
  instrument(program.ast);
  const evaluate = (activation: Activation, budget: Budget): unknown => {
    const { value } = withBudget(budget, () => program(activation));
    if (kind === "bool" && typeof value !== "boolean") throw new Error(`expected bool, got ${describeValue(value)}`);
    if (kind === "string" && typeof value !== "string") throw new Error(`expected string, got ${describeValue(value)}`);
    return value;
  };
  return { ok: true, expression: { source, evaluate } };
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  return typeof value === "object" ? "map" : typeof value === "bigint" ? "int" : typeof value;
}

/** cel-js messages carry a source excerpt after the first line; keep the summary and the position. */
export function firstLine(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const summary = (err as { summary?: unknown }).summary;
  const range = (err as { range?: { start: number } }).range;
  const text = typeof summary === "string" && summary ? summary : (err.message.split("\n")[0] ?? err.message);
  return range ? `${text} (at character ${range.start + 1})` : text;
}

const regexFunctions = new Set(["matches", "find", "findAll"]);

/** Vets the literal patterns of matches/find/findAll calls at compile time. */
function literalRegexProblem(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as { op?: unknown; args?: unknown } | null;
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      stack.push(...node);
      continue;
    }
    if (node.op === "rcall" && Array.isArray(node.args) && regexFunctions.has(node.args[0] as string)) {
      const pattern = (node.args[2] as { op?: unknown; args?: unknown }[] | undefined)?.[0];
      if (pattern?.op === "value" && typeof pattern.args === "string") {
        const problem = vetRegex(pattern.args);
        if (problem) return problem;
      }
    }
    if (Array.isArray(node.args)) stack.push(...node.args);
  }
  return undefined;
}
