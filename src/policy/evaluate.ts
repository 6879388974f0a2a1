/**
 * evaluateAdmission: one admission request against a compiled policy set, in the set's order. Pure: the cluster
 * is read only through the synchronous ClusterView; a policy's failure becomes a result (and, with
 * failurePolicy Fail, a denial), never an exception.
 */

import { type Budget, newBudget } from "./cel/cost.ts";
import type { Activation } from "./cel/environment.ts";
import { fromCel, toCel } from "./cel/values.ts";
import type { CompiledPolicy, CompiledPolicySet } from "./compile.ts";
import { withClusterView } from "./functions.ts";
import { policyMatches } from "./match.ts";
import { resolveParams } from "./params.ts";
import { applyOperations } from "./patch.ts";
import { type AdmissionRequestView, readRequest } from "./request.ts";
import type { Decision, PatchOperation, RuleResult } from "./types.ts";
import type { ClusterView, KubeObject } from "./view.ts";

export type Phase = "mutate" | "validate";

/** The API server drops warnings past 4096 characters in total; keep within it and say so. */
const maxWarningCharacters = 4000;

interface Accumulator {
  results: RuleResult[];
  denials: { message: string; fromError: boolean }[];
  warnings: string[];
  auditAnnotations: Record<string, string>;
  patch: PatchOperation[];
}

export function evaluateAdmission(set: CompiledPolicySet, request: unknown, view: ClusterView, phase: Phase): Decision {
  const acc: Accumulator = { results: [], denials: [], warnings: [], auditAnnotations: {}, patch: [] };
  const parsed = readRequest(request);
  if ("error" in parsed) {
    return { allowed: false, message: `malformed admission request: ${parsed.error}`, code: 400, ...finish(acc) };
  }
  const budget = newBudget(set.costLimits);
  // Read and converted once, on first use: most requests match no policy at all.
  let namespaceObject: { value: KubeObject | undefined } | undefined;
  let shared: Omit<BaseActivation, "object"> | undefined;
  let converted: { source: unknown; value: unknown } | undefined;
  let current: unknown = parsed.object;
  for (const policy of set.policies) {
    if (phase === "mutate" && policy.mutations.length === 0) continue;
    if (phase === "validate" && policy.validations.length === 0) continue;
    try {
      namespaceObject ??= { value: namespaceOf(parsed, view) };
      if (!policyMatches(policy, parsed, namespaceObject.value).matches) continue;
      shared ??= {
        oldObject: toCel(parsed.oldObject),
        request: toCel(parsed.celRequest),
        namespaceObject: namespaceObject.value ? toCel(namespaceObject.value) : null,
      };
      if (converted?.source !== current) converted = { source: current, value: toCel(current) };
      const base: BaseActivation = { ...shared, object: converted?.value ?? null };
      const before = current;
      current = withClusterView(view, () => evaluatePolicy(policy, parsed, view, phase, base, budget, before, acc));
    } catch (err) {
      // Not a CEL error (those are handled per rule): a bug or a view that threw. Still a value, never a throw.
      recordFailure(policy, "evaluation", err, acc);
    }
  }
  const decision = finish(acc);
  if (acc.denials.length === 0) return { allowed: true, ...decision };
  return {
    allowed: false,
    message: acc.denials.map((d) => d.message).join("; "),
    code: acc.denials.every((d) => d.fromError) ? 500 : 403,
    ...decision,
  };
}

function namespaceOf(request: AdmissionRequestView, view: ClusterView): KubeObject | undefined {
  if (request.kind.group === "" && request.kind.kind === "Namespace" && !request.subResource) {
    return ((request.object ?? request.oldObject) as KubeObject | null) ?? undefined;
  }
  if (!request.namespace) return undefined;
  return (
    view.getNamespace(request.namespace) ?? {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: request.namespace },
    }
  );
}

function finish(acc: Accumulator): Omit<Decision, "allowed" | "message" | "code"> {
  const warnings: string[] = [];
  let total = 0;
  for (const w of new Set(acc.warnings)) {
    if (total + w.length > maxWarningCharacters) {
      warnings.push(`${acc.warnings.length - warnings.length} more warnings omitted`);
      break;
    }
    warnings.push(w);
    total += w.length;
  }
  return { results: acc.results, warnings, auditAnnotations: acc.auditAnnotations, patch: acc.patch };
}

type BaseActivation = Omit<Activation, "params" | "variables">;

