/**
 * Everything `npm start` runs, in order: the control plane and S3 server, Skiff's namespace and node-agent
 * ConfigMap, the webhook (registered by URL), the repositories, and the self-check. Each part reports what to
 * print and how to stop it; a failure stops the parts already running.
 */
import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { type ControlPlane, startControlPlane } from "../../test/env/control-plane.ts";
import { makeTempDir, removeTempDir } from "../../test/env/process.ts";
import { type S3Server, startS3Server } from "../../test/env/s3.ts";
import { createNamespaces, createNodeAgentConfigMap, installAllCRDs, nodeAgentConfigMap } from "./cluster-setup.ts";
import { createDemoDataUpload, type DemoOutcome, demoCommand, runDemo, webhookMutatesBackupPVC } from "./demo.ts";
import {
  createS3Repository,
  dataDir,
  ensureFilesystemRepository,
  moverCommands,
  type RepositoryLocation,
  skiffBin,
  stateDir,
} from "./repositories.ts";
import { registerLocalWebhooks, startLocalWebhook } from "./webhook.ts";

export interface LocalSkiff {
  /** The "Skiff is running" block. */
  summary: string[];
  demo: DemoOutcome;
  /** Stops everything in reverse order; the repository in the data dir stays. */
  stop(): Promise<void>;
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

export async function startLocalSkiff(root: string, log: (line: string) => void): Promise<LocalSkiff> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) {
      await step().catch((err: unknown) => log(`stopping: ${(err as Error).message}`));
    }
  };
  try {
    log("starting etcd, kube-apiserver and kube-controller-manager");
    const cluster: ControlPlane = await startControlPlane({ controllerManager: true });
    stops.push(cluster.stop);
    log("starting the S3 server");
    const s3: S3Server = await startS3Server();
    stops.push(s3.stop);

    log("installing the CRDs, the skiff-system namespace and the node-agent ConfigMap");
    await installAllCRDs(cluster.kubeConfig, root);
    await createNamespaces(cluster.kubeConfig);
    await createNodeAgentConfigMap(cluster.kubeConfig);
    const owner = await createDemoDataUpload(cluster.kubeConfig);

    log("starting skiff webhook");
    const certDir = await makeTempDir("webhook-certs");
    stops.push(() => removeTempDir(certDir));
    const logDir = join(stateDir(), "logs");
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    const webhook = await startLocalWebhook({ root, kubeconfigPath: cluster.kubeconfigPath, certDir, logDir });
    stops.push(webhook.stop);
    const registration = await registerLocalWebhooks(cluster, root, webhook);
    // Removed before the webhook stops, so the API server never calls a webhook that is gone.
    stops.push(registration.remove);
    await cluster.waitForWebhook(() => webhookMutatesBackupPVC(cluster.kubeConfig, owner), 60_000);

    log("initialising the repositories");
    const filesystem = await ensureFilesystemRepository(root, dataDir());
    const onS3 = await createS3Repository(root, s3, filesystem.passwordFile);

    const demo = await runDemo(cluster.kubeConfig, owner);
    const kubectl = await onPath("kubectl");
    const repoLines = (location: RepositoryLocation, note: string) => {
      const commands = moverCommands(root, location);
      return [
        `${location.name} repository (${note}):`,
        `  ${location.repo}`,
        `  back up:   ${commands.backup}`,
        `  restore:   ${commands.restore}`,
        `  snapshots: ${commands.snapshots}`,
      ];
    };
    const summary = [
      "Skiff is running",
      "",
      `  export KUBECONFIG=${cluster.kubeconfigPath}`,
      `  kube-apiserver:  ${cluster.server}`,
      `  webhook:         ${webhook.url}/mutate, ${webhook.url}/validate`,
      `  metrics:         ${webhook.url}/metrics   (CA: ${join(certDir, "ca.crt")})`,
      `  webhook log:     ${webhook.logFile}`,
      `  server logs:     ${cluster.dir}/*.log`,
      `  policies:        ${join(root, "policies")} (hot-reloaded); params: ConfigMap skiff-system/${nodeAgentConfigMap}`,
      `  S3 endpoint:     ${s3.endpoint} (credentials ${s3.credentialsFile})`,
      "",
      ...repoLines(filesystem, `${filesystem.created ? "created" : "kept"} in ${dataDir()}`),
      ...repoLines(onS3, "bucket skiff on the local S3 server, gone when it stops"),
      "",
      `  self-check: ${demo.ok ? "OK" : "FAILED"}: ${demo.message}`,
      `  try:        ${demoCommand(kubectl, skiffBin(root), join(root, "policies"))}`,
    ];
    return { summary, demo, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
