/**
 * The policy engine's public API: load, compile, evaluate. Everything here is pure except loadPolicyDirectory.
 * The webhook and the offline CLI call exactly these functions, so their verdicts agree.
 */
export { policySchema } from "../api/policy/schema.ts";
export type * from "../api/policy/types.ts";
export { policyApiVersion, policyKinds } from "../api/policy/types.ts";
export { type CostLimits, defaultCostLimits } from "./cel/cost.ts";
export {
  type CompiledPolicy,
  type CompiledPolicySet,
  type CompileOptions,
  comparePolicies,
  compilePolicySet,
} from "./compile.ts";
export { evaluateAdmission, type Phase } from "./evaluate.ts";
export {
  type LoadedPolicies,
  loadPolicyDirectory,
  type PolicyLoadError,
  parsePolicyDocuments,
  validatePolicyDocument,
} from "./load.ts";
export {
  describeViolations,
  evaluatePodSecurity,
  type PodSecurityLevel,
  type PodSecurityViolation,
} from "./podsecurity/index.ts";
export type { Decision, PatchOperation, RuleAction, RuleResult } from "./types.ts";
export { type ClusterView, type KubeObject, type ResourceRef, staticClusterView } from "./view.ts";

import type { PolicyLoadError } from "./load.ts";

/** "file:12: /spec/validate/0/expression: problem", the one format every caller prints. */
export function formatLoadError(error: PolicyLoadError): string {
  const where = error.line !== undefined ? `${error.source}:${error.line}` : error.source;
  return `${where}: ${error.path || "/"}: ${error.message}`;
}
