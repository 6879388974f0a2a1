/**
 * The shipped webhook configurations (webhooks/*.yaml), adapted to a test: unique names, the in-process
 * server's URL instead of the Service, failurePolicy Fail everywhere so a failed call shows up as a failed
 * request instead of being ignored, and selectors that keep other tests' objects in the shared cluster away.
 */
import { readFile } from "node:fs/promises";
import type {
  V1LabelSelector,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { parse } from "yaml";

export interface TestWebhookConfigs {
  mutating: V1MutatingWebhookConfiguration;
  validating: V1ValidatingWebhookConfiguration;
}

interface Selectors {
  namespaceSelector?: V1LabelSelector;
  objectSelector?: V1LabelSelector;
}

async function readShipped(): Promise<TestWebhookConfigs> {
  const read = async <T>(file: string) =>
    parse(await readFile(new URL(`../../../webhooks/${file}`, import.meta.url), "utf8")) as T;
  return {
    mutating: await read<V1MutatingWebhookConfiguration>("mutating.yaml"),
    validating: await read<V1ValidatingWebhookConfiguration>("validating.yaml"),
  };
}

async function adapted(
  options: { suffix: string; url: string; caBundlePem: string },
  selectors: (shipped: Selectors) => Selectors,
): Promise<TestWebhookConfigs> {
  const configs = await readShipped();
  const caBundle = Buffer.from(options.caBundlePem).toString("base64");
  for (const config of [configs.mutating, configs.validating]) {
    config.metadata = { ...config.metadata, name: `${config.metadata?.name}-${options.suffix}` };
    for (const webhook of config.webhooks ?? []) {
      const path = webhook.clientConfig.service?.path ?? "/";
      webhook.clientConfig = { url: `${options.url}${path}`, caBundle };
      const { namespaceSelector, objectSelector } = selectors(webhook);
      webhook.namespaceSelector = namespaceSelector;
      webhook.objectSelector = objectSelector;
      webhook.failurePolicy = "Fail";
      webhook.timeoutSeconds = 10;
    }
  }
  return configs;
}

/** Only namespaces carrying namespaceLabel: the shipped selectors are replaced. */
export function testWebhookConfigs(options: {
  suffix: string;
  url: string;
  caBundlePem: string;
  namespaceLabel: Record<string, string>;
}): Promise<TestWebhookConfigs> {
  return adapted(options, () => ({ namespaceSelector: { matchLabels: options.namespaceLabel } }));
}

/**
 * The shipped namespaceSelector and objectSelector kept, each narrowed by one more term: only the named
 * namespace and only objects carrying objectLabel. So the shipped exclusions (namespaces by name, Skiff's own
 * webhook objects by label) are what the real apiserver applies, and nothing else is sent to the test's webhook.
 */
export function shippedSelectorWebhookConfigs(options: {
  suffix: string;
  url: string;
  caBundlePem: string;
  namespace: string;
  objectLabel: Record<string, string>;
}): Promise<TestWebhookConfigs> {
  return adapted(options, (shipped) => ({
    namespaceSelector: {
      ...shipped.namespaceSelector,
      matchExpressions: [
        ...(shipped.namespaceSelector?.matchExpressions ?? []),
        { key: "kubernetes.io/metadata.name", operator: "In", values: [options.namespace] },
      ],
    },
    objectSelector: {
      ...shipped.objectSelector,
      matchLabels: { ...shipped.objectSelector?.matchLabels, ...options.objectLabel },
    },
  }));
}
