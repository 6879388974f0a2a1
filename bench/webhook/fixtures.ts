/**
 * What the benchmark sends and evaluates: a mix of AdmissionReviews like the ones the apiserver sends for
 * the shipped policies, 20 extra generated CEL policies, and the cluster objects the policies read.
 */
import type { KubeObject } from "../../src/policy/index.ts";

export const INSTALL_NAMESPACE = "skiff-system";

/** 20 extra policies: each matches Pods, PVCs or ConfigMaps and validates with a few CEL expressions. */
export function generatedPolicies(count = 20): string {
  const kinds = [
    { group: "", kind: "Pod" },
    { group: "", kind: "PersistentVolumeClaim" },
    { group: "", kind: "ConfigMap" },
    { group: "velero.io", kind: "Backup" },
  ];
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = kinds[i % kinds.length] as { group: string; kind: string };
    docs.push(`apiVersion: policy.skiff.dev/v1alpha1
kind: ClusterBackupPolicy
metadata:
  name: generated-${i}
spec:
  precedence: ${300 + i}
  match:
    resources: [{group: "${k.group}", kinds: [${k.kind}]}]
    operations: [CREATE, UPDATE]
  variables:
    - name: labels
      expression: object.metadata.?labels.orValue({})
  validate:
    - name: label_count
      expression: size(variables.labels) < ${40 + i}
      message: too many labels
    - name: team_label
      action: Warn
      expression: "!('team-${i}' in variables.labels) || variables.labels['team-${i}'].matches('^[a-z0-9-]+$')"
      messageExpression: "'label team-${i} must be a DNS label, got ' + variables.labels['team-${i}']"
    - name: name_length
      expression: size(object.metadata.?name.orValue('')) <= 253 && !object.metadata.?name.orValue('').startsWith('forbidden-${i}')
      message: name not allowed
`);
  }
  return docs.join("---\n");
}

export const clusterObjects: KubeObject[] = [
  {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "apps", labels: { "kubernetes.io/metadata.name": "apps" } },
  },
  {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: "velero",
      labels: { "kubernetes.io/metadata.name": "velero", "pod-security.kubernetes.io/enforce": "baseline" },
    },
  },
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "node-agent-config", namespace: INSTALL_NAMESPACE },
    data: { "config.json": JSON.stringify({ backupPVC: { standard: { storageClass: "backup-ro", readOnly: true } } }) },
  },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "velero", namespace: "velero" },
    spec: { template: { spec: { containers: [{ name: "velero", args: ["server", "--uploader-type=kopia"] }] } } },
  },
];

let uid = 0;
function review(request: Record<string, unknown>) {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `00000000-0000-0000-0000-${String(++uid).padStart(12, "0")}`,
      userInfo: { username: "system:serviceaccount:velero:velero", groups: ["system:serviceaccounts"] },
      dryRun: false,
      ...request,
    },
  });
}

const pvc = {
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: {
    generateName: "backup-",
    namespace: "velero",
    ownerReferences: [{ apiVersion: "velero.io/v2alpha1", kind: "DataUpload", name: "du-1", uid: "u-1" }],
    labels: { "velero.io/data-upload": "du-1" },
  },
  spec: { accessModes: ["ReadWriteOnce"], storageClassName: "standard", resources: { requests: { storage: "10Gi" } } },
};

const moverPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "du-1-mover", namespace: "velero", labels: { "velero.io/data-upload": "du-1", team: "backup" } },
  spec: {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: "mover",
        image: "skiff:0.1.0",
        args: ["data-mover", "backup"],
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        volumeMounts: [{ name: "source", mountPath: "/source" }],
      },
    ],
    volumes: [{ name: "source", persistentVolumeClaim: { claimName: "backup-1" } }],
  },
};

const appPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web-1", namespace: "apps", labels: { app: "web", team: "shop" } },
  spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }] }] },
};

const nodeAgentConfigMap = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "node-agent-config", namespace: "velero", labels: { "skiff.dev/config-type": "node-agent" } },
  data: {
    "config.json": JSON.stringify({
      loadConcurrency: { globalConfig: 2 },
      backupPVC: { standard: { storageClass: "backup-ro", readOnly: true } },
    }),
  },
};

const backup = {
  apiVersion: "velero.io/v1",
  kind: "Backup",
  metadata: { name: "nightly", namespace: "velero" },
  spec: { includedNamespaces: ["apps"], defaultVolumesToFsBackup: true, ttl: "720h0m0s" },
};

const gvk = (group: string, version: string, kind: string) => ({ group, version, kind });
const gvr = (group: string, version: string, resource: string) => ({ group, version, resource });

/** [path, body] pairs in the proportions of a busy cluster's backup traffic. */
export function reviewMix(): { path: string; body: string }[] {
  const create = (
    object: { metadata: { namespace: string; name?: string } },
    kind: ReturnType<typeof gvk>,
    resource: ReturnType<typeof gvr>,
  ) => ({
    kind,
    resource,
    requestKind: kind,
    requestResource: resource,
    name: object.metadata.name ?? "",
    namespace: object.metadata.namespace,
    operation: "CREATE",
    object,
    oldObject: null,
    options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
  });
  return [
    {
      path: "/mutate",
      body: review(create(pvc, gvk("", "v1", "PersistentVolumeClaim"), gvr("", "v1", "persistentvolumeclaims"))),
    },
    { path: "/mutate", body: review(create(moverPod, gvk("", "v1", "Pod"), gvr("", "v1", "pods"))) },
    { path: "/validate", body: review(create(moverPod, gvk("", "v1", "Pod"), gvr("", "v1", "pods"))) },
    { path: "/validate", body: review(create(appPod, gvk("", "v1", "Pod"), gvr("", "v1", "pods"))) },
    {
      path: "/validate",
      body: review(create(nodeAgentConfigMap, gvk("", "v1", "ConfigMap"), gvr("", "v1", "configmaps"))),
    },
    {
      path: "/validate",
      body: review(create(backup, gvk("velero.io", "v1", "Backup"), gvr("velero.io", "v1", "backups"))),
    },
  ];
}
