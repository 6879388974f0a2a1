/** The restricted checks: current pod hardening best practice, on top of baseline. */
import {
  asArray,
  asObject,
  type Check,
  containerSecurityContext,
  type PodSecurityViolation,
  type PodView,
  podSecurityContext,
  violationOf,
} from "./types.ts";

const allowedVolumeSources = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "image",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

const v = violationOf("restricted");
const sc = containerSecurityContext;
const isSet = (value: unknown) => value !== undefined && value !== null;

const restrictedVolumes: Check = (pod) =>
  asArray(pod.spec.volumes).flatMap((vol, i) => {
    const volume = asObject(vol);
    const sources = Object.keys(volume).filter((k) => k !== "name" && isSet(volume[k]));
    const bad = sources.filter((s) => !allowedVolumeSources.has(s));
    if (bad.length === 0) return [];
    return [
      v(
        "restrictedVolumes",
        `${pod.specPath}.volumes[${i}].${bad[0]}`,
        `volume "${String(volume.name)}" uses ${bad.join(", ")}`,
        "use a persistentVolumeClaim, configMap, secret, emptyDir, projected, csi or ephemeral volume",
      ),
    ];
  });

/** Windows pods are exempt from some checks from policy version 1.25. */
const windowsExempt = (pod: PodView) => pod.isWindows && pod.minor >= 25;

const allowPrivilegeEscalation: Check = (pod) => {
  if (windowsExempt(pod)) return [];
  return pod.containers
    .filter((c) => sc(c).allowPrivilegeEscalation !== false)
    .map((c) =>
      v(
        "allowPrivilegeEscalation",
        `${c.path}.securityContext.allowPrivilegeEscalation`,
        `container "${c.name}" does not set allowPrivilegeEscalation=false`,
        "set securityContext.allowPrivilegeEscalation=false",
      ),
    );
};

const runAsNonRoot: Check = (pod) => {
  if (pod.userNamespace) return [];
  const out: PodSecurityViolation[] = [];
  const podValue = podSecurityContext(pod).runAsNonRoot;
  if (podValue === false) {
    out.push(
      v(
        "runAsNonRoot",
        `${pod.specPath}.securityContext.runAsNonRoot`,
        "the pod sets runAsNonRoot=false",
        "set securityContext.runAsNonRoot=true",
      ),
    );
  }
  const podNonRoot = podValue === true;
  for (const c of pod.containers) {
    const value = sc(c).runAsNonRoot;
    if (value === false) {
      out.push(
        v(
          "runAsNonRoot",
          `${c.path}.securityContext.runAsNonRoot`,
          `container "${c.name}" sets runAsNonRoot=false`,
          "set securityContext.runAsNonRoot=true",
        ),
      );
    } else if (!isSet(value) && !podNonRoot) {
      out.push(
        v(
          "runAsNonRoot",
          `${c.path}.securityContext.runAsNonRoot`,
          `container "${c.name}" may run as root (runAsNonRoot unset on pod and container)`,
          "set securityContext.runAsNonRoot=true on the pod or the container",
        ),
      );
    }
  }
  return out;
};

const runAsUser: Check = (pod) => {
  if (pod.userNamespace || pod.minor < 23) return [];
  const out: PodSecurityViolation[] = [];
  if (podSecurityContext(pod).runAsUser === 0) {
    out.push(
      v(
        "runAsUser",
        `${pod.specPath}.securityContext.runAsUser`,
        "the pod sets runAsUser=0 (root)",
        "set runAsUser to a non-zero UID",
      ),
    );
  }
  for (const c of pod.containers) {
    if (sc(c).runAsUser === 0) {
      out.push(
        v(
          "runAsUser",
          `${c.path}.securityContext.runAsUser`,
          `container "${c.name}" sets runAsUser=0 (root)`,
          "set runAsUser to a non-zero UID",
        ),
      );
    }
  }
  return out;
};

