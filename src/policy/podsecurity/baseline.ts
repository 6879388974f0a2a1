/** The baseline checks: they forbid known privilege escalations while allowing the default pod. */
import {
  asArray,
  asObject,
  type Check,
  containerSecurityContext,
  type PodSecurityViolation,
  podSecurityContext,
  violationOf,
} from "./types.ts";

const allowedCapabilities = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
/** Allowed values by the policy version (Kubernetes minor) that introduced them. */
const seLinuxTypesSince: [string, number][] = [
  ["", 0],
  ["container_t", 0],
  ["container_init_t", 0],
  ["container_kvm_t", 0],
  ["container_engine_t", 31],
];
const safeSysctlsSince: [string, number][] = [
  ["kernel.shm_rmid_forced", 0],
  ["net.ipv4.ip_local_port_range", 0],
  ["net.ipv4.ip_unprivileged_port_start", 0],
  ["net.ipv4.tcp_syncookies", 0],
  ["net.ipv4.ping_group_range", 0],
  ["net.ipv4.ip_local_reserved_ports", 27],
  ["net.ipv4.tcp_keepalive_time", 29],
  ["net.ipv4.tcp_fin_timeout", 29],
  ["net.ipv4.tcp_keepalive_intvl", 29],
  ["net.ipv4.tcp_keepalive_probes", 29],
  ["net.ipv4.tcp_rmem", 32],
  ["net.ipv4.tcp_wmem", 32],
];
const allowedAt = (table: [string, number][], minor: number) =>
  new Set(table.filter(([, since]) => since <= minor).map(([value]) => value));

const v = violationOf("baseline");
const sc = containerSecurityContext;

const hostProcess: Check = (pod) => {
  const out: PodSecurityViolation[] = [];
  if (asObject(podSecurityContext(pod).windowsOptions).hostProcess === true) {
    out.push(
      v(
        "hostProcess",
        `${pod.specPath}.securityContext.windowsOptions.hostProcess`,
        "the pod requests a Windows HostProcess",
        "remove windowsOptions.hostProcess",
      ),
    );
  }
  for (const c of pod.containers) {
    if (asObject(sc(c).windowsOptions).hostProcess === true) {
      out.push(
        v(
          "hostProcess",
          `${c.path}.securityContext.windowsOptions.hostProcess`,
          `container "${c.name}" requests a Windows HostProcess`,
          "remove windowsOptions.hostProcess",
        ),
      );
    }
  }
  return out;
};

const hostNamespaces: Check = (pod) =>
  (["hostNetwork", "hostPID", "hostIPC"] as const)
    .filter((field) => pod.spec[field] === true)
    .map((field) =>
      v(
        "hostNamespaces",
        `${pod.specPath}.${field}`,
        `${field}=true shares the node's namespace`,
        `remove ${field} or set it to false`,
      ),
    );

const privileged: Check = (pod) =>
  pod.containers
    .filter((c) => sc(c).privileged === true)
    .map((c) =>
      v(
        "privileged",
        `${c.path}.securityContext.privileged`,
        `container "${c.name}" is privileged`,
        "set securityContext.privileged=false",
      ),
    );

const capabilitiesBaseline: Check = (pod) => {
  const out: PodSecurityViolation[] = [];
  for (const c of pod.containers) {
    const added = asArray(asObject(sc(c).capabilities).add).map(String);
    const bad = added.filter((cap) => !allowedCapabilities.has(cap));
    if (bad.length > 0) {
      out.push(
        v(
          "capabilities",
          `${c.path}.securityContext.capabilities.add`,
          `container "${c.name}" adds capabilities ${bad.join(", ")}`,
          `do not add ${bad.join(", ")}`,
        ),
      );
    }
  }
  return out;
};

