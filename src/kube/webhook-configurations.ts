/**
 * The caBundle of the webhook configurations Skiff owns. Only the named configurations are touched (RBAC
 * grants update on exactly those names), and each is written only when its bundle differs.
 */
import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { isConflict, isNotFound, normalizeKubeError } from "./errors.ts";

export interface WebhookConfigurationNames {
  mutating: string[];
  validating: string[];
}

export interface CABundleInjector {
  /** Sets caBundle on every webhook of every named configuration; returns the names it changed. */
  inject(bundlePem: string): Promise<string[]>;
}

type AnyConfig = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

function withBundle<T extends AnyConfig>(config: T, encoded: string): T | undefined {
  const webhooks = config.webhooks ?? [];
  if (webhooks.every((w) => w.clientConfig.caBundle === encoded)) return undefined;
  return {
    ...config,
    webhooks: webhooks.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: encoded } })),
  };
}

export function kubeCABundleInjector(kc: KubeConfig, names: WebhookConfigurationNames): CABundleInjector {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const update = async <T extends AnyConfig>(
    kind: string,
    name: string,
    read: () => Promise<T>,
    replace: (body: T) => Promise<T>,
    encoded: string,
  ): Promise<boolean> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      let current: T;
      try {
        current = await read();
      } catch (err) {
        // Not installed yet (or removed on uninstall): nothing to inject into.
        if (isNotFound(err)) return false;
        throw normalizeKubeError(err, `reading ${kind} ${name}`);
      }
      const next = withBundle(current, encoded);
      if (!next) return false;
      try {
        await replace(next);
        return true;
      } catch (err) {
        if (isConflict(err)) continue;
        throw normalizeKubeError(err, `updating the caBundle of ${kind} ${name}`);
      }
    }
    throw new Error(`updating the caBundle of ${kind} ${name}: still conflicting after 5 attempts`);
  };
  return {
    async inject(bundlePem) {
      const encoded = Buffer.from(bundlePem, "utf8").toString("base64");
      const changed: string[] = [];
      for (const name of names.mutating) {
        const did = await update(
          "MutatingWebhookConfiguration",
          name,
          () => api.readMutatingWebhookConfiguration({ name }),
          (body) => api.replaceMutatingWebhookConfiguration({ name, body }),
          encoded,
        );
        if (did) changed.push(name);
      }
      for (const name of names.validating) {
        const did = await update(
          "ValidatingWebhookConfiguration",
          name,
          () => api.readValidatingWebhookConfiguration({ name }),
          (body) => api.replaceValidatingWebhookConfiguration({ name, body }),
          encoded,
        );
        if (did) changed.push(name);
      }
      return changed;
    },
  };
}
