/**
 * The shipped webhook configurations (webhooks/*.yaml), adapted to a test: unique names, the in-process
 * server's URL instead of the Service, only the test's namespaces, and failurePolicy Fail everywhere so a
 * failed call shows up as a failed request instead of being ignored.
 */
import { readFile } from "node:fs/promises";
import type { V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from "@kubernetes/client-node";
import { parse } from "yaml";

export interface TestWebhookConfigs {
  mutating: V1MutatingWebhookConfiguration;
  validating: V1ValidatingWebhookConfiguration;
}

export async function testWebhookConfigs(options: {
  suffix: string;
  url: string;
  caBundlePem: string;
  namespaceLabel: Record<string, string>;
}): Promise<TestWebhookConfigs> {
  const read = async <T>(file: string) =>
    parse(await readFile(new URL(`../../../webhooks/${file}`, import.meta.url), "utf8")) as T;
  const mutating = await read<V1MutatingWebhookConfiguration>("mutating.yaml");
  const validating = await read<V1ValidatingWebhookConfiguration>("validating.yaml");
  const caBundle = Buffer.from(options.caBundlePem).toString("base64");
  for (const config of [mutating, validating]) {
    config.metadata = { ...config.metadata, name: `${config.metadata?.name}-${options.suffix}` };
    for (const webhook of config.webhooks ?? []) {
      const path = webhook.clientConfig.service?.path ?? "/";
      webhook.clientConfig = { url: `${options.url}${path}`, caBundle };
      webhook.namespaceSelector = { matchLabels: options.namespaceLabel };
      webhook.failurePolicy = "Fail";
      webhook.timeoutSeconds = 10;
    }
  }
  return { mutating, validating };
}