const hostPathVolumes: Check = (pod) =>
  asArray(pod.spec.volumes).flatMap((vol, i) => {
    const volume = asObject(vol);
    if (volume.hostPath === undefined || volume.hostPath === null) return [];
    return [
      v(
        "hostPathVolumes",
        `${pod.specPath}.volumes[${i}].hostPath`,
        `volume "${String(volume.name)}" is a hostPath`,
        "use a PersistentVolumeClaim or another non-host volume",
      ),
    ];
  });

const hostPorts: Check = (pod) =>
  pod.containers.flatMap((c) =>
    asArray(c.container.ports).flatMap((p, i) => {
      const hostPort = asObject(p).hostPort;
      if (hostPort === undefined || hostPort === null || hostPort === 0) return [];
      return [
        v(
          "hostPorts",
          `${c.path}.ports[${i}].hostPort`,
          `container "${c.name}" uses hostPort ${String(hostPort)}`,
          "remove hostPort",
        ),
      ];
    }),
  );

const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/";
const appArmor: Check = (pod) => {
  const out: PodSecurityViolation[] = [];
  for (const [key, value] of Object.entries(asObject(pod.metadata.annotations))) {
    if (!key.startsWith(appArmorAnnotationPrefix)) continue;
    const profile = String(value);
    if (profile === "" || profile === "runtime/default" || profile.startsWith("localhost/")) continue;
    out.push(
      v(
        "appArmorProfile",
        `${pod.metadataPath}.annotations["${key}"]`,
        `AppArmor profile "${profile}" is not allowed`,
        "use runtime/default or a localhost/ profile",
      ),
    );
  }
  const fieldCheck = (profile: unknown, path: string, who: string) => {
    const type = asObject(profile).type;
    if (profile === undefined || profile === null || type === "RuntimeDefault" || type === "Localhost") return;
    out.push(
      v(
        "appArmorProfile",
        `${path}.appArmorProfile.type`,
        `${who} sets AppArmor profile type ${String(type)}`,
        "set appArmorProfile.type to RuntimeDefault or Localhost",
      ),
    );
  };
  // The securityContext.appArmorProfile fields are checked at every policy version (as the plugin does).
  fieldCheck(podSecurityContext(pod).appArmorProfile, `${pod.specPath}.securityContext`, "the pod");
  for (const c of pod.containers)
    fieldCheck(sc(c).appArmorProfile, `${c.path}.securityContext`, `container "${c.name}"`);
  return out;
};

const seLinuxOptions: Check = (pod) => {
  const out: PodSecurityViolation[] = [];
  const check = (options: unknown, path: string, who: string) => {
    if (options === undefined || options === null) return;
    const o = asObject(options);
    const type = o.type === undefined || o.type === null ? "" : String(o.type);
    if (!allowedAt(seLinuxTypesSince, pod.minor).has(type)) {
      out.push(
        v(
          "seLinuxOptions",
          `${path}.seLinuxOptions.type`,
          `${who} sets SELinux type "${type}"`,
          "remove seLinuxOptions.type or use container_t (for read-only backup PVCs drop spcNoRelabeling)",
        ),
      );
    }
    if (o.user !== undefined && o.user !== null && o.user !== "") {
      out.push(
        v(
          "seLinuxOptions",
          `${path}.seLinuxOptions.user`,
          `${who} sets SELinux user "${String(o.user)}"`,
          "remove seLinuxOptions.user",
        ),
      );
    }
    if (o.role !== undefined && o.role !== null && o.role !== "") {
      out.push(
        v(
          "seLinuxOptions",
          `${path}.seLinuxOptions.role`,
          `${who} sets SELinux role "${String(o.role)}"`,
          "remove seLinuxOptions.role",
        ),
      );
    }
  };
  check(podSecurityContext(pod).seLinuxOptions, `${pod.specPath}.securityContext`, "the pod");
  for (const c of pod.containers) check(sc(c).seLinuxOptions, `${c.path}.securityContext`, `container "${c.name}"`);
  return out;
};

