/**
 * Compiling policies: schema check (for objects that did not come through the file loader), CEL compilation of
 * every expression, defaults, and the evaluation order. A policy with any error is left out and reported; the
 * others still run.
 */
import type {
  MutateRule,
  NamedExpression,
  Operation,
  PatchOperationSpec,
  PolicyDocument,
  PolicyMatch,
  PolicyParams,
  ValidateRule,
} from "../api/policy/types.ts";
import { allOperations } from "../api/policy/types.ts";
import { type CostLimits, defaultCostLimits } from "./cel/cost.ts";
import { type CompiledExpression, compileExpression, type ResultKind } from "./cel/environment.ts";
import { locate, type PolicyLoadError, validatePolicyDocument } from "./load.ts";

export interface CompileOptions {
  /** Skiff's own namespace: where a ClusterBackupPolicy's params live. Default "skiff". */
  installNamespace?: string;
  /**
   * Namespaces no policy sees unless it sets match.excludedNamespaces. Default kube-system only: the install
   * namespace holds the data mover's PVCs and pods and Skiff's ConfigMaps, which policies exist for; Skiff's
   * own webhook objects are kept away from the webhook by the configurations' objectSelector instead.
   */
  defaultExcludedNamespaces?: string[];
  costLimits?: CostLimits;
}

/** What a policy without match.excludedNamespaces skips: see CompileOptions.defaultExcludedNamespaces. */
export const defaultExcludedNamespaces: readonly string[] = ["kube-system"];

export interface CompiledNamed {
  name: string;
  expression: CompiledExpression;
}

export interface CompiledValidation {
  rule: ValidateRule;
  expression: CompiledExpression;
  messageExpression?: CompiledExpression;
}

export interface CompiledPatch {
  spec: PatchOperationSpec;
  valueExpression?: CompiledExpression;
}

export interface CompiledMutation {
  rule: MutateRule;
  when?: CompiledExpression;
  patch: CompiledPatch[];
}

export interface CompiledPolicy {
  /** "name" for a ClusterBackupPolicy, "namespace/name" for a BackupPolicy: used in results and messages. */
  id: string;
  document: PolicyDocument;
  scope: "Cluster" | "Namespaced";
  namespace?: string;
  precedence: number;
  failurePolicy: "Fail" | "Ignore";
  match: Required<Pick<PolicyMatch, "resources" | "excludedNamespaces">> & PolicyMatch & { operations: Operation[] };
  matchConditions: CompiledNamed[];
  /** Params with the namespace resolved (undefined only for a cluster-scoped resourceRef). */
  params?: PolicyParams & { namespace?: string };
  variables: CompiledNamed[];
  validations: CompiledValidation[];
  mutations: CompiledMutation[];
}

export interface CompiledPolicySet {
  /** In evaluation order. */
  policies: CompiledPolicy[];
  installNamespace: string;
  costLimits: CostLimits;
}

/** The evaluation order: cluster-scoped first, then precedence (lower first), then namespace, then name. */
export function comparePolicies(a: CompiledPolicy, b: CompiledPolicy): number {
  if (a.scope !== b.scope) return a.scope === "Cluster" ? -1 : 1;
  if (a.precedence !== b.precedence) return a.precedence - b.precedence;
  const ns = (a.namespace ?? "").localeCompare(b.namespace ?? "");
  return ns !== 0 ? ns : a.document.metadata.name.localeCompare(b.document.metadata.name);
}

export function compilePolicySet(
  policies: PolicyDocument[],
  options: CompileOptions = {},
): { set: CompiledPolicySet; errors: PolicyLoadError[] } {
  const installNamespace = options.installNamespace ?? "skiff";
  const excluded = options.defaultExcludedNamespaces ?? [...defaultExcludedNamespaces];
  const errors: PolicyLoadError[] = [];
  const compiled: CompiledPolicy[] = [];
  // Files win over cluster resources with the same identity: an operator's mounted files are the baseline.
  const ordered = [...policies].sort((a, b) => originRank(a) - originRank(b));
  const seen = new Map<string, string>();
  for (const candidate of ordered) {
    const source = candidate.source ?? {
      name: `${candidate.kind}/${candidate.metadata?.name}`,
      origin: "cluster" as const,
    };
    const checked = validatePolicyDocument(candidate, source);
    if (!checked.policy) {
      errors.push(...checked.errors);
      continue;
    }
    const doc = checked.policy;
    const identity = `${doc.kind}/${doc.metadata.namespace ?? ""}/${doc.metadata.name}`;
    const earlier = seen.get(identity);
    if (earlier !== undefined) {
      errors.push({
        ...locate(source, "/metadata/name"),
        message: `${identity} is also defined in ${earlier}, which takes precedence; this copy is ignored`,
      });
      continue;
    }
    seen.set(identity, source.name);
    const result = compileOne(doc, installNamespace, excluded);
    errors.push(...result.errors);
    if (result.policy) compiled.push(result.policy);
  }
  compiled.sort(comparePolicies);
  return { set: { policies: compiled, installNamespace, costLimits: options.costLimits ?? defaultCostLimits }, errors };
}