/** Evaluates one matched policy; returns the object as mutated so far. */
function evaluatePolicy(
  policy: CompiledPolicy,
  request: AdmissionRequestView,
  view: ClusterView,
  phase: Phase,
  base: BaseActivation,
  budget: Budget,
  current: unknown,
  acc: Accumulator,
): unknown {
  const record = (rule: string, outcome: RuleResult["outcome"], extra: Partial<RuleResult> = {}) =>
    acc.results.push({ policy: policy.id, rule, outcome, ...extra });
  const failed = (rule: string, err: unknown): void => recordFailure(policy, rule, err, acc);

  const params = resolveParams(policy, view);
  if (params.kind === "error") {
    failed("params", params.message);
    return current;
  }
  if (params.kind === "not-found") {
    if (policy.params?.notFoundAction === "Deny") {
      const message = `policy ${policy.id}: ${params.message}`;
      record("params", "fail", { action: "Deny", message });
      acc.denials.push({ message, fromError: false });
    } else {
      record("params", "skip", { message: params.message });
    }
    return current;
  }
  const activation: Activation = {
    ...base,
    params: toCel(params.value),
    variables: lazyVariables(policy, () => activation, budget),
  };

  for (const condition of policy.matchConditions) {
    try {
      if (condition.expression.evaluate(activation, budget) !== true) return current;
    } catch (err) {
      failed(`matchConditions/${condition.name}`, err);
      return current;
    }
  }

  if (phase === "validate") {
    if (request.object === null && request.operation !== "DELETE") return current;
    for (const validation of policy.validations) {
      const { rule } = validation;
      const action = rule.action ?? "Deny";
      let ok: unknown;
      try {
        ok = validation.expression.evaluate(activation, budget);
      } catch (err) {
        failed(rule.name, err);
        continue;
      }
      if (ok === true) {
        record(rule.name, "pass", { action });
        continue;
      }
      const message = validationMessage(validation, activation, budget);
      record(rule.name, "fail", { action, message });
      if (action === "Deny") acc.denials.push({ message: `policy ${policy.id}: ${message}`, fromError: false });
      else if (action === "Warn") acc.warnings.push(message);
      else acc.auditAnnotations[auditKey(policy.id, rule.name)] = message;
    }
    return current;
  }

  // Mutation needs an object to change: DELETE and CONNECT requests pass through.
  if (current === null || current === undefined || request.operation === "DELETE") return current;
  let object: unknown = current;
  for (const mutation of policy.mutations) {
    const { rule } = mutation;
    try {
      if (mutation.when && mutation.when.evaluate(activation, budget) !== true) {
        record(rule.name, "skip");
        continue;
      }
      const operations: PatchOperation[] = mutation.patch.map((p) => {
        const op: PatchOperation = { op: p.spec.op, path: p.spec.path };
        if (p.valueExpression) op.value = fromCel(p.valueExpression.evaluate(activation, budget));
        else if ("value" in p.spec) op.value = p.spec.value;
        return op;
      });
      const applied = applyOperations(object, operations);
      if (applied.kind === "test-failed") {
        record(rule.name, "skip", { message: `test ${applied.path} did not hold` });
        continue;
      }
      if (applied.kind === "error") throw new Error(applied.message);
      object = applied.object;
      acc.patch.push(...applied.emitted);
      record(rule.name, applied.emitted.length > 0 ? "mutated" : "pass");
      // Later rules of this policy see the change.
      activation.object = toCel(object);
    } catch (err) {
      failed(rule.name, err);
    }
  }
  return object;
}

function recordFailure(policy: CompiledPolicy, rule: string, err: unknown, acc: Accumulator): void {
  const message = `policy ${policy.id}: ${rule}: ${errorMessage(err)}`;
  acc.results.push({ policy: policy.id, rule, outcome: "error", message });
  if (policy.failurePolicy === "Fail") acc.denials.push({ message, fromError: true });
}

const variableIndexes = new WeakMap<CompiledPolicy, Map<string, CompiledPolicy["variables"][number]>>();

/** The policy's variables by name, built once per compiled policy rather than once per review. */
function variablesByName(policy: CompiledPolicy): Map<string, CompiledPolicy["variables"][number]> {
  let index = variableIndexes.get(policy);
  if (!index) {
    index = new Map(policy.variables.map((v) => [v.name, v]));
    variableIndexes.set(policy, index);
  }
  return index;
}

/**
 * Variables evaluate on first use and once per policy, so an unused failing variable costs nothing. A Proxy over
 * one small Map keeps per-review garbage short-lived (accessor properties with fresh closures were promoted to the
 * old generation and caused long GC pauses under load).
 */
function lazyVariables(policy: CompiledPolicy, activation: () => Activation, budget: Budget): Record<string, unknown> {
  const states = new Map<string, { value: unknown } | { error: unknown }>();
  const byName = variablesByName(policy);
  const read = (name: string) => {
    const variable = byName.get(name);
    if (!variable) return undefined;
    let state = states.get(name);
    if (!state) {
      try {
        state = { value: variable.expression.evaluate(activation(), budget) };
      } catch (err) {
        state = { error: new Error(`variable ${variable.name}: ${errorMessage(err)}`) };
      }
      states.set(name, state);
    }
    if ("error" in state) throw state.error;
    return state.value;
  };
  return new Proxy({} as Record<string, unknown>, {
    get: (_t, name) => (typeof name === "string" ? read(name) : undefined),
    has: (_t, name) => typeof name === "string" && byName.has(name),
    ownKeys: () => [...byName.keys()],
    getOwnPropertyDescriptor: (_t, name) =>
      typeof name === "string" && byName.has(name)
        ? { enumerable: true, configurable: true, value: read(name) }
        : undefined,
  });
}

function validationMessage(
  validation: CompiledPolicy["validations"][number],
  activation: Activation,
  budget: Budget,
): string {
  if (validation.messageExpression) {
    try {
      const message = validation.messageExpression.evaluate(activation, budget);
      if (typeof message === "string" && message.trim() !== "") return message.trim();
    } catch {
      // Fall back to the static message: a broken message must not hide the verdict.
    }
  }
  return validation.rule.message ?? `failed expression: ${validation.rule.expression}`;
}

/** Audit annotation keys: the API server prefixes them with the webhook name; keep them qualified-name safe. */
function auditKey(policyId: string, rule: string): string {
  return `${policyId.replaceAll("/", ".")}.${rule}`.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63);
}

function errorMessage(err: unknown): string {
  if (typeof err === "string") return err;
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.message;
  return String(err);
}
