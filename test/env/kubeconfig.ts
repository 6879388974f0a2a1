/**
 * The kubeconfig handed to code under test: the same kind of file a user's kubeconfig is, with the CA and the
 * client certificate embedded, so nothing else on disk is needed to reach the cluster.
 */
import { writeFile } from "node:fs/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";

export interface KubeconfigInput {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Names for the cluster, user and context entries. */
  clusterName?: string;
  userName?: string;
}

const b64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");

/** Pure: the kubeconfig YAML for one cluster, one user, one current context. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const cluster = input.clusterName ?? "skiff-test";
  const user = input.userName ?? "admin";
  const context = `${user}@${cluster}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: cluster, cluster: { server: input.server, "certificate-authority-data": b64(input.caPem) } }],
    users: [
      { name: user, user: { "client-certificate-data": b64(input.certPem), "client-key-data": b64(input.keyPem) } },
    ],
    contexts: [{ name: context, context: { cluster, user } }],
    "current-context": context,
    preferences: {},
  });
}

/** Writes the kubeconfig readable by its owner only (it holds a private key). */
export async function writeKubeconfig(path: string, input: KubeconfigInput): Promise<void> {
  await writeFile(path, renderKubeconfig(input), { mode: 0o600 });
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
