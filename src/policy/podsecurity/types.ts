/** Pod Security Standards (the checks of Kubernetes' PodSecurity admission plugin, latest policy version). */
export type PodSecurityLevel = "privileged" | "baseline" | "restricted";
export const podSecurityLevels: readonly PodSecurityLevel[] = ["privileged", "baseline", "restricted"];

export interface PodSecurityViolation {
  /** The lowest level that forbids this. */
  level: "baseline" | "restricted";
  /** The check's identifier as in Kubernetes' pod-security-admission (e.g. "runAsNonRoot"). */
  check: string;
  /** The offending field, e.g. "spec.containers[0].securityContext.runAsUser". */
  path: string;
  /** What is wrong, naming the container where there is one. */
  reason: string;
  /** How to make the pod acceptable. */
  fix: string;
}

/** The parts of a Pod (or a pod template) the checks read. Unknown input is treated defensively. */
export type Json = Record<string, unknown>;

export interface ContainerRef {
  container: Json;
  /** "spec.containers[0]" */
  path: string;
  name: string;
}

export interface PodView {
  metadata: Json;
  /** "metadata" for a Pod, "spec.template.metadata" for a template. */
  metadataPath: string;
  spec: Json;
  /** "spec" for a Pod, "spec.template.spec" for a template. */
  specPath: string;
  containers: ContainerRef[];
  isWindows: boolean;
  /**
   * spec.hostUsers=false: the pod runs in a user namespace, where UID 0 and an unmasked /proc are not the node's.
   * From policy version 1.35 the plugin relaxes runAsNonRoot, runAsUser and, at baseline, procMount for such
   * pods. True only when the relaxation applies.
   */
  userNamespace: boolean;
  /** Policy version as a Kubernetes minor (1.N → N); Infinity for "latest". */
  minor: number;
}

/** "latest", "v1.30", or anything else (treated as latest, as the plugin does for an unparsable version). */
export function parseVersion(version: string | undefined): number {
  const match = /^v1\.(\d+)$/.exec(version ?? "");
  return match ? Number(match[1]) : Number.POSITIVE_INFINITY;
}

export function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function podView(object: unknown, specPath = "spec", minor = Number.POSITIVE_INFINITY): PodView {
  const segments = specPath.split(".");
  const metadataPath = [...segments.slice(0, -1), "metadata"].join(".");
  const at = (path: string[]) => path.reduce<Json>((node, key) => asObject(node[key]), asObject(object));
  const spec = at(segments);
  const metadata = at(metadataPath.split("."));
  const containers: ContainerRef[] = [];
  for (const field of ["initContainers", "containers", "ephemeralContainers"]) {
    asArray(spec[field]).forEach((c, i) => {
      const container = asObject(c);
      containers.push({ container, path: `${specPath}.${field}[${i}]`, name: String(container.name ?? i) });
    });
  }
  const isWindows = asObject(spec.os).name === "windows";
  // The relaxations for user-namespaced pods apply from policy version 1.35.
  const userNamespace = spec.hostUsers === false && minor >= 35;
  return { metadata, metadataPath, spec, specPath, containers, isWindows, userNamespace, minor };
}

/** A check of one level: the pod (or workload template) in, its violations out. */
export type Check = (pod: PodView) => PodSecurityViolation[];

/** Builds the violation constructor of one level, so each check only says what is wrong and how to fix it. */
export function violationOf(level: PodSecurityViolation["level"]) {
  return (check: string, path: string, reason: string, fix: string): PodSecurityViolation => ({
    level,
    check,
    path,
    reason,
    fix,
  });
}

export const podSecurityContext = (pod: PodView) => asObject(pod.spec.securityContext);
export const containerSecurityContext = (c: { container: Record<string, unknown> }) =>
  asObject(c.container.securityContext);
