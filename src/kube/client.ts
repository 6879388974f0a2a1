/**
 * One KubeConfig per process, loaded once and passed to whatever needs the API server: an explicit
 * kubeconfig file, else the in-cluster service account, else the usual default ($KUBECONFIG, ~/.kube/config).
 */
import { KubeConfig } from "@kubernetes/client-node";

export interface KubeConfigOptions {
  kubeconfig?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  if (options.kubeconfig) {
    kc.loadFromFile(options.kubeconfig);
  } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && !env.KUBECONFIG) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      options.kubeconfig
        ? `kubeconfig ${options.kubeconfig} has no current cluster`
        : "no Kubernetes configuration found (not in a cluster, no $KUBECONFIG, no ~/.kube/config); pass --kubeconfig",
    );
  }
  return kc;
}

/** The namespace this process runs in (in-cluster), if it can be known. */
export async function inClusterNamespace(): Promise<string | undefined> {
  const { readFile } = await import("node:fs/promises");
  try {
    return (await readFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}
