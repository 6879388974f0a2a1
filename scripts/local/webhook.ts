/**
 * `skiff webhook` as a child process of `npm start`: a serving certificate for 127.0.0.1, the shipped policies,
 * and the shipped webhook configurations pointed at its loopback URL instead of the in-cluster Service.
 */
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from "@kubernetes/client-node";
import { parse } from "yaml";
import { generateServingCert } from "../../test/env/certs.ts";
import type { Cluster, WebhookRegistration } from "../../test/env/cluster.ts";
import { httpsGet } from "../../test/env/https.ts";
import { freePort } from "../../test/env/ports.ts";
import { type ServerProcess, startServer, waitUntilReady } from "../../test/env/process.ts";
import { installNamespace } from "./cluster-setup.ts";

export interface LocalWebhook {
  url: string;
  caPem: string;
  logFile: string;
  server: ServerProcess;
  stop(): Promise<void>;
}

/** Starts the webhook on a free loopback port and waits until /readyz answers 200 (policies loaded). */
export async function startLocalWebhook(options: {
  root: string;
  kubeconfigPath: string;
  /** Holds the serving certificate and key (a temp dir). */
  certDir: string;
  /** The log file is `<logDir>/skiff-webhook.log`. */
  logDir: string;
}): Promise<LocalWebhook> {
  const serving = generateServingCert({ hosts: ["127.0.0.1"] });
  const certFile = join(options.certDir, "tls.crt");
  const keyFile = join(options.certDir, "tls.key");
  await writeFile(certFile, serving.certPem);
  // For clients of /metrics: curl --cacert <certDir>/ca.crt https://127.0.0.1:<port>/metrics
  await writeFile(join(options.certDir, "ca.crt"), serving.caPem);
  await writeFile(keyFile, serving.keyPem, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  // A fresh log per run: startServer appends.
  await writeFile(join(options.logDir, "skiff-webhook.log"), "", { mode: 0o600 });
  const port = await freePort();
  const server = startServer({
    name: "skiff-webhook",
    binary: process.execPath,
    args: [
      join(options.root, "src", "main.ts"),
      "webhook",
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--policy-dir=${join(options.root, "policies")}`,
      "--cert-mode=files",
      `--tls-cert-file=${certFile}`,
      `--tls-key-file=${keyFile}`,
      `--namespace=${installNamespace}`,
      `--kubeconfig=${options.kubeconfigPath}`,
      // Nothing routes traffic to it through endpoints, so there is nothing to wait for after SIGTERM.
      "--shutdown-delay=0",
    ],
    logDir: options.logDir,
    cwd: options.root,
    env: { ...process.env, SKIFF_LOG_LEVEL: process.env.SKIFF_LOG_LEVEL ?? "info" },
  });
  const url = `https://127.0.0.1:${port}`;
  try {
    await waitUntilReady(
      server,
      async () => (await httpsGet(`${url}/readyz`, { caPem: serving.caPem })).status === 200,
      60_000,
    );
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url, caPem: serving.caPem, logFile: server.logFile, server, stop: () => server.stop(10_000) };
}

/** webhooks/*.yaml with clientConfig.url = <url><service path> and the CA bundle instead of the Service. */
export async function localWebhookConfigs(
  root: string,
  url: string,
  caPem: string,
): Promise<{ mutating: V1MutatingWebhookConfiguration[]; validating: V1ValidatingWebhookConfiguration[] }> {
  const read = async <T>(file: string) => parse(await readFile(join(root, "webhooks", file), "utf8")) as T;
  const mutating = await read<V1MutatingWebhookConfiguration>("mutating.yaml");
  const validating = await read<V1ValidatingWebhookConfiguration>("validating.yaml");
  const caBundle = Buffer.from(caPem).toString("base64");
  for (const config of [mutating, validating]) {
    for (const webhook of config.webhooks ?? []) {
      const service = webhook.clientConfig.service;
      if (service === undefined) {
        throw new Error(`webhooks/*.yaml: webhook ${webhook.name} has no clientConfig.service to replace`);
      }
      webhook.clientConfig = { url: `${url}${service.path ?? "/"}`, caBundle };
    }
  }
  return { mutating: [mutating], validating: [validating] };
}

export async function registerLocalWebhooks(
  cluster: Cluster,
  root: string,
  webhook: LocalWebhook,
): Promise<WebhookRegistration> {
  return cluster.registerWebhooks(await localWebhookConfigs(root, webhook.url, webhook.caPem));
}
