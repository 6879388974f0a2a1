/**
 * Options for a webhook started in a test process: self-managed certificates for 127.0.0.1, an ephemeral port,
 * no shutdown delay. Each test passes what it is about (namespace, policies, the configurations it registers).
 */
import type { WebhookOptions } from "../../src/admission/webhook-options.ts";

export function localWebhookOptions(
  specific: Pick<WebhookOptions, "namespace" | "clusterPolicies"> & Partial<WebhookOptions>,
): WebhookOptions {
  return {
    port: 0,
    bindAddress: "127.0.0.1",
    certMode: "self-managed",
    serviceName: "skiff-webhook",
    certSecret: "skiff-webhook-certs",
    extraHosts: ["127.0.0.1"],
    mutatingConfigurations: [],
    validatingConfigurations: [],
    shutdownDelayMs: 0,
    shutdownGraceMs: 1000,
    bodyLimit: 1024 * 1024,
    ...specific,
  };
}
