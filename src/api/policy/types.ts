/**
 * The policy kinds of policy.skiff.dev/v1alpha1. A BackupPolicy applies to requests in its own namespace; a
 * ClusterBackupPolicy to every namespace and to cluster-scoped objects. The shape follows Kubernetes'
 * ValidatingAdmissionPolicy / MutatingAdmissionPolicy where it can, so the field names feel familiar.
 */
import type { RuleAction } from "../../policy/types.ts";

export const policyApiVersion = "policy.skiff.dev/v1alpha1";
export const policyKinds = ["BackupPolicy", "ClusterBackupPolicy"] as const;
export type PolicyKind = (typeof policyKinds)[number];

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
export const allOperations: readonly Operation[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Which resources a policy sees: an API group, kinds, and (optionally) subresources. */
export interface ResourceMatch {
  /** API group ("" is the core group, "*" any group). */
  group: string;
  /** Kinds as in `request.kind.kind` ("*" any kind). */
  kinds: string[];
  /**
   * Subresources to match, e.g. ["ephemeralcontainers"]. "" (the default, alone) is the resource itself;
   * "*" is the resource and every subresource. As in Kubernetes, a wildcard kind never implies subresources.
   */
  subresources?: string[];
}

export interface PolicyMatch {
  resources: ResourceMatch[];
  /** Default: CREATE and UPDATE. */
  operations?: Operation[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  /** Default: kube-system only (Skiff's install namespace holds what policies check). Set [] to exclude nothing. */
  excludedNamespaces?: string[];
}

export interface NamedExpression {
  name: string;
  expression: string;
}

export interface ConfigMapParamsRef {
  name: string;
  /** Default: the policy's namespace (BackupPolicy) or Skiff's install namespace (ClusterBackupPolicy). */
  namespace?: string;
  /** The data key whose value is JSON. Default: the only key of the ConfigMap. */
  key?: string;
}

export interface ResourceParamsRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface PolicyParams {
  configMapRef?: ConfigMapParamsRef;
  resourceRef?: ResourceParamsRef;
  /** What happens when the params object (or its key) does not exist. Default: Allow (the policy is skipped). */
  notFoundAction?: "Allow" | "Deny";
}

export interface ValidateRule {
  name: string;
  /** CEL returning bool: true means the object is acceptable. */
  expression: string;
  message?: string;
  /** CEL returning string; wins over `message` when it evaluates to a non-empty string. */
  messageExpression?: string;
  /** Default: Deny. */
  action?: RuleAction;
}

export interface PatchOperationSpec {
  op: "add" | "replace" | "remove" | "test";
  path: string;
  value?: unknown;
  /** CEL whose result is the value (for add, replace and test). */
  valueExpression?: string;
}

export interface MutateRule {
  name: string;
  /** CEL returning bool; the rule applies only when true. Default: always. */
  when?: string;
  patch: PatchOperationSpec[];
}

export interface PolicySpec {
  /** Lower runs first. Default 100. */
  precedence?: number;
  /** What a CEL runtime error does: Fail denies the request, Ignore skips the rule. Default Fail. */
  failurePolicy?: "Fail" | "Ignore";
  match: PolicyMatch;
  matchConditions?: NamedExpression[];
  params?: PolicyParams;
  variables?: NamedExpression[];
  validate?: ValidateRule[];
  mutate?: MutateRule[];
}

export interface PolicyMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Where a policy came from: for error messages and for file-over-cluster precedence. */
export interface PolicySource {
  /** A file path or a cluster reference such as "cluster:BackupPolicy/ns/name". */
  name: string;
  origin: "file" | "cluster";
  /** Line numbers (1-based) of fields in the source file, keyed by JSON pointer ("/spec/validate/0/expression"). */
  lines?: Record<string, number>;
}

export interface PolicyDocument {
  apiVersion: typeof policyApiVersion;
  kind: PolicyKind;
  metadata: PolicyMetadata;
  spec: PolicySpec;
  /** Not part of the document: attached by the loader. */
  source?: PolicySource;
}
