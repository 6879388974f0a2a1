/**
 * What `npm start` puts into the fresh control plane before the webhook starts: the CRDs and Skiff's install
 * namespace with the node-agent ConfigMap the shipped backup-PVC policy reads.
 */
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { installCRDs } from "../../test/env/crds.ts";

/**
 * Skiff's install namespace: the policies take their params from it, and the data mover creates its DataUploads
 * and backup PVCs in it (so the demo does too), which the shipped webhook configurations intercept.
 */
export const installNamespace = "skiff-system";
/** The name policies/backup-pvc.yaml reads (params.configMapRef.name). */
export const nodeAgentConfigMap = "node-agent-config";

/** The example mapping: backup PVCs of "standard" volumes use a read-only claim of class "standard-backup". */
export const exampleBackupPVC = { sourceClass: "standard", storageClass: "standard-backup", readOnly: true } as const;

/** The node-agent configuration document (Velero's --node-agent-configmap format) with the example mapping. */
export function nodeAgentConfig(): Record<string, unknown> {
  return {
    backupPVC: {
      [exampleBackupPVC.sourceClass]: {
        storageClass: exampleBackupPVC.storageClass,
        readOnly: exampleBackupPVC.readOnly,
      },
    },
  };
}

const codeOf = (err: unknown) => (err as { code?: number }).code;

async function ignoreExisting(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (codeOf(err) !== 409) throw err;
  }
}

/** Installs every CRD file in manifests/crds/ (Velero's and the policy CRDs) and waits until they are served. */
export async function installAllCRDs(kc: KubeConfig, root: string): Promise<void> {
  await installCRDs(kc, join(root, "manifests", "crds"));
}

export async function createNamespaces(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await ignoreExisting(() => core.createNamespace({ body: { metadata: { name: installNamespace } } }));
  // kube-controller-manager adds it a moment later; objects created at once need it now.
  await ignoreExisting(() =>
    core.createNamespacedServiceAccount({ namespace: installNamespace, body: { metadata: { name: "default" } } }),
  );
}

export async function createNodeAgentConfigMap(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await ignoreExisting(() =>
    core.createNamespacedConfigMap({
      namespace: installNamespace,
      body: {
        metadata: {
          name: nodeAgentConfigMap,
          labels: { "skiff.dev/config-type": "node-agent", "app.kubernetes.io/part-of": "skiff" },
        },
        // One key: the policy's configMapRef names no key, so the only key's value is parsed as JSON.
        data: { "node-agent-config.json": JSON.stringify(nodeAgentConfig(), null, 2) },
      },
    }),
  );
}
