/**
 * What the API server does with Skiff's two webhooks, run offline: the mutating pass, its patch applied, then the
 * validating pass on the result. The CLI (`policy apply`, `policy test`) uses this, so it and the webhook share
 * one engine.
 */
import type { CompiledPolicySet } from "./compile.ts";
import { evaluateAdmission } from "./evaluate.ts";
import { applyOperations } from "./patch.ts";
import type { Decision } from "./types.ts";
import type { ClusterView, KubeObject } from "./view.ts";

export interface SimulatedAdmission {
  mutate: Decision;
  validate: Decision;
  /** The object after the mutating pass (null for DELETE). */
  patched: unknown;
  allowed: boolean;
  message?: string;
  warnings: string[];
  auditAnnotations: Record<string, string>;
  /** A second mutating pass over the patched object changed it again (a policy is not idempotent). */
  notIdempotent: boolean;
}

export interface RequestInput {
  operation?: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  namespace?: string;
  subResource?: string;
  dryRun?: boolean;
  userInfo?: Record<string, unknown>;
}

/** Builds an AdmissionReview request as the API server would send it for an object. */
export function buildRequest(
  input: RequestInput,
  uid = "00000000-0000-0000-0000-000000000000",
): Record<string, unknown> {
  const operation = input.operation ?? "CREATE";
  const subject = (input.object ?? input.oldObject ?? {}) as KubeObject;
  const [group, version] = splitApiVersion(subject.apiVersion ?? "v1");
  const kind = { group, version, kind: subject.kind ?? "" };
  const resource = { group, version, resource: pluralOf(subject.kind ?? "") };
  const namespace =
    input.namespace ??
    subject.metadata?.namespace ??
    (subject.kind === "Namespace" ? subject.metadata?.name : undefined);
  return {
    uid,
    kind,
    resource,
    requestKind: kind,
    requestResource: resource,
    ...(input.subResource ? { subResource: input.subResource } : {}),
    name: subject.metadata?.name ?? "",
    ...(namespace ? { namespace } : {}),
    operation,
    userInfo: input.userInfo ?? { username: "skiff-policy-cli", groups: ["system:authenticated"] },
    object: operation === "DELETE" ? null : (input.object ?? null),
    oldObject: input.oldObject ?? null,
    dryRun: input.dryRun ?? false,
    options: null,
  };
}

export function splitApiVersion(apiVersion: string): [string, string] {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? ["", apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

/** Good enough for the CLI's synthesised requests (policies match on kinds, not on resource names). */
function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith("s")) return `${lower}es`;
  if (lower.endsWith("y")) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

export function simulateAdmission(
  set: CompiledPolicySet,
  view: ClusterView,
  request: Record<string, unknown>,
): SimulatedAdmission {
  const mutate = evaluateAdmission(set, request, view, "mutate");
  let patched: unknown = request.object ?? null;
  let notIdempotent = false;
  if (patched !== null && mutate.patch.length > 0) {
    const applied = applyOperations(patched, mutate.patch);
    if (applied.kind === "applied") patched = applied.object;
  }
  if (patched !== null) {
    const again = evaluateAdmission(set, { ...request, object: patched }, view, "mutate");
    notIdempotent = again.patch.length > 0;
  }
  const validate = evaluateAdmission(set, { ...request, object: patched }, view, "validate");
  const allowed = mutate.allowed && validate.allowed;
  const message = [mutate.message, validate.message].filter(Boolean).join("; ");
  return {
    mutate,
    validate,
    patched,
    allowed,
    ...(allowed ? {} : { message }),
    warnings: [...mutate.warnings, ...validate.warnings],
    auditAnnotations: { ...mutate.auditAnnotations, ...validate.auditAnnotations },
    notIdempotent,
  };
}
