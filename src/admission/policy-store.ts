/**
 * The policies in effect: documents from every source (mounted files, cluster resources), compiled together
 * into one set that is swapped atomically. A review reads the set once at its start, so a reload in the
 * middle of a review never mixes two sets. A bad document is reported and left out; the rest stay in force.
 */
import type { Logger } from "../log.ts";
import {
  type ClusterView,
  type CompiledPolicySet,
  compilePolicySet,
  type Decision,
  evaluateAdmission,
  formatLoadError,
  type PolicyDocument,
  type PolicyLoadError,
} from "../policy/index.ts";
import { applyOperations } from "../policy/patch.ts";
import type { AdmissionRequest, Phase } from "./codec.ts";
import type { AdmissionEvaluator } from "./evaluator.ts";
import type { AdmissionMetrics } from "./metrics.ts";

export interface SourceContents {
  policies: PolicyDocument[];
  errors: PolicyLoadError[];
}

export interface PolicyStoreOptions {
  installNamespace: string;
  view: ClusterView;
  logger: Logger;
  metrics?: AdmissionMetrics;
  /** Extra readiness (e.g. the namespace cache has synced). */
  viewReady?: () => boolean;
  /** Sources that must have reported once before the store is ready. */
  requiredSources: string[];
  /** Check Deny rules during /mutate as well (default true; see evaluate). */
  denyDuringMutation?: boolean;
  /** Which "group/Kind"s get that early check: by default Pods, the kind the PodSecurity plugin refuses. */
  denyDuringMutationKinds?: readonly string[];
}

const ALLOW: Decision = Object.freeze({
  allowed: true,
  results: [],
  warnings: [],
  auditAnnotations: {},
  patch: [],
}) as unknown as Decision;

/**
 * Which (group, kind, operation) triples any policy of a phase could match: most requests a webhook sees match
 * no policy at all and are answered without entering the engine. Conservative: wildcards match everything.
 */
export interface MatchIndex {
  mutate: Set<string>;
  validate: Set<string>;
  anyMutate: boolean;
  anyValidate: boolean;
}

export function buildMatchIndex(set: CompiledPolicySet): MatchIndex {
  const index: MatchIndex = { mutate: new Set(), validate: new Set(), anyMutate: false, anyValidate: false };
  for (const policy of set.policies) {
    const phases: ("mutate" | "validate")[] = [];
    if (policy.mutations.length > 0) phases.push("mutate");
    if (policy.validations.length > 0) phases.push("validate");
    for (const resource of policy.match.resources) {
      for (const kind of resource.kinds) {
        for (const phase of phases) {
          if (resource.group === "*" || kind === "*") {
            if (phase === "mutate") index.anyMutate = true;
            else index.anyValidate = true;
            continue;
          }
          for (const op of policy.match.operations) index[phase].add(`${resource.group}/${kind}/${op}`);
        }
      }
    }
  }
  return index;
}

function mayMatch(index: MatchIndex, phase: "mutate" | "validate", request: AdmissionRequest): boolean {
  if (phase === "mutate" ? index.anyMutate : index.anyValidate) return true;
  const keys = index[phase];
  const op = request.operation ?? "";
  const k = request.kind;
  if (k && keys.has(`${k.group}/${k.kind}/${op}`)) return true;
  const rk = request.requestKind;
  return rk !== undefined && keys.has(`${rk.group}/${rk.kind}/${op}`);
}

/**
 * The same policies with only their Deny rules: what /mutate checks early. Warn and Audit rules stay with
 * the validating call, so their warnings are not reported twice and /mutate does less work.
 */
export function denyRulesOnly(set: CompiledPolicySet): CompiledPolicySet {
  const policies = set.policies
    .map((p) => ({
      ...p,
      mutations: [],
      validations: p.validations.filter((v) => (v.rule.action ?? "Deny") === "Deny"),
    }))
    .filter((p) => p.validations.length > 0);
  return { ...set, policies };
}

export class PolicyStore implements AdmissionEvaluator {
  private readonly options: PolicyStoreOptions;
  private readonly sources = new Map<string, SourceContents>();
  private set: CompiledPolicySet | undefined;
  private index: MatchIndex = { mutate: new Set(), validate: new Set(), anyMutate: false, anyValidate: false };
  /** Only the Deny rules, for the check during /mutate (see evaluate). */
  private denySet: CompiledPolicySet | undefined;
  private denyIndex: MatchIndex = this.index;
  private errors: PolicyLoadError[] = [];
  private readonly listeners: ((set: CompiledPolicySet, errors: PolicyLoadError[]) => void)[] = [];

