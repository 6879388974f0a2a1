/**
 * Pod Security evaluation: what the PodSecurity admission plugin would say about a pod (or a workload's pod
 * template) at a level. Pure; no defaults are applied, so pass the object as the API server would see it.
 */
import { baselineChecks } from "./baseline.ts";
import { restrictedChecks } from "./restricted.ts";
import { type PodSecurityLevel, type PodSecurityViolation, parseVersion, podSecurityLevels, podView } from "./types.ts";

export type { PodSecurityLevel, PodSecurityViolation } from "./types.ts";
export { podSecurityLevels } from "./types.ts";

/** Kinds whose pod template the plugin checks (for warn/audit only), and where the template's spec lives. */
const templateKinds = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"]);

function specPathOf(kind: unknown): string {
  if (kind === "CronJob") return "spec.jobTemplate.spec.template.spec";
  if (kind === "PodTemplate") return "template.spec";
  if (typeof kind === "string" && templateKinds.has(kind)) return "spec.template.spec";
  return "spec";
}

export function parseLevel(value: unknown): PodSecurityLevel | undefined {
  return podSecurityLevels.find((l) => l === value);
}

/** Violations of `level` at policy `version` ("latest" or "v1.N") by a Pod, a pod template holder (Deployment, Job, ...) or a CronJob. */
export function evaluatePodSecurity(
  object: unknown,
  level: PodSecurityLevel,
  version = "latest",
): PodSecurityViolation[] {
  if (level === "privileged") return [];
  const kind = (object as { kind?: unknown } | null)?.kind;
  const pod = podView(object, specPathOf(kind), parseVersion(version));
  const checks = level === "restricted" ? [...baselineChecks, ...restrictedChecks] : baselineChecks;
  return checks.flatMap((check) => check(pod));
}

/** One line per violation, in the order of the checks: for messages. */
export function describeViolations(violations: PodSecurityViolation[]): string {
  return violations.map((v) => `${v.path}: ${v.reason} (fix: ${v.fix})`).join("; ");
}
