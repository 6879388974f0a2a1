/**
 * The self-check `npm start` runs once: a backup PVC as the data mover creates it (in the install namespace,
 * owned by a DataUpload, the source volume's storage class, ReadWriteOnce) goes through the API, and the webhook
 * must have turned it into a ReadOnlyMany claim of the class the node-agent ConfigMap maps to.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1OwnerReference,
  type V1PersistentVolumeClaim,
} from "@kubernetes/client-node";
import { exampleBackupPVC, installNamespace } from "./cluster-setup.ts";

export const demoDataUpload = "demo-upload";
export const demoPVC = "demo-upload-backup-pvc";

export interface DemoOutcome {
  ok: boolean;
  accessModes: string[];
  storageClass: string | undefined;
  message: string;
}

/** The backup PVC the data mover would create for a DataUpload of a "standard" volume, before any policy. */
export function backupPVC(name: string, owner: V1OwnerReference): V1PersistentVolumeClaim {
  return {
    metadata: { name, namespace: installNamespace, ownerReferences: [owner] },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: exampleBackupPVC.sourceClass,
      resources: { requests: { storage: "1Gi" } },
    },
  };
}

/** Judges a PVC the API returned against the example mapping. */
export function judgeBackupPVC(pvc: V1PersistentVolumeClaim): DemoOutcome {
  const accessModes = pvc.spec?.accessModes ?? [];
  const storageClass = pvc.spec?.storageClassName;
  const ok =
    accessModes.length === 1 && accessModes[0] === "ReadOnlyMany" && storageClass === exampleBackupPVC.storageClass;
  const where = `${pvc.metadata?.namespace}/${pvc.metadata?.name}`;
  const seen = `accessModes [${accessModes.join(", ")}], storageClassName ${storageClass ?? "(none)"}`;
  const message = ok
    ? `backup PVC ${where} was created ReadWriteOnce/${exampleBackupPVC.sourceClass}; the webhook made it ${seen}`
    : `backup PVC ${where} was not mutated as the node-agent ConfigMap asks (want ReadOnlyMany, ` +
      `${exampleBackupPVC.storageClass}); the API returned ${seen}`;
  return { ok, accessModes, storageClass, message };
}

/**
 * Creates the owning DataUpload (a real object, so the garbage collector keeps the PVC). Run it before the
 * webhooks are registered: it is the PVC, not the DataUpload, that the demo is about.
 */
export async function createDemoDataUpload(kc: KubeConfig): Promise<V1OwnerReference> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const body = {
    apiVersion: "velero.io/v2alpha1",
    kind: "DataUpload",
    metadata: { name: demoDataUpload, namespace: installNamespace },
    spec: {
      snapshotType: "CSI",
      sourceNamespace: "default",
      sourcePVC: "data",
      backupStorageLocation: "default",
      operationTimeout: "10m",
      csiSnapshot: { volumeSnapshot: "data-snapshot", storageClass: exampleBackupPVC.sourceClass },
    },
  };
  const coordinates = { group: "velero.io", version: "v2alpha1", namespace: installNamespace, plural: "datauploads" };
  let created: { metadata?: { uid?: string } };
  try {
    created = (await custom.createNamespacedCustomObject({ ...coordinates, body })) as typeof created;
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
    created = (await custom.getNamespacedCustomObject({ ...coordinates, name: demoDataUpload })) as typeof created;
  }
  const uid = created.metadata?.uid;
  if (!uid) throw new Error(`DataUpload ${installNamespace}/${demoDataUpload} has no uid`);
  return { apiVersion: "velero.io/v2alpha1", kind: "DataUpload", name: demoDataUpload, uid, controller: true };
}

/** A dry-run create of the backup PVC: true once the webhook mutates it (the configurations are active). */
export async function webhookMutatesBackupPVC(kc: KubeConfig, owner: V1OwnerReference): Promise<boolean> {
  const core = kc.makeApiClient(CoreV1Api);
  const pvc = await core.createNamespacedPersistentVolumeClaim({
    namespace: installNamespace,
    body: backupPVC(`${demoPVC}-probe`, owner),
    dryRun: "All",
  });
  return judgeBackupPVC(pvc).ok;
}

/** Creates the demo backup PVC for real (replacing one left from an earlier check) and judges the result. */
export async function runDemo(kc: KubeConfig, owner: V1OwnerReference): Promise<DemoOutcome> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespacedPersistentVolumeClaim({ name: demoPVC, namespace: installNamespace }).catch(() => {});
  const pvc = await core.createNamespacedPersistentVolumeClaim({
    namespace: installNamespace,
    body: backupPVC(demoPVC, owner),
  });
  return judgeBackupPVC(pvc);
}

/** The one-line demo a user can paste: the same check with kubectl. */
export function demoCommand(kubectl: boolean, skiff: string, policyDir: string): string {
  const get = `${installNamespace} get pvc ${demoPVC} -o jsonpath='{.spec.accessModes} {.spec.storageClassName}'`;
  if (kubectl) return `kubectl -n ${get}`;
  return `${skiff} policy lint ${policyDir}   (kubectl not found; with kubectl: kubectl -n ${get})`;
}
