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
import { pino } from "pino";
import { createCA, createServingCertificate } from "../../../src/admission/certs.ts";
import { startWebhook } from "../../../src/admission/webhook.ts";
import type { WebhookOptions } from "../../../src/admission/webhook-options.ts";
import { type Cluster, freePort, useCluster } from "../../env/index.ts";
import { apiCall } from "./api.ts";

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
    const options = (): WebhookOptions => ({
      port: 0,
      bindAddress: "127.0.0.1",
      clusterPolicies: false,
      certMode: "self-managed",
      namespace,
      serviceName: "skiff-webhook",
      certSecret: "shared-certs",
      extraHosts: ["127.0.0.1"],
      mutatingConfigurations: [],
      validatingConfigurations: [],
      shutdownDelayMs: 0,
      shutdownGraceMs: 1000,
      bodyLimit: 1024 * 1024,
    });
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
});
