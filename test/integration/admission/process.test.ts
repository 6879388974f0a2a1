/**
 * `skiff webhook` as a process (the way the Deployment runs it) and two replicas sharing one certificate
 * Secret, both against the real API server.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { parseAllDocuments } from "yaml";
import { createCA, createServingCertificate } from "../../../src/admission/certs.ts";
import { startWebhook } from "../../../src/admission/webhook.ts";
import { type Cluster, freePort, uniqueName, useCluster } from "../../env/index.ts";
import { localWebhookOptions } from "../../support/local-webhook.ts";
import { apiCall, create } from "./api.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));

function get(url: string, ca: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca, agent: false }, (res) => {
      let text = "";
      res.on("data", (c) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    })
      .on("error", reject)
      .end();
  });
}

describe("skiff webhook process", () => {
  let cluster: Cluster;
  let namespace: string;
  let dir: string;

  before(async () => {
    cluster = await useCluster();
    namespace = await cluster.newNamespace("skiff-proc");
    dir = await mkdtemp(join(tmpdir(), "skiff-webhook-proc-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("serves with bring-your-own certificates and stops cleanly on SIGTERM", async () => {
    const now = new Date();
    const ca = createCA({ commonName: "byo CA", now, validityMs: 3_600_000 });
    const pair = createServingCertificate({ ca, commonName: "x", hosts: ["127.0.0.1"], now, validityMs: 3_600_000 });
    await writeFile(join(dir, "tls.crt"), pair.certPem);
    await writeFile(join(dir, "tls.key"), pair.keyPem);
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        join(root, "src/main.ts"),
        "webhook",
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--policy-dir=${join(root, "policies")}`,
        "--cert-mode=files",
        `--tls-cert-file=${join(dir, "tls.crt")}`,
        `--tls-key-file=${join(dir, "tls.key")}`,
        `--namespace=${namespace}`,
        `--kubeconfig=${cluster.kubeconfigPath}`,
        "--no-cluster-policies",
        "--shutdown-delay=0",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SKIFF_LOG_LEVEL: "info" } },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    try {
      let ready = { status: 0, text: "" };
      for (let i = 0; i < 150 && ready.status !== 200; i++) {
        ready = await get(`https://127.0.0.1:${port}/readyz`, ca.certPem).catch(() => ({ status: 0, text: "" }));
        if (ready.status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ready.status, 200, `not ready: ${ready.text}\n${stderr}`);
      const metrics = await get(`https://127.0.0.1:${port}/metrics`, ca.certPem);
      assert.match(metrics.text, /skiff_policies_loaded \d+/);
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      assert.equal(code, 0, stderr);
      assert.match(stderr, /SIGTERM received/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("two self-managed replicas end up serving the one certificate in the Secret", async () => {
    const options = () => localWebhookOptions({ clusterPolicies: false, namespace, certSecret: "shared-certs" });
    const deps = { kubeConfig: cluster.kubeConfig, logger: pino({ level: "silent" }) };
    const replicas = await Promise.all([startWebhook(options(), deps), startWebhook(options(), deps)]);
    try {
      const secret = await apiCall(cluster.kubeConfig, "GET", `/api/v1/namespaces/${namespace}/secrets/shared-certs`);
      const stored = Buffer.from(secret.body.data["tls.crt"], "base64").toString("utf8");
      // The loser of the create race adopts the winner's certificate (directly or from the watch).
      for (let i = 0; i < 50 && replicas.some((r) => r.certificates.current()?.certPem !== stored); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const r of replicas) assert.equal(r.certificates.current()?.certPem, stored);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it("runs with nothing more than the shipped RBAC", async () => {
    const kc = cluster.kubeConfig;
    const ns = await cluster.newNamespace("skiff-rbac");
    const suffix = uniqueName("rbac").split("-").at(-1) as string;
    const mutating = `skiff-policy-mutating-${suffix}`;
    const validating = `skiff-policy-validating-${suffix}`;
    // The shipped RBAC, moved to this namespace and to this test's configuration names.
    const text = (await import("node:fs/promises")).readFile(join(root, "manifests/webhook-rbac.yaml"), "utf8");
    const docs = parseAllDocuments(await text).map((d) => d.toJS());
    const created: string[] = [];
    for (const doc of docs) {
      doc.metadata.name = `${doc.metadata.name}-${suffix}`;
      if (doc.metadata.namespace) doc.metadata.namespace = ns;
      for (const rule of doc.rules ?? []) {
        if (rule.resourceNames?.includes("skiff-policy-mutating")) rule.resourceNames = [mutating];
        if (rule.resourceNames?.includes("skiff-policy-validating")) rule.resourceNames = [validating];
      }
      if (doc.roleRef) doc.roleRef.name = `${doc.roleRef.name}-${suffix}`;
      for (const subject of doc.subjects ?? []) subject.namespace = ns;
      const path =
        doc.kind === "ClusterRole" || doc.kind === "ClusterRoleBinding"
          ? `/apis/rbac.authorization.k8s.io/v1/${doc.kind.toLowerCase()}s`
          : `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/${doc.kind.toLowerCase()}s`;
      const reply = await create(kc, path, doc);
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      if (!doc.metadata.namespace) created.push(`${path}/${doc.metadata.name}`);
    }
    const admission = "/apis/admissionregistration.k8s.io/v1";
    const hook = (name: string) => ({
      name,
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      failurePolicy: "Ignore",
      clientConfig: { url: "https://127.0.0.1:1/validate" },
      // Matches nothing: only the caBundle matters here.
      namespaceSelector: { matchLabels: { "skiff.dev/never": suffix } },
      rules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], operations: ["CREATE"] }],
    });
    await create(kc, `${admission}/mutatingwebhookconfigurations`, {
      metadata: { name: mutating },
      webhooks: [{ ...hook("m.skiff.dev"), reinvocationPolicy: "IfNeeded" }],
    });
    await create(kc, `${admission}/validatingwebhookconfigurations`, {
      metadata: { name: validating },
      webhooks: [hook("v.skiff.dev")],
    });
    created.push(`${admission}/mutatingwebhookconfigurations/${mutating}`);
    created.push(`${admission}/validatingwebhookconfigurations/${validating}`);
    // What the install ships: the service account and the empty certificate Secret.
    await create(kc, `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "skiff-webhook" } });
    await create(kc, `/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "skiff-webhook-certs" }, type: "Opaque" });
    const token = await create(kc, `/api/v1/namespaces/${ns}/serviceaccounts/skiff-webhook/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    });
    const asWebhook = new KubeConfig();
    const server = kc.getCurrentCluster();
    asWebhook.loadFromOptions({
      clusters: [server],
      users: [{ name: "skiff-webhook", token: token.body.status.token }],
      contexts: [{ name: "skiff-webhook", cluster: server?.name, user: "skiff-webhook" }],
      currentContext: "skiff-webhook",
    });
    const lines: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
    const webhook = await startWebhook(
      localWebhookOptions({
        policyDir: join(root, "policies"),
        clusterPolicies: true,
        namespace: ns,
        mutatingConfigurations: [mutating],
        validatingConfigurations: [validating],
      }),
      { kubeConfig: asWebhook, logger },
    );
    try {
      await webhook.whenReady(30_000);
      const secret = await apiCall(kc, "GET", `/api/v1/namespaces/${ns}/secrets/skiff-webhook-certs`);
      assert.ok(secret.body.data?.["tls.crt"], "the certificate Secret was filled");
      for (const path of created.slice(-2)) {
        const config = await apiCall(kc, "GET", path);
        assert.ok(config.body.webhooks[0].clientConfig.caBundle, `${path} got its caBundle`);
      }
      const forbidden = lines.filter((l) => /forbidden/i.test(l));
      assert.deepEqual(forbidden, []);
    } finally {
      await webhook.close();
      for (const path of created) await apiCall(kc, "DELETE", path);
    }
  });
});