const validSeccomp = (type: unknown) => type === "RuntimeDefault" || type === "Localhost";
const seccompRestricted: Check = (pod) => {
  if (windowsExempt(pod)) return [];
  if (pod.minor < 19) return seccompAnnotationsRestricted(pod);
  const out: PodSecurityViolation[] = [];
  const podProfile = podSecurityContext(pod).seccompProfile;
  let podSet = false;
  if (isSet(podProfile)) {
    const type = asObject(podProfile).type;
    if (validSeccomp(type)) podSet = true;
    else
      out.push(
        v(
          "seccompProfile",
          `${pod.specPath}.securityContext.seccompProfile.type`,
          `the pod sets seccomp profile ${String(type)}`,
          "set seccompProfile.type to RuntimeDefault or Localhost",
        ),
      );
  }
  for (const c of pod.containers) {
    const profile = sc(c).seccompProfile;
    if (isSet(profile)) {
      const type = asObject(profile).type;
      if (!validSeccomp(type)) {
        out.push(
          v(
            "seccompProfile",
            `${c.path}.securityContext.seccompProfile.type`,
            `container "${c.name}" sets seccomp profile ${String(type)}`,
            "set seccompProfile.type to RuntimeDefault or Localhost",
          ),
        );
      }
    } else if (!podSet) {
      out.push(
        v(
          "seccompProfile",
          `${c.path}.securityContext.seccompProfile`,
          `container "${c.name}" has no seccomp profile (none on the pod either)`,
          "set securityContext.seccompProfile.type=RuntimeDefault on the pod or the container",
        ),
      );
    }
  }
  return out;
};

const capabilitiesRestricted: Check = (pod) => {
  if (windowsExempt(pod) || pod.minor < 22) return [];
  const out: PodSecurityViolation[] = [];
  for (const c of pod.containers) {
    const capabilities = asObject(sc(c).capabilities);
    const drop = asArray(capabilities.drop).map(String);
    if (!drop.includes("ALL")) {
      out.push(
        v(
          "capabilities",
          `${c.path}.securityContext.capabilities.drop`,
          `container "${c.name}" does not drop ALL capabilities`,
          'set securityContext.capabilities.drop=["ALL"]',
        ),
      );
    }
    const bad = asArray(capabilities.add)
      .map(String)
      .filter((cap) => cap !== "NET_BIND_SERVICE");
    if (bad.length > 0) {
      out.push(
        v(
          "capabilities",
          `${c.path}.securityContext.capabilities.add`,
          `container "${c.name}" adds capabilities ${bad.join(", ")}`,
          "add at most NET_BIND_SERVICE",
        ),
      );
    }
  }
  return out;
};

/** Before policy version 1.19: a runtime/default, docker/default or localhost/ annotation on the pod or every container. */
function seccompAnnotationsRestricted(pod: PodView): PodSecurityViolation[] {
  const annotations = asObject(pod.metadata.annotations);
  const confined = (value: unknown) =>
    value === "runtime/default" ||
    value === "docker/default" ||
    (typeof value === "string" && value.startsWith("localhost/"));
  if (confined(annotations["seccomp.security.alpha.kubernetes.io/pod"])) return [];
  return pod.containers
    .filter((c) => !confined(annotations[`container.seccomp.security.alpha.kubernetes.io/${c.name}`]))
    .map((c) =>
      v(
        "seccompProfile",
        `${pod.metadataPath}.annotations["seccomp.security.alpha.kubernetes.io/pod"]`,
        `container "${c.name}" has no confining seccomp annotation`,
        "annotate the pod with seccomp.security.alpha.kubernetes.io/pod: runtime/default",
      ),
    );
}

/** Baseline lets a user-namespaced pod unmask /proc; restricted still requires the default mount. */
const procMountRestricted: Check = (pod) => {
  if (!pod.userNamespace) return [];
  return pod.containers
    .filter((c) => {
      const value = sc(c).procMount;
      return isSet(value) && value !== "Default";
    })
    .map((c) =>
      v(
        "procMount",
        `${c.path}.securityContext.procMount`,
        `container "${c.name}" sets procMount ${String(sc(c).procMount)}`,
        "remove procMount or set it to Default",
      ),
    );
};

export const restrictedChecks: Check[] = [
  procMountRestricted,
  restrictedVolumes,
  allowPrivilegeEscalation,
  runAsNonRoot,
  runAsUser,
  seccompRestricted,
  capabilitiesRestricted,
];