  private readonly earlyDenyKinds: ReadonlySet<string>;

  constructor(options: PolicyStoreOptions) {
    this.options = options;
    this.earlyDenyKinds = new Set(options.denyDuringMutationKinds ?? ["/Pod"]);
  }

  /** Replaces what one source contributes and recompiles. */
  update(source: string, contents: SourceContents): void {
    this.sources.set(source, contents);
    this.rebuild();
  }

  onCompiled(listener: (set: CompiledPolicySet, errors: PolicyLoadError[]) => void): void {
    this.listeners.push(listener);
  }

  current(): { set: CompiledPolicySet | undefined; errors: readonly PolicyLoadError[] } {
    return { set: this.set, errors: this.errors };
  }

  loaded(): boolean {
    return this.set !== undefined && this.options.requiredSources.every((s) => this.sources.has(s));
  }

  ready(): boolean {
    if (!this.set) return false;
    if (!this.options.requiredSources.every((s) => this.sources.has(s))) return false;
    return this.options.viewReady?.() ?? true;
  }

  evaluate(request: AdmissionRequest, phase: Phase): Decision {
    const set = this.set;
    if (!set) {
      // Not ready: the readiness probe keeps traffic away; answer conservatively if it arrives anyway.
      return {
        allowed: false,
        code: 503,
        message: "Skiff policies are not loaded yet",
        results: [],
        warnings: [],
        auditAnnotations: {},
        patch: [],
      };
    }
    const { view } = this.options;
    const index = this.index;
    if (phase === "validate") {
      return mayMatch(index, "validate", request) ? evaluateAdmission(set, request, view, "validate") : ALLOW;
    }
    const mutated = mayMatch(index, "mutate", request) ? evaluateAdmission(set, request, view, "mutate") : ALLOW;
    const denySet = this.denySet;
    if (!mutated.allowed || !denySet || !this.earlyDenyKinds.has(`${request.kind?.group}/${request.kind?.kind}`)) {
      return mutated;
    }
    if (!mayMatch(this.denyIndex, "validate", request)) return mutated;
    // The built-in PodSecurity plugin validates Pods before any validating webhook runs, so its terse refusal
    // would always hide a policy's explanation. For Pods, Deny rules are therefore also checked here, on the
    // mutated object. Other kinds have no such plugin and are left to /validate.
    let object = request.object;
    if (mutated.patch.length > 0) {
      const applied = applyOperations(request.object, mutated.patch);
      if (applied.kind === "applied") object = applied.object;
    }
    const checked = evaluateAdmission(denySet, { ...request, object }, view, "validate");
    if (checked.allowed) return mutated;
    return { ...checked, warnings: mutated.warnings, patch: [] };
  }

  private rebuild(): void {
    const { logger, metrics } = this.options;
    const documents: PolicyDocument[] = [];
    const loadErrors: PolicyLoadError[] = [];
    for (const contents of this.sources.values()) {
      documents.push(...contents.policies);
      loadErrors.push(...contents.errors);
    }
    const compiled = compilePolicySet(documents, { installNamespace: this.options.installNamespace });
    const errors = [...loadErrors, ...compiled.errors];
    const previous = new Set(this.errors.map(formatLoadError));
    for (const e of errors) {
      const text = formatLoadError(e);
      if (!previous.has(text))
        logger.error({ source: e.source, line: e.line, path: e.path }, `policy not loaded: ${text}`);
    }
    // Evaluation is synchronous, so a review never sees the new set with the old index.
    this.index = buildMatchIndex(compiled.set);
    this.denySet = this.options.denyDuringMutation === false ? undefined : denyRulesOnly(compiled.set);
    this.denyIndex = this.denySet ? buildMatchIndex(this.denySet) : this.index;
    this.set = compiled.set;
    this.errors = errors;
    if (metrics) {
      metrics.policiesLoaded.set({}, compiled.set.policies.length);
      metrics.policyLoadErrors.reset();
      const bySource = new Map<string, number>();
      for (const e of errors) bySource.set(e.source, (bySource.get(e.source) ?? 0) + 1);
      for (const [source, count] of bySource) metrics.policyLoadErrors.set({ source }, count);
    }
    logger.info(
      { policies: compiled.set.policies.map((p) => p.id), errors: errors.length },
      `policy set compiled: ${compiled.set.policies.length} policies`,
    );
    for (const listener of this.listeners) listener(compiled.set, errors);
  }
}
