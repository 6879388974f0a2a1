/**
 * The webhook server in this process, registered in the real kube-apiserver (URL + caBundle) and reached
 * only through the API: the shipped policies mutate, deny and warn as a user would see it, and the
 * self-managed certificates rotate under load without a failed request.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { certificateInfo, isSignedBy, splitPemBundle } from "../../../src/admission/certs.ts";
import { type RunningWebhook, startWebhook } from "../../../src/admission/webhook.ts";
import { type Cluster, uniqueName, useCluster, type WebhookRegistration } from "../../env/index.ts";
import { localWebhookOptions } from "../../support/local-webhook.ts";
import { apiCall, create } from "./api.ts";
import { testWebhookConfigs } from "./webhook-configs.ts";

const MINUTE = 60_000;

describe("admission webhooks called by a real kube-apiserver", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let webhook: RunningWebhook;
  let registration: WebhookRegistration | undefined;
  let installNs: string;
  let appNs: string;
  let restrictedNs: string;
  let mutatingName: string;
  let clockOffset = 0;
  const runId = uniqueName("adm");
  const label = { "skiff.dev/admission-test": runId };

  const pvc = (name: string, storageClassName = "standard") => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      ownerReferences: [
        { apiVersion: "velero.io/v2alpha1", kind: "DataUpload", name: `du-${name}`, uid: randomUUID() },
      ],
    },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName, resources: { requests: { storage: "1Gi" } } },
  });
  const nodeAgentConfig = (name: string, json: string) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, labels: { "skiff.dev/config-type": "node-agent" } },
    data: { "config.json": json },
  });

  before(async () => {
    cluster = await useCluster();
    kc = cluster.kubeConfig;
    installNs = await cluster.newNamespace("skiff-install", label);
    appNs = await cluster.newNamespace("adm-app", label);
    restrictedNs = await cluster.newNamespace("adm-restricted", {
      ...label,
      "pod-security.kubernetes.io/enforce": "restricted",
    });
    await cluster.installCRDs(new URL("../../../manifests/crds", import.meta.url).pathname);
    const suffix = runId.split("-").at(-1) as string;
    mutatingName = `skiff-policy-mutating-${suffix}`;
    webhook = await startWebhook(
      localWebhookOptions({
        policyDir: new URL("../../../policies", import.meta.url).pathname,
        clusterPolicies: true,
        namespace: installNs,
        mutatingConfigurations: [mutatingName],
        validatingConfigurations: [`skiff-policy-validating-${suffix}`],
        shutdownGraceMs: 2000,
        bodyLimit: 3 * 1024 * 1024,
      }),
      {
        kubeConfig: kc,
        logger: pino({ level: process.env.SKIFF_TEST_LOG ?? "silent" }),
        // Short lifetimes so a clock moved by minutes exercises rotation; every certificate stays valid for the
        // apiserver, which checks them against the real time.
        now: () => new Date(Date.now() + clockOffset),
        rotation: { caValidityMs: 9 * MINUTE, servingValidityMs: 6 * MINUTE, propagationDelayMs: 3000 },
        certificateCheckMs: 60 * MINUTE,
      },
    );
    await webhook.whenReady();
    const secret = await apiCall(kc, "GET", `/api/v1/namespaces/${installNs}/secrets/skiff-webhook-certs`);
    const bundle = Buffer.from(secret.body.data["ca-bundle.crt"], "base64").toString("utf8");
    const configs = await testWebhookConfigs({ suffix, url: webhook.url, caBundlePem: bundle, namespaceLabel: label });
    registration = await cluster.registerWebhooks({ mutating: [configs.mutating], validating: [configs.validating] });
    // Active once the apiserver routes a (dry-run) invalid ConfigMap to the webhook and it is refused.
    await cluster.waitForWebhook(async () => {
      const r = await create(kc, `/api/v1/namespaces/${appNs}/configmaps`, nodeAgentConfig("probe", "{"), true);
      return r.status >= 400 && /invalid node-agent ConfigMap/.test(r.body.message ?? "");
    });
  });

  after(async () => {
    await registration?.remove();
    await webhook?.close();
  });

  it("is ready and serves metrics", async () => {
    assert.equal(webhook.store.ready(), true);
    assert.ok((webhook.metrics.policiesLoaded.get({}) ?? 0) >= 5);
  });

  it("mutates a data-mover backup PVC from the node-agent ConfigMap", async () => {
    const config = nodeAgentConfig(
      "node-agent-config",
      '{"backupPVC": {"standard": {"storageClass": "backup-ro", "readOnly": true}}}',
    );
    assert.equal((await create(kc, `/api/v1/namespaces/${installNs}/configmaps`, config)).status, 201);
    // The ConfigMap reaches the webhook's watch cache a moment later.
    let reply = await create(kc, `/api/v1/namespaces/${appNs}/persistentvolumeclaims`, pvc("probe-pvc"), true);
    for (let i = 0; i < 50 && reply.body.spec?.storageClassName !== "backup-ro"; i++) {
      await sleep(100);
      reply = await create(kc, `/api/v1/namespaces/${appNs}/persistentvolumeclaims`, pvc("probe-pvc"), true);
    }
    const created = await create(kc, `/api/v1/namespaces/${appNs}/persistentvolumeclaims`, pvc("backup-1"));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.spec.accessModes, ["ReadOnlyMany"]);
    assert.equal(created.body.spec.storageClassName, "backup-ro");
    // A PVC not made by the data mover is left alone.
    const plain = { ...pvc("plain"), metadata: { name: "plain" } };
    const untouched = await create(kc, `/api/v1/namespaces/${appNs}/persistentvolumeclaims`, plain);
    assert.deepEqual(untouched.body.spec.accessModes, ["ReadWriteOnce"]);
  });

  it("denies a data-mover pod the namespace's Pod Security level would refuse, and says why", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "mover", labels: { "velero.io/data-upload": "du-1" } },
      spec: { containers: [{ name: "mover", image: "skiff:test", securityContext: { runAsUser: 0 } }] },
    };
    const reply = await create(kc, `/api/v1/namespaces/${restrictedNs}/pods`, pod);
    assert.equal(reply.status, 403, JSON.stringify(reply.body));
    const message: string = reply.body.message;
    // Skiff's explanation, not the PodSecurity plugin's own refusal.
    assert.match(message, /admission webhook "mutate\.policy\.skiff\.dev" denied the request/);
    assert.match(message, /enforces Pod Security level "restricted"/);
    assert.match(message, /runAsNonRoot|runAsUser/);
    assert.match(message, /fix: /);
  });

  it("warns when a Backup uses fs-backup with the Restic uploader", async () => {
    const server = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "velero" },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: "velero" } },
        template: {
          metadata: { labels: { app: "velero" } },
          spec: { containers: [{ name: "velero", image: "velero:test", args: ["server", "--uploader-type=restic"] }] },
        },
      },
    };
    const deployed = await create(kc, `/apis/apps/v1/namespaces/${appNs}/deployments`, server);
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
    assert.ok(
      deployed.warnings.some((w) => /--uploader-type=restic/.test(w)),
      deployed.warnings.join("|"),
    );
    const backup = (name: string) => ({
      apiVersion: "velero.io/v1",
      kind: "Backup",
      metadata: { name },
      spec: { defaultVolumesToFsBackup: true, includedNamespaces: [appNs] },
    });
    // The Deployment reaches the watch cache a moment after it was created.
    const path = `/apis/velero.io/v1/namespaces/${appNs}/backups`;
    let reply = await create(kc, path, backup("probe"), true);
    for (let i = 0; i < 50 && !reply.warnings.some((w) => /Restic/.test(w)); i++) {
      await sleep(100);
      reply = await create(kc, path, backup("probe"), true);
    }
    const created = await create(kc, path, backup("nightly"));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const warning = created.warnings.find((w) => /^Backup: fs-backup with Restic \(deprecated\)/.test(w));
    assert.ok(warning, `warnings: ${created.warnings.join(" | ")}`);
    // The apiserver truncates longer warnings; the whole message must arrive.
    assert.ok(warning.length <= 120 && !warning.endsWith("..."), warning);
    assert.match(warning, /not be restorable once Restic is removed; use kopia or the data mover$/);
    assert.doesNotMatch(warning, /^Warning:/);
  });

  it("rejects an invalid node-agent ConfigMap with the precise error", async () => {
    const bad = nodeAgentConfig(
      "node-agent-bad",
      '{"podResources": {"cpuRequest": "2", "cpuLimit": "1", "memoryRequest": "lots"}}',
    );
    const reply = await create(kc, `/api/v1/namespaces/${appNs}/configmaps`, bad);
    assert.ok(reply.status >= 400 && reply.status < 500, `status ${reply.status}`);
    assert.match(reply.body.message, /admission webhook "configmaps\.validate\.policy\.skiff\.dev" denied the request/);
    assert.match(reply.body.message, /data\[config\.json\]\/podResources\/memoryRequest: "lots" is not a quantity/);
    assert.match(reply.body.message, /cpuRequest: 2 is greater than cpuLimit 1/);
    const missing = await apiCall(kc, "GET", `/api/v1/namespaces/${appNs}/configmaps/node-agent-bad`);
    assert.equal(missing.status, 404);
  });

  it("answers dry-run requests without side effects", async () => {
    const before = webhook.metrics.requests.get({ route: "/mutate", result: "patched", code: "200" });
    const secretBefore = await apiCall(kc, "GET", `/api/v1/namespaces/${installNs}/secrets/skiff-webhook-certs`);
    const reply = await create(kc, `/api/v1/namespaces/${appNs}/persistentvolumeclaims`, pvc("dry"), true);
    assert.equal(reply.status, 201);
    assert.deepEqual(reply.body.spec.accessModes, ["ReadOnlyMany"]);
    assert.ok(webhook.metrics.requests.get({ route: "/mutate", result: "patched", code: "200" }) > before);
    assert.equal((await apiCall(kc, "GET", `/api/v1/namespaces/${appNs}/persistentvolumeclaims/dry`)).status, 404);
    const secretAfter = await apiCall(kc, "GET", `/api/v1/namespaces/${installNs}/secrets/skiff-webhook-certs`);
    assert.equal(secretAfter.body.metadata.resourceVersion, secretBefore.body.metadata.resourceVersion);
  });

  it("applies cluster policies, reports load errors on them, and keeps the good ones", async () => {
    const policyPath = "/apis/policy.skiff.dev/v1alpha1/clusterbackuppolicies";
    const name = `${runId}-deny`;
    const broken = `${runId}-broken`;
    const policy = (policyName: string, expression: string) => ({
      apiVersion: "policy.skiff.dev/v1alpha1",
      kind: "ClusterBackupPolicy",
      metadata: { name: policyName },
      spec: {
        match: { resources: [{ group: "", kinds: ["ConfigMap"] }], operations: ["CREATE"] },
        validate: [{ name: "not_forbidden", expression, message: `forbidden by ${policyName}` }],
      },
    });
    const forbidden = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "forbidden-1" }, data: {} };
    const configMaps = `/api/v1/namespaces/${appNs}/configmaps`;
    try {
      assert.equal(
        (await create(kc, policyPath, policy(name, "!object.metadata.name.startsWith('forbidden-')"))).status,
        201,
      );
      assert.equal((await create(kc, policyPath, policy(broken, "object.metadata.name.startsWith("))).status, 201);
      let reply = await create(kc, configMaps, forbidden, true);
      for (let i = 0; i < 100 && reply.status === 201; i++) {
        await sleep(100);
        reply = await create(kc, configMaps, forbidden, true);
      }
      assert.match(reply.body.message ?? "", new RegExp(`forbidden by ${name}`));
      // The broken policy is reported on itself: status condition and an Event naming the problem.
      let status: { conditions?: { type: string; status: string; message: string }[] } | undefined;
      for (let i = 0; i < 50 && !status?.conditions; i++) {
        status = (await apiCall(kc, "GET", `${policyPath}/${broken}`)).body.status;
        if (!status?.conditions) await sleep(100);
      }
      const ready = status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "False");
      assert.match(ready?.message ?? "", /cluster:ClusterBackupPolicy\/.*\/spec\/validate\/0\/expression/);
      const events = await apiCall(kc, "GET", "/api/v1/namespaces/default/events", undefined, {
        fieldSelector: `involvedObject.name=${broken}`,
      });
      assert.ok(events.body.items.some((e: { reason: string }) => e.reason === "PolicyInvalid"));
      const good = (await apiCall(kc, "GET", `${policyPath}/${name}`)).body.status;
      assert.equal(good?.conditions?.[0]?.status, "True");
      assert.ok((webhook.metrics.policyLoadErrors.get({ source: `cluster:ClusterBackupPolicy/${broken}` }) ?? 0) > 0);
    } finally {
      await apiCall(kc, "DELETE", `${policyPath}/${name}`);
      await apiCall(kc, "DELETE", `${policyPath}/${broken}`);
    }
    // Deleted: the policy stops applying.
    let after = await create(kc, configMaps, forbidden, true);
    for (let i = 0; i < 100 && after.status !== 201; i++) {
      await sleep(100);
      after = await create(kc, configMaps, forbidden, true);
    }
    assert.equal(after.status, 201);
  });

  it("rotates serving certificate and CA under load without a failed request", async () => {
    const failures: string[] = [];
    let successes = 0;
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        const [cm, claim] = await Promise.all([
          create(kc, `/api/v1/namespaces/${appNs}/configmaps`, nodeAgentConfig(`load-${i}`, '{"backupPVC": {}}')),
          create(kc, `/api/v1/namespaces/${appNs}/persistentvolumeclaims`, pvc(`load-${i}`), true),
        ]);
        for (const r of [cm, claim]) {
          if (r.status === 201) successes++;
          else failures.push(`${r.status}: ${r.body?.message ?? JSON.stringify(r.body)}`);
        }
      }
    })();
    const caBundleOfConfig = async () => {
      const config = await apiCall(
        kc,
        "GET",
        `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${mutatingName}`,
      );
      return Buffer.from(config.body.webhooks[0].clientConfig.caBundle, "base64").toString("utf8");
    };
    const serving = () => webhook.certificates.current()?.certPem ?? "";
    const firstServing = serving();
    const firstCA = splitPemBundle(await caBundleOfConfig())[0] as string;
    await sleep(1000);

    // 1. The serving certificate reaches 2/3 of its life: renewed by the same CA.
    clockOffset = 2.5 * MINUTE;
    await webhook.selfManaged?.reconcile();
    assert.notEqual(serving(), firstServing);
    assert.ok(isSignedBy(serving(), firstCA));
    await sleep(1000);

    // 2. The CA reaches 2/3 of its life: a new CA joins the bundle; serving stays on the old CA for now.
    clockOffset = 4.5 * MINUTE;
    await webhook.selfManaged?.reconcile();
    const rollover = splitPemBundle(await caBundleOfConfig());
    assert.equal(rollover.length, 2, "old and new CA are both trusted during the rollover");
    assert.ok(rollover.some((p) => p.trim() === firstCA.trim()));
    assert.ok(isSignedBy(serving(), firstCA));
    const newCA = rollover.find((p) => p.trim() !== firstCA.trim()) as string;
    await sleep(3500);

    // 3. After the propagation delay: serving moves to the new CA; the old CA stays in the bundle.
    clockOffset = 4.5 * MINUTE + 4000;
    await webhook.selfManaged?.reconcile();
    assert.ok(isSignedBy(serving(), newCA));
    assert.ok(certificateInfo(serving()).ipAddresses.includes("127.0.0.1"));
    assert.equal(splitPemBundle(await caBundleOfConfig()).length, 2);
    await sleep(2000);
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.ok(successes > 20, `only ${successes} requests went through`);
  });
});