function originRank(p: PolicyDocument): number {
  return p.source?.origin === "cluster" ? 1 : 0;
}

function compileOne(
  doc: PolicyDocument,
  installNamespace: string,
  defaultExcluded: string[],
): { policy?: CompiledPolicy; errors: PolicyLoadError[] } {
  const errors: PolicyLoadError[] = [];
  const compile = (source: string, kind: ResultKind, path: string): CompiledExpression | undefined => {
    const result = compileExpression(source, kind);
    if (result.ok) return result.expression;
    errors.push({ ...locate(doc.source, path), message: `CEL: ${result.error}` });
    return undefined;
  };
  const spec = doc.spec;
  const compileNamed = (list: NamedExpression[] | undefined, field: string, kind: ResultKind): CompiledNamed[] => {
    const names = new Set<string>();
    return (list ?? []).flatMap((item, i) => {
      if (names.has(item.name)) {
        errors.push({ ...locate(doc.source, `/spec/${field}/${i}/name`), message: `duplicate name "${item.name}"` });
      }
      names.add(item.name);
      const expression = compile(item.expression, kind, `/spec/${field}/${i}/expression`);
      return expression ? [{ name: item.name, expression }] : [];
    });
  };
  const matchConditions = compileNamed(spec.matchConditions, "matchConditions", "bool");
  const variables = compileNamed(spec.variables, "variables", "any");
  const ruleNames = new Set<string>();
  const uniqueRule = (name: string, path: string) => {
    // Rule names key results and audit annotations: a duplicate would make them ambiguous.
    if (ruleNames.has(name)) errors.push({ ...locate(doc.source, path), message: `duplicate rule name "${name}"` });
    ruleNames.add(name);
  };
  for (const [i, rule] of (spec.validate ?? []).entries()) uniqueRule(rule.name, `/spec/validate/${i}/name`);
  for (const [i, rule] of (spec.mutate ?? []).entries()) uniqueRule(rule.name, `/spec/mutate/${i}/name`);
  const validations: CompiledValidation[] = [];
  (spec.validate ?? []).forEach((rule, i) => {
    const expression = compile(rule.expression, "bool", `/spec/validate/${i}/expression`);
    const messageExpression = rule.messageExpression
      ? compile(rule.messageExpression, "string", `/spec/validate/${i}/messageExpression`)
      : undefined;
    if (expression) validations.push({ rule, expression, ...(messageExpression ? { messageExpression } : {}) });
  });
  const mutations: CompiledMutation[] = [];
  (spec.mutate ?? []).forEach((rule, i) => {
    const when = rule.when ? compile(rule.when, "bool", `/spec/mutate/${i}/when`) : undefined;
    const patch = rule.patch.map((op, j) => {
      const valueExpression = op.valueExpression
        ? compile(op.valueExpression, "any", `/spec/mutate/${i}/patch/${j}/valueExpression`)
        : undefined;
      return { spec: op, ...(valueExpression ? { valueExpression } : {}) };
    });
    mutations.push({ rule, ...(when ? { when } : {}), patch });
  });
  if ((spec.validate ?? []).length === 0 && (spec.mutate ?? []).length === 0) {
    errors.push({ ...locate(doc.source, "/spec"), message: "a policy needs at least one validate or mutate rule" });
  }
  if (errors.length > 0) return { errors };
  const namespaced = doc.kind === "BackupPolicy";
  const operations = spec.match.operations?.includes("*" as Operation)
    ? [...allOperations]
    : (spec.match.operations ?? ["CREATE", "UPDATE"]);
  const policy: CompiledPolicy = {
    id: namespaced ? `${doc.metadata.namespace}/${doc.metadata.name}` : doc.metadata.name,
    document: doc,
    scope: namespaced ? "Namespaced" : "Cluster",
    ...(namespaced ? { namespace: doc.metadata.namespace as string } : {}),
    precedence: spec.precedence ?? 100,
    failurePolicy: spec.failurePolicy ?? "Fail",
    match: { ...spec.match, operations, excludedNamespaces: spec.match.excludedNamespaces ?? defaultExcluded },
    matchConditions,
    variables,
    validations,
    mutations,
  };
  if (spec.params) {
    const namespace = spec.params.configMapRef
      ? (spec.params.configMapRef.namespace ?? (namespaced ? (doc.metadata.namespace as string) : installNamespace))
      : spec.params.resourceRef?.namespace;
    policy.params = { ...spec.params, ...(namespace ? { namespace } : {}) };
  }
  return { policy, errors };
}
