/**
 * Webhook plumbing: the apiserver calls a webhook registered with registerWebhooks over TLS, trusting the CA from
 * generateServingCert, and waitForWebhook sees it become active.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { type Cluster, freePort, generateServingCert, useCluster, type WebhookRegistration } from "../../env/index.ts";

let cluster: Cluster;
let server: Server;
let port: number;
let caPem: string;
const seen: string[] = [];

before(async () => {
  cluster = await useCluster();
  const cert = generateServingCert({ hosts: ["127.0.0.1"] });
  caPem = cert.caPem;
  // A minimal validating webhook: denies ConfigMaps whose data has deny=true.
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const object = review.request.object as { metadata: { name: string }; data?: Record<string, string> };
      seen.push(object.metadata.name);
      const denied = object.data?.deny === "true";
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          response: {
            uid: review.request.uid,
            allowed: !denied,
            ...(denied ? { status: { code: 403, message: "denied by the test webhook" } } : {}),
          },
        }),
      );
    });
  });
  port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
});

after(async () => {
  server.close();
  await cluster.stop();
});

describe("webhook registration", () => {
  let registration: WebhookRegistration;

  it("routes admission of matching objects to the registered webhook over TLS", async () => {
    const namespace = await cluster.newNamespace("env-webhook", { "env.skiff.test/webhook": "on" });
    const name = `env-webhook-${namespace}`;
    registration = await cluster.registerWebhooks({
      validating: [
        {
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "ValidatingWebhookConfiguration",
          metadata: { name },
          webhooks: [
            {
              name: "configmaps.env.skiff.test",
              admissionReviewVersions: ["v1"],
              sideEffects: "None",
              failurePolicy: "Fail",
              timeoutSeconds: 5,
              // Only this test's namespace: other test files share the cluster.
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
              rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }],
              clientConfig: {
                url: `https://127.0.0.1:${port}/validate`,
                caBundle: Buffer.from(caPem).toString("base64"),
              },
            },
          ],
        },
      ],
    });
    assert.deepEqual(registration.names.validating, [name]);

    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    let probes = 0;
    await cluster.waitForWebhook(async () => {
      const probe = `probe-${probes++}`;
      const denied = await core
        .createNamespacedConfigMap({ namespace, body: { metadata: { name: probe }, data: { deny: "true" } } })
        .then(
          () => false,
          (err: { code?: number }) => err.code === 403,
        );
      return denied;
    }, 20_000);

    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "allowed" }, data: { deny: "no" } } });
    assert.ok(seen.includes("allowed"), "the webhook saw the allowed object");
    await assert.rejects(
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "refused" }, data: { deny: "true" } } }),
      (err: { code?: number; body?: unknown }) =>
        err.code === 403 && /denied by the test webhook/.test(String(err.body)),
    );
  });

  it("removes the configurations again", async () => {
    await registration.remove();
    const { AdmissionregistrationV1Api } = await import("@kubernetes/client-node");
    const api = cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const names = (await api.listValidatingWebhookConfiguration()).items.map((w) => w.metadata?.name);
    assert.ok(!names.includes(registration.names.validating[0]));
  });
});