const procMount: Check = (pod) =>
  (pod.userNamespace ? [] : pod.containers)
    .filter((c) => {
      const value = sc(c).procMount;
      return value !== undefined && value !== null && value !== "Default";
    })
    .map((c) =>
      v(
        "procMount",
        `${c.path}.securityContext.procMount`,
        `container "${c.name}" sets procMount ${String(sc(c).procMount)}`,
        "remove procMount or set it to Default",
      ),
    );

export const seccompPodAnnotation = "seccomp.security.alpha.kubernetes.io/pod";
export const seccompContainerAnnotationPrefix = "container.seccomp.security.alpha.kubernetes.io/";

const seccompBaseline: Check = (pod) => {
  const out: PodSecurityViolation[] = [];
  if (pod.minor < 19) {
    // Before policy version 1.19 the profile was set with annotations.
    for (const [key, value] of Object.entries(asObject(pod.metadata.annotations))) {
      if (
        (key === seccompPodAnnotation || key.startsWith(seccompContainerAnnotationPrefix)) &&
        value === "unconfined"
      ) {
        out.push(
          v(
            "seccompProfile",
            `${pod.metadataPath}.annotations["${key}"]`,
            "the seccomp annotation is unconfined",
            "use runtime/default",
          ),
        );
      }
    }
    return out;
  }
  if (asObject(podSecurityContext(pod).seccompProfile).type === "Unconfined") {
    out.push(
      v(
        "seccompProfile",
        `${pod.specPath}.securityContext.seccompProfile.type`,
        "the pod sets seccomp profile Unconfined",
        "set seccompProfile.type to RuntimeDefault",
      ),
    );
  }
  for (const c of pod.containers) {
    if (asObject(sc(c).seccompProfile).type === "Unconfined") {
      out.push(
        v(
          "seccompProfile",
          `${c.path}.securityContext.seccompProfile.type`,
          `container "${c.name}" sets seccomp profile Unconfined`,
          "set seccompProfile.type to RuntimeDefault",
        ),
      );
    }
  }
  return out;
};

const sysctls: Check = (pod) =>
  asArray(podSecurityContext(pod).sysctls).flatMap((s, i) => {
    const name = String(asObject(s).name ?? "");
    if (allowedAt(safeSysctlsSince, pod.minor).has(name)) return [];
    return [
      v(
        "sysctls",
        `${pod.specPath}.securityContext.sysctls[${i}].name`,
        `sysctl ${name} is not in the safe set`,
        "remove the sysctl",
      ),
    ];
  });

const handlerFields = [
  ["livenessProbe", ""],
  ["readinessProbe", ""],
  ["startupProbe", ""],
  ["lifecycle", "postStart"],
  ["lifecycle", "preStop"],
] as const;
const hostProbes: Check = (pod) => {
  const out: PodSecurityViolation[] = [];
  if (pod.minor < 34) return out;
  for (const c of pod.containers) {
    for (const [field, sub] of handlerFields) {
      const handler = sub ? asObject(asObject(c.container[field])[sub]) : asObject(c.container[field]);
      const handlerPath = sub ? `${c.path}.${field}.${sub}` : `${c.path}.${field}`;
      for (const action of ["httpGet", "tcpSocket"]) {
        const host = asObject(handler[action]).host;
        if (host === undefined || host === null || host === "") continue;
        out.push(
          v(
            "hostProbesAndHostLifecycle",
            `${handlerPath}.${action}.host`,
            `container "${c.name}" sets ${action}.host "${String(host)}"`,
            `remove ${action}.host`,
          ),
        );
      }
    }
  }
  return out;
};

export const baselineChecks: Check[] = [
  hostProcess,
  hostNamespaces,
  privileged,
  capabilitiesBaseline,
  hostPathVolumes,
  hostPorts,
  appArmor,
  seLinuxOptions,
  procMount,
  seccompBaseline,
  sysctls,
  hostProbes,
];
