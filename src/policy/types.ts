/**
 * The policy engine's result. Decisions are values: evaluation never throws for a policy's own failures
 * (a CEL error is a result with outcome "error"); only loading files or reading the cluster does I/O.
 */
export type RuleAction = "Deny" | "Warn" | "Audit";

export interface RuleResult {
  /** The policy's id: "name" for a ClusterBackupPolicy, "namespace/name" for a BackupPolicy. */
  policy: string;
  /** The rule name, or "params", "matchConditions/<name>", "evaluation" for failures outside rules. */
  rule: string;
  outcome: "pass" | "fail" | "skip" | "error" | "mutated";
  action?: RuleAction;
  message?: string;
}

/** One RFC 6902 operation. Paths are JSON pointers with ~0 / ~1 escaping already applied. */
export interface PatchOperation {
  op: "add" | "remove" | "replace" | "test";
  path: string;
  value?: unknown;
}

export interface Decision {
  allowed: boolean;
  /** Set when allowed is false: what the user sees. */
  message?: string;
  /** HTTP-style status code for a denial (403 by default). */
  code?: number;
  results: RuleResult[];
  warnings: string[];
  auditAnnotations: Record<string, string>;
  patch: PatchOperation[];
}
