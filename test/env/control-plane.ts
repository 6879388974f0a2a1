/** Starts etcd, kube-apiserver and (optionally) kube-controller-manager, and hands back a Cluster. */
import { join } from "node:path";
import { createControlPlanePki, startApiServer } from "./apiserver.ts";
import { type Cluster, clusterFor } from "./cluster.ts";
import { startControllerManager } from "./controller-manager.ts";
import { startEtcd } from "./etcd.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { makeTempDir, removeTempDir } from "./process.ts";

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (namespace deletion, garbage collection). Default true. */
  controllerManager?: boolean;
  log?: (line: string) => void;
}

export interface ControlPlane extends Cluster {
  /** The temp dir holding data, certificates and the servers' log files. */
  dir: string;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? (() => {});
  const withControllerManager = options.controllerManager ?? true;
  const dir = await makeTempDir("control-plane");
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    // Reverse start order: controllers first, etcd last.
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
    await removeTempDir(dir);
  };
  try {
    const pki = await createControlPlanePki(dir);
    const etcd = await startEtcd(dir, log);
    stops.push(etcd.stop);
    const apiServer = await startApiServer(dir, etcd.clientUrl, pki, log);
    stops.push(apiServer.stop);
    const kubeconfigPath = join(dir, "kubeconfig");
    await writeKubeconfig(kubeconfigPath, {
      server: apiServer.url,
      caPem: pki.servingCA.certPem,
      certPem: pki.admin.certPem,
      keyPem: pki.admin.keyPem,
    });
    if (withControllerManager) {
      const controllerManager = await startControllerManager(dir, apiServer.url, pki, log);
      stops.push(controllerManager.stop);
    }
    const cluster = clusterFor(
      { server: apiServer.url, kubeconfigPath, controllerManager: withControllerManager },
      stopAll,
    );
    return { ...cluster, dir };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
