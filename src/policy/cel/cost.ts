/**
 * Bounded evaluation. cel-js has no cost model, so every node of a compiled expression is wrapped: each node
 * evaluation costs one unit against a budget, and every string or list a node produces is checked against size
 * limits. Loops (macros such as all/exists/map) evaluate their body once per element, so their cost grows with
 * the input, as in Kubernetes' runtime cost. Evaluation is synchronous, so one active budget suffices.
 */
import type { ASTNode } from "@marcbachmann/cel-js";

export interface CostLimits {
  /** Node evaluations allowed per expression evaluation. */
  perExpression: number;
  /** Node evaluations allowed per admission request, over all policies. */
  perRequest: number;
  /** Longest string an expression may produce. */
  maxStringLength: number;
  /** Longest list an expression may produce. */
  maxListLength: number;
}

export const defaultCostLimits: CostLimits = {
  perExpression: 1_000_000,
  perRequest: 10_000_000,
  maxStringLength: 1 << 20,
  maxListLength: 100_000,
};

export class CostLimitError extends Error {}

export interface Budget {
  limits: CostLimits;
  /** Units used by the whole request so far. */
  used: number;
}

let active: { budget: Budget; expressionUsed: number } | undefined;

export function newBudget(limits: CostLimits = defaultCostLimits): Budget {
  return { limits, used: 0 };
}

/** Runs `evaluate` with the budget charged for every node; returns the units it used. */
export function withBudget<T>(budget: Budget, evaluate: () => T): { value: T; cost: number } {
  const previous = active;
  const frame = { budget, expressionUsed: 0 };
  active = frame;
  try {
    return { value: evaluate(), cost: frame.expressionUsed };
  } finally {
    active = previous;
  }
}

function charge(): void {
  const frame = active;
  if (!frame) return;
  frame.expressionUsed++;
  frame.budget.used++;
  if (frame.expressionUsed > frame.budget.limits.perExpression) {
    throw new CostLimitError(`expression exceeded its cost limit of ${frame.budget.limits.perExpression}`);
  }
  if (frame.budget.used > frame.budget.limits.perRequest) {
    throw new CostLimitError(`request exceeded its total cost limit of ${frame.budget.limits.perRequest}`);
  }
}

function checkSize(value: unknown): void {
  const frame = active;
  if (!frame) return;
  if (typeof value === "string" && value.length > frame.budget.limits.maxStringLength) {
    throw new CostLimitError(`a string grew past ${frame.budget.limits.maxStringLength} characters`);
  }
  if (Array.isArray(value) && value.length > frame.budget.limits.maxListLength) {
    throw new CostLimitError(`a list grew past ${frame.budget.limits.maxListLength} elements`);
  }
}

type Evaluate = (ev: unknown, ast: unknown, ctx: unknown) => unknown;
interface NodeMeta {
  alternate?: WrappableNode;
  macro?: { evaluate: Evaluate } & Record<string, unknown>;
  evaluate: Evaluate;
}
interface WrappableNode {
  meta: NodeMeta;
  evaluate: Evaluate;
}

const wrapped = new WeakSet<object>();

/**
 * Wraps every node reachable from the root (including macro expansions) so it charges the active budget. Call
 * after type checking, which attaches the final evaluate functions to the nodes' metadata.
 */
export function instrument(root: ASTNode): void {
  const stack: unknown[] = [root];
  const seen = new Set<unknown>();
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === null || typeof item !== "object" || seen.has(item)) continue;
    seen.add(item);
    if (Array.isArray(item)) {
      stack.push(...item);
      continue;
    }
    const node = item as Partial<WrappableNode> & Record<string, unknown>;
    if (isAstNode(node)) {
      wrapNode(node as unknown as WrappableNode);
      const meta = node.meta as NodeMeta;
      stack.push(node.args, meta.alternate, meta.macro);
      continue;
    }
    // Macro objects and comprehension argument records: walk their fields.
    for (const value of Object.values(node)) if (value && typeof value === "object") stack.push(value);
  }
}

function isAstNode(value: object): boolean {
  return (
    "meta" in value &&
    "op" in value &&
    "args" in value &&
    typeof (value as { evaluate?: unknown }).evaluate === "function"
  );
}

function wrapNode(node: WrappableNode): void {
  if (wrapped.has(node)) return;
  wrapped.add(node);
  const meta = node.meta;
  node.evaluate = function costed(ev: unknown, ast: unknown, ctx: unknown): unknown {
    charge();
    let result: unknown;
    if (meta.alternate) result = meta.alternate.evaluate(ev, meta.alternate, ctx);
    else if (meta.macro) result = meta.macro.evaluate(ev, meta.macro, ctx);
    else result = meta.evaluate(ev, ast, ctx);
    checkSize(result);
    return result;
  };
}
