/**
 * A real kube-controller-manager, for the behaviour only it provides: namespace deletion (namespace controller),
 * garbage collection of owned objects, default service accounts, PV binding.
 */
import { join } from "node:path";
import type { ControlPlanePki } from "./apiserver.ts";
import { ensureBinary } from "./binaries.ts";
import { issueCertificate } from "./certs.ts";
import { httpsGet } from "./https.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { freePort, retryOnPortClash } from "./ports.ts";
import { type ServerProcess, startServer, waitUntilReady } from "./process.ts";

export interface ControllerManager {
  process: ServerProcess;
  stop(): Promise<void>;
}

export function controllerManagerArgs(options: {
  port: number;
  kubeconfig: string;
  serviceAccountKeyFile: string;
  rootCAFile: string;
  dir: string;
}): string[] {
  return [
    `--kubeconfig=${options.kubeconfig}`,
    // Delegated authn/authz for its own health endpoint go through the same apiserver.
    `--authentication-kubeconfig=${options.kubeconfig}`,
    `--authorization-kubeconfig=${options.kubeconfig}`,
    "--controllers=*",
    "--use-service-account-credentials=false",
    `--service-account-private-key-file=${options.serviceAccountKeyFile}`,
    `--root-ca-file=${options.rootCAFile}`,
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    `--secure-port=${options.port}`,
    `--cert-dir=${join(options.dir, "controller-manager-certs")}`,
    "--v=0",
  ];
}

export async function startControllerManager(
  dir: string,
  apiServerUrl: string,
  pki: ControlPlanePki,
  log: (line: string) => void = () => {},
): Promise<ControllerManager> {
  const binary = await ensureBinary("kube-controller-manager", log);
  // Its own identity. With --use-service-account-credentials=false every controller acts as this user, and the
  // garbage collector must be able to delete any kind (custom resources too), hence system:masters.
  const client = issueCertificate(pki.clientCA, {
    commonName: "system:kube-controller-manager",
    organizations: ["system:masters"],
    usage: "client",
  });
  const kubeconfig = join(dir, "controller-manager.kubeconfig");
  await writeKubeconfig(kubeconfig, {
    server: apiServerUrl,
    caPem: pki.servingCA.certPem,
    certPem: client.certPem,
    keyPem: client.keyPem,
    userName: "system:kube-controller-manager",
  });
  return retryOnPortClash(async () => {
    const port = await freePort();
    const server = startServer({
      name: "kube-controller-manager",
      binary,
      logDir: dir,
      args: controllerManagerArgs({
        port,
        kubeconfig,
        serviceAccountKeyFile: pki.serviceAccountKeyFile,
        rootCAFile: pki.servingCAFile,
        dir,
      }),
    });
    try {
      await waitUntilReady(
        server,
        // Its serving certificate is self-signed at start; this only asks our own loopback child if it is healthy.
        async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`, { insecure: true })).status === 200,
        60_000,
        200,
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
    return { process: server, stop: () => server.stop() };
  });
}
