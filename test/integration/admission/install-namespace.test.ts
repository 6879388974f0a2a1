/**
 * The shipped webhook configurations' exclusions, applied by the real kube-apiserver in Skiff's install
 * namespace (`skiff-system`, made from manifests/namespace.yaml): the data mover's backup PVC is mutated, an
 * invalid node-agent ConfigMap and a mover pod the namespace's Pod Security level refuses are denied there, and
 * Skiff's own webhook Deployment and Pods are never sent to the webhook, so they are admitted while it is down
 * even though every webhook here fails closed.
 *
 * The configurations keep the shipped namespaceSelector and objectSelector (see shippedSelectorWebhookConfigs);
 * they are narrowed to this namespace and to objects carrying this run's label, so other tests are unaffected.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { parseAllDocuments } from "yaml";
import { type RunningWebhook, startWebhook } from "../../../src/admission/webhook.ts";
import { type Cluster, uniqueName, useCluster, type WebhookRegistration } from "../../env/index.ts";
import { localWebhookOptions } from "../../support/local-webhook.ts";
import { type ApiReply, apiCall, create } from "./api.ts";
import { shippedSelectorWebhookConfigs } from "./webhook-configs.ts";

const manifest = async (file: string) =>
  parseAllDocuments(await readFile(new URL(`../../../manifests/${file}`, import.meta.url), "utf8"))
    .map((d) => d.toJS())
    .filter((m) => m !== null);

/** Creates the object, or leaves the existing one as it is (the install namespace may outlive a test run). */
async function ensure(kc: KubeConfig, path: string, body: unknown): Promise<void> {
  const reply = await create(kc, path, body);
  assert.ok(reply.status === 201 || reply.status === 409, `${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
}

describe("the shipped webhook configurations in Skiff's install namespace", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let webhook: RunningWebhook;
  let registration: WebhookRegistration | undefined;
  let installNs: string;
  const runId = uniqueName("adm-install");
  const suffix = runId.split("-").at(-1) as string;
  const testLabel = { "skiff.dev/admission-test": runId };
  const certSecret = `skiff-webhook-certs-${suffix}`;
  const cleanup: string[] = [];

  const backupPVC = (name: string) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      labels: testLabel,
      ownerReferences: [
        { apiVersion: "velero.io/v2alpha1", kind: "DataUpload", name: `du-${name}`, uid: randomUUID() },
      ],
    },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "standard", resources: { requests: { storage: "1Gi" } } },
  });
  const nodeAgentConfig = (name: string, json: string) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, labels: { ...testLabel, "skiff.dev/config-type": "node-agent" } },
    data: { "config.json": json },
  });
  const created = (reply: ApiReply) => assert.equal(reply.status, 201, JSON.stringify(reply.body));

  before(async () => {
    cluster = await useCluster();
    kc = cluster.kubeConfig;
    await cluster.installCRDs(new URL("../../../manifests/crds", import.meta.url).pathname);
    // The shipped Namespace (enforcing Pod Security "restricted"), its default and the webhook's ServiceAccount.
    const [namespace] = await manifest("namespace.yaml");
    installNs = namespace.metadata.name;
    assert.equal(installNs, "skiff-system");
    await ensure(kc, "/api/v1/namespaces", namespace);
    const existing = await apiCall(kc, "GET", `/api/v1/namespaces/${installNs}`);
    for (const [key, value] of Object.entries(namespace.metadata.labels as Record<string, string>)) {
      assert.equal(existing.body.metadata.labels?.[key], value, `namespace ${installNs} label ${key}`);
    }
    const [serviceAccount] = await manifest("webhook-serviceaccount.yaml");
    for (const name of ["default", serviceAccount.metadata.name]) {
      await ensure(kc, `/api/v1/namespaces/${installNs}/serviceaccounts`, { metadata: { name } });
    }
    // The params of policies/backup-pvc.yaml (node-agent-config in the install namespace), replaced if present.
    const params = nodeAgentConfig(
      "node-agent-config",
      '{"backupPVC": {"standard": {"storageClass": "backup-ro", "readOnly": true}}}',
    );
    await apiCall(kc, "DELETE", `/api/v1/namespaces/${installNs}/configmaps/node-agent-config`);
    created(await create(kc, `/api/v1/namespaces/${installNs}/configmaps`, params));

    webhook = await startWebhook(
      localWebhookOptions({
        policyDir: new URL("../../../policies", import.meta.url).pathname,
        clusterPolicies: false,
        namespace: installNs,
        certSecret,
        mutatingConfigurations: [`skiff-policy-mutating-${suffix}`],
        validatingConfigurations: [`skiff-policy-validating-${suffix}`],
        shutdownGraceMs: 2000,
        bodyLimit: 3 * 1024 * 1024,
      }),
      { kubeConfig: kc, logger: pino({ level: process.env.SKIFF_TEST_LOG ?? "silent" }) },
    );
    await webhook.whenReady();
    const secret = await apiCall(kc, "GET", `/api/v1/namespaces/${installNs}/secrets/${certSecret}`);
    const bundle = Buffer.from(secret.body.data["ca-bundle.crt"], "base64").toString("utf8");
    const configs = await shippedSelectorWebhookConfigs({
      suffix,
      url: webhook.url,
      caBundlePem: bundle,
      namespace: installNs,
      objectLabel: testLabel,
    });
    registration = await cluster.registerWebhooks({ mutating: [configs.mutating], validating: [configs.validating] });
    // Active once the apiserver routes a (dry-run) backup PVC in the install namespace to the webhook and the
    // params ConfigMap has reached its watch cache. With the install namespace excluded this never happens.
    await cluster.waitForWebhook(async () => {
      const r = await create(kc, `/api/v1/namespaces/${installNs}/persistentvolumeclaims`, backupPVC("probe"), true);
      return r.body?.spec?.storageClassName === "backup-ro";
    });
  });

  after(async () => {
    await registration?.remove();
    await webhook?.close();
    for (const path of cleanup) await apiCall(kc, "DELETE", path);
    await apiCall(kc, "DELETE", `/api/v1/namespaces/${installNs}/secrets/${certSecret}`);
  });

  it("mutates the data mover's backup PVC to ReadOnlyMany and the mapped storage class", async () => {
    const reply = await create(kc, `/api/v1/namespaces/${installNs}/persistentvolumeclaims`, backupPVC(runId));
    created(reply);
    cleanup.push(`/api/v1/namespaces/${installNs}/persistentvolumeclaims/${runId}`);
    assert.deepEqual(reply.body.spec.accessModes, ["ReadOnlyMany"]);
    assert.equal(reply.body.spec.storageClassName, "backup-ro");
  });

  it("denies an invalid node-agent ConfigMap", async () => {
    const bad = nodeAgentConfig(`${runId}-bad`, '{"podResources": {"memoryRequest": "lots"}}');
    const reply = await create(kc, `/api/v1/namespaces/${installNs}/configmaps`, bad);
    assert.ok(reply.status >= 400 && reply.status < 500, `status ${reply.status}`);
    assert.match(reply.body.message, /admission webhook "configmaps\.validate\.policy\.skiff\.dev" denied the request/);
    assert.match(reply.body.message, /memoryRequest: "lots" is not a quantity/);
  });

  it("denies a mover pod the namespace's Pod Security level refuses, with Skiff's explanation", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `${runId}-mover`, labels: { ...testLabel, "velero.io/data-upload": "du-1" } },
      spec: { containers: [{ name: "mover", image: "skiff:test", securityContext: { runAsUser: 0 } }] },
    };
    const reply = await create(kc, `/api/v1/namespaces/${installNs}/pods`, pod, true);
    assert.equal(reply.status, 403, JSON.stringify(reply.body));
    assert.match(reply.body.message, /admission webhook "mutate\.policy\.skiff\.dev" denied the request/);
    assert.match(reply.body.message, /enforces Pod Security level "restricted"/);
  });

  it("admits Skiff's own webhook Deployment and Pods while the webhook is down, and nothing else", async () => {
    const [deployment] = (await manifest("webhook-deployment.yaml")).filter((m) => m.kind === "Deployment");
    const labelled = (labels: Record<string, string>) => ({ ...labels, ...testLabel });
    deployment.metadata.name = `${runId}-webhook`;
    deployment.metadata.labels = labelled(deployment.metadata.labels);
    deployment.spec.template.metadata.labels = labelled(deployment.spec.template.metadata.labels);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { ...deployment.spec.template.metadata, name: `${runId}-webhook` },
      spec: deployment.spec.template.spec,
    };
    // The same objects without Skiff's webhook label: these are sent to the (failing) webhook.
    const stranger = <T extends { metadata: { name: string; labels: Record<string, string> } }>(object: T): T => {
      const copy = structuredClone(object);
      copy.metadata.name = `${copy.metadata.name}-other`;
      copy.metadata.labels["app.kubernetes.io/name"] = "not-skiff";
      return copy;
    };
    const deployments = `/apis/apps/v1/namespaces/${installNs}/deployments`;
    const pods = `/api/v1/namespaces/${installNs}/pods`;

    await webhook.close();
    // The apiserver now fails to reach the webhook; wait until it says so rather than assume.
    let refused = await create(kc, pods, stranger(pod), true);
    for (let i = 0; i < 50 && refused.status === 201; i++) {
      await sleep(100);
      refused = await create(kc, pods, stranger(pod), true);
    }
    assert.equal(refused.status, 500, JSON.stringify(refused.body));
    assert.match(refused.body.message, /failed calling webhook/);
    const otherDeployment = await create(kc, deployments, stranger(deployment), true);
    assert.equal(otherDeployment.status, 500, JSON.stringify(otherDeployment.body));

    created(await create(kc, deployments, deployment, true));
    const ownPod = await create(kc, pods, pod);
    created(ownPod);
    cleanup.push(`${pods}/${pod.metadata.name}`);
    assert.equal(ownPod.body.metadata.labels["app.kubernetes.io/name"], "skiff-webhook");
  });
});
