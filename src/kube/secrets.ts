/**
 * One Secret read and written with optimistic concurrency: every write carries the resourceVersion it was
 * based on, so two replicas racing to rotate a certificate cannot overwrite each other (the loser gets a
 * conflict, re-reads, and finds the work done).
 */
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { isNotFound, normalizeKubeError } from "./errors.ts";

export interface StoredSecret {
  /** Decoded values of `data`. */
  data: Record<string, string>;
  annotations: Record<string, string>;
  resourceVersion?: string;
}

export interface SecretStore {
  readonly namespace: string;
  readonly name: string;
  read(): Promise<StoredSecret | undefined>;
  /** Creates (no resourceVersion) or replaces (with it); a conflict throws a KubeError with code 409. */
  write(secret: StoredSecret): Promise<StoredSecret>;
}

/** The Secret as text values (from a read or a watch event). */
export function decodeSecret(secret: V1Secret): StoredSecret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, "base64").toString("utf8");
  return {
    data,
    annotations: { ...(secret.metadata?.annotations ?? {}) },
    resourceVersion: secret.metadata?.resourceVersion,
  };
}

export function kubeSecretStore(
  kc: KubeConfig,
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
): SecretStore {
  const core = kc.makeApiClient(CoreV1Api);
  const where = `Secret ${namespace}/${name}`;
  return {
    namespace,
    name,
    async read() {
      try {
        return decodeSecret(await core.readNamespacedSecret({ name, namespace }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw normalizeKubeError(err, `reading ${where}`);
      }
    },
    async write(secret) {
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(secret.data)) data[k] = Buffer.from(v, "utf8").toString("base64");
      const body: V1Secret = {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { name, namespace, labels, annotations: secret.annotations, resourceVersion: secret.resourceVersion },
        data,
      };
      try {
        const written = secret.resourceVersion
          ? await core.replaceNamespacedSecret({ name, namespace, body })
          : await core.createNamespacedSecret({ namespace, body });
        return decodeSecret(written);
      } catch (err) {
        throw normalizeKubeError(err, `${secret.resourceVersion ? "updating" : "creating"} ${where}`);
      }
    },
  };
}
