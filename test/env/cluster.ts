/**
 * What a test gets from the environment: the kubeconfig path (to hand to the code under test), a KubeConfig
 * loaded from it, and helpers for namespaces, CRDs and webhook registrations.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { type CrdSource, installCRDs } from "./crds.ts";
import { loadKubeConfig } from "./kubeconfig.ts";

/** Everything needed to reach a running control plane; this is what the state file records. */
export interface ClusterConnection {
  server: string;
  kubeconfigPath: string;
  /** Whether kube-controller-manager runs (namespace deletion, garbage collection, default service accounts). */
  controllerManager: boolean;
}

export interface WebhookRegistration {
  names: { validating: string[]; mutating: string[] };
  remove(): Promise<void>;
}

export interface Cluster extends ClusterConnection {
  kubeConfig: KubeConfig;
  installCRDs(source: CrdSource): Promise<void>;
  /** Creates a namespace named `<prefix>-<random>` (with its `default` service account) and returns the name. */
  newNamespace(prefix: string, labels?: Record<string, string>): Promise<string>;
  registerWebhooks(configs: {
    validating?: V1ValidatingWebhookConfiguration[];
    mutating?: V1MutatingWebhookConfiguration[];
  }): Promise<WebhookRegistration>;
  /** Polls probe (true once a probe object was intercepted by the webhook) until it succeeds or timeoutMs passes. */
  waitForWebhook(probe: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Stops servers this process started; a no-op for the shared servers of a test run. */
  stop(): Promise<void>;
}

const webhookResource = { group: "admissionregistration.k8s.io", version: "v1" };

const codeOf = (err: unknown) => (err as { code?: number }).code;

/** A DNS-1123 label: prefix (sanitised) plus a random suffix. */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 50) || "test";
  return `${clean}-${randomBytes(4).toString("hex")}`;
}

export function clusterFor(connection: ClusterConnection, stop: () => Promise<void>): Cluster {
  const kubeConfig = loadKubeConfig(connection.kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  // Untyped on create: the typed serializer drops JSON keys it renames (see crds.ts), so callers' plain objects
  // are sent as they are.
  const raw = kubeConfig.makeApiClient(CustomObjectsApi);
  return {
    ...connection,
    kubeConfig,
    installCRDs: (source) => installCRDs(kubeConfig, source),
    async newNamespace(prefix, labels) {
      const name = uniqueName(prefix);
      await core.createNamespace({ body: { metadata: { name, labels: labels ?? {} } } });
      // kube-controller-manager creates it too, a moment later; pods need it at once (ServiceAccount admission).
      try {
        await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: "default" } } });
      } catch (err) {
        if (codeOf(err) !== 409) throw err;
      }
      return name;
    },
    async registerWebhooks(configs) {
      const validating: string[] = [];
      const mutating: string[] = [];
      const registration: WebhookRegistration = {
        names: { validating, mutating },
        async remove() {
          for (const name of validating) {
            await admission.deleteValidatingWebhookConfiguration({ name }).catch((err) => {
              if (codeOf(err) !== 404) throw err;
            });
          }
          for (const name of mutating) {
            await admission.deleteMutatingWebhookConfiguration({ name }).catch((err) => {
              if (codeOf(err) !== 404) throw err;
            });
          }
        },
      };
      try {
        for (const body of configs.validating ?? []) {
          const created = (await raw.createClusterCustomObject({
            ...webhookResource,
            plural: "validatingwebhookconfigurations",
            body,
          })) as V1ValidatingWebhookConfiguration;
          validating.push(created.metadata?.name ?? "");
        }
        for (const body of configs.mutating ?? []) {
          const created = (await raw.createClusterCustomObject({
            ...webhookResource,
            plural: "mutatingwebhookconfigurations",
            body,
          })) as V1MutatingWebhookConfiguration;
          mutating.push(created.metadata?.name ?? "");
        }
      } catch (err) {
        await registration.remove().catch(() => {});
        throw err;
      }
      return registration;
    },
    async waitForWebhook(probe, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let lastError = "";
      for (;;) {
        try {
          if (await probe()) return;
        } catch (err) {
          lastError = (err as Error).message;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `webhook not active within ${timeoutMs} ms${lastError ? ` (last probe error: ${lastError})` : ""}`,
          );
        }
        await sleep(200);
      }
    },
    stop,
  };
}
