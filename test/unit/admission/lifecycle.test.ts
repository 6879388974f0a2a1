import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { createAdmissionListener } from "../../../src/admission/app.ts";
import { CertificateHolder } from "../../../src/admission/certificate-holder.ts";
import { createCA, createServingCertificate } from "../../../src/admission/certs.ts";
import { watchCertificateFiles } from "../../../src/admission/certs-files.ts";
import { noopEvaluator } from "../../../src/admission/evaluator.ts";
import { createAdmissionMetrics } from "../../../src/admission/metrics.ts";
import { startAdmissionServer } from "../../../src/admission/server.ts";
import { parseWebhookOptions } from "../../../src/admission/webhook-options.ts";

const logger = pino({ level: "silent" });
const now = new Date();
const ca = createCA({ commonName: "lifecycle CA", now, validityMs: 3_600_000 });
const serving = () =>
  createServingCertificate({ ca, commonName: "x", hosts: ["127.0.0.1"], now, validityMs: 3_600_000 });

describe("certificates from files", () => {
  it("loads the pair and reloads it when the files are replaced, ignoring a half-written pair", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skiff-certs-"));
    try {
      const first = serving();
      await writeFile(join(dir, "tls.crt"), first.certPem);
      await writeFile(join(dir, "tls.key"), first.keyPem);
      const holder = new CertificateHolder();
      const files = watchCertificateFiles({
        certFile: join(dir, "tls.crt"),
        keyFile: join(dir, "tls.key"),
        holder,
        logger,
        debounceMs: 20,
      });
      assert.equal(await files.reload(), true);
      assert.equal(holder.current()?.certPem, first.certPem);
      const second = serving();
      // The key lands first: until the certificate follows, the old pair stays in use.
      await writeFile(join(dir, "tls.key.tmp"), second.keyPem);
      await rename(join(dir, "tls.key.tmp"), join(dir, "tls.key"));
      assert.equal(await files.reload(), false);
      assert.equal(holder.current()?.certPem, first.certPem);
      await writeFile(join(dir, "tls.crt.tmp"), second.certPem);
      await rename(join(dir, "tls.crt.tmp"), join(dir, "tls.crt"));
      for (let i = 0; i < 100 && holder.current()?.certPem !== second.certPem; i++) await sleep(20);
      files.stop();
      assert.equal(holder.current()?.certPem, second.certPem);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("graceful shutdown", () => {
  it("finishes a review in flight and refuses new connections", async () => {
    const holder = new CertificateHolder();
    holder.set(serving());
    const app = createAdmissionListener({ evaluator: noopEvaluator, metrics: createAdmissionMetrics(), logger });
    const server = await startAdmissionServer({ app, certificates: holder, host: "127.0.0.1", port: 0, logger });
    const body = JSON.stringify({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "late" },
    });
    const reply = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(
        `${server.url}/validate`,
        { method: "POST", ca: ca.certPem, headers: { "content-type": "application/json" }, agent: false },
        (res) => {
          let text = "";
          res.on("data", (c) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      // Half the body now, the rest after shutdown has begun.
      req.write(body.slice(0, 20));
      setTimeout(() => req.end(body.slice(20)), 150);
    });
    await sleep(50);
    const closed = server.close(5000);
    const done = await reply;
    await closed;
    assert.equal(done.status, 200);
    assert.equal(JSON.parse(done.text).response.uid, "late");
    await assert.rejects(
      new Promise((resolve, reject) =>
        httpsRequest(`${server.url}/healthz`, { ca: ca.certPem, agent: false }, resolve).on("error", reject).end(),
      ),
      /ECONNREFUSED/,
    );
  });
});

describe("readiness while draining", () => {
  it("fails /readyz once shutdown has begun, while still answering reviews", async () => {
    const holder = new CertificateHolder();
    holder.set(serving());
    let draining = false;
    const app = createAdmissionListener({
      evaluator: noopEvaluator,
      metrics: createAdmissionMetrics(),
      logger,
      draining: () => draining,
    });
    const server = await startAdmissionServer({ app, certificates: holder, host: "127.0.0.1", port: 0, logger });
    const get = (path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) =>
        httpsRequest(`${server.url}${path}`, { ca: ca.certPem, agent: false }, (res) => {
          let text = "";
          res.on("data", (c) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        })
          .on("error", reject)
          .end(),
      );
    try {
      assert.equal((await get("/readyz")).status, 200);
      draining = true;
      const r = await get("/readyz");
      assert.equal(r.status, 503);
      assert.match(r.text, /shutting down/);
      assert.equal((await get("/healthz")).status, 200);
    } finally {
      await server.close(100);
    }
  });
});

describe("webhook options", () => {
  it("reads flags over environment and defaults", () => {
    const parsed = parseWebhookOptions(
      ["--port", "9443", "--validating-webhook-configuration", "a", "--validating-webhook-configuration", "b"],
      { POD_NAMESPACE: "backup", SKIFF_WEBHOOK_PORT: "1" },
    );
    assert.ok("options" in parsed);
    assert.equal(parsed.options.port, 9443);
    assert.equal(parsed.options.namespace, "backup");
    assert.equal(parsed.options.certMode, "self-managed");
    assert.deepEqual(parsed.options.validatingConfigurations, ["a", "b"]);
  });

  it("names the bad flag", () => {
    assert.deepEqual(parseWebhookOptions(["--port", "70000"], {}), {
      error: '--port must be an integer from 0 to 65535, got "70000"',
    });
    const files = parseWebhookOptions(["--cert-mode", "files"], {});
    assert.ok("error" in files && /--tls-cert-file/.test(files.error));
    const unknown = parseWebhookOptions(["--nope"], {});
    assert.ok("error" in unknown && /--nope/.test(unknown.error));
  });
});
